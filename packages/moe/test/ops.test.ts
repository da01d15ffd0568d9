import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { activation, silu } from '@brickml/core';
import {
  blockSparseMatmul,
  blockSparseWeightGrad,
  blockTopology,
  gatherRows,
  contiguousRows,
  leanActivation,
  maxPaddedRows,
  swiglu,
  topologyFromCounts,
  topologyFromHost,
  type SparseTopology,
} from '../src/index.js';
import { host, maxAbsDiff, randn } from './helpers.js';

/** Dense reference of the grouped product: row r times W[expert(r)] (zero for expert −1). */
async function naiveGrouped(
  a: tf.Tensor,
  w: tf.Tensor,
  blockExpert: Int32Array,
  blockSize: number,
  transposeW: boolean,
): Promise<tf.Tensor> {
  const [P, K] = a.shape as [number, number];
  const ad = (await a.array()) as number[][];
  const wd = (await w.array()) as number[][][];
  const N = transposeW ? w.shape[1]! : w.shape[2]!;
  const out: number[][] = [];
  for (let r = 0; r < P; r++) {
    const e = blockExpert[Math.floor(r / blockSize)];
    const row = new Array(N).fill(0);
    if (e >= 0)
      for (let n = 0; n < N; n++)
        for (let k = 0; k < K; k++) row[n] += ad[r][k] * (transposeW ? wd[e][n][k] : wd[e][k][n]);
    out.push(row);
  }
  return tf.tensor2d(out);
}

describe('blockTopology (host, MegaBlocks form)', () => {
  it('pads each group to the block size and lists the block-diagonal blocks with their transpose', () => {
    // b = 4, F = 8 (2 blocks per row); counts [5, 0, 3] → padded [8, 0, 4], 3 block rows.
    const t = blockTopology([5, 0, 3], 4, 8);
    expect(Array.from(t.paddedTokensPerExpert)).toEqual([8, 0, 4]);
    expect(Array.from(t.paddedStarts)).toEqual([0, 8, 8]);
    expect(Array.from(t.paddedBins)).toEqual([8, 8, 12]);
    expect(t.numRows).toBe(12);
    expect(Array.from(t.blockExpert)).toEqual([0, 0, 2]);
    expect(Array.from(t.expertBlockOffsets)).toEqual([0, 2, 2, 3]);
    expect(Array.from(t.offsets)).toEqual([0, 2, 4, 6]);
    expect(Array.from(t.rowIndices)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(Array.from(t.columnIndices)).toEqual([0, 1, 0, 1, 4, 5]);
    // Columns 0..5: expert 0 owns 0,1 (block rows 0,1), expert 1 owns 2,3 (none), expert 2 owns 4,5 (row 2).
    expect(Array.from(t.offsetsT)).toEqual([0, 2, 4, 4, 4, 5, 6]);
    expect(Array.from(t.rowIndicesT)).toEqual([0, 1, 0, 1, 2, 2]);
    expect(Array.from(t.blockOffsetsT)).toEqual([0, 2, 1, 3, 4, 5]);
  });

  it('keeps the padding below one block per expert, and the static bound holds', () => {
    for (const counts of [
      [0, 0, 7],
      [1, 1, 1, 1],
      [9, 0, 0, 3],
      [16, 16],
    ]) {
      const t = blockTopology(counts, 8, 8);
      const copies = counts.reduce((a, b) => a + b, 0);
      expect(t.usedRows - copies).toBeLessThan(8 * counts.length);
      for (let e = 0; e < counts.length; e++)
        expect(t.paddedTokensPerExpert[e] - counts[e]).toBeLessThan(8);
      expect(maxPaddedRows(copies, counts.length, 8)).toBeGreaterThanOrEqual(t.usedRows);
      expect(maxPaddedRows(copies, counts.length, 8) - copies).toBeLessThan(8 * counts.length);
    }
  });

  it('rejects a block size that is not a power of two and F not a multiple of it', () => {
    expect(() => blockTopology([1], 6, 12)).toThrow(/blockSize must be a power of two, got 6/);
    expect(() => blockTopology([1], 4, 6)).toThrow(
      /ffnHidden must be a positive multiple of blockSize 4, got 6/,
    );
  });
});

describe('device topology', () => {
  it('equals the host topology, trailing block rows marked −1', async () => {
    for (const counts of [
      [5, 0, 3],
      [0, 0, 0, 9],
      [4, 4, 4, 4],
      [1, 0, 0, 0],
    ]) {
      const b = 4;
      const copies = counts.reduce((a, c) => a + c, 0);
      const P = maxPaddedRows(copies, counts.length, b);
      const t = blockTopology(counts, b, b, P);
      const d = topologyFromCounts(tf.tensor1d(counts), b, P);
      expect(await host(d.blockExpert)).toEqual(Array.from(t.blockExpert));
      expect(await host(d.expertOffsets)).toEqual(Array.from(t.expertBlockOffsets));
      expect((await host(d.usedRows))[0]).toBe(t.usedRows);
    }
  });
});

describe('blockSparseMatmul references', () => {
  const b = 4;
  const counts = [6, 0, 9, 1]; // an empty expert in the middle
  const E = counts.length;
  const K = 5;
  const N = 7;
  const cases: Array<[string, (t: SparseTopology) => SparseTopology]> = [
    ['grouped', (t) => t],
    ['batched', (t) => ({ ...t, host: undefined })],
  ];
  for (const [impl, view] of cases) {
    for (const transposeW of [false, true]) {
      it(`${impl}${transposeW ? ' (Wᵀ)' : ''} equals the naive product, with trailing rows zero`, async () => {
        const t = blockTopology(counts, b, b, 32); // used 28 rows + 4 trailing
        const topo = view(topologyFromHost(t));
        const a = randn([32, K], 1);
        const w = randn(transposeW ? [E, N, K] : [E, K, N], 2);
        const y = blockSparseMatmul(a, w, topo, {
          impl: impl as 'grouped' | 'batched',
          transposeW,
        });
        expect(
          await maxAbsDiff(y, await naiveGrouped(a, w, t.blockExpert, b, transposeW)),
        ).toBeLessThan(1e-5);
      });
    }
  }

  it('grouped and batched have the same gradients, equal to dA = dY·Wᵀ and dW_e = A_eᵀ·dY_e', async () => {
    const t = blockTopology(counts, b, b, 32);
    const a = randn([32, K], 3);
    const w = randn([E, K, N], 4);
    const r = randn([32, N], 5);
    const grads = (impl: 'grouped' | 'batched') => {
      const topo = topologyFromHost(t);
      if (impl === 'batched') topo.host = undefined;
      return tf.grads((A: tf.Tensor, W: tf.Tensor) =>
        tf.sum(tf.mul(blockSparseMatmul(A, W, topo, { impl }), r)),
      )([a, w]);
    };
    const [ga, gw] = grads('grouped');
    const [ba, bw] = grads('batched');
    expect(await maxAbsDiff(ga, ba)).toBeLessThan(1e-5);
    expect(await maxAbsDiff(gw, bw)).toBeLessThan(1e-5);
    // dW from the weight-gradient op, and zero for the expert without rows.
    const topo = topologyFromHost(t);
    expect(
      await maxAbsDiff(gw, blockSparseWeightGrad(a, r, { ...topo, host: undefined })),
    ).toBeLessThan(1e-5);
    expect(Math.max(...(await host(tf.slice(gw, [1, 0, 0], [1, K, N]))).map(Math.abs))).toBe(0);
    // Rows of no expert (padding after expert 3's single row, and the trailing block) get zero dA.
    expect(Math.max(...(await host(tf.slice(ga, [28, 0], [4, K]))).map(Math.abs))).toBe(0);
  });
});

describe('gatherRows', () => {
  it('gathers with −1 as a zero row and back-propagates through the inverse map', async () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    // Output rows read source rows [2, −1, 0, 2, 1]; inverse lists readers of each source row.
    const index = tf.tensor1d([2, -1, 0, 2, 1], 'int32');
    const inverse = tf.tensor2d(
      [
        [2, -1],
        [4, -1],
        [0, 3],
      ],
      [3, 2],
      'int32',
    );
    expect(await gatherRows(x, index, inverse).array()).toEqual([
      [5, 6],
      [0, 0],
      [1, 2],
      [5, 6],
      [3, 4],
    ]);
    const dy = tf.tensor2d([
      [1, 1],
      [10, 10],
      [100, 100],
      [1000, 1000],
      [7, 7],
    ]);
    const g = tf.grad((X: tf.Tensor) => tf.sum(tf.mul(gatherRows(X, index, inverse), dy)))(x);
    expect(await g.array()).toEqual([
      [100, 100],
      [7, 7],
      [1001, 1001],
    ]);
  });
});

