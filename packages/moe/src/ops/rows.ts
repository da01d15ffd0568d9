/**
 * Contiguous row ranges without tfjs-wasm's Slice cost: its Slice kernel copies the whole input
 * out of the wasm heap on every call (`readSync`), so taking E expert blocks of one stacked weight
 * costs E full copies; the grouped block-sparse reference spent most of its wasm time there. A
 * kernel registered for `wasm` (`wasm/contiguous-rows.ts`) copies just the rows; other backends use
 * `tf.slice`. The gradient pads `dy` back to x's rows.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Name of the contiguous-rows kernel (attrs `{start, count}`, input `{x}`). */
export const CONTIGUOUS_ROWS_KERNEL = 'BrickContiguousRows';

/**
 * Rows `[start, start + count)` of x along axis 0.
 * @param x [R, ...rest]
 * @returns [count, ...rest]
 */
export function contiguousRows(x: tf.Tensor, start: number, count: number): tf.Tensor {
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(count) ||
    start < 0 ||
    count < 0 ||
    start + count > x.shape[0]
  ) {
    throw new RangeError(
      `contiguousRows: rows [${start}, ${start + count}) are outside x [${x.shape}]`,
    );
  }
  const rows = x.shape[0];
  const rest = x.shape.slice(1);
  const op = tf.customGrad(((input: tf.Tensor) => ({
    value:
      tf.getKernel(CONTIGUOUS_ROWS_KERNEL, tf.getBackend()) !== undefined
        ? (tf
            .engine()
            .runKernel(CONTIGUOUS_ROWS_KERNEL, { x: input }, { start, count }) as tf.Tensor)
        : tf.slice(input, [start, ...rest.map(() => 0)], [count, ...rest]),
    gradFunc: (dy: tf.Tensor) =>
      tf.pad(dy, [[start, rows - start - count], ...rest.map((): [number, number] => [0, 0])]),
  })) as any) as (input: tf.Tensor) => tf.Tensor;
  return op(x);
}
