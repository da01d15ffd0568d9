/**
 * Core's replacements for tfjs-backend-webgpu kernels (`Sum`, `Mean`: engine/webgpu/reductions.ts).
 * Core's backend selection installs them when webgpu is chosen; call this yourself after
 * `tf.setBackend('webgpu')` if you select the backend without BrickML. Idempotent.
 * (The fused AdamW and layer-norm kernels are BrickML's own and registered when core is imported.)
 */
import { installWebGPUReductions } from './reductions.js';

export function installWebGPUFastPaths(): void {
  installWebGPUReductions();
}
