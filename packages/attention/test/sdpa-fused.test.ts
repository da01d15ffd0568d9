// scaledDotProductAttention's implementations: the reference path (tfjs ops) and core's fused
// attention kernels (webgpu: engine/webgpu/attention.ts) behind `impl: 'auto' | 'fused' | 'reference'`.
// On cpu: the `causal` option, the selection rules and their errors. On real WebGPU (Dawn over
// SwiftShader, core's test set-up): the fused path against the reference path on cpu (output and
// the gradients of q, k, v) with combined key-padding / attention / causal masks, fully masked rows,
// Tq ≠ Tk and lengths that are not multiples of the 32-row tiles; no leaked tensors; and the GPU
// programs dispatched per call, fused vs reference (printed). Tiny sizes: SwiftShader is slow.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FLASH_ATTENTION_GRAD_KERNEL, FLASH_ATTENTION_KERNEL, FLASH_ATTENTION_MAX_HEAD_DIM, Rng } from '@brickml/core';
import {
  combineMasks,
  getDefaultAttentionImpl,
  scaledDotProductAttention,
  setDefaultAttentionImpl,
  type AttentionImpl,
  type AttentionOptions,
} from '../src/index.js';
import { gpu, onBackend, run } from '../../core/test/webgpu-setup.js';

/** Largest |a − b| over the largest |a| (a = the reference). */
function relErr(a: Float32Array, b: Float32Array): number {
  const scale = Math.max(1e-6, ...Array.from(a).map(Math.abs));
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? e / scale : Infinity;
}

interface Case {
  name: string;
  b: number;
  h: number;
  tq: number;
  tk: number;
  d: number;
  dv: number;
  causal?: boolean;
  /** Key-padding mask [B, Tk] (sequence 0 fully padded when `emptySequence`) and/or an attention mask [Tq, Tk]. */
  keyPadding?: boolean;
  emptySequence?: boolean;
  attention?: boolean;
}

/** q, k, v, the output cotangent and the combined mask [B|1, 1, Tq|1, Tk] (same values on every backend). */
function inputs(c: Case) {
  return tf.tidy(() => {
    const rng = new Rng(21);
    const q = rng.normalTensor([c.b, c.h, c.tq, c.d]);
    const k = rng.normalTensor([c.b, c.h, c.tk, c.d]);
    const v = rng.normalTensor([c.b, c.h, c.tk, c.dv]);
    const gy = rng.normalTensor([c.b, c.h, c.tq, c.dv]);
    let kp: tf.Tensor | null = null;
    if (c.keyPadding) {
      kp = tf.greater(rng.uniformTensor([c.b, c.tk]), 0.3);
      if (c.emptySequence) kp = tf.logicalAnd(kp, tf.reshape(tf.greater(tf.range(0, c.b), 0), [c.b, 1]));
    }
    const am = c.attention ? tf.expandDims(tf.greater(rng.uniformTensor([c.tq, c.tk]), 0.5), 0) : null;
    const mask = combineMasks(kp, am);
    return { q, k, v, gy, mask };
  });
}

/** [output, dq, dk, dv] of sdpa with `impl`. */
function attentionAndGrads(c: Case, impl: AttentionImpl): tf.Tensor[] {
  const { q, k, v, gy, mask } = inputs(c);
  const opts: AttentionOptions = { mask, causal: !!c.causal, impl };
  const output = scaledDotProductAttention(q, k, v, opts).output;
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(scaledDotProductAttention(a, b, cc, opts).output, gy)))([q, k, v]);
  tf.dispose([q, k, v, gy]);
  if (mask) mask.dispose();
  return [output, ...grads];
}

