// Core's ops on the wasm backend (the default Node engine here), against the cpu results.
import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, FUSED_ADAMW_KERNEL, clearLinearCache, installWasmGather, installWasmIdentity, installWasmSlice, installWasmTile, Rng, WASM_BATCH_MATMUL_KERNEL, batchedMatmulKernelUsable, embeddingLookup, layerNorm, linear, matmul } from '../src/index.js';

async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(name);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

describe('core ops on wasm', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
  });
  it('forward and gradients of matmul, linear, layerNorm and embedding match cpu', async () => {
    const run = () => {
      const rng = new Rng(11);
      const x = rng.normalTensor([2, 5, 8]), w = rng.normalTensor([6, 8]), b = rng.normalTensor([6]);
      const g = rng.normalTensor([6]), beta = rng.normalTensor([6]), table = rng.normalTensor([7, 6]);
      const ids = tf.tensor1d([0, 3, 3, 6, 1], 'int32');
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor, gg: tf.Tensor, tt: tf.Tensor) => {
        const h = layerNorm(linear(xx, ww, bb), gg, beta); // [2, 5, 6]
        const e = embeddingLookup(ids, tt); // [5, 6]
        const s = matmul(h, tf.tile(tf.expandDims(e, 0), [2, 1, 1]), false, true); // [2, 5, 5]
        return tf.sum(tf.square(s)) as tf.Scalar;
      };
      return [f(x, w, b, g, table), ...tf.grads(f)([x, w, b, g, table])];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    cpu.forEach((c, i) => {
      const scale = Math.max(...Array.from(c).map(Math.abs));
      const err = Math.max(...Array.from(c).map((v, j) => Math.abs(v - wasm[i][j])));
      expect(err / scale, `output ${i}`).toBeLessThan(1e-4);
    });
  });

  it('batched products take the per-item XNNPACK kernel and equal tf.matMul, forward and gradients', async () => {
    await tf.setBackend('wasm');
    expect(batchedMatmulKernelUsable()).toBe(true);
    const rng = new Rng(5);
    for (const [lead, m, k, n] of [[[6], 17, 32, 24], [[2, 3], 32, 16, 40], [[1], 64, 64, 64]] as Array<[number[], number, number, number]>) {
      const a = rng.normalTensor([...lead, m, k]);
      const b = rng.normalTensor([...lead, k, n]);
      const dy = rng.normalTensor([...lead, m, n]);
      const calls: string[] = [];
      const profile = await tf.profile(() => matmul(a, b));
      for (const kInfo of profile.kernels) calls.push(kInfo.name);
      const batch = lead.reduce((x, y) => x * y, 1);
      expect(calls.includes(WASM_BATCH_MATMUL_KERNEL), `kernel used for [${lead}]`).toBe(batch > 1);
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matmul(x, y), dy));
      const fRef = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), dy));
      const [ours, ref] = [tf.grads(f)([a, b]), tf.grads(fRef)([a, b])];
      const close = async (x: tf.Tensor, y: tf.Tensor) => {
        const [xd, yd] = [await x.data(), await y.data()];
        let e = 0;
        for (let i = 0; i < xd.length; i++) e = Math.max(e, Math.abs(xd[i] - yd[i]));
        return e;
      };
      expect(await close(matmul(a, b), tf.matMul(a, b))).toBeLessThan(1e-4);
      expect(await close(ours[0], ref[0])).toBeLessThan(1e-4);
      expect(await close(ours[1], ref[1])).toBeLessThan(1e-4);
    }
  });
  it('leaves no tensors or wasm tensor ids behind across batched products', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(6);
    const a = rng.normalTensor([8, 32, 32]);
    const b = rng.normalTensor([8, 32, 32]);
    tf.dispose(matmul(a, b)); // warm-up
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    for (let i = 0; i < 5; i++) tf.dispose(matmul(a, b));
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(ids);
  });

  it('the fused AdamW update runs on wasm and equals the op-by-op update', async () => {
    await tf.setBackend('wasm');
    const run = async (fused: boolean) => {
      const rng = new Rng(9);
      const p = tf.variable(rng.normalTensor([33, 17]));
      const opt = new AdamW([['p', p]], { lr: 0.02, weightDecay: 0.05, fused });
      const names: string[] = [];
      for (let s = 0; s < 3; s++) {
        const g = rng.normalTensor([33, 17]);
        const { kernelNames } = await tf.profile(() => opt.step({ p: g }));
        names.push(...kernelNames);
        g.dispose();
      }
      const out = Array.from(await p.data());
      opt.dispose();
      p.dispose();
      return { out, usedFused: names.includes(FUSED_ADAMW_KERNEL) };
    };
    const [f, r] = [await run(true), await run(false)];
    expect(f.usedFused).toBe(true);
    expect(r.usedFused).toBe(false);
    expect(Math.max(...f.out.map((v, i) => Math.abs(v - r.out[i])))).toBeLessThan(2e-6);
  });

  it("core's wasm Slice copies only the requested box and equals cpu for every rank, dtype and layout", async () => {
    await tf.setBackend('wasm');
    installWasmSlice();
    expect(installWasmSlice()).toBe(false); // idempotent
    const cases: Array<[number[], number[], number[], tf.DataType]> = [
      [[10], [3], [4], 'float32'],
      [[6, 7], [1, 2], [3, 4], 'float32'],
      [[6, 7], [2, 0], [3, 7], 'int32'], // contiguous rows
      [[4, 5, 6], [1, 1, 2], [2, 3, 3], 'float32'],
      [[4, 5, 6], [0, 2, 0], [4, 2, 6], 'bool'],
      [[3, 4, 5, 6], [1, 0, 1, 0], [2, 4, 3, 6], 'float32'],
      [[2, 3, 4, 5, 6], [1, 1, 0, 2, 1], [1, 2, 4, 2, 5], 'float32'],
      [[5, 5], [2, 2], [0, 3], 'float32'], // empty
      [[5, 5], [1, 1], [-1, -1], 'float32'], // -1 = to the end
    ];
    for (const [shape, begin, size, dtype] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? i % 3 === 0 : i * 0.5 - 7));
      const make = () => tf.slice(tf.tensor(values as number[], shape, dtype), begin, size);
      const [want] = await onBackend('cpu', () => [make()]);
      const [got] = await onBackend('wasm', () => [make()]);
      expect(Array.from(got), `slice [${shape}] at [${begin}] size [${size}] ${dtype}`).toEqual(Array.from(want));
    }
  });

  it("core's wasm Tile equals cpu for every rank, dtype and repetition pattern, and its gradient too", async () => {
    await tf.setBackend('wasm');
    installWasmTile();
    expect(installWasmTile()).toBe(false);
    const cases: Array<[number[], number[], tf.DataType]> = [
      [[5], [3], 'float32'],
      [[1, 6], [4, 1], 'float32'],
      [[2, 3], [2, 3], 'int32'],
      [[1, 7, 5], [4, 1, 1], 'float32'], // batch broadcast of a table
      [[2, 1, 3], [1, 5, 2], 'bool'],
      [[2, 3, 2, 2], [2, 1, 3, 2], 'float32'],
      [[3, 2], [0, 2], 'float32'], // empty
    ];
    for (const [shape, reps, dtype] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? i % 2 === 0 : i * 1.5 - 3));
      const make = () => tf.tile(tf.tensor(values as number[], shape, dtype), reps);
      const [want] = await onBackend('cpu', () => [make()]);
      const [got] = await onBackend('wasm', () => [make()]);
      expect(Array.from(got), `tile [${shape}] × [${reps}] ${dtype}`).toEqual(Array.from(want));
    }
    const grad = () => {
      const x = tf.tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]);
      const w = tf.range(0, 4 * 2 * 6).reshape([4, 2, 6]);
      return [tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.tile(v, [4, 1, 2]), w)))(x)];
    };
    const [gc] = await onBackend('cpu', grad);
    const [gw] = await onBackend('wasm', grad);
    expect(Array.from(gw)).toEqual(Array.from(gc));
  });

  it('linear keeps one transposed copy per weight version on wasm and never uses a stale one', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(4);
    const w = tf.variable(rng.normalTensor([6, 5]));
    const x = rng.normalTensor([3, 5]);
    const n0 = tf.memory().numTensors;
    tf.dispose(linear(x, w));
    expect(tf.memory().numTensors).toBe(n0 + 1); // the kept transposed copy
    tf.dispose(linear(x, w));
    expect(tf.memory().numTensors).toBe(n0 + 1); // reused, not rebuilt
    const before = tf.memory().numTensors;
    const doubled = tf.mul(w, 2);
    w.assign(doubled);
    doubled.dispose();
    const y = linear(x, w);
    const want = tf.matMul(x, w, false, true);
    const [yd, wd] = [await y.data(), await want.data()];
    for (let i = 0; i < yd.length; i++) expect(Math.abs(yd[i] - wd[i])).toBeLessThan(1e-5);
    tf.dispose([y, want]);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before); // the old copy was replaced, not kept
    clearLinearCache();
    tf.dispose([w, x]);
  });

  it('disposing a weight frees its transposed copy (no tensor left behind by a disposed model)', async () => {
    await tf.setBackend('wasm');
    const rng = new Rng(5);
    const x = rng.normalTensor([3, 5]);
    const w = tf.tidy(() => tf.variable(rng.normalTensor([6, 5])));
    const n0 = tf.memory().numTensors;
    tf.dispose(linear(x, w));
    expect(tf.memory().numTensors).toBe(n0 + 1); // the kept transposed copy
    w.dispose();
    expect(tf.memory().numTensors).toBe(n0 - 1); // w and its copy are both gone
    x.dispose();
  });

  it("core's wasm Identity shares data: clones (and tensors saved for gradients) cost no copy and free correctly", async () => {
    await tf.setBackend('wasm');
    installWasmIdentity();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const c = tf.clone(x);
    expect(c.dataId).toBe(x.dataId);
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    x.dispose();
    expect(Array.from(await c.data())).toEqual([1, 2, 3, 4]); // still alive through the clone
    c.dispose();
    expect(backend.numDataIds()).toBe(ids - 1);
    // gradients through ops that save their inputs are unchanged
    const f = (v: tf.Tensor) => tf.sum(tf.mul(tf.exp(v), v));
    const [gw] = await onBackend('wasm', () => [tf.grad(f)(tf.tensor([0.5, -1, 2]))]);
    const [gc] = await onBackend('cpu', () => [tf.grad(f)(tf.tensor([0.5, -1, 2]))]);
    Array.from(gw).forEach((v, i) => expect(Math.abs(v - gc[i])).toBeLessThan(1e-5));
  });

  it("core's wasm GatherV2 equals cpu for axes, batch dims and dtypes, and rejects bad indices (its gradient needs UnsortedSegmentSum, absent on wasm)", async () => {
    await tf.setBackend('wasm');
    installWasmGather();
    expect(installWasmGather()).toBe(false);
    const cases: Array<[number[], tf.DataType, number[], number[], number, number]> = [
      [[6, 4], 'float32', [5, 0, 5, 2], [4], 0, 0], // rows
      [[3, 5, 2], 'float32', [4, 1], [2], 1, 0], // middle axis
      [[3, 5], 'int32', [0, 4, 4], [3], 1, 0], // last axis
      [[2, 4, 3], 'float32', [3, 0, 1, 1], [2, 2], 1, 1], // batch dims
      [[4, 3], 'bool', [1, 3, 1, 0, 2, 2], [2, 3], 0, 0], // 2-D indices
    ];
    for (const [shape, dtype, idx, idxShape, axis, batchDims] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? i % 3 === 1 : i * 0.25 - 2));
      const make = () => tf.gather(tf.tensor(values as number[], shape, dtype), tf.tensor(idx, idxShape, 'int32'), axis, batchDims);
      const [want] = await onBackend('cpu', () => [make()]);
      const [got] = await onBackend('wasm', () => [make()]);
      expect(Array.from(got), `gather [${shape}] axis ${axis} batchDims ${batchDims} ${dtype}`).toEqual(Array.from(want));
    }
    await tf.setBackend('wasm');
    expect(() => tf.gather(tf.ones([3, 2]), tf.tensor1d([0, 3], 'int32'))).toThrow(/index value 3 is not in \[0, 2\]/);
  });
});
