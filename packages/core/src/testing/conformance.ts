import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.js';
import { matmul } from '../ops/matmul.js';
import { linear } from '../ops/linear.js';
import { layerNorm, rmsNorm } from '../ops/norm.js';
import { gelu, geluTanh } from '../ops/activations.js';
import { embeddingLookup } from '../ops/embedding.js';
import { fusedAdamWUpdate } from '../optim/fused-adamw.js';

/**
 * Numerical conformance of a tfjs backend: every op the technique packages rely on, forward and
 * gradient, computed on the active backend and on a reference backend (`cpu`) and compared within
 * tolerances stated per case. Written once, run on every backend a machine has (cpu, wasm, webgpu
 * through Dawn in Node, webgpu/webgl in a browser).
 *
 * Results are read with `await data()` only (never `dataSync`, which throws for GPU-resident
 * tensors on WebGPU in Node). A backend known to lack a kernel a case needs is declared in the case
 * (`unsupported`), so it is reported as `expected-unsupported` instead of being skipped; a backend
 * known to compute a case wrongly without throwing is declared in `knownWrong`. Either declaration
 * turning out false is reported as `unexpected-pass`, so the tables stay honest when tfjs changes.
 */

/** A result element passes when |got − ref| ≤ atol + rtol · |ref|. */
export interface ConformanceTolerance {
  atol: number;
  rtol: number;
}

/** One conformance case: named outputs (forward values and gradients) computed from fixed inputs. */
export interface ConformanceCase {
  /** Stable name, `group/variant` (e.g. `matmul/transposes`). */
  readonly name: string;
  /** What is computed, in one line. */
  readonly description: string;
  readonly tolerance: ConformanceTolerance;
  /** tfjs backend name → why the case must throw there (a missing kernel). */
  readonly unsupported?: Readonly<Record<string, string>>;
  /** tfjs backend name → why the case computes wrong values there without throwing (a known engine bug). */
  readonly knownWrong?: Readonly<Record<string, string>>;
  /**
   * Builds the outputs on the active backend from inputs made on the host (same numbers on every
   * backend). Runs inside `tf.tidy`; returned tensors are read with `await data()` and disposed.
   * Integer outputs (indices) are compared exactly.
   */
  compute(): Record<string, tf.Tensor>;
}

/** Comparison of one output of one case. */
export interface ConformanceOutputResult {
  name: string;
  shape: number[];
  dtype: string;
  /** max |got − ref| */
  maxAbsError: number;
  /** max (|got − ref| − atol − rtol·|ref|); ≤ 0 when every element is within tolerance. */
  maxExcess: number;
  ok: boolean;
}

/**
 * `pass`: within tolerance. `fail`: outside tolerance (or a shape/dtype mismatch, or leaked tensors).
 * `expected-unsupported`: threw on a backend declared in `unsupported`. `known-issue`: mismatched on a
 * backend declared in `knownWrong`. `unexpected-pass`: a declaration above is stale. `error`: threw
 * on a backend where it should run (or on the reference).
 */
export type ConformanceStatus = 'pass' | 'fail' | 'expected-unsupported' | 'known-issue' | 'unexpected-pass' | 'error';

export interface ConformanceCaseResult {
  name: string;
  status: ConformanceStatus;
  /** True for `pass`, `expected-unsupported` and `known-issue`. */
  ok: boolean;
  tolerance: ConformanceTolerance;
  /** Worst absolute error over all outputs (absent when the case threw). */
  maxAbsError?: number;
  outputs: ConformanceOutputResult[];
  /** Error message, declared reason, or which output failed. */
  message?: string;
  /**
   * Tensors left behind by the case on the active backend: must be 0 for a case that ran. A case
   * that threw inside a gradient leaves the tensors tfjs kept for backprop (tfjs engine behaviour).
   */
  leakedTensors: number;
  /** Wall time on the active backend, including reading the results. */
  ms: number;
}

export interface ConformanceReport {
  /** tfjs backend under test. */
  backend: string;
  reference: string;
  /** Every case `ok`. */
  ok: boolean;
  results: ConformanceCaseResult[];
  ms: number;
}

