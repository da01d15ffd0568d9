/**
 * Dispatch bookkeeping shared by the capacity and dropless layers. Everything here is a constant
 * of the gradient tape (built with `withoutGradient`): integer positions, never differentiated.
 */
import * as tf from '@tensorflow/tfjs-core';
import { withoutGradient } from '../ops/no-grad.js';
import { oneHotFloat } from '../ops/one-hot.js';

/**
 * Rank of every token copy within its expert, in ascending `t·k + s` order (MegaBlocks' stable sort
 * by expert: within an expert, ascending token index), and its expert.
 *
 * @param indices int32 [T, k] chosen experts
 * @returns `{ expert, rank }`: int32 [T·k] each (constants)
 */
export function copyRanks(
  indices: tf.Tensor2D,
  numExperts: number,
): { expert: tf.Tensor1D; rank: tf.Tensor1D } {
  const n = indices.shape[0] * indices.shape[1];
  return tf.tidy(() => {
    const expert = withoutGradient(() => tf.reshape(indices, [n])) as tf.Tensor1D; // [T·k]
    const rank = withoutGradient(() => {
      const oh = oneHotFloat(expert, numExperts); // [T·k, E]
      // Copies of the same expert before this one (exact: counts < 2^24).
      return tf.cast(tf.sum(tf.mul(tf.cumsum(oh, 0, true), oh), 1), 'int32');
    }) as tf.Tensor1D; // [T·k]
    return { expert, rank };
  });
}

/**
 * Inverse of an injective slot assignment: for every one of `numSlots` slots, the copy placed there
 * or −1. Copies with slot −1 (dropped) are ignored.
 *
 * @param slotOfCopy int32 [n] slot of each copy or −1
 * @returns int32 [numSlots] (constant)
 */
export function copyOfSlot(slotOfCopy: tf.Tensor1D, numSlots: number): tf.Tensor1D {
  const n = slotOfCopy.shape[0];
  return withoutGradient(() => {
    // Dropped copies go to an extra slot that is cut off; stored values are copy + 1 (0 = empty).
    const where = tf.where(tf.less(slotOfCopy, 0), tf.fill([n], numSlots, 'int32'), slotOfCopy);
    const filled = tf.scatterND(tf.reshape(where, [n, 1]), tf.range(1, n + 1, 1, 'int32'), [
      numSlots + 1,
    ]);
    return tf.sub(tf.slice(filled, [0], [numSlots]), tf.scalar(1, 'int32'));
  }) as tf.Tensor1D;
}

/**
 * Token of each slot's copy (`copy // k`), −1 for an empty slot.
 * @param copyOfSlot int32 [S]
 * @returns int32 [S] (constant)
 */
export function tokenOfSlot(copyOfSlot: tf.Tensor1D, k: number): tf.Tensor1D {
  return withoutGradient(() =>
    tf.where(
      tf.less(copyOfSlot, 0),
      tf.fill(copyOfSlot.shape, -1, 'int32'),
      tf.floorDiv(copyOfSlot, tf.scalar(k, 'int32')),
    ),
  ) as tf.Tensor1D;
}