describe('scaledDotProductAttention: causal option and implementation choice (cpu)', () => {
  afterEach(() => setDefaultAttentionImpl('auto'));

  it('causal equals an explicit lower-triangular mask ANDed with the given mask, also for Tq ≠ Tk', async () => {
    await tf.setBackend('cpu');
    for (const [tq, tk] of [[5, 7], [7, 5]] as const) {
      const rng = new Rng(3);
      const [q, k, v] = [rng.normalTensor([2, 2, tq, 4]), rng.normalTensor([2, 2, tk, 4]), rng.normalTensor([2, 2, tk, 3])];
      const kp = tf.tensor2d([[1, 1, 0, 1, 1, 1, 1].slice(0, tk), [0, 1, 1, 1, 1, 1, 1].slice(0, tk)], [2, tk], 'bool');
      const mask = combineMasks(kp, null)!;
      const tri = tf.tensor4d(Array.from({ length: tq * tk }, (_, n) => (n % tk <= Math.floor(n / tk) ? 1 : 0)), [1, 1, tq, tk]);
      const explicit = tf.logicalAnd(mask, tf.cast(tri, 'bool'));
      const a = scaledDotProductAttention(q, k, v, { mask, causal: true, returnWeights: true });
      const b = scaledDotProductAttention(q, k, v, { mask: explicit, returnWeights: true });
      expect(tf.max(tf.abs(tf.sub(a.output, b.output))).arraySync()).toBe(0);
      const w = await a.weights!.array() as number[][][][];
      // Query 0 of sequence 1 sees only key 0, which is padded: a fully masked row, all-zero weights.
      expect(w[1]![0]![0]!.every((x) => x === 0)).toBe(true);
      // Row i never weighs keys after i.
      expect(w[0]![1]![2]!.slice(3).every((x) => x === 0)).toBe(true);
      expect(w[0]![1]![2]!.slice(0, 3).reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
      tf.dispose([q, k, v, kp, mask, tri, explicit, a.output, a.weights!, b.output, b.weights!]);
    }
  });

  it("'auto' falls back to the reference path on cpu; 'fused' and bad impls fail with the reason", () => {
    const q = tf.ones([1, 1, 3, 2]);
    expect(getDefaultAttentionImpl()).toBe('auto');
    const auto = scaledDotProductAttention(q, q, q).output;
    const ref = scaledDotProductAttention(q, q, q, { impl: 'reference' }).output;
    expect(auto.arraySync()).toEqual(ref.arraySync());
    expect(() => scaledDotProductAttention(q, q, q, { impl: 'fused' })).toThrow(
      /scaledDotProductAttention: impl 'fused' cannot run: backend 'cpu' has no fused attention kernel/,
    );
    expect(() => scaledDotProductAttention(q, q, q, { impl: 'flash' as AttentionImpl })).toThrow(/option 'impl' must be one of auto, fused, reference, got flash/);
    expect(() => setDefaultAttentionImpl('fast' as AttentionImpl)).toThrow(/setDefaultAttentionImpl: argument 'impl'/);
    setDefaultAttentionImpl('fused');
    expect(() => scaledDotProductAttention(q, q, q)).toThrow(/impl 'fused' cannot run/);
    tf.dispose([q, auto, ref]);
  });
});

const CASES: Case[] = [
  { name: 'no mask, Tq < Tk, odd sizes', b: 2, h: 2, tq: 33, tk: 41, d: 5, dv: 3 },
  { name: 'causal, Tq > Tk', b: 1, h: 3, tq: 40, tk: 35, d: 4, dv: 6, causal: true },
  { name: 'key padding with a fully padded sequence + attention mask + causal', b: 2, h: 2, tq: 37, tk: 37, d: 6, dv: 6, causal: true, keyPadding: true, emptySequence: true, attention: true },
  { name: 'key padding only (cross-attention shape)', b: 3, h: 1, tq: 7, tk: 70, d: 8, dv: 4, keyPadding: true },
];

describe.runIf(run)('scaledDotProductAttention on WebGPU (SwiftShader): fused kernels', () => {
  afterAll(async () => {
    setDefaultAttentionImpl('auto');
    await tf.setBackend('cpu');
  });

  for (const c of CASES) {
    it(`${c.name}: 'auto' runs the fused kernels and equals the reference path on cpu (output, dq, dk, dv)`, async () => {
      expect(gpu.reason).toBe('');
      const ref = await onBackend('cpu', () => attentionAndGrads(c, 'reference'));
      await tf.setBackend('webgpu');
      const { q, k, v, gy, mask } = inputs(c);
      const opts: AttentionOptions = { mask, causal: !!c.causal };
      const names = (p: tf.ProfileInfo) => p.kernels.map((x) => x.name);
      const fwd = await tf.profile(() => scaledDotProductAttention(q, k, v, opts).output);
      expect(names(fwd)).toContain(FLASH_ATTENTION_KERNEL);
      expect(names(fwd)).not.toContain('Softmax');
      tf.dispose(fwd.result as tf.Tensor);
      const before = tf.memory().numTensors;
      const loss = (a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(scaledDotProductAttention(a, b, cc, opts).output, gy));
      const bwd = await tf.profile(() => tf.grads(loss)([q, k, v]));
      expect(names(bwd)).toContain(FLASH_ATTENTION_GRAD_KERNEL);
      tf.dispose(bwd.result as tf.Tensor[]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([q, k, v, gy]);
      if (mask) mask.dispose();
      const out = await onBackend('webgpu', () => attentionAndGrads(c, 'auto'));
      // Measured ≤ 1e-6 of the largest entry (f32 sums in another order).
      ref.forEach((r, i) => expect(relErr(r, out[i]!), `${c.name} ${['output', 'dq', 'dk', 'dv'][i]}`).toBeLessThan(i === 0 ? 5e-6 : 2e-5));
      if (c.emptySequence) {
        const per = c.h * c.tq * c.dv;
        expect(Array.from(out[0]!.subarray(0, per)).every((x) => x === 0)).toBe(true); // sequence 0: zero output, as the reference
      }
    });
  }

  it("'reference' on webgpu, returnWeights and dropout take the reference path; 'fused' explains what it cannot do", async () => {
    await tf.setBackend('webgpu');
    const c = CASES[2]!;
    const { q, k, v, gy, mask } = inputs(c);
    const kernelsOf = async (opts: AttentionOptions) => {
      const p = await tf.profile(() => scaledDotProductAttention(q, k, v, { mask, causal: true, ...opts }).output);
      tf.dispose(p.result as tf.Tensor);
      return p.kernels.map((x) => x.name);
    };
    expect(await kernelsOf({ impl: 'reference' })).not.toContain(FLASH_ATTENTION_KERNEL);
    expect(await kernelsOf({ returnWeights: true })).not.toContain(FLASH_ATTENTION_KERNEL);
    expect(await kernelsOf({ dropout: 0.1, rng: new Rng(1) })).not.toContain(FLASH_ATTENTION_KERNEL);
    setDefaultAttentionImpl('reference');
    expect(await kernelsOf({})).not.toContain(FLASH_ATTENTION_KERNEL);
    setDefaultAttentionImpl('auto');
    expect(() => scaledDotProductAttention(q, k, v, { dropout: 0.1, impl: 'fused' })).toThrow(/impl 'fused' cannot run: dropout/);
    expect(() => scaledDotProductAttention(q, k, v, { returnWeights: true, impl: 'fused' })).toThrow(/impl 'fused' cannot run: returnWeights/);
    const big = tf.zeros([1, 1, 2, FLASH_ATTENTION_MAX_HEAD_DIM + 1]);
    expect(() => scaledDotProductAttention(big, big, big, { impl: 'fused' })).toThrow(new RegExp(`head sizes must be ≤ ${FLASH_ATTENTION_MAX_HEAD_DIM}, got d = 129`));
    // 'reference' on webgpu equals 'auto' (fused) on webgpu.
    const [fused, reference] = await Promise.all(
      (['auto', 'reference'] as const).map((impl) => scaledDotProductAttention(q, k, v, { mask, causal: true, impl }).output.data() as Promise<Float32Array>),
    );
    expect(relErr(reference!, fused!)).toBeLessThan(5e-6);
    tf.dispose([q, k, v, gy, big]);
    if (mask) mask.dispose();
  });

  it('GPU programs per call: fused vs reference (printed)', async () => {
    await tf.setBackend('webgpu');
    // Every GPU dispatch goes through the backend's runWebGPUProgram: count its calls.
    const be = tf.backend() as unknown as { runWebGPUProgram: (...args: unknown[]) => unknown };
    const original = be.runWebGPUProgram;
    let programs = 0;
    be.runWebGPUProgram = function (...args: unknown[]) {
      programs++;
      return original.apply(this, args);
    };
    const c = CASES[2]!;
    const { q, k, v, gy, mask } = inputs(c);
    const counts: Record<string, number> = {};
    try {
      for (const impl of ['fused', 'reference'] as const) {
        const opts: AttentionOptions = { mask, causal: true, impl };
        programs = 0;
        const y = scaledDotProductAttention(q, k, v, opts).output;
        await y.data();
        counts[`${impl} forward`] = programs;
        y.dispose();
        programs = 0;
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(scaledDotProductAttention(a, b, cc, opts).output, gy)))([q, k, v]);
        await Promise.all(g.map((t) => t.data()));
        counts[`${impl} forward+backward (incl. the loss)`] = programs;
        tf.dispose(g);
      }
      // The loss's own programs (forward and gradient), to subtract.
      const y0 = scaledDotProductAttention(q, k, v, { mask, causal: true }).output;
      await y0.data();
      programs = 0;
      const g0 = tf.grad((y: tf.Tensor) => tf.sum(tf.mul(y, gy)))(y0);
      await g0.data();
      counts['loss alone (forward+backward)'] = programs;
      tf.dispose([y0, g0]);
    } finally {
      be.runWebGPUProgram = original;
      tf.dispose([q, k, v, gy]);
      if (mask) mask.dispose();
    }
    console.log(`GPU programs per attention call [${c.b}, ${c.h}, ${c.tq}, ${c.d}], key padding + attention mask + causal:`, counts);
    const loss = counts['loss alone (forward+backward)']!;
    console.log(`attention alone, forward+backward: fused ${counts['fused forward+backward (incl. the loss)']! - loss}, reference ${counts['reference forward+backward (incl. the loss)']! - loss}`);
    expect(counts['fused forward']).toBe(1);
    expect(counts['fused forward+backward (incl. the loss)']! - loss).toBe(5); // 1 forward + statistics, dq, dk, dv
    expect(counts['fused forward+backward (incl. the loss)']!).toBeLessThan(counts['reference forward+backward (incl. the loss)']!);
  });
});
