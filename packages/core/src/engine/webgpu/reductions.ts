/**
 * Two-stage `Sum` and `Mean` on tfjs's `webgpu` backend when a large reduction has few outputs.
 *
 * tfjs-backend-webgpu reduces each output with one workgroup. A full reduction (a loss over a
 * [4096, 512] tensor, the gradient of a broadcast) then runs on a single workgroup of the GPU:
 * on an NVIDIA H200 two `Sum`s of [4096, 512] → [] took most of a MoE layer's kernel time. When the
 * reduced axes are the trailing ones, there are few outputs and the reduced size has a divisor
 * `m` in [256, 4096], the reduction runs as [outer · k, m] → [outer · k] → [outer, k] → [outer]
 * (k = reduced / m), each step tfjs's own kernel: k times more workgroups in the first. A mean of
 * equal chunks is the mean of their means, so `Mean` splits the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import { replaceKernel } from '../replace-kernel.js';

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: { disposeData(dataId: object): void };
  attrs?: tf.NamedAttrMap;
}
type KernelFn = (args: KernelArgs) => tf.TensorInfo;

/** Reductions with at most this many outputs are split (more outputs already fill the GPU). */
const MAX_OUTPUTS = 1024;
/** …and at least this many elements per output. */
const MIN_REDUCED = 16_384;

/** The largest divisor of n in [256, 4096], or 0. */
function chunkSize(n: number): number {
  for (let m = 4096; m >= 256; m--) if (n % m === 0) return m;
  return 0;
}

function twoStage(original: KernelFn): KernelFn {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const trailing = axes.every((a, i) => a === rank - axes.length + i);
    const reduced = axes.reduce((p, a) => p * x.shape[a], 1);
    const outer = tf.util.sizeFromShape(x.shape) / Math.max(reduced, 1);
    if (x.dtype !== 'float32' || !trailing || axes.length === 0 || outer > MAX_OUTPUTS || reduced < MIN_REDUCED) return original(args);
    const m = chunkSize(reduced); // searched only for the reductions that may be split (every Sum/Mean passes here)
    if (m === 0) return original(args);
    const reshape = tf.getKernel('Reshape', 'webgpu')!.kernelFunc as unknown as KernelFn;
    const { backend } = args;
    const k = reduced / m;
    const view = (t: tf.TensorInfo, shape: number[]) => reshape({ inputs: { x: t }, backend, attrs: { shape } });
    const x2 = view(x, [outer * k, m]);
    const partial = original({ inputs: { x: x2 }, backend, attrs: { axis: 1, keepDims: false } }); // [outer · k]
    const p2 = view(partial, [outer, k]);
    const total = original({ inputs: { x: p2 }, backend, attrs: { axis: 1, keepDims: false } }); // [outer]
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const out = view(total, outShape);
    for (const t of [x2, partial, p2, total]) backend.disposeData(t.dataId);
    return out;
  };
}

/**
 * Installs the two-stage `Sum` and `Mean` for webgpu (idempotent; a no-op until
 * tfjs-backend-webgpu has registered its kernels). Core's backend selection calls it when webgpu
 * is chosen; call it yourself after `tf.setBackend('webgpu')` if you select the backend without BrickML.
 */
export function installWebGPUReductions(): void {
  for (const name of ['Sum', 'Mean'] as const) replaceKernel<KernelArgs>('webgpu', name, (original) => twoStage(original as KernelFn));
}
