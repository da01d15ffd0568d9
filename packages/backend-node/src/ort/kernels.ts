/**
 * The `wasm+ort` engine's kernels: tfjs-wasm's `BatchMatMul` (every `tf.matMul`, with its
 * transposes and broadcast batch dims), core's `BrickBatchMatMul` (core's batched `matmul`),
 * tfjs-wasm's `Sum` (linear's bias gradient, layer-norm gradients: tfjs-wasm transposes the input
 * to bring the summed axes innermost first, ORT's ReduceSum sums any axes in one multi-threaded
 * pass) and `Transpose` (the explicit transposes of core's matmul/linear gradients) replaced by
 * wrappers that run in onnxruntime-node while the engine is active, reading and writing the wasm
 * heap in place, and call tfjs's own kernel otherwise (plain `wasm` engine, non-float32 operands,
 * work too small to pay for an ORT call, or after a failure).
 *
 * A failure (the wasm backend's heap accessors missing, ORT throwing for a shape) turns the engine
 * off until it is selected again, with one warning, and the work falls back to tfjs-wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WASM_BATCH_MATMUL_KERNEL } from '@brickml/core';
import type { OrtRuntime } from './runtime.js';

/** The parts of tfjs-backend-wasm's `BackendWasm` the kernels use. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}
interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

let runtime: OrtRuntime | null = null;
let disabledReason: string | null = null;
let warn: (message: string) => void = (m) => console.warn(m);

/** Routes the wasm backend's products, sums and transposes through `rt` (null: back to tfjs-wasm's own kernels). */
export function setOrtRuntime(rt: OrtRuntime | null): void {
  if (runtime && runtime !== rt) runtime.dispose();
  runtime = rt;
  if (rt) disabledReason = null;
}

/** The runtime products go through now, or null (engine off, or turned off by a failure). */
export function activeOrtRuntime(): OrtRuntime | null {
  return runtime;
}

/** Why the engine turned itself off (it warned once), or null. */
export function ortDisabledReason(): string | null {
  return disabledReason;
}

/** Where the one-time fallback warning goes (default `console.warn`); for tests. */
export function setOrtWarningSink(sink: (message: string) => void): void {
  warn = sink;
}

function disable(reason: string): void {
  disabledReason = reason;
  const rt = runtime;
  runtime = null;
  rt?.dispose();
  warn(`@brickml/backend-node: wasm+ort: ${reason}; matrix products, sums and transposes fall back to tfjs-wasm's own kernels from now on`);
}

function heapBackend(backend: unknown): WasmHeapBackend | null {
  const b = backend as Partial<WasmHeapBackend> | null;
  if (!b || typeof b.makeOutput !== 'function' || typeof b.typedArrayFromHeap !== 'function' || typeof b.disposeData !== 'function') return null;
  return b as WasmHeapBackend;
}

const prod = (xs: readonly number[]) => xs.reduce((p, d) => p * d, 1);

/**
 * op(a) · op(b) through ORT, or null to leave it to tfjs. a, b rank ≥ 2; batch dims broadcast as
 * in tfjs and ONNX (numpy rules).
 */
function ortProduct(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, backend: unknown): tf.TensorInfo | null {
  const rt = runtime;
  if (!rt || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return null; // tfjs's kernel raises its own error
  let batch: number[];
  try {
    batch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const macs = prod(batch) * m * n * k;
  if (macs === 0 || macs < rt.minMacs) return null;
  const be = heapBackend(backend);
  if (!be) {
    disable("the wasm backend's heap accessors (makeOutput, typedArrayFromHeap, disposeData) are missing: tfjs-backend-wasm's internals changed");
    return null;
  }
  const outShape = [...batch, m, n];
  const out = be.makeOutput(outShape, 'float32'); // [...batch, m, n]
  try {
    // Views after the allocation: growing the heap detaches earlier ones.
    const av = be.typedArrayFromHeap(a) as Float32Array;
    const bv = be.typedArrayFromHeap(b) as Float32Array;
    const yv = be.typedArrayFromHeap(out) as Float32Array;
    rt.matmul({ aShape: a.shape, bShape: b.shape, transposeA, transposeB, outShape }, av, bv, yv);
    return out;
  } catch (e) {
    be.disposeData(out.dataId);
    disable(`onnxruntime-node ${rt.version} failed a [${a.shape}]${transposeA ? 'ᵀ' : ''} · [${b.shape}]${transposeB ? 'ᵀ' : ''} product: ${(e as Error)?.message ?? e}`);
    return null;
  }
}

/** sum(x, axis) through ORT, or null to leave it to tfjs. */
function ortSum(x: tf.TensorInfo, axis: number | number[] | null | undefined, keepDims: boolean, backend: unknown): tf.TensorInfo | null {
  const rt = runtime;
  if (!rt || x.dtype !== 'float32' || x.shape.length === 0) return null;
  const size = prod(x.shape);
  if (size < rt.minElements) return null;
  let axes: number[];
  try {
    axes = [...new Set(tf.util.parseAxisParam(axis ?? x.shape.map((_, i) => i), x.shape))].sort((p, q) => p - q);
  } catch {
    return null; // tfjs's kernel raises its own error
  }
  if (axes.length === 0) return null;
  const be = heapBackend(backend);
  if (!be) {
    disable("the wasm backend's heap accessors (makeOutput, typedArrayFromHeap, disposeData) are missing: tfjs-backend-wasm's internals changed");
    return null;
  }
  const outShape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keepDims ? [1] : []) : [d]));
  const out = be.makeOutput(outShape, 'float32');
  try {
    const xv = be.typedArrayFromHeap(x) as Float32Array;
    const yv = be.typedArrayFromHeap(out) as Float32Array;
    rt.reduceSum({ xShape: x.shape, axes, keepDims, outShape }, xv, yv);
    return out;
  } catch (e) {
    be.disposeData(out.dataId);
    disable(`onnxruntime-node ${rt.version} failed a sum of [${x.shape}] over axes [${axes}]: ${(e as Error)?.message ?? e}`);
    return null;
  }
}

