/**
 * AdamW's whole per-parameter update as one kernel on the `wasm` and `cpu` backends (and three
 * dispatches on `webgpu`, `engine/webgpu/adamw.ts`).
 *
 * Written with tfjs ops the update is ~13 kernels per parameter (decay, two moment updates,
 * square, sqrt, divisions, …): in a small model that is most of a training step's kernel
 * launches. This kernel reads p, g, m, v once and writes p′, m′, v′ in one loop over the host
 * memory of the backend (the wasm heap, or the cpu backend's arrays), computing in float64 and
 * storing float32. Backends without it (webgl, tensorflow) use the op-by-op update.
 *
 * ```text
 * p ← p · (1 − lr·wd)                      (decay = lr·wd; 0 when the parameter is not decayed)
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * p ← p − stepSize · m / (√v / bc2Sqrt + eps)   (stepSize = lr / (1 − β1^t), bc2Sqrt = √(1 − β2^t))
 * ```
 */
import * as tf from '@tensorflow/tfjs-core';
import { adamwWebGPU } from '../engine/webgpu/adamw.js';

/** Kernel name: inputs `{p, g, m, v}` (float32, same shape), attrs {@link AdamWAttrs}; outputs `[p′, m′, v′]`. */
export const FUSED_ADAMW_KERNEL = 'BrickAdamWUpdate';

/** The scalars of one update. */
export interface AdamWAttrs {
  decay: number;
  beta1: number;
  beta2: number;
  stepSize: number;
  bc2Sqrt: number;
  eps: number;
}

/** The loop itself, on float32 arrays of one length. */
export function adamwUpdateArrays(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  pOut: Float32Array, mOut: Float32Array, vOut: Float32Array, a: AdamWAttrs,
): void {
  // Scalars in locals: the loop is memory-bound (7 arrays), attribute reads cost ~20 % more.
  const keep = 1 - a.decay;
  const b1 = a.beta1;
  const b2 = a.beta2;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  const stepSize = a.stepSize;
  const invBc2 = 1 / a.bc2Sqrt;
  const eps = a.eps;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = p[i] * keep - (stepSize * mi) / (Math.sqrt(vi) * invBc2 + eps);
  }
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

interface WasmLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

function wasmKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as WasmLike;
  const { p, g, m, v } = inputs as Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>;
  const outs = [be.makeOutput(p.shape, 'float32'), be.makeOutput(p.shape, 'float32'), be.makeOutput(p.shape, 'float32')];
  // Views after every allocation: growing the heap detaches earlier ones.
  const [pv, gv, mv, vv, po, mo, vo] = [p, g, m, v, ...outs].map((t) => be.typedArrayFromHeap(t));
  adamwUpdateArrays(pv, gv, mv, vv, po, mo, vo, attrs as unknown as AdamWAttrs);
  return outs;
}

interface CpuLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

function cpuKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as CpuLike;
  const { p, g, m, v } = inputs as Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>;
  const [pv, gv, mv, vv] = [p, g, m, v].map((t) => be.data.get(t.dataId).values as Float32Array);
  const n = pv.length;
  const [po, mo, vo] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  adamwUpdateArrays(pv, gv, mv, vv, po, mo, vo, attrs as unknown as AdamWAttrs);
  return [po, mo, vo].map((values) => be.makeTensorInfo(p.shape, 'float32', values));
}

let registered = false;

/** Registers the fused update for `wasm`, `cpu` and `webgpu` (idempotent; importing core calls it). */
export function registerFusedAdamW(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: FUSED_ADAMW_KERNEL, backendName: 'wasm', kernelFunc: wasmKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: FUSED_ADAMW_KERNEL, backendName: 'cpu', kernelFunc: cpuKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: FUSED_ADAMW_KERNEL, backendName: 'webgpu', kernelFunc: adamwWebGPU as unknown as tf.KernelFunc });
}

/** Whether the active backend has the fused update (and the tensors are float32). */
export function fusedAdamWAvailable(...tensors: tf.Tensor[]): boolean {
  return tf.getKernel(FUSED_ADAMW_KERNEL, tf.getBackend()) !== undefined && tensors.every((t) => t.dtype === 'float32');
}

/** One fused update; returns `[p′, m′, v′]` (the caller assigns them). */
export function fusedAdamWUpdate(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamWAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel(FUSED_ADAMW_KERNEL, { p, g, m, v }, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}