export interface ConformanceOptions {
  /** Reference tfjs backend (default `cpu`; it must be registered: import `@tensorflow/tfjs-backend-cpu`). */
  reference?: string;
  /** Cases to run (default {@link conformanceCases}). */
  cases?: readonly ConformanceCase[];
  /** Keeps only cases whose name matches. */
  only?: RegExp;
}

// ---------------------------------------------------------------------------------------------
// Inputs and helpers (host-made numbers, so every backend sees identical inputs).

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Normal(0, std²) float32 tensor from a fixed seed. */
function normal(seed: number, shape: number[], std = 1): tf.Tensor {
  return tf.tensor(new Rng(seed).normalArray(sizeOf(shape), 0, std), shape, 'float32');
}

/** int32 ids in [0, hi) from a fixed seed, 1-D. */
function ids(seed: number, n: number, hi: number, fixed: number[] = []): tf.Tensor1D {
  const rng = new Rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i < fixed.length ? fixed[i] : rng.int(0, hi);
  return tf.tensor1d(out, 'int32');
}

/**
 * `{[prefix]y, [prefix]d<i>}`: f's value and the gradients of ⟨f(xs), w⟩ for a fixed random
 * cotangent w (a plain sum would give zero gradients for softmax and friends).
 */
function valueAndGrads(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
  seed: number,
  prefix = '',
): Record<string, tf.Tensor> {
  const y = f(...xs);
  const w = normal(seed, y.shape);
  const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w)))(xs);
  const out: Record<string, tf.Tensor> = { [`${prefix}y`]: y };
  gs.forEach((g, i) => (out[`${prefix}d${i}`] = g));
  return out;
}

/** `einsum('...ij,...jk->...ik')` over any leading dims, as one 3-D batched matMul. */
function batchedContract(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  const lead = a.shape.slice(0, -2);
  const [m, k] = a.shape.slice(-2);
  const bb = tf.reshape(b, [-1, b.shape[b.rank - 2], b.shape[b.rank - 1]]);
  const y = tf.matMul(tf.reshape(a, [-1, m, k]), bb, false, transposeB);
  return tf.reshape(y, [...lead, m, y.shape[y.rank - 1] as number]);
}

const WASM_NO_SEGMENT_SUM = 'tfjs-backend-wasm 4.22 has no UnsortedSegmentSum kernel (the gradient of gather needs it)';
const NO_FUSED_ADAMW = "BrickML registers its fused AdamW kernel for cpu, wasm and webgpu only; AdamW runs its op-by-op update here";

// ---------------------------------------------------------------------------------------------
// The cases.

