import * as tf from '@tensorflow/tfjs-core';
import { FLASH_ATTENTION_GRAD_KERNEL as FLASH_GRAD_KERNEL, FLASH_ATTENTION_KERNEL as FLASH_KERNEL, FLASH_ATTENTION_MAX_HEAD_DIM as FLASH_MAX_HEAD_DIM, matmul, globalRng, type Rng } from '@brickml/core';

/**
 * Scaled dot-product attention as ONE function, so that a fused kernel per backend replaces the
 * reference path behind the same signature (docs/design.md, "WebGPU in Node ... host-bound").
 *
 * Implementations ({@link AttentionImpl}): the reference path below (tfjs ops, every backend) and,
 * where the backend registers them, @brickml/core's fused kernels `BrickFlashAttention` /
 * `BrickFlashAttentionGrad` (webgpu: engine/webgpu/attention.ts — online softmax over key tiles, no
 * [B, H, Tq, Tk] tensor, 1 dispatch forward and 4 backward) wrapped here in `tf.customGrad`. `'auto'`
 * (the default) takes the fused kernels when they exist on the current backend and the call allows
 * it (f32, head sizes ≤ 128, no dropout, no `returnWeights`); both paths give the same numbers.
 *
 * Conventions (docs/design.md, Conventions, "Attention"):
 * - Layout is head-batched 4-D: q [B, H, Tq, d], k [B, H, Tk, d], v [B, H, Tk, dv]. Heads are
 *   batched in one contraction (core's `matmul`, owned gradient), never looped.
 * - Mask polarity: `true` = the query **may attend** to the key (tfjs/Keras convention; PyTorch's
 *   `key_padding_mask` is the inverse). The mask broadcasts to [B, H, Tq, Tk]; build it with
 *   {@link combineMasks}.
 * - Fully masked query rows get **all-zero weights** (not an error, not uniform): their output is
 *   the zero vector, so after a `MultiHeadAttention` output projection it equals that projection's
 *   bias. This is deepmind Perceiver's choice and keeps padded batches usable. Their gradients are
 *   zero too. The fused kernels do the same (they skip masked keys; a row without any keeps a
 *   zero output).
 * - Masked keys get exactly zero weight (the probabilities are multiplied by the mask after the
 *   softmax, on top of the −1e9 logit bias), so a masked key's value cannot leak into the output.
 */

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /**
   * Boolean mask broadcastable to [B, H, Tq, Tk] (rank 4), `true` = may attend. Typically
   * [B, 1, 1, Tk] (key padding), [B|1, 1, Tq, Tk] (attention mask) or their AND from
   * {@link combineMasks}.
   */
  mask?: tf.Tensor | null;
  /** Dropout probability on the attention weights (apply only in training; 0 = off). */
  dropout?: number;
  /** Generator for the dropout mask (default: the global one). */
  rng?: Rng;
  /** Logit scale (default 1/√d). Applied to q before the product (Tq·d multiplies instead of Tq·Tk). */
  scale?: number;
  /** Also return the attention weights [B, H, Tq, Tk] (after masking, before dropout). */
  returnWeights?: boolean;
  /**
   * Causal masking: query i may attend key j only when j ≤ i (PyTorch's `is_causal`, aligned at the
   * top left when Tq ≠ Tk), ANDed with `mask`. Default false.
   */
  causal?: boolean;
  /** Which implementation runs (default: {@link getDefaultAttentionImpl}, initially `'auto'`). */
  impl?: AttentionImpl;
}

/**
 * `'reference'`: tfjs ops on any backend. `'fused'`: the backend's fused attention kernels (an error
 * says why when they cannot run). `'auto'`: fused when possible, else the reference path.
 */
export type AttentionImpl = 'auto' | 'fused' | 'reference';

const IMPLS: readonly AttentionImpl[] = ['auto', 'fused', 'reference'];
let defaultImpl: AttentionImpl = 'auto';

/** Sets the implementation `scaledDotProductAttention` uses when a call names none (e.g. `'reference'` to compare). */
export function setDefaultAttentionImpl(impl: AttentionImpl): void {
  if (!IMPLS.includes(impl)) throw new Error(`setDefaultAttentionImpl: argument 'impl' must be one of ${IMPLS.join(', ')}, got ${String(impl)}`);
  defaultImpl = impl;
}

