/**
 * onnxruntime-node as a synchronous matrix-product kernel for tfjs's wasm backend.
 *
 * onnxruntime-node's public `InferenceSession.run` is async (a `setImmediate` around the native
 * call), which a tfjs kernel cannot await. Its native binding (`onnxruntime-node/dist/binding.js`,
 * an internal module) runs synchronously, so the kernel calls it directly: inputs are ORT tensors
 * over Float32Array views of the wasm heap (no copy in), and the output is a pre-allocated ORT
 * tensor over the view of the tfjs output (ORT writes the product there). One session per shape
 * (a tiny ONNX graph built in code, onnx-model.ts), cached; intra-op threads as configured, with
 * spinning off (spinning threads fight tfjs's own thread for the cores).
 *
 * Everything here depends on onnxruntime-node internals; {@link loadOrtRuntime} checks them and
 * runs a product end to end before the engine is accepted.
 */
import { matmulModel, reduceSumModel, transposeModel, type MatmulModelSpec, type ReduceSumModelSpec, type TransposeModelSpec } from './onnx-model.js';

/** The onnxruntime-node version this engine is tested with (the install command pins it). */
export const ORT_TESTED_VERSION = '1.30.0';

/** Installs onnxruntime-node without its postinstall download of GPU libraries (the CPU binary is in the tarball). */
export const ORT_INSTALL_COMMAND = `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@${ORT_TESTED_VERSION}`;

/** An ORT tensor as the binding reads it. */
type OrtTensor = object;
type TensorCtor = new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;

/** The parts of onnxruntime-node's native binding this engine calls. */
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor>, options: object): unknown;
  dispose(): void;
}
interface BindingModule {
  binding: { InferenceSession: new () => BindingSession };
  initOrt: () => void;
}

/** Options of the ORT matmul engine. */
export interface OrtEngineOptions {
  /** ORT intra-op threads (default: the machine's logical cores, `os.availableParallelism()`). */
  threads?: number;
  /**
   * Products with fewer multiply-adds stay on tfjs-wasm (default 32768, i.e. 32³): below that an
   * ORT call (~20 µs) costs more than XNNPACK's product.
   */
  minMacs?: number;
  /** Sums and transposes of fewer elements stay on tfjs-wasm (default 16384). */
  minElements?: number;
  /** Sessions kept (one per shape and transpose pattern; least recently used dropped first; default 256). */
  maxSessions?: number;
}

/** A loaded, checked onnxruntime-node. */
export class OrtRuntime {
  readonly version: string;
  readonly threads: number;
  readonly minMacs: number;
  readonly minElements: number;
  readonly maxSessions: number;
  private readonly sessions = new Map<string, BindingSession>();
  /** Sessions created since load (cache misses). */
  created = 0;
  /** Products and sums run through ORT since load. */
  runs = 0;

  constructor(
    private readonly mod: BindingModule,
    private readonly Tensor: TensorCtor,
    version: string,
    options: Required<OrtEngineOptions>,
  ) {
    this.version = version;
    this.threads = options.threads;
    this.minMacs = options.minMacs;
    this.minElements = options.minElements;
    this.maxSessions = options.maxSessions;
  }

  /** The cached session under `key`, or a new one from `build()`'s model bytes. */
  private session(key: string, build: () => Uint8Array): BindingSession {
    let s = this.sessions.get(key);
    if (s) {
      // Most recently used last.
      this.sessions.delete(key);
      this.sessions.set(key, s);
      return s;
    }
    const bytes = build();
    s = new this.mod.binding.InferenceSession();
    s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
    this.created++;
    this.sessions.set(key, s);
    if (this.sessions.size > this.maxSessions) {
      const [oldKey, old] = this.sessions.entries().next().value as [string, BindingSession];
      this.sessions.delete(oldKey);
      old.dispose();
    }
    return s;
  }

  /** y = op(a) · op(b) into `y` (all float32, row-major, shapes as in `spec`); synchronous. */
  matmul(spec: MatmulModelSpec, a: Float32Array, b: Float32Array, y: Float32Array): void {
    const s = this.session(`mm|${spec.aShape}|${spec.bShape}|${+spec.transposeA}${+spec.transposeB}`, () => matmulModel(spec));
    const T = this.Tensor;
    s.run({ a: new T('float32', a, spec.aShape), b: new T('float32', b, spec.bShape) }, { y: new T('float32', y, spec.outShape) }, {});
    this.runs++;
  }

