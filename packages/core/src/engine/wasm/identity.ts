/**
 * tfjs-backend-wasm's `Identity` copies its input, and tfjs-core clones every tensor it saves for a
 * gradient through `Identity`: on wasm each saved activation was stored twice (a RIN training step
 * at batch 8 ran out of the 4 GiB heap in backward). This replacement shares the data and counts a
 * reference, as the cpu backend and wasm's own `Reshape` do — wasm kernels never write into their
 * inputs, so sharing is safe. Strings keep the original kernel. Installed with
 * {@link installWasmFastPaths}; idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace.js';

/** Replaces the wasm `Identity` kernel with a reference-counted share (no-op when absent or done). */
export function installWasmIdentity(): boolean {
  return replaceWasmKernel('Identity', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
