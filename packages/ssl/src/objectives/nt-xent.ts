/**
 * NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020;
 * `google-research/simclr` `objective.py`), over the 2N views of N images.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape, matmul } from '@brickml/core';
import { l2Normalize } from '../ops.js';

/**
 * NT-Xent over 2N views. With z = L2norm([z1; z2]) ([2N, D]) and s_ik = z_i·z_k / τ,
 *
 * ```text
 * ℓ_i  = −s_{i,p(i)} + log Σ_{k ≠ i} exp(s_ik)       p(i) = i ± N, the other view of image i
 * loss = mean over all 2N views
 * ```
 * τ divides the cosine *inside* the exponent, and the self-similarity s_ii is excluded from the
 * denominator (its logit is set to −1e9).
 * @param z1 `[N, D]` projections of the first views
 * @param z2 `[N, D]` projections of the second views (row i is image i's other view)
 * @param temperature τ (SimCLR: 0.1 for large batches, 0.5 common for small ones; default 0.5)
 */
export function ntXentLoss(z1: tf.Tensor, z2: tf.Tensor, temperature = 0.5): tf.Scalar {
  if (z1.rank !== 2 || !tf.util.arraysEqual(z1.shape, z2.shape)) {
    throw new ShapeError(`ntXentLoss: arguments 'z1' and 'z2' expected equal shapes [N, D], got ${formatShape(z1.shape)} and ${formatShape(z2.shape)}`);
  }
  if (z1.shape[0] < 1) throw new ShapeError(`ntXentLoss: needs at least one pair, got ${formatShape(z1.shape)}`);
  if (!(temperature > 0)) throw new RangeError(`ntXentLoss: argument 'temperature' expected a positive number, got ${temperature}`);
  const n = z1.shape[0];
  return tf.tidy(() => {
    const z = l2Normalize(tf.concat([z1, z2], 0)); // [2N, D]
    const eye = tf.eye(2 * n);
    const sim = tf.sub(tf.div(matmul(z, z, false, true), temperature), tf.mul(eye, 1e9)); // [2N, 2N], self masked
    // positives: row i pairs with i + N (i < N) and i − N (i ≥ N) — a fixed permutation matrix
    const pos = tf.concat([tf.concat([tf.zeros([n, n]), tf.eye(n)], 1), tf.concat([tf.eye(n), tf.zeros([n, n])], 1)], 0);
    const positive = tf.sum(tf.mul(sim, pos), -1); // [2N]
    return tf.mean(tf.sub(tf.logSumExp(sim, -1), positive)) as tf.Scalar;
  });
}