  /** y = sum of x over `spec.axes` into `y` (float32); synchronous. */
  reduceSum(spec: ReduceSumModelSpec, x: Float32Array, y: Float32Array): void {
    const s = this.session(`sum|${spec.xShape}|${spec.axes}|${+spec.keepDims}`, () => reduceSumModel(spec));
    const T = this.Tensor;
    s.run({ x: new T('float32', x, spec.xShape) }, { y: new T('float32', y, spec.outShape) }, {});
    this.runs++;
  }

  /** y = transpose(x, perm) into `y` (float32); synchronous. */
  transpose(spec: TransposeModelSpec, x: Float32Array, y: Float32Array): void {
    const s = this.session(`tr|${spec.xShape}|${spec.perm}`, () => transposeModel(spec));
    const T = this.Tensor;
    s.run({ x: new T('float32', x, spec.xShape) }, { y: new T('float32', y, spec.perm.map((p) => spec.xShape[p])) }, {});
    this.runs++;
  }

  /** Sessions in the cache. */
  get cachedSessions(): number {
    return this.sessions.size;
  }

  /** Frees every cached session. */
  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}

/** Why onnxruntime-node could not be used, for the engine's report. */
export class OrtUnusableError extends Error {}

/**
 * Checks the internals this engine uses (the binding's synchronous session, `initOrt`, the
 * `Tensor` class) and runs a 3×4·(5×4)ᵀ product end to end, with the output written into a view
 * at an offset of a larger buffer (the way the wasm heap is used); throws {@link OrtUnusableError}
 * naming what differs.
 */
export function loadOrtRuntime(
  publicModule: Record<string, unknown>,
  bindingModule: Record<string, unknown>,
  options: Required<OrtEngineOptions>,
): OrtRuntime {
  const pub = ((publicModule as { default?: Record<string, unknown> }).default ?? publicModule) as Record<string, unknown>;
  const bin = ((bindingModule as { default?: Record<string, unknown> }).default ?? bindingModule) as Partial<BindingModule>;
  const env = pub.env as { versions?: Record<string, string> } | undefined;
  const version = env?.versions?.node ?? env?.versions?.common ?? 'unknown version';
  const Tensor = pub.Tensor as TensorCtor | undefined;
  const where = `onnxruntime-node ${version} (this engine is tested with ${ORT_TESTED_VERSION})`;
  if (typeof Tensor !== 'function') throw new OrtUnusableError(`${where} exports no Tensor class`);
  if (typeof bin.initOrt !== 'function' || typeof bin.binding?.InferenceSession !== 'function') {
    throw new OrtUnusableError(`${where}: its internal module dist/binding.js has no synchronous InferenceSession/initOrt`);
  }
  const rt = new OrtRuntime(bin as BindingModule, Tensor, version, options);
  try {
    bin.initOrt();
    const heap = new Float32Array(64);
    for (let i = 0; i < 32; i++) heap[i] = (i % 7) - 3;
    const a = heap.subarray(0, 12); // [3, 4]
    const b = heap.subarray(12, 32); // [5, 4]
    const y = heap.subarray(40, 55); // [3, 5]
    rt.matmul({ aShape: [3, 4], bShape: [5, 4], transposeA: false, transposeB: true, outShape: [3, 5] }, a, b, y);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += a[i * 4 + k] * b[j * 4 + k];
        if (y[i * 5 + j] !== s) {
          throw new OrtUnusableError(
            `${where}: a test product did not land in the pre-allocated output (got ${y[i * 5 + j]} at [${i}, ${j}], expected ${s}); its binding no longer writes into caller memory`,
          );
        }
      }
  } catch (e) {
    rt.dispose();
    if (e instanceof OrtUnusableError) throw e;
    throw new OrtUnusableError(`${where}: its native binding failed a test product: ${(e as Error)?.message ?? e}`);
  }
  rt.dispose();
  rt.created = 0;
  rt.runs = 0;
  return rt;
}
