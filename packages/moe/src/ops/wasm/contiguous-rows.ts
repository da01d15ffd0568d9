/**
 * The contiguous-rows kernel for tfjs's `wasm` backend: one copy of the requested rows between two
 * views of the wasm heap (tfjs-wasm's own Slice first copies the whole input out of the heap). This
 * module never imports the wasm backend; registering a kernel under its name is harmless where it is
 * absent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CONTIGUOUS_ROWS_KERNEL } from '../rows.js';

/** The subset of tfjs-backend-wasm's `BackendWasm` used here. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

function contiguousRowsWasm({
  inputs,
  backend,
  attrs,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const x = inputs.x as tf.TensorInfo;
  const { start, count } = attrs as unknown as { start: number; count: number };
  const wasm = backend as WasmBackendLike;
  const rest = x.shape.slice(1);
  const rowSize = rest.reduce((a, b) => a * b, 1);
  const out = wasm.makeOutput([count, ...rest], x.dtype);
  // Views taken after the allocation: growing the heap detaches earlier ones.
  const src = wasm.typedArrayFromHeap(x);
  wasm.typedArrayFromHeap(out).set(src.subarray(start * rowSize, (start + count) * rowSize));
  return out;
}

let registered = false;

/** Registers the wasm contiguous-rows kernel (idempotent; importing `@brickml/moe` calls it). */
export function registerContiguousRowsWasm(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: CONTIGUOUS_ROWS_KERNEL,
    backendName: 'wasm',
    kernelFunc: contiguousRowsWasm as tf.KernelFunc,
  });
}
