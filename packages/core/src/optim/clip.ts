/**
 * Gradient clipping by global norm (as `torch.nn.utils.clip_grad_norm_`) and non-finite checks.
 *
 * Sums over many tensors are reduced pairwise (a balanced tree of `tf.add`), never with `tf.addN`:
 * `addN` of more than 7 tensors gives garbage on WebGPU.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteError } from '../errors.js';

/** Tensors by name (a `Map` or a record) or a plain list. */
export type TensorCollection = Map<string, tf.Tensor> | Record<string, tf.Tensor> | tf.Tensor[];

function entriesOf(c: TensorCollection): Array<[string, tf.Tensor]> {
  if (c instanceof Map) return [...c.entries()];
  if (Array.isArray(c)) return c.map((t, i) => [String(i), t]);
  return Object.entries(c);
}

/** Reduces a non-empty list with a balanced tree of binary ops (depth ⌈log2 n⌉). */
function pairwise(ts: tf.Tensor[], op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.Tensor {
  let level = ts;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? op(level[i], level[i + 1]) : level[i]);
    level = next;
  }
  return level[0];
}

function checkNormType(where: string, normType: number): void {
  if (!(normType > 0)) throw new RangeError(`${where}: 'normType' must be > 0 or Infinity, got ${normType}`);
}

/**
 * The norm of all tensors taken together as one vector: `(Σ_i Σ |g_i|^p)^(1/p)`, or `max |g|` for
 * `normType = Infinity` (0 for an empty collection). Returns a new scalar the caller disposes.
 */
export function globalNorm(tensors: TensorCollection, normType = 2): tf.Scalar {
  checkNormType('globalNorm', normType);
  const ts = entriesOf(tensors).map(([, t]) => t);
  return tf.tidy(() => {
    if (ts.length === 0) return tf.scalar(0);
    if (normType === Infinity) return pairwise(ts.map((t) => tf.max(tf.abs(t))), tf.maximum) as tf.Scalar;
    if (normType === 2) return tf.sqrt(pairwise(ts.map((t) => tf.sum(tf.square(t))), tf.add)) as tf.Scalar;
    if (normType === 1) return pairwise(ts.map((t) => tf.sum(tf.abs(t))), tf.add) as tf.Scalar;
    const sum = pairwise(ts.map((t) => tf.sum(tf.pow(tf.abs(t), normType))), tf.add);
    return tf.pow(sum, 1 / normType) as tf.Scalar;
  });
}

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** Norm order: 2 (default), 1, any p > 0, or Infinity. */
  normType?: number;
}

/**
 * Clips gradients by their global norm as `torch.nn.utils.clip_grad_norm_`:
 * `scale = min(maxNorm / (totalNorm + 1e-6), 1)` and every gradient is multiplied by `scale` (so
 * gradients whose norm is already within `maxNorm` come back unchanged, multiplied by exactly 1).
 * A non-finite total norm propagates (scale 0 for Inf, NaN for NaN), as in PyTorch without
 * `error_if_nonfinite`; check with {@link assertFinite} if that matters.
 *
 * Returns new tensors (same names, same order) and the total norm before clipping; the caller owns
 * and disposes them, and still owns the input gradients.
 */
export function clipGradNorm(
  grads: Map<string, tf.Tensor> | Record<string, tf.Tensor>,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): { grads: Map<string, tf.Tensor>; totalNorm: tf.Scalar } {
  const normType = options.normType ?? 2;
  checkNormType('clipGradNorm', normType);
  if (!(maxNorm >= 0) || !Number.isFinite(maxNorm)) {
    throw new RangeError(`clipGradNorm: 'maxNorm' must be a finite number ≥ 0, got ${maxNorm}`);
  }
  const entries = entriesOf(grads);
  // tf.tidy does not look inside Maps, so the tensors travel out in an array.
  const [totalNorm, ...clipped] = tf.tidy(() => {
    const total = globalNorm(entries.map(([, g]) => g), normType);
    const scale = tf.minimum(tf.div(maxNorm, tf.add(total, 1e-6)), 1);
    return [total, ...entries.map(([, g]) => tf.mul(g, scale))];
  });
  return { grads: new Map(entries.map(([name], i) => [name, clipped[i]])), totalNorm: totalNorm as tf.Scalar };
}

/**
 * A bool scalar: true when every element of every tensor is finite (no NaN, no ±Inf); true for an
 * empty collection. Synchronous (no read-back); the caller disposes the result.
 */
export function isFiniteAll(tensors: TensorCollection): tf.Scalar {
  const ts = entriesOf(tensors).map(([, t]) => t);
  return tf.tidy(() => {
    if (ts.length === 0) return tf.scalar(true, 'bool');
    return pairwise(ts.map((t) => tf.all(tf.isFinite(t))), tf.logicalAnd) as tf.Scalar;
  });
}

/** Whether every element of every tensor is finite (one read-back with `await data()`). */
export async function allFinite(tensors: TensorCollection): Promise<boolean> {
  const flag = isFiniteAll(tensors);
  try {
    return (await flag.data())[0] !== 0;
  } finally {
    flag.dispose();
  }
}

/** The names of the tensors that hold NaN or ±Inf, in collection order (one read-back for all). */
export async function nonFiniteNames(tensors: TensorCollection): Promise<string[]> {
  const entries = entriesOf(tensors);
  if (entries.length === 0) return [];
  const flags = tf.tidy(() => tf.stack(entries.map(([, t]) => tf.cast(tf.all(tf.isFinite(t)), 'float32')))); // [n] 1 = finite
  try {
    const ok = await flags.data();
    return entries.filter((_, i) => ok[i] === 0).map(([name]) => name);
  } finally {
    flags.dispose();
  }
}

/**
 * Throws a `NonFiniteError` naming the tensors that hold NaN or ±Inf (`what` describes them in the
 * message, e.g. 'gradients'). Costs one read-back when everything is finite.
 */
export async function assertFinite(tensors: TensorCollection, what = 'tensors'): Promise<void> {
  if (await allFinite(tensors)) return;
  const bad = await nonFiniteNames(tensors);
  throw new NonFiniteError(`assertFinite: non-finite values (NaN or Inf) in ${what}: ${bad.map((n) => `'${n}'`).join(', ')}`);
}