/** transpose(x, perm) through ORT, or null to leave it to tfjs. */
function ortTranspose(x: tf.TensorInfo, perm: number[] | undefined, backend: unknown): tf.TensorInfo | null {
  const rt = runtime;
  if (!rt || x.dtype !== 'float32' || !perm || perm.length !== x.shape.length || x.shape.length < 2) return null;
  if (prod(x.shape) < rt.minElements || perm.every((p, i) => p === i)) return null;
  const be = heapBackend(backend);
  if (!be) {
    disable("the wasm backend's heap accessors (makeOutput, typedArrayFromHeap, disposeData) are missing: tfjs-backend-wasm's internals changed");
    return null;
  }
  const out = be.makeOutput(perm.map((p) => x.shape[p]), 'float32');
  try {
    const xv = be.typedArrayFromHeap(x) as Float32Array;
    const yv = be.typedArrayFromHeap(out) as Float32Array;
    rt.transpose({ xShape: x.shape, perm }, xv, yv);
    return out;
  } catch (e) {
    be.disposeData(out.dataId);
    disable(`onnxruntime-node ${rt.version} failed a transpose of [${x.shape}] by [${perm}]: ${(e as Error)?.message ?? e}`);
    return null;
  }
}

// A global symbol, so a second copy of this module does not wrap the wrapper.
const WRAPPED = Symbol.for('brickml.ortKernel');

function wrapKernel(name: string, make: (original: KernelFn) => KernelFn): boolean {
  const config = tf.getKernel(name, 'wasm');
  if (!config) return false;
  if ((config.kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED]) return true;
  const kernelFunc = make(config.kernelFunc as unknown as KernelFn);
  (kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...config, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return true;
}

/**
 * Wraps the wasm kernels (idempotent; needs tfjs-backend-wasm imported). While no runtime is set
 * the wrappers only call the original kernels. Returns false when tfjs-wasm has no `BatchMatMul`.
 */
export function installOrtKernels(): boolean {
  const ok = wrapKernel('BatchMatMul', (original) => (args) => {
    const { transposeA, transposeB } = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    return ortProduct(args.inputs.a as tf.TensorInfo, args.inputs.b as tf.TensorInfo, !!transposeA, !!transposeB, args.backend) ?? original(args);
  });
  // Core's batched product ([batch, m, k] · [batch, k, n]): one ORT call instead of one XNNPACK call per item.
  wrapKernel(WASM_BATCH_MATMUL_KERNEL, (original) => (args) =>
    ortProduct(args.inputs.a as tf.TensorInfo, args.inputs.b as tf.TensorInfo, false, false, args.backend) ?? original(args),
  );
  wrapKernel('Transpose', (original) => (args) =>
    ortTranspose(args.inputs.x as tf.TensorInfo, (args.attrs as { perm?: number[] } | undefined)?.perm, args.backend) ?? original(args),
  );
  wrapKernel('Sum', (original) => (args) => {
    const { axis, keepDims } = (args.attrs ?? {}) as { axis?: number | number[] | null; keepDims?: boolean };
    return ortSum(args.inputs.x as tf.TensorInfo, axis, !!keepDims, args.backend) ?? original(args);
  });
  return ok;
}
