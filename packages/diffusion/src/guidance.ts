/**
 * Classifier-free guidance (Ho & Salimans 2022) as pix2seq applies it: the class is a
 * conditioning token, a learned null class (one extra embedding row, id = `numClasses`) stands
 * for "no class", and training replaces each label by the null class with probability
 * `classDropout`. At sampling time the guided noise estimate is
 *
 * ```text
 * ε = (1 + w)·ε_cond − w·ε_uncond
 * ```
 * (w = 0: plain conditional sampling; docs/design.md: the flagship uses w = 3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, type Rng } from '@brickml/core';

/** `(1 + w)·ε_cond − w·ε_uncond`. */
export function guidedEps(epsCond: tf.Tensor, epsUncond: tf.Tensor, w: number): tf.Tensor {
  if (!Number.isFinite(w)) throw new RangeError(`guidedEps: guidance weight w must be finite, got ${w}`);
  return tf.tidy(() => tf.sub(tf.mul(epsCond, 1 + w), tf.mul(epsUncond, w)));
}

/**
 * Label dropout for classifier-free guidance: each label becomes `nullId` with probability `p`
 * (one host draw per example from `rng`, in order).
 * @param labels `[B]` int32 class ids
 * @returns `[B]` int32
 */
export function dropClassLabels(labels: tf.Tensor, p: number, nullId: number, rng: Rng): tf.Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropClassLabels: p must be in [0, 1], got ${p}`);
  if (labels.rank !== 1) throw new BrickConfigError(`dropClassLabels: labels must have shape [B], got [${labels.shape.join(', ')}]`);
  const n = labels.shape[0];
  const keep = new Int32Array(n);
  for (let i = 0; i < n; i++) keep[i] = rng.float() < p ? 0 : 1;
  return tf.tidy(() => {
    const k = tf.tensor1d(keep, 'int32');
    const ids = tf.cast(labels, 'int32');
    // keep·id + (1 − keep)·null, in int32
    return tf.add(tf.mul(k, ids), tf.mul(tf.sub(tf.scalar(1, 'int32'), k), tf.scalar(nullId, 'int32')));
  });
}

/** `[n]` int32 filled with the null class id. */
export function nullClassLabels(n: number, nullId: number): tf.Tensor {
  return tf.fill([n], nullId, 'int32');
}

/** Class ids from host numbers, checked against `[0, numClasses]` (numClasses = null class). */
export function classLabelTensor(classes: ArrayLike<number>, numClasses: number, where: string): tf.Tensor {
  const ids = Int32Array.from(classes as ArrayLike<number>);
  for (let i = 0; i < ids.length; i++) {
    if (!Number.isInteger(classes[i]) || ids[i] < 0 || ids[i] > numClasses) {
      throw new BrickConfigError(
        `${where}: classes[${i}] must be an integer in [0, ${numClasses}] (${numClasses} = the null class), got ${classes[i]}`,
      );
    }
  }
  return tf.tensor1d(ids, 'int32');
}
