/**
 * tfjs-backend-wasm's `Identity` copies its input, and tfjs-core clones every tensor it saves for a
 * gradient through `Identity`: on wasm each saved activation was stored twice (a RIN training step
 * at batch 8 ran out of the 4 GiB heap in backward). This replacement shares the data and counts a
 * reference, as the cpu backend and wasm's own `Reshape` do — wasm kernels never write into their
 * inputs, so sharing is safe. Strings keep the original kernel. Installed with
 * {@link installWasmFastPaths}; idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';

const MARK = Symbol.for('brickml.wasmIdentity');

/** Replaces the wasm `Identity` kernel with a reference-counted share (no-op when absent or done). */
export function installWasmIdentity(): boolean {
  const original = tf.getKernel('Identity', 'wasm');
  if (!original || (original.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return false;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
    (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return true;
}
