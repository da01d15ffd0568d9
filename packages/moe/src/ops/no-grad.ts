import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `fn` as a constant of the gradient tape: its result carries no gradient and, unlike a
 * zero-gradient op, is not even *derived* from the traced inputs, so the integer routing
 * bookkeeping built from it (ranks, one-hots, cumulative sums, scatters, gathers of indices) never
 * lies on an x → loss path and none of those ops needs a gradient (most have none in tfjs, and
 * `gather`'s needs UnsortedSegmentSum, which wasm lacks).
 *
 * How: the work runs inside a `tf.customGrad` op whose only input is a fresh scalar. Ops nested in
 * a kernel are not recorded on the tape, and the op's input is not a function of any variable, so
 * the tape filter (`getFilteredNodesXToY`) drops it. Tensors `fn` closes over are read only while
 * it runs.
 *
 * @example
 * const ranks = withoutGradient(() => tf.cumsum(oneHot, 0, true)); // constant for autodiff
 */
export function withoutGradient<T extends tf.Tensor>(fn: () => T): T {
  const op = tf.customGrad(((dummy: tf.Tensor) => ({
    value: fn(),
    gradFunc: () => [tf.zerosLike(dummy)],
  })) as any) as (dummy: tf.Tensor) => T;
  return tf.tidy(() => op(tf.scalar(0)));
}
