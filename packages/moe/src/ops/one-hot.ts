import * as tf from '@tensorflow/tfjs-core';

/**
 * Float32 one-hot over a new last axis, for any depth ≥ 1; indices outside `[0, depth)`, such as
 * −1, give all zeros.
 *
 * Built from a comparison rather than `tf.oneHot`, whose backends disagree: it wants depth ≥ 2,
 * and on wasm its `dtype: 'float32'` writes int32 bits into a float buffer (1 reads as 1.4e-45).
 * The final product by 1 makes a real float32 buffer on every backend: tfjs-webgpu "casts"
 * bool/int32 to float32 without converting the buffer, which its transpose program then rejects.
 *
 * @param indices int32 [...]
 * @returns float32 [..., depth]
 */
export function oneHotFloat(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.tidy(() => {
    const hit = tf.equal(tf.expandDims(indices, -1), tf.range(0, depth, 1, 'int32')); // [..., depth] bool
    return tf.mul(tf.cast(hit, 'float32'), tf.scalar(1));
  });
}
