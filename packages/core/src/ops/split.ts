import * as tf from '@tensorflow/tfjs-core';

/** Splits the last axis in two equal halves: [..., 2d] → ([..., d], [..., d]). */
export function split2(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const d = x.shape[x.rank - 1];
  if (d % 2 !== 0) throw new Error(`split2: last axis of [${x.shape}] is odd`);
  const [a, b] = tf.split(x, 2, -1);
  return [a, b];
}
