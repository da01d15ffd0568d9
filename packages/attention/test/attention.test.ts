import * as tf from '@tensorflow/tfjs-core';
import '../src/index.js'; // registers the bricks (the named imports below may be type-only)
import { describe, expect, it } from 'vitest';
import { Rng, ShapeError, build, gradCheck, gradCheckVariables } from '@brickml/core';
import {
  MultiHeadAttention,
  TransformerBlock,
  combineMasks,
  scaledDotProductAttention,
} from '../src/index.js';
import { host, maxAbsDiff, paramShapes, projectionLoss, randn, randomizeParameters } from './helpers.js';

/** Explicit per-head loop reference of MultiHeadAttention on host arrays (float64). */
async function referenceMha(
  m: MultiHeadAttention,
  x: tf.Tensor,
  ctx: tf.Tensor,
  allowed?: (b: number, i: number, t: number) => boolean,
): Promise<Float64Array> {
  const [B, Tq, D] = x.shape;
  const [, Tk, Cd] = ctx.shape;
  const H = m.config.heads, dh = m.dimHead;
  const Wq = await host(m.q.weight), Wk = await host(m.k.weight), Wv = await host(m.v.weight);
  const Wo = await host(m.out.weight), bo = await host(m.out.bias!);
  const X = await host(x), Cx = await host(ctx);
  const out = m.config.outDim ?? m.config.dim;
  const result = new Float64Array(B * Tq * out);
  for (let b = 0; b < B; b++) {
    const concat = new Float64Array(Tq * H * dh);
    for (let h = 0; h < H; h++) {
      const proj = (W: Float32Array, src: Float32Array, T: number, inF: number) => {
        const r = new Float64Array(T * dh);
        for (let i = 0; i < T; i++)
          for (let e = 0; e < dh; e++) {
            let s = 0;
            for (let j = 0; j < inF; j++) s += src[(b * T + i) * inF + j] * W[(h * dh + e) * inF + j];
            r[i * dh + e] = s;
          }
        return r;
      };
      const q = proj(Wq, X, Tq, D), k = proj(Wk, Cx, Tk, Cd), v = proj(Wv, Cx, Tk, Cd);
      for (let i = 0; i < Tq; i++) {
        const s = new Float64Array(Tk);
        let mx = -Infinity;
        let any = false;
        for (let t = 0; t < Tk; t++) {
          if (allowed && !allowed(b, i, t)) { s[t] = NaN; continue; }
          any = true;
          let acc = 0;
          for (let e = 0; e < dh; e++) acc += q[i * dh + e] * k[t * dh + e];
          s[t] = acc / Math.sqrt(dh);
          mx = Math.max(mx, s[t]);
        }
        let z = 0;
        for (let t = 0; t < Tk; t++) if (!Number.isNaN(s[t])) z += Math.exp(s[t] - mx);
        for (let e = 0; e < dh; e++) {
          let acc = 0;
          if (any) for (let t = 0; t < Tk; t++) if (!Number.isNaN(s[t])) acc += (Math.exp(s[t] - mx) / z) * v[t * dh + e];
          concat[i * H * dh + h * dh + e] = acc;
        }
      }
    }
    for (let i = 0; i < Tq; i++)
      for (let o = 0; o < out; o++) {
        let acc = bo[o];
        for (let f = 0; f < H * dh; f++) acc += Wo[o * H * dh + f] * concat[i * H * dh + f];
        result[(b * Tq + i) * out + o] = acc;
      }
  }
  return result;
}

async function maxDiffToRef(y: tf.Tensor, ref: Float64Array): Promise<number> {
  const a = await host(y);
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(a[i] - ref[i]));
  return m;
}