describe('lean activations', () => {
  for (const name of ['gelu', 'gelu_tanh', 'silu', 'relu'] as const) {
    it(`${name}: same values and gradient as core's composite`, async () => {
      const x = tf.mul(randn([64], 8), 3);
      const r = randn([64], 9);
      expect(await maxAbsDiff(leanActivation(name, x), activation(name, x))).toBeLessThan(1e-6);
      const g1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(leanActivation(name, v), r)))(x);
      const g2 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(activation(name, v), r)))(x);
      expect(await maxAbsDiff(g1, g2)).toBeLessThan(1e-5);
    });
  }

  it('swiglu: same values and gradients as silu(h)·v', async () => {
    const h = tf.mul(randn([32], 10), 3);
    const v = randn([32], 11);
    const r = randn([32], 12);
    expect(await maxAbsDiff(swiglu(h, v), tf.mul(silu(h), v))).toBeLessThan(1e-6);
    const [a1, b1] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(swiglu(p, q), r)))([
      h,
      v,
    ]);
    const [a2, b2] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.mul(tf.mul(silu(p), q), r)),
    )([h, v]);
    expect(await maxAbsDiff(a1, a2)).toBeLessThan(1e-5);
    expect(await maxAbsDiff(b1, b2)).toBeLessThan(1e-5);
  });

  it('keeps only its input for the backward pass (fewer live tensors than the composite)', () => {
    const x = randn([256], 13);
    const live = (f: (v: tf.Tensor) => tf.Tensor) => {
      let during = 0;
      const before = tf.memory().numTensors;
      tf.grad((v: tf.Tensor) => {
        const y = tf.sum(f(v));
        during = tf.memory().numTensors - before;
        return y;
      })(x).dispose();
      return during;
    };
    expect(live((v) => leanActivation('gelu', v))).toBeLessThan(live((v) => activation('gelu', v)));
  });
});

describe('contiguousRows', () => {
  it('takes rows [start, start + count) and pads the gradient back', async () => {
    const x = tf.tensor3d(
      Array.from({ length: 24 }, (_, i) => i),
      [4, 3, 2],
    );
    expect(await contiguousRows(x, 1, 2).array()).toEqual(
      await tf.slice(x, [1, 0, 0], [2, 3, 2]).array(),
    );
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(contiguousRows(v, 2, 1), 3)))(x);
    expect(await g.data()).toEqual(new Float32Array(24).fill(3, 12, 18));
    expect(() => contiguousRows(x, 3, 2)).toThrow(/rows \[3, 5\) are outside x \[4,3,2\]/);
  });
});
