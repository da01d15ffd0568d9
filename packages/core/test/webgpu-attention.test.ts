// The fused attention kernels (engine/webgpu/attention.ts) on real WebGPU — Dawn over SwiftShader
// (webgpu-setup.ts) — against attention composed from tfjs ops on the cpu backend: the output and
// dq, dk, dv, with no mask, causal, key-padding and boolean masks (bool and float), fully masked rows
// (all-zero output and gradients, as the reference), Tq ≠ Tk, odd head sizes and lengths that are not
// multiples of the tiles (32 rows; 16 and 8 at the largest head sizes, whose shaders take SwiftShader
// seconds to build; running them takes milliseconds). Tiny sizes: SwiftShader is slow. Two slow cases
// (d = dv = 128; more workgroups than one dispatch dimension) run with BRICKML_SLOW_TESTS=1.
// Without an adapter the tests are skipped (and fail in CI).
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FLASH_ATTENTION_GRAD_KERNEL,
  FLASH_ATTENTION_KERNEL,
  FLASH_ATTENTION_MAX_HEAD_DIM,
  Rng,
  flashAttentionUnsupported,
  type FlashAttentionAttrs,
} from '../src/index.js';
import { gpu, onBackend, run } from './webgpu-setup.js';

/** Largest |a − b| over the largest |a| (a = the reference). */
function relErr(a: Float32Array, b: Float32Array): number {
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
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
  /** The mask's shape (broadcast to [B, H, Tq, Tk]), how many are true, its dtype. */
  mask?: { shape: number[]; keep: number; dtype: 'bool' | 'float32' };
  /** Batch rows whose mask is all false (key padding of a fully padded sequence). */
  emptyBatch?: number;
  /** Run only with BRICKML_SLOW_TESTS=1. */
  slow?: boolean;
}

/** Attention from tfjs ops: softmax(s·q·kᵀ − 1e9·(1 − allowed)) · allowed, then · v. */
function reference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, allowed: tf.Tensor | null, scale: number): tf.Tensor {
  const logits = tf.matMul(tf.mul(q, scale), k, false, true);
  if (!allowed) return tf.matMul(tf.softmax(logits), v);
  const a = tf.cast(allowed, 'float32');
  return tf.matMul(tf.mul(tf.softmax(tf.add(logits, tf.mul(tf.sub(1, a), -1e9))), a), v);
}

/** The case's tensors (same values on every backend) and the reference's allowed-mask. */
function inputs(c: Case): Record<'q' | 'k' | 'v' | 'gy', tf.Tensor> & Record<'mask' | 'allowed', tf.Tensor | null> {
  return tf.tidy(() => makeInputs(c));
}

function makeInputs(c: Case) {
  const rng = new Rng(11);
  const q = rng.normalTensor([c.b, c.h, c.tq, c.d]);
  const k = rng.normalTensor([c.b, c.h, c.tk, c.d]);
  const v = rng.normalTensor([c.b, c.h, c.tk, c.dv]);
  const gy = rng.normalTensor([c.b, c.h, c.tq, c.dv]);
  let mask: tf.Tensor | null = null;
  if (c.mask) {
    let m = rng.bernoulliTensor(c.mask.shape, c.mask.keep);
    if (c.emptyBatch !== undefined) {
      const rows = tf.oneHot([c.emptyBatch], c.mask.shape[0]!).reshape([c.mask.shape[0]!, 1, 1, 1]);
      m = tf.mul(m, tf.sub(1, rows));
    }
    mask = c.mask.dtype === 'bool' ? tf.cast(m, 'bool') : m;
  }
  let allowed: tf.Tensor | null = mask ? tf.notEqual(mask, 0) : null;
  if (c.causal) {
    const tri = tf.reshape(tf.greaterEqual(tf.reshape(tf.range(0, c.tq), [c.tq, 1]), tf.reshape(tf.range(0, c.tk), [1, c.tk])), [1, 1, c.tq, c.tk]);
    allowed = allowed ? tf.logicalAnd(allowed, tri) : tri;
  }
  return { q, k, v, gy, mask, allowed };
}

/** [o, dq, dk, dv] from the reference path (autodiff of tfjs ops). */
function referenceRun(c: Case): tf.Tensor[] {
  const { q, k, v, gy, mask, allowed } = inputs(c);
  const scale = 1 / Math.sqrt(c.d);
  const f = (a: tf.Tensor, b: tf.Tensor, cc: tf.Tensor) => tf.sum(tf.mul(reference(a, b, cc, allowed, scale), gy));
  const o = reference(q, k, v, allowed, scale);
  const grads = tf.grads(f)([q, k, v]);
  tf.dispose([q, k, v, gy, mask, allowed].filter((t): t is tf.Tensor => t !== null));
  return [o, ...grads];
}

