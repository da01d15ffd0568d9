/**
 * A batched matrix product for tfjs's `wasm` backend that runs every batch item on XNNPACK.
 *
 * tfjs-backend-wasm sends a product to XNNPACK only when both batch sizes are 1 and nothing is
 * transposed; every batched product (attention scores, attention-weighted values, their
 * gradients) falls to a scalar blocked loop at 1–2 GFLOP/s (docs/design.md, engine facts). This kernel
 * registers, for each batch item, views of the operands and of the output (tensor ids pointing
 * into the existing buffers, no copy) and calls the backend's own `BatchMatMul` on the batch-1
 * views, which takes the XNNPACK path; the views are unregistered afterwards (memory stays with
 * the real tensors).
 *
 * It relies on tfjs-backend-wasm internals (`dataIdMap`, `dataIdNextNumber`, `wasm.cwrap`,
 * `wasm.tfjs.registerTensor/disposeData`), checked on first use: when they are missing the
 * kernel reports itself unusable and {@link batchedMatmulKernelUsable} sends callers to
 * `tf.matMul`. This module never imports the wasm backend; registering a kernel under its name is
 * harmless where it is absent.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Kernel name: inputs `{a: [b, m, k], b: [b, k, n]}`, output `[b, m, n]`, float32, no transposes. */
export const WASM_BATCH_MATMUL_KERNEL = 'BrickBatchMatMul';

/** The parts of tfjs-backend-wasm's `BackendWasm` this kernel uses. */
interface WasmBackendInternals {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: {
      registerTensor(id: number, size: number, offset: number): void;
      disposeData(id: number): void;
    };
  };
}

type BatchMatMulFn = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: number,
  transposeB: number,
  outId: number,
) => void;

const wrapped = new WeakMap<object, BatchMatMulFn>();

function internals(backend: unknown): WasmBackendInternals | null {
  const b = backend as Partial<WasmBackendInternals> | null;
  if (!b || typeof b.dataIdNextNumber !== 'number' || typeof b.makeOutput !== 'function')
    return null;
  if (typeof b.wasm?.cwrap !== 'function' || typeof b.wasm.tfjs?.registerTensor !== 'function')
    return null;
  if (typeof b.wasm.tfjs.disposeData !== 'function' || typeof b.dataIdMap?.get !== 'function')
    return null;
  return b as WasmBackendInternals;
}

function batchMatMulOf(backend: WasmBackendInternals): BatchMatMulFn {
  let fn = wrapped.get(backend);
  if (!fn) {
    fn = backend.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]) as BatchMatMulFn;
    wrapped.set(backend, fn);
  }
  return fn;
}

const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);

function wasmBatchMatmul({
  inputs,
  backend,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
}): tf.TensorInfo {
  const a = inputs.a as tf.TensorInfo; // [batch, m, k]
  const b = inputs.b as tf.TensorInfo; // [batch, k, n]
  const be = internals(backend);
  if (!be)
    throw new Error(
      `${WASM_BATCH_MATMUL_KERNEL}: the wasm backend's internals changed; use tf.matMul`,
    );
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  const out = be.makeOutput([batch, m, n], 'float32'); // [batch, m, n]
  const aOff = be.dataIdMap.get(a.dataId)!.memoryOffset;
  const bOff = be.dataIdMap.get(b.dataId)!.memoryOffset;
  const oOff = be.dataIdMap.get(out.dataId)!.memoryOffset;
  const run = batchMatMulOf(be);
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  const { registerTensor, disposeData } = be.wasm.tfjs;
  for (let i = 0; i < batch; i++) {
    const aId = be.dataIdNextNumber++;
    const bId = be.dataIdNextNumber++;
    const oId = be.dataIdNextNumber++;
    registerTensor(aId, m * k, aOff + 4 * i * m * k);
    registerTensor(bId, k * n, bOff + 4 * i * k * n);
    registerTensor(oId, m * n, oOff + 4 * i * m * n);
    try {
      run(aId, aShape, 3, bId, bShape, 3, 0, 0, oId);
    } finally {
      // Unregisters the views (and the XNNPACK operator cached on bId); frees no memory.
      disposeData(aId);
      disposeData(bId);
      disposeData(oId);
    }
  }
  return out;
}

let registered = false;

/** Registers {@link WASM_BATCH_MATMUL_KERNEL} for `wasm` (idempotent; importing core calls it). */
export function registerWasmBatchMatmul(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: WASM_BATCH_MATMUL_KERNEL,
    backendName: 'wasm',
    kernelFunc: wasmBatchMatmul as unknown as tf.KernelFunc,
  });
}

/** Whether the active backend is wasm and exposes what the kernel needs. */
export function batchedMatmulKernelUsable(): boolean {
  if (tf.getBackend() !== 'wasm' || !tf.getKernel(WASM_BATCH_MATMUL_KERNEL, 'wasm')) return false;
  return internals(tf.backend()) !== null;
}
