/**
 * Swapping a tfjs backend's kernel for one of core's (engine/wasm/*.ts, engine/webgpu/*.ts): the
 * shared plumbing. The replacement gets the original kernel function for the cases it leaves to it.
 */
import * as tf from '@tensorflow/tfjs-core';

// A global symbol, so two bundled copies of core agree that a kernel was already replaced.
const REPLACED = Symbol.for('brickml.replacedKernel');

/**
 * Registers `make(original)` as kernel `name` of `backendName` in place of tfjs's. Returns false
 * when the kernel is absent (the backend not loaded yet) or already replaced.
 */
export function replaceKernel<Args>(
  backendName: string,
  name: string,
  make: (original: (args: Args) => tf.TensorInfo | tf.TensorInfo[]) => (args: Args) => tf.TensorInfo | tf.TensorInfo[],
): boolean {
  const original = tf.getKernel(name, backendName);
  if (!original || (original.kernelFunc as unknown as Record<symbol, boolean>)[REPLACED]) return false;
  const kernelFunc = make(original.kernelFunc as unknown as (args: Args) => tf.TensorInfo);
  (kernelFunc as unknown as Record<symbol, boolean>)[REPLACED] = true;
  tf.unregisterKernel(name, backendName);
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return true;
}
