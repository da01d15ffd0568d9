/**
 * Small tensor helpers shared by the objectives of @brickml/ssl.
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '@brickml/core';

/**
 * L2-normalises the last axis: `x / max(‖x‖, eps)` (PyTorch's `F.normalize(x, dim=-1)`).
 * Differentiable; a zero vector stays zero.
 */
export function l2Normalize(x: tf.Tensor, eps = 1e-12): tf.Tensor {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(x), -1, true)); // [..., 1]
    return tf.div(x, tf.maximum(norm, eps));
  });
}

/** The `n × n` identity as a float32 tensor. */
export function eye(n: number): tf.Tensor2D {
  return tf.eye(n) as tf.Tensor2D;
}

/**
 * The diagonal of the last two axes of a square `[..., n, n]` tensor, as `[..., n]`; differentiable
 * on every backend (a product with the identity and a sum, no gather).
 */
export function batchDiagonal(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const n = x.shape[x.rank - 1];
    return tf.sum(tf.mul(x, tf.eye(n)), -1);
  });
}

/**
 * Per-channel mean and standard deviation of images `[..., C, H, W]` (channels third from the end),
 * for a brick's `pixelMean` / `pixelStd`.
 */
export async function channelStats(images: tf.Tensor): Promise<{ mean: number[]; std: number[] }> {
  if (images.rank < 3) throw new Error(`channelStats: argument 'images' expected [..., C, H, W], got [${images.shape}]`);
  const r = images.rank;
  const axes = [...Array(r).keys()].filter((a) => a !== r - 3);
  const { mean, variance } = tf.moments(images, axes);
  const [m, v] = await Promise.all([mean.data(), variance.data()]);
  tf.dispose([mean, variance]);
  return { mean: Array.from(m), std: Array.from(v, (x) => Math.sqrt(Math.max(x, 1e-12))) };
}

const stopGradientOp = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as any) as (x: tf.Tensor) => tf.Tensor;

/** Identity whose gradient is zero (tfjs has no `stopGradient`; PyTorch's `.detach()`). */
export function stopGradient(x: tf.Tensor): tf.Tensor {
  return stopGradientOp(x);
}

/**
 * Collapse diagnostic of an embedding batch z `[N, D]` (SimSiam's): the standard deviation over the
 * batch of the L2-normalised rows, averaged over the D dimensions. About 1/√D for embeddings spread
 * over the sphere, 0 when every row is the same vector (a collapsed representation).
 */
export async function embeddingStd(z: tf.Tensor): Promise<number> {
  if (z.rank !== 2 || z.shape[0]! < 2) throw new Error(`embeddingStd: argument 'z' expected [N ≥ 2, D], got [${z.shape}]`);
  const s = tf.tidy(() => tf.mean(tf.sqrt(tf.moments(l2Normalize(z), 0).variance)));
  const v = (await s.data())[0]!;
  s.dispose();
  return v;
}

/**
 * Dimensional-collapse diagnostic of features z `[N, D]`: the participation ratio of their
 * covariance C (over the N rows), (Σλ)² / Σλ² = tr(C)² / ‖C‖²_F, with λ the eigenvalues of C.
 * It is D when the variance is spread evenly over D orthogonal directions, 1 when it lies along
 * one direction (and 0 for constant features). Complements {@link embeddingStd}, which sees
 * complete collapse but not features squeezed into a few dimensions.
 */
export async function participationRatio(z: tf.Tensor): Promise<number> {
  if (z.rank !== 2 || z.shape[0]! < 2) throw new Error(`participationRatio: argument 'z' expected [N ≥ 2, D], got [${z.shape}]`);
  const [tr, fro] = tf.tidy(() => {
    const centred = tf.sub(z, tf.mean(z, 0, true)); // [N, D]
    const cov = tf.div(matmul(centred, centred, true, false), z.shape[0]!); // [D, D]
    return [tf.div(tf.sum(tf.square(centred)), z.shape[0]!), tf.sum(tf.square(cov))];
  });
  const [t, f] = [(await tr.data())[0]!, (await fro.data())[0]!];
  tf.dispose([tr, fro]);
  return f > 0 ? (t * t) / f : 0;
}
