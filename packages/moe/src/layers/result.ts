/** What every MoE layer implementation returns, and the shared combine step. */
import * as tf from '@tensorflow/tfjs-core';

/** Output of one MoE layer implementation over T flattened tokens. */
export interface LayerResult {
  /** Combined expert outputs `[T, d]`. */
  y: tf.Tensor2D;
  /** Token copies that got no expert output (capacity overflow; 0 otherwise): float32 scalar. */
  droppedCopies: tf.Scalar;
  /** Token copies each expert processed, `[E]` float32 (routed copies minus dropped ones). */
  keptPerExpert: tf.Tensor1D;
  /**
   * Rows the expert products computed, summed over experts: `T·E` for `dense`, `E·C` for
   * `capacity`, the padded rows for `dropless`. float32 scalar.
   */
  computedRows: tf.Scalar;
}

/**
 * Runs `fn` in `tf.tidy` and keeps every tensor of its result, whatever the result's type (objects
 * of tensors and plain values: routings, layer results, topologies).
 */
export function tidyObject<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/**
 * Weighted sum of each token's k expert outputs: `y[t] = Σ_s weights[t, s] · copies[t·k + s]`.
 * @param copies  [T·k, d] expert output of every token copy (slot-minor order)
 * @param weights [T, k]
 * @returns [T, d]
 */
export function combineCopies(copies: tf.Tensor, weights: tf.Tensor2D): tf.Tensor2D {
  const [T, k] = weights.shape;
  const d = copies.shape[1] as number;
  return tf.tidy(
    () =>
      tf.sum(
        tf.mul(tf.reshape(copies, [T, k, d]), tf.reshape(weights, [T, k, 1])),
        1,
      ) as tf.Tensor2D,
  );
}
