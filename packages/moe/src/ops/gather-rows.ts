import * as tf from '@tensorflow/tfjs-core';

/**
 * Row gather whose gradient is a gather too, so it trains on every backend (tfjs's `gather`
 * gradient needs UnsortedSegmentSum, which wasm lacks). Used for the MoE permutation (tokens →
 * expert-sorted rows) and unpermutation (rows → token copies): both are injective maps whose
 * inverse is known, so the gradient is the inverse gather, with no scatter-add.
 *
 * `y[m] = index[m] ≥ 0 ? x[index[m]] : 0`, and
 * `dx[n] = Σ_j (inverse[n, j] ≥ 0 ? dy[inverse[n, j]] : 0)`.
 *
 * Precondition (not checked, it would need a device read): `inverse[n]` lists exactly the rows `m`
 * with `index[m] = n`, padded with −1.
 *
 * @param x       [N, d] rows to gather
 * @param index   [M] int32 source row per output row, −1 for a zero row
 * @param inverse [N, r] int32 output rows that read each source row, −1 padded
 * @returns [M, d]
 */
export function gatherRows(x: tf.Tensor, index: tf.Tensor, inverse: tf.Tensor): tf.Tensor2D {
  if (x.rank !== 2) throw new Error(`gatherRows: x must be [N, d], got [${x.shape}]`);
  if (index.rank !== 1 || index.dtype !== 'int32') {
    throw new Error(`gatherRows: index must be int32 [M], got ${index.dtype} [${index.shape}]`);
  }
  if (inverse.rank !== 2 || inverse.dtype !== 'int32' || inverse.shape[0] !== x.shape[0]) {
    throw new Error(
      `gatherRows: inverse must be int32 [N=${x.shape[0]}, r], got ${inverse.dtype} [${inverse.shape}]`,
    );
  }
  return gatherRowsOp(x, index, inverse) as tf.Tensor2D;
}

/** y[m] = x[index[m]] with index −1 giving zeros: gathers from x with a zero row prepended. */
function gatherOrZero(x: tf.Tensor, index: tf.Tensor): tf.Tensor {
  const d = x.shape[1] as number;
  const padded = tf.concat([tf.zeros([1, d]), x], 0); // [N + 1, d]
  return tf.gather(padded, tf.add(index, tf.scalar(1, 'int32')));
}

const gatherRowsOp = tf.customGrad(((
  x: tf.Tensor,
  index: tf.Tensor,
  inverse: tf.Tensor,
  save: tf.GradSaveFunc,
) => {
  save([index, inverse]);
  return {
    value: gatherOrZero(x, index), // [M, d]
    gradFunc: (dy: tf.Tensor, [sIndex, sInverse]: tf.Tensor[]) => {
      const [n, r] = sInverse.shape as [number, number];
      const d = dy.shape[1] as number;
      const picked = gatherOrZero(dy, tf.reshape(sInverse, [n * r])); // [N·r, d]
      const dx = r === 1 ? picked : tf.sum(tf.reshape(picked, [n, r, d]), 1); // [N, d]
      // Index inputs are never on a traced path (see withoutGradient); these keep customGrad's arity.
      return [dx, tf.zeros(sIndex.shape), tf.zeros(sInverse.shape)];
    },
  };
}) as any) as (x: tf.Tensor, index: tf.Tensor, inverse: tf.Tensor) => tf.Tensor;