/** The implementation `scaledDotProductAttention` uses when a call names none. */
export function getDefaultAttentionImpl(): AttentionImpl {
  return defaultImpl;
}

/** Why the fused kernels cannot run this call, or null when they can. */
function fusedUnsupported(q: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null, dropout: number, returnWeights: boolean): string | null {
  const backend = tf.getBackend();
  if (!tf.getKernel(FLASH_KERNEL, backend) || !tf.getKernel(FLASH_GRAD_KERNEL, backend)) {
    return `backend '${backend}' has no fused attention kernel (webgpu has one; import @brickml/core)`;
  }
  if (dropout > 0) return 'dropout on the attention weights needs the reference path';
  if (returnWeights) return 'returnWeights needs the reference path (the fused kernel never forms the weights)';
  if (q.dtype !== 'float32') return `q, k, v must be float32, got ${q.dtype}`;
  const d = q.shape[3] as number, dv = v.shape[3] as number;
  if (d > FLASH_MAX_HEAD_DIM || dv > FLASH_MAX_HEAD_DIM) return `head sizes must be ≤ ${FLASH_MAX_HEAD_DIM}, got d = ${d}, dv = ${dv}`;
  if (mask && !['bool', 'int32', 'float32'].includes(mask.dtype)) return `mask must be bool, int32 or float32, got ${mask.dtype}`;
  return null;
}

/** Attention on the fused kernels, with their gradient kernel as the gradient of q, k and v. */
function fusedAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null, scale: number, causal: boolean): tf.Tensor {
  const attrs = { scale, causal } as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
    const o = tf.engine().runKernel(FLASH_KERNEL, mask ? { q: qq, k: kk, v: vv, mask } : { q: qq, k: kk, v: vv }, attrs) as tf.Tensor; // [B, H, Tq, dv]
    save(mask ? [qq, kk, vv, o, mask] : [qq, kk, vv, o]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, [sq, sk, sv, so, sm]: tf.Tensor[]) => {
        const inputs: tf.NamedTensorMap = { dy, q: sq!, k: sk!, v: sv!, o: so! };
        if (sm) inputs.mask = sm;
        return tf.engine().runKernel(FLASH_GRAD_KERNEL, inputs, attrs) as tf.Tensor[]; // [dq, dk, dv]
      },
    };
  }) as any) as (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => tf.Tensor;
  return f(q, k, v);
}

/** Output of {@link scaledDotProductAttention}: [B, H, Tq, dv], and the weights when asked. */
export interface AttentionResult {
  output: tf.Tensor;
  weights?: tf.Tensor;
}

/** Logit added to masked positions before the softmax (finite, so fully masked rows stay finite). */
export const MASKED_LOGIT = -1e9;

function checkRank4(name: string, t: tf.Tensor): void {
  if (t.rank !== 4) {
    throw new Error(`scaledDotProductAttention: argument '${name}' must be [B, H, T, d] (rank 4), got [${t.shape}]`);
  }
}

/**
 * softmax(q·kᵀ·scale + maskBias) · v, with weights zeroed where the mask is false.
 *
 * q [B, H, Tq, d], k [B, H, Tk, d], v [B, H, Tk, dv] → output [B, H, Tq, dv]
 * (and weights [B, H, Tq, Tk] with `returnWeights`).
 */
