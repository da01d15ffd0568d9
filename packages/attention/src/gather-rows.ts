import * as tf from '@tensorflow/tfjs-core';

/**
 * Row lookup `table[ids]` whose gradient works on every backend and whatever the lifetime of
 * `ids`: the ids are saved with the forward pass (so a tensor made inside a `tf.tidy` may be
 * disposed before the backward pass runs), and the table gradient is `UnsortedSegmentSum` where
 * the backend has it, else a one-hot product (wasm lacks `UnsortedSegmentSum`).
 *
 * table [rows, dim], ids int32 [n] → [n, dim].
 */
export function gatherRows(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  if (ids.dtype !== 'int32' || ids.rank !== 1) throw new Error(`gatherRows: ids must be int32 [n], got ${ids.dtype} [${ids.shape}]`);
  const rows = table.shape[0] as number;
  const f = tf.customGrad(((w: tf.Tensor, i: tf.Tensor, save: tf.GradSaveFunc) => {
    save([i]);
    return {
      value: tf.gather(w, i),
      gradFunc: (dy: tf.Tensor, [si]: tf.Tensor[]) => {
        const dw = tf.getKernel('UnsortedSegmentSum', tf.getBackend())
          ? tf.unsortedSegmentSum(dy, si as tf.Tensor1D, rows)
          : tf.matMul(tf.transpose(tf.oneHot(si as tf.Tensor1D, rows)), dy);
        return [dw, tf.zerosLike(si)];
      },
    };
  }) as any) as (w: tf.Tensor, i: tf.Tensor) => tf.Tensor;
  return f(table, ids);
}