/** The standard cases: the ops BrickML's technique packages use, forward and gradient. */
export const conformanceCases: readonly ConformanceCase[] = [
  {
    name: 'matmul/batched',
    description: 'tf.matMul [3,4,5]·[3,5,6] and its gradients',
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => valueAndGrads((a, b) => tf.matMul(a, b), [normal(1, [3, 4, 5]), normal(2, [3, 5, 6])], 3),
  },
  {
    name: 'matmul/transposes',
    description: 'tf.matMul with transposeA, transposeB and both, batched, and their gradients',
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((a, b) => tf.matMul(a, b, true, false), [normal(4, [2, 5, 4]), normal(5, [2, 5, 3])], 6, 'TN.'),
      ...valueAndGrads((a, b) => tf.matMul(a, b, false, true), [normal(7, [2, 4, 5]), normal(8, [2, 3, 5])], 9, 'NT.'),
      ...valueAndGrads((a, b) => tf.matMul(a, b, true, true), [normal(10, [2, 5, 4]), normal(11, [2, 3, 5])], 12, 'TT.'),
    }),
  },
  {
    // Forward only: in tfjs 4.22 the gradient of a batch-broadcast matMul is not reduced over the
    // broadcast dims and throws ("gradient of input 'b' has shape '2,4,5' ... '4,5'") on every
    // backend. Core's matmul reshapes to a 2-D product instead (core/matmul below covers it).
    name: 'matmul/broadcast',
    description: 'tf.matMul of [2,3,4] by a shared [4,5] (batch broadcast), forward only',
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => ({ y: tf.matMul(normal(13, [2, 3, 4]), normal(14, [4, 5])) }),
  },
  {
    name: 'core/matmul',
    description: "core's matmul (own gradient, explicit transposes), all transpose flags, and a rank-2 right operand",
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((a, b) => matmul(a, b), [normal(16, [2, 4, 5]), normal(17, [2, 5, 3])], 18, 'NN.'),
      ...valueAndGrads((a, b) => matmul(a, b, true, true), [normal(19, [2, 5, 4]), normal(20, [2, 3, 5])], 21, 'TT.'),
      ...valueAndGrads((a, b) => matmul(a, b, false, true), [normal(22, [2, 3, 4]), normal(23, [6, 4])], 24, 'linear.'),
    }),
  },
  {
    name: 'core/linear',
    description: "core's linear x[2,3,6]·Wᵀ[5,6] + b[5] and its gradients",
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => valueAndGrads((x, w, b) => linear(x, w, b), [normal(25, [2, 3, 6]), normal(26, [5, 6]), normal(27, [5])], 28),
  },
  {
    name: 'softmax',
    description: 'tf.softmax and tf.logSoftmax over the last axis of [2,3,10] (logits ×3) and their gradients',
    tolerance: { atol: 1e-5, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((x) => tf.softmax(x), [normal(29, [2, 3, 10], 3)], 30, 'softmax.'),
      ...valueAndGrads((x) => tf.logSoftmax(x), [normal(31, [2, 3, 10], 3)], 32, 'logSoftmax.'),
    }),
  },
  {
    name: 'layernorm/composed',
    description: 'layer norm composed from tf ops (moments, rsqrt) over the last axis of [3,4,8], with gamma, beta',
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () =>
      valueAndGrads(
        (x, g, b) => {
          const { mean, variance } = tf.moments(x, -1, true);
          return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
        },
        [normal(33, [3, 4, 8], 2), normal(34, [8]), normal(35, [8])],
        36,
      ),
  },
  {
    name: 'core/norms',
    description: "core's layerNorm and rmsNorm (own gradients) over the last axis of [3,4,8]",
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((x, g, b) => layerNorm(x, g, b), [normal(37, [3, 4, 8], 2), normal(38, [8]), normal(39, [8])], 40, 'layerNorm.'),
      ...valueAndGrads((x, g) => rmsNorm(x, g), [normal(41, [3, 4, 8], 2), normal(42, [8])], 43, 'rmsNorm.'),
    }),
  },
  {
    name: 'core/layernorm-wide',
    description: "core's layerNorm over [5,37,200] (185 rows; a width that is no multiple of a fused kernel's threads, rows offset by 3) with gradients",
    tolerance: { atol: 2e-4, rtol: 2e-4 },
    compute: () => valueAndGrads((x, g, b) => layerNorm(tf.add(x, 3), g, b), [normal(210, [5, 37, 200], 2), normal(211, [200]), normal(212, [200])], 213),
  },
  {
    name: 'conv/depthwise3x3',
    description: "tf.depthwiseConv2d 3×3, stride 1, 'same' padding on [2,5,6,7] (RIN's interface conv), with both gradients",
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    unsupported: { wasm: 'tfjs-backend-wasm 4.22 has no DepthwiseConv2dNativeBackpropInput/Filter kernels (RIN uses shifted multiply-adds there)' },
    compute: () =>
      valueAndGrads((x, f) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), [normal(220, [2, 5, 6, 7]), normal(221, [3, 3, 7, 1])], 222),
  },
  {
    name: 'activations/gelu',
    description: 'GELU from tf.erf and the tanh approximation (tf ops and core ops) on [4,16] (std 2), with gradients',
    tolerance: { atol: 1e-5, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))), [normal(44, [4, 16], 2)], 45, 'erf.'),
      ...valueAndGrads((x) => gelu(x), [normal(46, [4, 16], 2)], 47, 'core.gelu.'),
      ...valueAndGrads((x) => geluTanh(x), [normal(48, [4, 16], 2)], 49, 'core.geluTanh.'),
    }),
  },
  {
    name: 'reductions',
    description: 'tf.sum, tf.mean, tf.max and tf.logSumExp over different axes of [3,4,5], with gradients',
    tolerance: { atol: 1e-5, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((x) => tf.sum(x, 0), [normal(50, [3, 4, 5])], 51, 'sum.'),
      ...valueAndGrads((x) => tf.mean(x, [0, 2]), [normal(52, [3, 4, 5])], 53, 'mean.'),
      ...valueAndGrads((x) => tf.max(x, -1), [normal(54, [3, 4, 5])], 55, 'max.'),
      ...valueAndGrads((x) => tf.logSumExp(x, -1), [normal(56, [3, 4, 5], 3)], 57, 'logSumExp.'),
    }),
  },
  {
    name: 'reductions/large',
    description: 'sum and mean to few outputs over many elements ([64,4096] → [], [3,5,20000] over the last two axes, keepDims; split in two stages on webgpu) and over a leading axis',
    tolerance: { atol: 2e-5, rtol: 1e-4 },
    compute: () => {
      // Small values, so that sums stay O(1) and float32 summation order differs by < 1e-5.
      const a = normal(230, [64, 4096], 0.002);
      const b = normal(231, [3, 5, 20000], 0.002);
      return {
        sumAll: tf.sum(a),
        meanAll: tf.mean(a),
        sumTrailing: tf.sum(b, [1, 2], true),
        meanTrailing: tf.mean(b, [-1, -2]),
        sumLeading: tf.sum(a, 0),
      };
    },
  },
  {
    name: 'gather/gather',
    description: 'tf.gather rows of [10,6] at 9 ids (with repeats) and its gradient (UnsortedSegmentSum)',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    unsupported: { wasm: WASM_NO_SEGMENT_SUM },
    compute: () => {
      const index = ids(58, 9, 10, [3, 3, 0, 9]);
      return valueAndGrads((t) => tf.gather(t, index), [normal(59, [10, 6])], 60);
    },
  },
  {
    name: 'gather/one-hot',
    description: 'row gather as a one-hot product oneHot(ids)[9,10]·table[10,6], with the table gradient (runs on wasm too)',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    compute: () => {
      const oh = tf.oneHot(ids(58, 9, 10, [3, 3, 0, 9]), 10);
      return valueAndGrads((t) => tf.matMul(oh, t), [normal(59, [10, 6])], 60);
    },
  },
  {
    name: 'core/embedding',
    description: "core's embeddingLookup ids[3,3] into [10,6] (segment sum, or a one-hot product where it is missing)",
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    compute: () => {
      const index = tf.reshape(ids(58, 9, 10, [3, 3, 0, 9]), [3, 3]);
      return valueAndGrads((t) => embeddingLookup(index, t), [normal(59, [10, 6])], 61);
    },
  },
  {
    name: 'scatter-add/segment-sum',
    description: 'tf.unsortedSegmentSum of [8,6] into 5 segments (scatter-add) and its gradient',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    unsupported: { wasm: WASM_NO_SEGMENT_SUM },
    compute: () => {
      const seg = ids(62, 8, 5, [4, 4, 1]);
      return valueAndGrads((x) => tf.unsortedSegmentSum(x, seg, 5), [normal(63, [8, 6])], 64);
    },
  },
  {
    name: 'scatter-add/one-hot',
    description: 'scatter-add as oneHot(seg)ᵀ[5,8]·x[8,6] (explicit transpose) and its gradient',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    compute: () => {
      const ohT = tf.transpose(tf.oneHot(ids(62, 8, 5, [4, 4, 1]), 5));
      return valueAndGrads((x) => tf.matMul(ohT, x), [normal(63, [8, 6])], 64);
    },
  },
  {
    name: 'topk',
    description: 'tf.topk k=3 of [4,12]: values and indices (exact), and the gradient of the values through a one-hot selection',
    tolerance: { atol: 1e-6, rtol: 1e-6 },
    compute: () => {
      const x = normal(65, [4, 12]);
      const { values, indices } = tf.topk(x, 3);
      const picked = valueAndGrads(
        (z) => tf.sum(tf.mul(tf.oneHot(indices, 12), tf.expandDims(z, 1)), -1), // [4,3]
        [x],
        66,
        'picked.',
      );
      return { values, indices, ...picked };
    },
  },
  {
    name: 'cumsum',
    description: 'tf.cumsum on axis 1 of [3,8]: inclusive, exclusive, reverse, with gradients',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    compute: () => ({
      ...valueAndGrads((x) => tf.cumsum(x, 1), [normal(67, [3, 8])], 68, 'inclusive.'),
      ...valueAndGrads((x) => tf.cumsum(x, 1, true, false), [normal(69, [3, 8])], 70, 'exclusive.'),
      ...valueAndGrads((x) => tf.cumsum(x, 1, false, true), [normal(71, [3, 8])], 72, 'reverse.'),
    }),
  },
  {
    name: 'einsum/contractions',
    description: "einsum-shaped contractions as matMul: 'bhtd,bhsd->bhts', 'bhts,bhsd->bhtd', 'btd,de->bte', with gradients",
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => ({
      ...valueAndGrads((q, k) => batchedContract(q, k, true), [normal(73, [2, 2, 5, 4]), normal(74, [2, 2, 6, 4])], 75, 'scores.'),
      ...valueAndGrads((p, v) => batchedContract(p, v), [normal(76, [2, 2, 5, 6]), normal(77, [2, 2, 6, 4])], 78, 'mix.'),
      ...valueAndGrads(
        (x, w) => tf.reshape(tf.matMul(tf.reshape(x, [-1, 4]), w), [2, 5, 3]),
        [normal(79, [2, 5, 4]), normal(80, [4, 3])],
        81,
        'project.',
      ),
    }),
  },
  {
    name: 'attention/causal',
    description: 'causal scaled dot-product attention softmax(QKᵀ/√d + mask)·V, [2 batch, 2 heads, 6 tokens, 4], with gradients',
    tolerance: { atol: 1e-4, rtol: 1e-4 },
    compute: () => {
      const t = 6;
      const mask = tf.tensor2d(Float32Array.from({ length: t * t }, (_, i) => ((i % t) > Math.floor(i / t) ? -1e9 : 0)), [t, t]);
      return valueAndGrads(
        (q, k, v) => {
          const s = tf.add(tf.mul(batchedContract(q, k, true), 1 / Math.sqrt(4)), mask); // [2,2,t,t]
          return batchedContract(tf.softmax(s), v); // [2,2,t,4]
        },
        [normal(82, [2, 2, t, 4]), normal(83, [2, 2, t, 4]), normal(84, [2, 2, t, 4])],
        85,
      );
    },
  },
  {
    name: 'optim/adamw-update',
    description: "AdamW's fused update (p′, m′, v′) of a [37,29] parameter with decay at step 3, a [5] one and a scalar without",
    tolerance: { atol: 1e-6, rtol: 1e-5 },
    unsupported: { webgl: NO_FUSED_ADAMW, tensorflow: NO_FUSED_ADAMW },
    compute: () => {
      const out: Record<string, tf.Tensor> = {};
      const shapes: number[][] = [[37, 29], [5], []];
      for (const [i, shape] of shapes.entries()) {
        const s = 200 + 4 * i;
        const [b1, b2, t, lr] = [0.9, 0.999, 3, 3e-3];
        const [p1, m1, v1] = fusedAdamWUpdate(normal(s, shape), normal(s + 1, shape), normal(s + 2, shape, 0.1), tf.square(normal(s + 3, shape, 0.1)), {
          decay: i === 0 ? lr * 0.05 : 0, beta1: b1, beta2: b2, stepSize: lr / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t), eps: 1e-8,
        });
        Object.assign(out, { [`p${i}`]: p1, [`m${i}`]: m1, [`v${i}`]: v1 });
      }
      return out;
    },
  },
  {
    name: 'addN/9-inputs',
    description: 'tf.addN of 9 tensors [4,5] (one storage buffer per input on webgpu)',
    tolerance: { atol: 1e-5, rtol: 1e-5 },
    knownWrong: {
      webgpu: 'tf.addN with more than 7 inputs fails WebGPU validation (8 storage buffers per stage) and returns garbage without throwing',
    },
    compute: () => ({ y: tf.addN(Array.from({ length: 9 }, (_, i) => normal(86 + i, [4, 5]))) }),
  },
];