export function scaledDotProductAttention(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  { mask = null, dropout = 0, rng, scale, returnWeights = false, causal = false, impl }: AttentionOptions = {},
): AttentionResult {
  checkRank4('q', q);
  checkRank4('k', k);
  checkRank4('v', v);
  const [b, h, tq, d] = q.shape as [number, number, number, number];
  const tk = k.shape[2] as number;
  if (k.shape[0] !== b || k.shape[1] !== h || k.shape[3] !== d) {
    throw new Error(`scaledDotProductAttention: k [${k.shape}] does not match q [${q.shape}] (need [${b}, ${h}, Tk, ${d}])`);
  }
  if (v.shape[0] !== b || v.shape[1] !== h || v.shape[2] !== tk) {
    throw new Error(`scaledDotProductAttention: v [${v.shape}] does not match k [${k.shape}] (need [${b}, ${h}, ${tk}, dv])`);
  }
  if (mask) {
    const ok =
      mask.rank === 4 &&
      (mask.shape[0] === 1 || mask.shape[0] === b) &&
      (mask.shape[1] === 1 || mask.shape[1] === h) &&
      (mask.shape[2] === 1 || mask.shape[2] === tq) &&
      mask.shape[3] === tk;
    if (!ok) {
      throw new Error(
        `scaledDotProductAttention: mask [${mask.shape}] must broadcast to [B, H, Tq, Tk] = [${b}, ${h}, ${tq}, ${tk}]`,
      );
    }
  }
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`scaledDotProductAttention: dropout must be in [0, 1), got ${dropout}`);
  const which = impl ?? defaultImpl;
  if (!IMPLS.includes(which)) throw new Error(`scaledDotProductAttention: option 'impl' must be one of ${IMPLS.join(', ')}, got ${String(which)}`);
  const s = scale ?? 1 / Math.sqrt(d);
  if (which !== 'reference') {
    const why = fusedUnsupported(q, v, mask, dropout, returnWeights);
    if (!why) return { output: tf.tidy(() => fusedAttention(q, k, v, mask, s, causal)) };
    if (which === 'fused') throw new Error(`scaledDotProductAttention: impl 'fused' cannot run: ${why}`);
  }
  return tf.tidy(() => {
    const logits = matmul(tf.mul(q, s), k, false, true); // [B, H, Tq, Tk]
    let weights: tf.Tensor;
    let m = mask;
    if (causal) {
      // [1, 1, Tq, Tk]: key j ≤ query i.
      const tri = tf.reshape(tf.greaterEqual(tf.reshape(tf.range(0, tq, 1, 'int32'), [tq, 1]), tf.reshape(tf.range(0, tk, 1, 'int32'), [1, tk])), [1, 1, tq, tk]);
      m = mask ? tf.logicalAnd(tf.notEqual(mask, 0), tri) : tri;
    }
    if (m) {
      const allowed = tf.cast(m, 'float32'); // [B|1, H|1, Tq|1, Tk]
      const bias = tf.mul(tf.sub(1, allowed), MASKED_LOGIT);
      // Multiplying by `allowed` zeroes masked keys exactly and turns fully masked rows (uniform
      // over −1e9 logits) into all-zero rows.
      weights = tf.mul(tf.softmax(tf.add(logits, bias)), allowed);
    } else {
      weights = tf.softmax(logits);
    }
    let w = weights;
    if (dropout > 0) {
      const keep = (rng ?? globalRng()).bernoulliTensor(w.shape, 1 - dropout);
      w = tf.mul(w, tf.mul(keep, 1 / (1 - dropout)));
    }
    const output = matmul(w, v); // [B, H, Tq, dv]
    return returnWeights ? { output, weights } : { output };
  });
}

/**
 * ANDs a key-padding mask [B, Tk] and an attention mask [B|1, Tq, Tk] (either may be absent) into
 * one rank-4 boolean mask for {@link scaledDotProductAttention}: [B|1, 1, Tq|1, Tk]. `true` = may
 * attend. Returns null when both are absent. Float masks are accepted (non-zero = true).
 */
export function combineMasks(keyPadding?: tf.Tensor | null, attention?: tf.Tensor | null): tf.Tensor | null {
  if (!keyPadding && !attention) return null;
  return tf.tidy(() => {
    const asBool = (m: tf.Tensor) => (m.dtype === 'bool' ? m : tf.notEqual(m, 0));
    const kp = keyPadding ? tf.reshape(asBool(keyPadding), [keyPadding.shape[0] as number, 1, 1, keyPadding.shape[1] as number]) : null;
    const am = attention ? tf.expandDims(asBool(attention), 1) : null;
    if (kp && am) return tf.logicalAnd(kp, am);
    return (kp ?? am) as tf.Tensor;
  });
}
