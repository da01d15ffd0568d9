/**
 * Swapping a tfjs-backend-wasm kernel for one of core's (engine/wasm/*.ts): the shared plumbing.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace-kernel.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` the replacement kernels use. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
}

/** What a kernel function receives. */
export interface WasmKernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: WasmHeapBackend;
  attrs?: tf.NamedAttrMap;
}

/**
 * Registers `make(original)` as the wasm kernel `name` in place of tfjs's (whose function it gets,
 * for the cases it leaves to it). Returns false when the kernel is absent or already replaced.
 */
export function replaceWasmKernel(
  name: string,
  make: (
    original: (args: WasmKernelArgs) => tf.TensorInfo | tf.TensorInfo[],
  ) => (args: WasmKernelArgs) => tf.TensorInfo | tf.TensorInfo[],
): boolean {
  return replaceKernel<WasmKernelArgs>('wasm', name, make);
}
