import * as tf from '@tensorflow/tfjs-core';

/**
 * Row lookup `weight[ids]` with a gradient that works on every backend: tfjs's `gather` gradient
 * needs `UnsortedSegmentSum`, which wasm lacks, so there the weight gradient is a one-hot product.
 */
function scatterRows(dy2: tf.Tensor, ids: tf.Tensor, numRows: number): tf.Tensor {
  if (tf.getKernel('UnsortedSegmentSum', tf.getBackend())) {
    return tf.unsortedSegmentSum(dy2, ids as tf.Tensor1D, numRows);
  }
  const oneHot = tf.oneHot(ids as tf.Tensor1D, numRows); // [m, rows]
  return tf.matMul(tf.transpose(oneHot), dy2); // [rows, dim]
}

/** ids [...] int32, weight [rows, dim] → [..., dim]. */
export function embeddingLookup(ids: tf.Tensor, weight: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (ids.dtype !== 'int32') throw new Error(`embeddingLookup: ids must be int32, got ${ids.dtype}`);
    const [rows, dim] = weight.shape;
    const flat = tf.reshape(ids, [-1]);
    // The ids travel through `save` so they outlive this tidy until the backward pass.
    const lookup = tf.customGrad(((w: tf.Tensor, idx: tf.Tensor, save: tf.GradSaveFunc) => {
      save([idx]);
      return {
        value: tf.gather(w, idx),
        gradFunc: (dy: tf.Tensor, [savedIds]: tf.Tensor[]) => [scatterRows(dy, savedIds, rows), tf.zerosLike(savedIds)],
      };
    }) as any) as (w: tf.Tensor, idx: tf.Tensor) => tf.Tensor;
    return tf.reshape(lookup(weight, flat), [...ids.shape, dim]);
  });
}