/** [o, dq, dk, dv] from the fused kernels. */
function fusedRun(c: Case): tf.Tensor[] {
  const { q, k, v, gy, mask, allowed } = inputs(c);
  const attrs: FlashAttentionAttrs = { scale: 1 / Math.sqrt(c.d), causal: !!c.causal };
  const m = mask ? { mask } : {};
  const before = tf.memory().numTensors;
  const o = tf.engine().runKernel(FLASH_ATTENTION_KERNEL, { q, k, v, ...m }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const grads = tf.engine().runKernel(FLASH_ATTENTION_GRAD_KERNEL, { dy: gy, q, k, v, o, ...m }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  // The kernels leave exactly their four outputs (the statistics are freed).
  expect(tf.memory().numTensors).toBe(before + 4);
  tf.dispose([q, k, v, gy, mask, allowed].filter((t): t is tf.Tensor => t !== null));
  return [o, ...grads];
}

const CASES: Case[] = [
  { name: 'no mask, odd sizes, Tq < Tk', b: 2, h: 3, tq: 37, tk: 45, d: 5, dv: 7 },
  { name: 'causal, Tq > Tk', b: 1, h: 2, tq: 45, tk: 37, d: 8, dv: 3, causal: true },
  { name: 'causal, Tq < Tk, two query blocks', b: 1, h: 1, tq: 40, tk: 70, d: 4, dv: 4, causal: true },
  { name: 'key padding (bool) with a fully padded sequence', b: 3, h: 2, tq: 13, tk: 33, d: 6, dv: 5, mask: { shape: [3, 1, 1, 33], keep: 0.7, dtype: 'bool' }, emptyBatch: 1 },
  { name: 'boolean attention mask [1, 1, Tq, Tk] with empty rows, and causal', b: 2, h: 2, tq: 35, tk: 35, d: 3, dv: 6, causal: true, mask: { shape: [1, 1, 35, 35], keep: 0.3, dtype: 'bool' } },
  { name: 'float mask [B, H, Tq, Tk]', b: 2, h: 2, tq: 9, tk: 50, d: 7, dv: 2, mask: { shape: [2, 2, 9, 50], keep: 0.5, dtype: 'float32' } },
  { name: 'd = dv = 64 (key tiles of 32 rows, query tiles of 16), key padding', b: 2, h: 1, tq: 19, tk: 41, d: 64, dv: 64, mask: { shape: [2, 1, 1, 41], keep: 0.6, dtype: 'bool' } },
  // Opt-in (BRICKML_SLOW_TESTS=1): its five shaders take SwiftShader 10-30 s to build.
  { name: `d = dv = ${FLASH_ATTENTION_MAX_HEAD_DIM} (key tiles of 16 rows, query tiles of 8), key padding`, b: 2, h: 1, tq: 11, tk: 27, d: 128, dv: 128, mask: { shape: [2, 1, 1, 27], keep: 0.6, dtype: 'bool' }, slow: true },
];

describe.runIf(run)('fused attention kernels on WebGPU (SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the cases mask what they claim (fully masked rows present, causal rows)', async () => {
    await tf.setBackend('cpu');
    const c = CASES[4]!;
    const { q, k, v, gy, mask, allowed } = inputs(c);
    const perRow = await tf.sum(tf.cast(allowed!, 'int32'), -1).data(); // [2, 2, 35]
    expect(Array.from(perRow).some((n) => n === 0)).toBe(true);
    expect(Array.from(perRow).some((n) => n > 3)).toBe(true);
    const pad = inputs(CASES[3]!);
    expect(await tf.sum(tf.cast(pad.mask!, 'int32'), [1, 2, 3]).data()).toContain(0);
    tf.dispose([q, k, v, gy, mask!, allowed!, pad.q, pad.k, pad.v, pad.gy, pad.mask!, pad.allowed!]);
  });

  for (const c of CASES) {
    it.runIf(!c.slow || !!process.env.BRICKML_SLOW_TESTS)(`${c.name}: output, dq, dk, dv equal the cpu reference`, async () => {
      expect(gpu.reason).toBe('');
      const ref = await onBackend('cpu', () => referenceRun(c));
      await tf.setBackend('webgpu');
      const before = tf.memory().numTensors;
      const out = await onBackend('webgpu', () => fusedRun(c));
      expect(tf.memory().numTensors).toBe(before);
      const names = ['output', 'dq', 'dk', 'dv'];
      // f32 sums in another order (measured ≤ 7e-7 of the largest entry): 5e-6 for the output, 2e-5
      // for the gradients (which subtract D = Σ dO·O).
      if (process.env.BRICKML_PRINT_ERRORS) console.log(c.name, ref.map((r, i) => relErr(r, out[i]!).toExponential(2)).join(' '));
      ref.forEach((r, i) => expect(relErr(r, out[i]!), `${c.name} ${names[i]}`).toBeLessThan(i === 0 ? 5e-6 : 2e-5));
      if (c.emptyBatch !== undefined) {
        // Fully padded sequence: output and dq are exactly zero there, as in the reference.
        const per = c.h * c.tq * c.dv;
        expect(Array.from(out[0]!.subarray(c.emptyBatch * per, (c.emptyBatch + 1) * per)).every((x) => x === 0)).toBe(true);
        expect(Array.from(ref[0]!.subarray(c.emptyBatch * per, (c.emptyBatch + 1) * per)).every((x) => x === 0)).toBe(true);
        const perQ = c.h * c.tq * c.d;
        expect(Array.from(out[1]!.subarray(c.emptyBatch * perQ, (c.emptyBatch + 1) * perQ)).every((x) => x === 0)).toBe(true);
      }
    });
  }

  it('is deterministic: the same inputs give bitwise the same output and gradients (no atomics)', async () => {
    const c = CASES[4]!;
    const a = await onBackend('webgpu', () => fusedRun(c));
    const b = await onBackend('webgpu', () => fusedRun(c));
    a.forEach((x, i) => expect(Array.from(b[i]!)).toEqual(Array.from(x)));
  });

  // 65,600 workgroups per program take ~45 s on SwiftShader (about 0.1 ms each): opt-in with BRICKML_SLOW_TESTS=1.
  it.runIf(!!process.env.BRICKML_SLOW_TESTS)('more workgroups than a dispatch dimension takes (the backend folds them into y): every (batch, head) is computed', async () => {
    await tf.setBackend('webgpu');
    // 65,600 (batch, head) pairs of one query and one key: o = v, dv = dy, dq = dk = 0 exactly.
    const rng = new Rng(4);
    const [q, k, v, dy] = [1, 1, 1, 1].map(() => rng.normalTensor([2, 32_800, 1, 1]));
    const attrs = { scale: 1, causal: true };
    const o = tf.engine().runKernel(FLASH_ATTENTION_KERNEL, { q: q!, k: k!, v: v! }, attrs) as tf.Tensor;
    const [dq, dk, dv] = tf.engine().runKernel(FLASH_ATTENTION_GRAD_KERNEL, { dy: dy!, q: q!, k: k!, v: v!, o }, attrs) as tf.Tensor[];
    const [vv, oo, dyy, dqq, dkk, dvv] = await Promise.all([v!, o, dy!, dq!, dk!, dv!].map((t) => t.data()));
    expect(Array.from(oo!)).toEqual(Array.from(vv!));
    expect(Array.from(dvv!)).toEqual(Array.from(dyy!));
    expect(dqq!.every((x) => x === 0) && dkk!.every((x) => x === 0)).toBe(true);
    tf.dispose([q!, k!, v!, dy!, o, dq!, dk!, dv!]);
  });

  it('unsupported inputs: flashAttentionUnsupported says why and the kernel throws naming itself', async () => {
    await tf.setBackend('webgpu');
    const q = tf.zeros([1, 1, 4, FLASH_ATTENTION_MAX_HEAD_DIM + 1]);
    const v = tf.zeros([1, 1, 4, 3]);
    expect(flashAttentionUnsupported(q, q, v)).toMatch(/head sizes must be in \[1, 128\], got d = 129/);
    expect(() => tf.engine().runKernel(FLASH_ATTENTION_KERNEL, { q, k: q, v }, { scale: 1, causal: false })).toThrow(/BrickFlashAttention: head sizes/);
    const qi = tf.zeros([1, 1, 4, 3], 'int32');
    expect(flashAttentionUnsupported(qi, qi, qi)).toMatch(/float32/);
    const ok = tf.zeros([1, 1, 4, 3]);
    expect(flashAttentionUnsupported(ok, ok, ok, tf.zeros([4, 4], 'bool'))).toMatch(/rank-4/);
    expect(() => tf.engine().runKernel(FLASH_ATTENTION_KERNEL, { q: ok, k: ok, v: ok }, { scale: NaN, causal: false })).toThrow(/'scale' must be a finite number/);
    tf.dispose([q, v, qi, ok]);
  });
});
