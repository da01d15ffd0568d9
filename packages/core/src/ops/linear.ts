import * as tf from '@tensorflow/tfjs-core';

/**
 * `y = x · Wᵀ + b` with PyTorch's weight layout W [out, in], as one op with its own gradient.
 *
 * In this layout the input gradient `dy · W` is a plain product and the weight gradient
 * `dyᵀ · x` needs one explicit transpose, so wasm stays on its fast path (see ops/matmul.ts).
 * A fused kernel per backend can later replace the reference path behind the same function.
 */

// x2 [m, in], w [out, in], b [out] → [m, out]
const linearWithBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, tf.transpose(w)), b),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      tf.matMul(dy, sw), // dx [m, in]
      tf.matMul(tf.transpose(dy), sx), // dW [out, in]
      tf.sum(dy, 0), // db [out]
    ],
  };
}) as any) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

const linearNoBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, tf.transpose(w)),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [tf.matMul(dy, sw), tf.matMul(tf.transpose(dy), sx)],
  };
}) as any) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/**
 * Affine map over the last axis: x [..., in], weight [out, in], bias [out] or null → [..., out].
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null = null): tf.Tensor {
  return tf.tidy(() => {
    const inF = weight.shape[1];
    const outF = weight.shape[0];
    if (x.shape[x.rank - 1] !== inF) {
      throw new Error(`linear: x [${x.shape}] last axis must equal weight [${weight.shape}] in-features ${inF}`);
    }
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inF]); // [m, in]
    const y = bias ? linearWithBias(x2, weight, bias) : linearNoBias(x2, weight);
    return tf.reshape(y, [...lead, outF]);
  });
}
