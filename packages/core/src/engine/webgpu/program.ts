/**
 * The parts of tfjs-backend-webgpu that BrickML's WGSL kernels use, as types (core never imports the
 * backend: kernels are registered under its name and receive the backend instance).
 *
 * A program follows tfjs's `WebGPUProgram` model: the backend prepends the input bindings (one
 * storage buffer per name in `variableNames`, then `result`), a `uniforms` struct holding every
 * input's shape (`<name>Shape`, first letter lower-cased), the output shape, `size` when asked, and
 * the fields named in `uniforms`; and the `_start` entry point, which calls `main(index)` for a flat
 * dispatch layout (x only) and `main()` otherwise.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** The subset of tfjs-backend-webgpu's `WebGPUProgram` a BrickML kernel fills in. */
export interface WebGPUProgramLike {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableNames: string[];
  /** Extra uniform fields, e.g. `'eps : f32,'`; values come as `runWebGPUProgram`'s last argument. */
  uniforms?: string;
  /** Adds `uniforms.size` (the output's element count). */
  size?: boolean;
  getUserCode(): string;
}

/** The subset of tfjs-backend-webgpu's `WebGPUBackend` a BrickML kernel uses. */
export interface WebGPUBackendLike {
  runWebGPUProgram(
    program: WebGPUProgramLike,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    programDefinedUniform?: Array<{ type: string; data: number[] }>,
  ): tf.TensorInfo;
  disposeData(dataId: object): void;
}
