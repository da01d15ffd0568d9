/**
 * Normalisations of channels-last feature maps `[N, ..., C]`: group normalisation (PyTorch's
 * `F.group_norm`) and batch normalisation with given statistics (`F.batch_norm`'s arithmetic; the
 * running statistics live in the `BatchNorm2d` brick).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '../errors.js';

/**
 * Group normalisation: channels split into `numGroups` contiguous groups; each sample's group is
 * normalised over its channels and every spatial position (biased variance, as PyTorch), then scaled
 * and shifted per channel. x [N, ..., C] (C divisible by `numGroups`), weight/bias [C] or null.
 */
export function groupNorm(x: tf.Tensor, numGroups: number, weight: tf.Tensor | null, bias: tf.Tensor | null, eps = 1e-5): tf.Tensor {
  const c = x.shape[x.rank - 1];
  if (x.rank < 2 || !Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) {
    throw new ShapeError(`groupNorm: expected x [N, ..., C] with C divisible by numGroups ${numGroups}, got ${formatShape(x.shape)}`);
  }
  return tf.tidy(() => {
    const n = x.shape[0];
    const g = tf.reshape(x, [n, -1, numGroups, c / numGroups]); // [N, positions, G, C/G]
    const { mean, variance } = tf.moments(g, [1, 3], true);
    let y = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps))), x.shape);
    if (weight) y = tf.mul(y, weight);
    if (bias) y = tf.add(y, bias);
    return y;
  });
}

/** Per-channel mean and biased variance of x [N, ..., C] over every axis but the last: two [C] tensors. */
export function channelMoments(x: tf.Tensor): { mean: tf.Tensor; variance: tf.Tensor } {
  return tf.tidy(() => {
    const axes = [...Array(x.rank - 1).keys()];
    const { mean, variance } = tf.moments(x, axes);
    return { mean, variance };
  });
}

/** (x − mean) / √(variance + eps) · weight + bias per channel; x [N, ..., C], the others [C] (weight/bias may be null). */
export function batchNormApply(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, weight: tf.Tensor | null, bias: tf.Tensor | null, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    let scale = tf.rsqrt(tf.add(variance, eps));
    if (weight) scale = tf.mul(scale, weight);
    let y = tf.mul(tf.sub(x, mean), scale);
    if (bias) y = tf.add(y, bias);
    return y;
  });
}