describe('scaledDotProductAttention', () => {
  it('matches softmax(q·kᵀ/√d)·v computed by hand on a 1×1×2×2 case', async () => {
    const q = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    const k = tf.tensor4d([1, 0, 0, 2], [1, 1, 2, 2]);
    const v = tf.tensor4d([10, 0, 0, 20], [1, 1, 2, 2]);
    const { output, weights } = scaledDotProductAttention(q, k, v, { returnWeights: true });
    // row 0: logits [1, 0]/√2 ; row 1: [0, 2]/√2
    const p0 = 1 / (1 + Math.exp(-1 / Math.SQRT2));
    const p1 = 1 / (1 + Math.exp(-2 / Math.SQRT2));
    const w = await host(weights!);
    expect(Array.from(w)).toEqual([expect.closeTo(p0, 6), expect.closeTo(1 - p0, 6), expect.closeTo(1 - p1, 6), expect.closeTo(p1, 6)]);
    const o = await host(output);
    expect(Array.from(o)).toEqual([expect.closeTo(10 * p0, 5), expect.closeTo(20 * (1 - p0), 5), expect.closeTo(10 * (1 - p1), 5), expect.closeTo(20 * p1, 5)]);
    tf.dispose([q, k, v, output, weights!]);
  });

  it('gives masked keys exactly zero weight and fully masked rows all-zero weights (documented choice)', async () => {
    const rng = new Rng(1);
    const q = randn(rng, [1, 2, 3, 4]), k = randn(rng, [1, 2, 5, 4]), v = randn(rng, [1, 2, 5, 4]);
    // row 0: keys 0,1 allowed; row 1: none; row 2: all
    const mask = tf.tensor4d(
      [1, 1, 0, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 1, 1, 1, 1, 1].map(Boolean) as unknown as number[],
      [1, 1, 3, 5],
      'bool',
    );
    const { output, weights } = scaledDotProductAttention(q, k, v, { mask, returnWeights: true });
    const w = await host(weights!);
    const o = await host(output);
    for (let h = 0; h < 2; h++) {
      const row = (i: number) => Array.from(w.slice((h * 3 + i) * 5, (h * 3 + i + 1) * 5));
      expect(row(0).slice(2)).toEqual([0, 0, 0]);
      expect(row(0)[0] + row(0)[1]).toBeCloseTo(1, 6);
      expect(row(1)).toEqual([0, 0, 0, 0, 0]);
      expect(row(2).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(Array.from(o.slice((h * 3 + 1) * 4, (h * 3 + 2) * 4))).toEqual([0, 0, 0, 0]);
    }
    tf.dispose([q, k, v, mask, output, weights!]);
  });

  it('rejects a mask that does not broadcast, naming both shapes', () => {
    const q = tf.zeros([1, 1, 2, 4]), k = tf.zeros([1, 1, 3, 4]);
    const mask = tf.ones([1, 1, 2, 4], 'bool');
    expect(() => scaledDotProductAttention(q, k, k, { mask })).toThrow(/mask \[1,1,2,4\].*\[1, 1, 2, 3\]/);
    tf.dispose([q, k, mask]);
  });

  it('combineMasks ANDs key padding [B, Tk] with an attention mask [B|1, Tq, Tk]', async () => {
    const kp = tf.tensor2d([[1, 1, 0]], [1, 3], 'bool');
    const am = tf.tensor3d([[[1, 0, 1], [1, 1, 1]]], [1, 2, 3], 'bool');
    const m = combineMasks(kp, am)!;
    expect(m.shape).toEqual([1, 1, 2, 3]);
    expect(Array.from(await m.data())).toEqual([1, 0, 0, 1, 1, 0]);
    expect(combineMasks(null, null)).toBeNull();
    tf.dispose([kp, am, m]);
  });
});

describe('MultiHeadAttention', () => {
  it('equals an explicit per-head loop reference (self and cross, masks) within 2e-5', async () => {
    const rng = new Rng(3);
    const self = new MultiHeadAttention({ dim: 12, heads: 3 }, { rng });
    randomizeParameters(self, 11, 0.3);
    const x = randn(rng, [2, 5, 12]);
    const y = self.forward(x);
    expect(await maxDiffToRef(y, await referenceMha(self, x, x))).toBeLessThan(2e-5);

    const cross = new MultiHeadAttention({ dim: 8, contextDim: 6, heads: 2, dimHead: 5, outDim: 7 }, { rng });
    randomizeParameters(cross, 12, 0.3);
    const ctx = randn(rng, [2, 9, 6]);
    const xq = randn(rng, [2, 4, 8]);
    const kp = tf.tensor2d([[1, 1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1]], [2, 9], 'bool');
    const amData = Array.from({ length: 4 * 9 }, (_, j) => (j % 4 === 0 ? 0 : 1));
    amData.fill(0, 9, 18); // query 1 fully masked by the attention mask
    const am = tf.tensor3d(amData, [1, 4, 9], 'bool');
    const yc = cross.forward(xq, ctx, { keyPaddingMask: kp, attnMask: am });
    expect(yc.shape).toEqual([2, 4, 7]);
    const allowed = (b: number, i: number, t: number) => (b === 1 || t < 6) && amData[i * 9 + t] === 1;
    expect(await maxDiffToRef(yc, await referenceMha(cross, xq, ctx, allowed))).toBeLessThan(2e-5);
    // The fully masked query row outputs exactly the output projection's bias.
    const row = tf.tidy(() => tf.slice(yc, [0, 1, 0], [2, 1, 7]).reshape([2, 7]));
    const bias = await host(cross.out.bias!);
    const r = await host(row);
    expect(Array.from(r)).toEqual([...bias, ...bias]);
    tf.dispose([x, y, ctx, xq, kp, am, yc, row]);
    self.dispose();
    cross.dispose();
  });

  it('returns per-head weights [B, H, Tq, Tk] through the capture hook, rows summing to 1', async () => {
    const rng = new Rng(4);
    const m = new MultiHeadAttention({ dim: 8, heads: 2 }, { rng });
    const x = randn(rng, [1, 3, 8]);
    const { output, weights } = m.forwardWithWeights(x);
    expect(weights.shape).toEqual([1, 2, 3, 3]);
    const sums = await host(tf.sum(weights, -1));
    for (const s of sums) expect(s).toBeCloseTo(1, 5);
    const plain = m.forward(x);
    expect(await maxAbsDiff(plain, output)).toBe(0);
    tf.dispose([x, output, weights, plain]);
    m.dispose();
  });

  it('runs cross attention from 1 query to 10,000 keys', async () => {
    const rng = new Rng(5);
    const m = new MultiHeadAttention({ dim: 16, contextDim: 8, heads: 4 }, { rng });
    const x = randn(rng, [1, 1, 16]);
    const ctx = randn(rng, [1, 10_000, 8]);
    const { output, weights } = m.forwardWithWeights(x, ctx);
    expect(output.shape).toEqual([1, 1, 16]);
    expect(weights.shape).toEqual([1, 4, 1, 10_000]);
    const o = await host(output);
    expect(o.every(Number.isFinite)).toBe(true);
    const sums = await host(tf.sum(weights, -1));
    for (const s of sums) expect(s).toBeCloseTo(1, 4);
    tf.dispose([x, ctx, output, weights]);
    m.dispose();
  });

  it('self attention without position encoding is permutation equivariant (MHA and TransformerBlock)', async () => {
    const rng = new Rng(6);
    const blk = new TransformerBlock({ dim: 8, heads: 2, mlpRatio: 2 }, { rng });
    const x = randn(rng, [2, 6, 8]);
    const perm = [3, 0, 5, 1, 4, 2];
    const idx = tf.tensor1d(perm, 'int32');
    const yPermuted = tf.tidy(() => tf.gather(blk.forward(x), idx, 1));
    const yOfPermuted = tf.tidy(() => blk.forward(tf.gather(x, idx, 1)));
    expect(await maxAbsDiff(yPermuted, yOfPermuted)).toBeLessThan(1e-5);
    const a = tf.tidy(() => tf.gather(blk.attn.forward(x), idx, 1));
    const b = tf.tidy(() => blk.attn.forward(tf.gather(x, idx, 1)));
    expect(await maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([x, idx, yPermuted, yOfPermuted, a, b]);
    blk.dispose();
  });

  it('gradients match finite differences (self, cross with masks, qk-norm, rotary): float32, eps 1e-2, atol 2e-3, rtol 2e-2', async () => {
    const rng = new Rng(7);
    const cases: Array<[string, MultiHeadAttention, (m: MultiHeadAttention) => tf.Tensor]> = [];
    const x = randn(rng, [2, 4, 8], 0.7);
    const ctx = randn(rng, [2, 5, 6], 0.7);
    const kp = tf.tensor2d([[1, 1, 1, 0, 1], [1, 1, 1, 1, 1]], [2, 5], 'bool');
    cases.push(['self', new MultiHeadAttention({ dim: 8, heads: 2 }, { rng }), (m) => m.forward(x)]);
    cases.push([
      'cross+mask',
      new MultiHeadAttention({ dim: 8, contextDim: 6, heads: 2, dimHead: 3, qkvBias: true }, { rng }),
      (m) => m.forward(x, ctx, { keyPaddingMask: kp }),
    ]);
    cases.push(['qknorm', new MultiHeadAttention({ dim: 8, heads: 2, qkNorm: 'layernorm' }, { rng }), (m) => m.forward(x)]);
    cases.push(['rmsnorm+rotary', new MultiHeadAttention({ dim: 8, heads: 2, qkNorm: 'rmsnorm', rotaryDim: 4 }, { rng }), (m) => m.forward(x)]);
    for (const [name, m, f] of cases) {
      randomizeParameters(m, 21, 0.4);
      const r = await gradCheckVariables(() => projectionLoss(f(m)), m.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
      expect(r.ok, `${name}: ${JSON.stringify(r.worst)}`).toBe(true);
      m.dispose();
    }
    // and with respect to the inputs
    const m = new MultiHeadAttention({ dim: 8, contextDim: 6, heads: 2 }, { rng });
    const r = await gradCheck((a, c) => projectionLoss(m.forward(a, c)), [x, ctx], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    m.dispose();
    tf.dispose([x, ctx, kp]);
  });

  it('TransformerBlock gradients match finite differences (self SwiGLU, cross without query residual): float32, eps 1e-2, atol 2e-3, rtol 2e-2', async () => {
    const rng = new Rng(17);
    const x = randn(rng, [2, 3, 8], 0.7);
    const ctx = randn(rng, [2, 4, 5], 0.7);
    const blocks: Array<[TransformerBlock, () => tf.Tensor]> = [];
    const selfBlk = new TransformerBlock({ dim: 8, heads: 2, activation: 'swiglu', mlpRatio: 2, qkNorm: 'layernorm' }, { rng });
    blocks.push([selfBlk, () => selfBlk.forward(x)]);
    const crossBlk = new TransformerBlock({ dim: 8, kind: 'cross', contextDim: 5, heads: 2, queryResidual: false, activation: 'gelu_tanh' }, { rng });
    blocks.push([crossBlk, () => crossBlk.forward(x, ctx)]);
    for (const [blk, f] of blocks) {
      randomizeParameters(blk, 5, 0.4);
      const r = await gradCheckVariables(() => projectionLoss(f()), blk.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 8 });
      expect(r.ok, JSON.stringify(r.worst)).toBe(true);
      blk.dispose();
    }
    tf.dispose([x, ctx]);
  });

  it('dropout on the weights acts in training only', async () => {
    const rng = new Rng(8);
    const m = new MultiHeadAttention({ dim: 8, heads: 2, dropout: 0.5 }, { rng });
    const x = randn(rng, [1, 6, 8]);
    const a = m.forward(x, null, { rng: new Rng(1) });
    m.eval();
    const b = m.forward(x);
    const c = m.forward(x);
    expect(await maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    expect(await maxAbsDiff(b, c)).toBe(0);
    tf.dispose([x, a, b, c]);
    m.dispose();
  });

  it('shape errors name the brick path, the argument and both shapes', () => {
    const rng = new Rng(9);
    const blk = build<TransformerBlock>({ type: 'TransformerBlock', dim: 8, kind: 'cross', contextDim: 6, heads: 2 }, { rng });
    const x = tf.zeros([2, 3, 8]);
    const badCtx = tf.zeros([2, 5, 4]);
    expect(() => blk.forward(x, badCtx)).toThrow(ShapeError);
    // norm_context sees it first: LayerNorm 'norm_context' ... expected [..., 6], got [2, 5, 4]
    expect(() => blk.forward(x, badCtx)).toThrow(/'norm_context'.*\[\.\.\., 6\].*\[2, 5, 4\]/);
    const noNorm = build<TransformerBlock>({ type: 'TransformerBlock', dim: 8, kind: 'cross', contextDim: 6, heads: 2, normContext: false }, { rng });
    expect(() => noNorm.forward(x, badCtx)).toThrow(/MultiHeadAttention 'attn'.*'context'.*\[\*, \*, 6\].*\[2, 5, 4\]/);
    const otherBatch = tf.zeros([3, 5, 6]);
    expect(() => noNorm.forward(x, otherBatch)).toThrow(/'context' \[3, 5, 6\].*'x' \[2, 3, 8\]/);
    const kp = tf.ones([2, 4], 'bool');
    expect(() => noNorm.forward(x, tf.zeros([2, 5, 6]), { keyPaddingMask: kp })).toThrow(/'keyPaddingMask' expected shape \[2, 5\].*\[2, 5, 6\].*got \[2, 4\]/);
    tf.dispose([x, badCtx, otherBatch, kp]);
    blk.dispose();
    noNorm.dispose();
  });

  it('configs round-trip exactly and rebuild with the same names, shapes and (same seed) values', async () => {
    const configs = [
      { type: 'MultiHeadAttention', dim: 12, contextDim: 6, heads: 3, dimHead: 5, qkNorm: 'rmsnorm', rotaryDim: 4, outDim: 7 },
      { type: 'TransformerBlock', dim: 8, heads: 2, activation: 'swiglu', mlpRatio: 2, qkNorm: 'layernorm' },
      { type: 'TransformerBlock', dim: 8, kind: 'cross', contextDim: 5, heads: 2, normContext: false, queryResidual: false, mlpRatio: 0 },
    ];
    for (const cfg of configs) {
      const a = build(cfg, { rng: new Rng(1) });
      const json = JSON.parse(JSON.stringify(a.toConfig()));
      const b = build(json, { rng: new Rng(1) });
      expect(b.toConfig()).toEqual(a.toConfig());
      expect(paramShapes(b)).toEqual(paramShapes(a));
      for (const [[, va], [, vb]] of a.namedState().map((e, i) => [e, b.namedState()[i]] as const)) {
        expect(Array.from(await vb.data())).toEqual(Array.from(await va.data()));
      }
      a.dispose();
      b.dispose();
    }
    const m = build({ type: 'MultiHeadAttention', dim: 8, heads: 2, qkNorm: 'layernorm' });
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'q.weight', 'k.weight', 'v.weight', 'q_norm.weight', 'q_norm.bias', 'k_norm.weight', 'k_norm.bias', 'out.weight', 'out.bias',
    ]);
    m.dispose();
  });

  it('rejects bad configs before allocating (heads not dividing dim, odd rotaryDim)', () => {
    expect(() => build({ type: 'MultiHeadAttention', dim: 10, heads: 3 })).toThrow(/'heads' \(3\) must divide 'dim' \(10\)/);
    expect(() => build({ type: 'MultiHeadAttention', dim: 8, heads: 2, rotaryDim: 3 })).toThrow(/rotaryDim/);
    expect(() => build({ type: 'MultiHeadAttention', dim: 8, heads: 2, extra: 1 })).toThrow(/extra|Unrecognized/);
  });

  it('does not leak tensors across forward + backward steps', async () => {
    const rng = new Rng(10);
    const blk = new TransformerBlock({ dim: 8, heads: 2 }, { rng });
    const x = randn(rng, [2, 4, 8]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => projectionLoss(blk.forward(x)), blk.parameters());
      value.dispose();
      tf.dispose(Object.values(grads));
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    blk.dispose();
  });
});