// ---------------------------------------------------------------------------------------------
// Running.

interface Computed {
  values: Map<string, { shape: number[]; dtype: string; data: ArrayLike<number> }>;
  leaked: number;
  ms: number;
}

async function computeCase(c: ConformanceCase): Promise<Computed> {
  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const outs = tf.tidy(() => c.compute());
  const values = new Map<string, { shape: number[]; dtype: string; data: ArrayLike<number> }>();
  try {
    const names = Object.keys(outs);
    const datas = await Promise.all(names.map((n) => outs[n].data()));
    names.forEach((n, i) => values.set(n, { shape: outs[n].shape.slice(), dtype: outs[n].dtype, data: datas[i] as ArrayLike<number> }));
  } finally {
    for (const t of Object.values(outs)) t.dispose();
  }
  const ms = performance.now() - t0;
  return { values, leaked: tf.memory().numTensors - before, ms };
}

function compareOutput(
  name: string,
  got: { shape: number[]; dtype: string; data: ArrayLike<number> },
  ref: { shape: number[]; dtype: string; data: ArrayLike<number> },
  tol: ConformanceTolerance,
): ConformanceOutputResult {
  const sameShape = got.shape.length === ref.shape.length && got.shape.every((d, i) => d === ref.shape[i]);
  if (!sameShape || got.dtype !== ref.dtype || got.data.length !== ref.data.length) {
    return { name, shape: got.shape, dtype: got.dtype, maxAbsError: Infinity, maxExcess: Infinity, ok: false };
  }
  const exact = ref.dtype !== 'float32';
  let maxAbsError = 0;
  let maxExcess = -Infinity;
  for (let i = 0; i < ref.data.length; i++) {
    const g = got.data[i], r = ref.data[i];
    const err = Math.abs(g - r);
    const allowed = exact ? 0 : tol.atol + tol.rtol * Math.abs(r);
    // NaN anywhere is a failure (err is NaN: compare through !(x <= y)).
    const e = Number.isNaN(err) ? Infinity : err;
    maxAbsError = Math.max(maxAbsError, e);
    maxExcess = Math.max(maxExcess, e - allowed);
  }
  if (ref.data.length === 0) maxExcess = 0;
  return { name, shape: got.shape, dtype: got.dtype, maxAbsError, maxExcess, ok: maxExcess <= 0 };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs the conformance cases on the active tfjs backend against the reference backend (default `cpu`)
 * and returns one result per case. Leaves the active backend active. Never throws for a case: a case
 * that throws is reported (`error` or `expected-unsupported`).
 *
 * @example
 * await useBackend('wasm');
 * const report = await runConformance();
 * if (!report.ok) console.log(formatConformance(report));
 */
export async function runConformance(options: ConformanceOptions = {}): Promise<ConformanceReport> {
  const reference = options.reference ?? 'cpu';
  const cases = (options.cases ?? conformanceCases).filter((c) => !options.only || options.only.test(c.name));
  await tf.ready();
  const backend = tf.getBackend();
  if (!tf.findBackendFactory(reference)) {
    throw new Error(
      `runConformance: reference backend '${reference}' is not registered; import '@tensorflow/tfjs-backend-${reference}' first`,
    );
  }
  const t0 = performance.now();

  // Reference values first (one backend switch each way).
  const refs = new Map<string, Computed | Error>();
  if (!(await tf.setBackend(reference))) {
    throw new Error(`runConformance: tf.setBackend('${reference}') failed for the reference backend`);
  }
  for (const c of cases) {
    try {
      refs.set(c.name, await computeCase(c));
    } catch (e) {
      refs.set(c.name, e instanceof Error ? e : new Error(String(e)));
    }
  }
  if (!(await tf.setBackend(backend))) {
    throw new Error(`runConformance: could not switch back to backend '${backend}' after the reference run`);
  }

  const results: ConformanceCaseResult[] = [];
  for (const c of cases) {
    const ref = refs.get(c.name)!;
    const unsupported = c.unsupported?.[backend];
    const knownWrong = c.knownWrong?.[backend];
    const base = { name: c.name, tolerance: c.tolerance, outputs: [] as ConformanceOutputResult[], leakedTensors: 0, ms: 0 };
    if (ref instanceof Error) {
      results.push({ ...base, status: 'error', ok: false, message: `reference backend '${reference}' failed: ${ref.message}` });
      continue;
    }
    const before = tf.memory().numTensors;
    let got: Computed;
    try {
      got = await computeCase(c);
    } catch (e) {
      const leakedTensors = tf.memory().numTensors - before;
      if (unsupported) {
        results.push({ ...base, leakedTensors, status: 'expected-unsupported', ok: true, message: `${unsupported} — threw: ${errorMessage(e)}` });
      } else {
        results.push({ ...base, leakedTensors, status: 'error', ok: false, message: errorMessage(e) });
      }
      continue;
    }
    const outputs: ConformanceOutputResult[] = [];
    const missing: string[] = [];
    for (const [name, r] of ref.values) {
      const g = got.values.get(name);
      if (!g) missing.push(name);
      else outputs.push(compareOutput(name, g, r, c.tolerance));
    }
    const maxAbsError = Math.max(0, ...outputs.map((o) => o.maxAbsError));
    const bad = outputs.filter((o) => !o.ok);
    const numbersOk = bad.length === 0 && missing.length === 0;
    const common = { ...base, outputs, maxAbsError, leakedTensors: got.leaked, ms: got.ms };
    if (unsupported) {
      results.push({ ...common, status: 'unexpected-pass', ok: false, message: `declared unsupported on '${backend}' (${unsupported}) but it ran` });
    } else if (knownWrong) {
      results.push(
        numbersOk
          ? { ...common, status: 'unexpected-pass', ok: false, message: `declared wrong on '${backend}' (${knownWrong}) but it matched` }
          : { ...common, status: 'known-issue', ok: true, message: knownWrong },
      );
    } else if (!numbersOk || got.leaked !== 0) {
      const why = [
        ...bad.map((o) => `${o.name} max|err| ${o.maxAbsError.toExponential(2)} (exceeds tolerance by ${o.maxExcess.toExponential(2)})`),
        ...missing.map((n) => `${n} missing`),
        ...(got.leaked !== 0 ? [`${got.leaked} tensors leaked`] : []),
      ];
      results.push({ ...common, status: 'fail', ok: false, message: why.join('; ') });
    } else {
      results.push({ ...common, status: 'pass', ok: true });
    }
  }
  return { backend, reference, ok: results.every((r) => r.ok), results, ms: performance.now() - t0 };
}

/** A plain-text table of a {@link ConformanceReport} (one line per case). */
export function formatConformance(report: ConformanceReport): string {
  const lines = [`conformance: ${report.backend} vs ${report.reference} — ${report.ok ? 'OK' : 'FAILED'} (${report.ms.toFixed(0)} ms)`];
  const w = Math.max(...report.results.map((r) => r.name.length), 4);
  for (const r of report.results) {
    const err = r.maxAbsError === undefined ? '' : ` max|err| ${r.maxAbsError.toExponential(2)}`;
    lines.push(`  ${r.name.padEnd(w)}  ${r.status.padEnd(20)}${err}${r.message ? `  ${r.message}` : ''}`);
  }
  return lines.join('\n');
}
