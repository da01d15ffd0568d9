/**
 * Frozen-feature evaluation of a representation: a linear probe (multinomial logistic regression
 * with L2, trained to convergence by full-batch L-BFGS) and a k-NN classifier (k = 20, cosine
 * similarity, InstDisc's temperature-weighted vote), both on features computed once.
 *
 * Protocol (spec-notes "Linear probe"): features are frozen and computed once; the classifier is fit
 * on the training split; accuracy (overall and per class) and a confusion matrix are reported on the
 * held-out split.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, ShapeError, formatShape } from '../errors.js';
import { Module } from '../module/module.js';
import { matmul } from '../ops/matmul.js';
import { Rng } from '../rng.js';
import { checkChoice, checkInt, checkNumber } from '../data/options.js';

/** Anything that maps a batch of inputs `[b, ...]` to features `[b, D]`: a function or a Module with `forward`. */
export type Encoder = ((x: tf.Tensor) => tf.Tensor) | (Module & { forward(x: tf.Tensor): tf.Tensor });

/** Inputs `[N, ...]` (a tensor, or host `{data, shape}`) with one integer class label each. */
export interface LabelledSet {
  inputs: tf.Tensor | { data: ArrayLike<number>; shape: readonly number[] };
  labels: ArrayLike<number> | tf.Tensor;
}

/** A training split and a held-out split (e.g. what `ImageArrayDataset.split` returns). */
export interface LabelledSplits {
  train: LabelledSet;
  test: LabelledSet;
}

/** Features `[n, dim]` on the host, row-major. */
export interface Features {
  data: Float32Array;
  n: number;
  dim: number;
}

/** Accuracy of a classifier on the held-out split. */
export interface ClassificationReport {
  /** Fraction of held-out items classified correctly. */
  accuracy: number;
  /** Accuracy within each true class (NaN for a class with no held-out item). */
  perClassAccuracy: number[];
  /** `confusion[true][predicted]` counts over the held-out split. */
  confusion: number[][];
  /** Held-out items. */
  n: number;
  numClasses: number;
}

function isModuleEncoder(e: unknown): e is Module & { forward(x: tf.Tensor): tf.Tensor } {
  return e instanceof Module && typeof (e as { forward?: unknown }).forward === 'function';
}

async function readLabels(fn: string, arg: string, labels: LabelledSet['labels'], n: number): Promise<Int32Array> {
  const raw = labels instanceof tf.Tensor ? await labels.data() : labels;
  if (raw === null || typeof raw !== 'object' || typeof (raw as ArrayLike<number>).length !== 'number') {
    throw new BrickConfigError(`${fn}: ${arg}.labels must be an array or a tensor of class indices, got ${String(raw)}`);
  }
  if (raw.length !== n) throw new BrickConfigError(`${fn}: ${arg}.labels must hold one label per input (${n}), got ${raw.length}`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(raw[i]);
    if (!Number.isInteger(v) || v < 0) throw new BrickConfigError(`${fn}: ${arg}.labels must be integers >= 0, got ${raw[i]} at index ${i}`);
    out[i] = v;
  }
  return out;
}

/**
 * Runs `encoder` over `inputs` in batches (each inside `tf.tidy`) and gathers the features on the
 * host. A Module encoder is put in eval mode for the pass and restored afterwards. Features of rank
 * other than 2 are an error (flatten or pool inside the encoder).
 */
export async function extractFeatures(encoder: Encoder, inputs: LabelledSet['inputs'], options: { batchSize?: number } = {}, fn = 'extractFeatures'): Promise<Features> {
  const batchSize = checkInt(fn, 'batchSize', options.batchSize ?? 256, 1);
  const run: (x: tf.Tensor) => tf.Tensor = isModuleEncoder(encoder) ? (x) => encoder.forward(x)
    : typeof encoder === 'function' ? encoder
      : (() => { throw new BrickConfigError(`${fn}: encoder must be a function (x => features) or a Module with forward, got ${String(encoder)}`); })();
  let shape: number[];
  let slice: (start: number, size: number) => tf.Tensor;
  if (inputs instanceof tf.Tensor) {
    shape = inputs.shape;
    slice = (start, size) => tf.slice(inputs, [start, ...shape.slice(1).map(() => 0)], [size, ...shape.slice(1)]);
  } else if (inputs !== null && typeof inputs === 'object' && Array.isArray(inputs.shape) && inputs.data !== undefined) {
    shape = [...inputs.shape];
    const per = shape.slice(1).reduce((a, b) => a * b, 1);
    if (inputs.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new BrickConfigError(`${fn}: inputs.data holds ${inputs.data.length} values, shape ${formatShape(shape)} needs ${shape.reduce((a, b) => a * b, 1)}`);
    }
    const data = inputs.data instanceof Float32Array ? inputs.data : Float32Array.from(inputs.data);
    slice = (start, size) => tf.tensor(data.subarray(start * per, (start + size) * per), [size, ...shape.slice(1)], 'float32');
  } else {
    throw new BrickConfigError(`${fn}: inputs must be a tensor [N, ...] or {data, shape}, got ${String(inputs)}`);
  }
  if (shape.length < 1 || shape[0] < 1) throw new ShapeError(`${fn}: inputs must be [N, ...] with N >= 1, got ${formatShape(shape)}`);
  const n = shape[0];
  const wasTraining = encoder instanceof Module ? encoder.training : false;
  if (encoder instanceof Module) encoder.eval();
  try {
    let out: Float32Array | undefined;
    let dim = 0;
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const f = tf.tidy(() => run(slice(start, size)));
      try {
        if (f.rank !== 2 || f.shape[0] !== size) {
          throw new ShapeError(`${fn}: the encoder must return features [${size}, D] for a batch of ${size}, got ${formatShape(f.shape)} (flatten or pool inside the encoder)`);
        }
        if (!out) {
          dim = f.shape[1] as number;
          out = new Float32Array(n * dim);
        } else if (f.shape[1] !== dim) {
          throw new ShapeError(`${fn}: the encoder returned ${f.shape[1]} features for a later batch, ${dim} for the first`);
        }
        out.set(await f.data() as Float32Array, start * dim);
      } finally {
        f.dispose();
      }
    }
    return { data: out as Float32Array, n, dim };
  } finally {
    if (encoder instanceof Module) encoder.train(wasTraining);
  }
}

/** Accuracy, per-class accuracy and confusion matrix of `predicted` against `truth`. */
export function classificationReport(truth: ArrayLike<number>, predicted: ArrayLike<number>, numClasses: number): ClassificationReport {
  const fn = 'classificationReport';
  checkInt(fn, 'numClasses', numClasses, 1);
  if (truth.length !== predicted.length) throw new BrickConfigError(`${fn}: truth has ${truth.length} labels, predicted ${predicted.length}`);
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = predicted[i];
    if (!(Number.isInteger(t) && t >= 0 && t < numClasses && Number.isInteger(p) && p >= 0 && p < numClasses)) {
      throw new BrickConfigError(`${fn}: labels must be integers in [0, ${numClasses - 1}], got truth ${t} and prediction ${p} at index ${i}`);
    }
    confusion[t][p]++;
    if (t === p) correct++;
  }
  const perClassAccuracy = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? Number.NaN : row[c] / total;
  });
  return { accuracy: truth.length ? correct / truth.length : Number.NaN, perClassAccuracy, confusion, n: truth.length, numClasses };
}

// ---------------------------------------------------------------------------------------------
// Logistic regression

/** Options of {@link fitLogisticRegression} and {@link linearProbe}. */
export interface LogisticRegressionOptions {
  /**
   * L2 penalty λ on the weights (not the bias), on the mean-loss scale: loss = mean cross-entropy +
   * (λ/2)·‖W‖². Default 1e-3 (scikit-learn's default C = 1 for 1,000 training items). A list of
   * values is searched: each is fit on a seeded stratified 80 % of the training split and scored on
   * the other 20 %; the best (ties to the larger λ) is refit on the whole split.
   */
  l2?: number | readonly number[];
  /** Largest number of L-BFGS iterations (default 1000). */
  maxIter?: number;
  /** Stop when the largest absolute gradient entry is at most this (default 1e-4). */
  gradTol?: number;
  /** Or when an iteration lowers the loss by less than this relative amount (default 1e-7, near float32 resolution). */
  lossTol?: number;
  /** L-BFGS memory (default 10). */
  history?: number;
  /** Standardise each feature with the training split's mean and standard deviation first (default true). */
  standardize?: boolean;
  /** Seed of the validation split when `l2` is a list (default 0). */
  seed?: number;
}

/** A fitted multinomial logistic regression and how its optimisation ended. */
export interface LogisticRegressionFit {
  /** `[dim, numClasses]` row-major, acting on standardised features. */
  weight: Float32Array;
  bias: Float32Array;
  /** Per-feature mean and standard deviation used to standardise (0 and 1 when `standardize` is false). */
  mean: Float32Array;
  std: Float32Array;
  dim: number;
  numClasses: number;
  l2: number;
  /** L-BFGS iterations run. */
  iterations: number;
  /** Final training loss (mean cross-entropy + L2 term). */
  loss: number;
  /** Largest absolute gradient entry at the end. */
  gradNorm: number;
  /** Whether a stopping tolerance was met (false: `maxIter` reached or the line search found no decrease). */
  converged: boolean;
  /** `'gradient'`, `'loss'`, `'maxIter'` or `'lineSearch'`. */
  stop: 'gradient' | 'loss' | 'maxIter' | 'lineSearch';
}

function standardiser(f: Features, on: boolean): { mean: Float32Array; std: Float32Array } {
  const mean = new Float32Array(f.dim);
  const std = new Float32Array(f.dim).fill(1);
  if (!on) return { mean, std };
  const m = new Float64Array(f.dim);
  const v = new Float64Array(f.dim);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.dim; j++) m[j] += f.data[i * f.dim + j];
  for (let j = 0; j < f.dim; j++) m[j] /= f.n;
  for (let i = 0; i < f.n; i++) {
    for (let j = 0; j < f.dim; j++) {
      const d = f.data[i * f.dim + j] - m[j];
      v[j] += d * d;
    }
  }
  for (let j = 0; j < f.dim; j++) {
    mean[j] = m[j];
    const s = Math.sqrt(v[j] / f.n);
    std[j] = s > 1e-6 ? s : 1; // constant features stay 0 after centring
  }
  return { mean, std };
}

function applyStandardiser(f: Features, mean: Float32Array, std: Float32Array): Float32Array {
  const out = new Float32Array(f.data.length);
  for (let i = 0; i < f.n; i++) for (let j = 0; j < f.dim; j++) out[i * f.dim + j] = (f.data[i * f.dim + j] - mean[j]) / std[j];
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

async function fitOne(x: tf.Tensor2D, y: tf.Tensor2D, dim: number, k: number, l2: number, o: Required<Omit<LogisticRegressionOptions, 'l2' | 'standardize' | 'seed'>>):
  Promise<{ theta: Float64Array; iterations: number; loss: number; gradNorm: number; converged: boolean; stop: LogisticRegressionFit['stop'] }> {
  const nw = dim * k;
  const xT = tf.transpose(x); // [dim, n], made once: every gradient is a plain product
  // Loss and gradient at θ = [W (dim·k, row-major), b (k)], computed on the device in float32.
  const evaluate = async (theta: Float64Array): Promise<{ f: number; g: Float64Array }> => {
    const [loss, gw, gb] = tf.tidy(() => {
      const w = tf.tensor2d(Float32Array.from(theta.subarray(0, nw)), [dim, k]);
      const b = tf.tensor1d(Float32Array.from(theta.subarray(nw)));
      const logits = tf.add(matmul(x, w), b); // [n, k]
      const lse = tf.logSumExp(logits, 1); // [n]
      const ce = tf.mean(tf.sub(lse, tf.sum(tf.mul(y, logits), 1)));
      const total = tf.add(ce, tf.mul(0.5 * l2, tf.sum(tf.square(w))));
      const resid = tf.div(tf.sub(tf.exp(tf.sub(logits, tf.expandDims(lse, 1))), y), x.shape[0]); // (P − Y)/n
      const gradW = tf.add(matmul(xT, resid), tf.mul(l2, w)); // [dim, k]
      return [total, gradW, tf.sum(resid, 0)];
    });
    const [lv, gwv, gbv] = await Promise.all([loss.data(), gw.data(), gb.data()]);
    tf.dispose([loss, gw, gb]);
    const g = new Float64Array(nw + k);
    g.set(gwv);
    g.set(gbv, nw);
    return { f: lv[0], g };
  };
  try {
    return await lbfgs(evaluate, nw + k, o);
  } finally {
    xT.dispose();
  }
}

/** Minimises `evaluate` from θ = 0 with L-BFGS and a backtracking Armijo line search. */
async function lbfgs(evaluate: (theta: Float64Array) => Promise<{ f: number; g: Float64Array }>, size: number,
  o: Required<Omit<LogisticRegressionOptions, 'l2' | 'standardize' | 'seed'>>):
  Promise<{ theta: Float64Array; iterations: number; loss: number; gradNorm: number; converged: boolean; stop: LogisticRegressionFit['stop'] }> {
  let theta = new Float64Array(size);
  let { f, g } = await evaluate(theta);
  const ss: Float64Array[] = [];
  const ys: Float64Array[] = [];
  let it = 0;
  let stop: LogisticRegressionFit['stop'] = 'maxIter';
  for (; it < o.maxIter; it++) {
    if (maxAbs(g) <= o.gradTol) {
      stop = 'gradient';
      break;
    }
    // Two-loop recursion: d = −H·g.
    const q = Float64Array.from(g);
    const alpha: number[] = [];
    for (let i = ss.length - 1; i >= 0; i--) {
      const a = dot(ss[i], q) / dot(ys[i], ss[i]);
      alpha[i] = a;
      for (let j = 0; j < q.length; j++) q[j] -= a * ys[i][j];
    }
    const gamma = ss.length ? dot(ss[ss.length - 1], ys[ys.length - 1]) / dot(ys[ys.length - 1], ys[ys.length - 1]) : 1 / Math.max(1, maxAbs(g));
    for (let j = 0; j < q.length; j++) q[j] *= gamma;
    for (let i = 0; i < ss.length; i++) {
      const b = dot(ys[i], q) / dot(ys[i], ss[i]);
      for (let j = 0; j < q.length; j++) q[j] += ss[i][j] * (alpha[i] - b);
    }
    let d = q.map((v) => -v);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      ss.length = 0;
      ys.length = 0;
      d = g.map((v) => -v / Math.max(1, maxAbs(g)));
      slope = dot(g, d);
    }
    // Backtracking line search with the Armijo condition.
    let t = 1;
    let next: { f: number; g: Float64Array } | undefined;
    let cand = theta;
    for (let tries = 0; tries < 40; tries++) {
      cand = theta.map((v, j) => v + t * d[j]);
      const e = await evaluate(cand);
      if (Number.isFinite(e.f) && e.f <= f + 1e-4 * t * slope) {
        next = e;
        break;
      }
      t /= 2;
    }
    if (!next) {
      stop = 'lineSearch';
      break;
    }
    const s = cand.map((v, j) => v - theta[j]);
    const yv = next.g.map((v, j) => v - g[j]);
    if (dot(s, yv) > 1e-12) {
      ss.push(s);
      ys.push(yv);
      if (ss.length > o.history) {
        ss.shift();
        ys.shift();
      }
    }
    const drop = f - next.f;
    theta = cand;
    f = next.f;
    g = next.g;
    if (drop <= o.lossTol * Math.max(1, Math.abs(f))) {
      it++;
      stop = maxAbs(g) <= o.gradTol ? 'gradient' : 'loss';
      break;
    }
  }
  return { theta, iterations: it, loss: f, gradNorm: maxAbs(g), converged: stop === 'gradient' || stop === 'loss', stop };
}

function resolveLogistic(fn: string, options: LogisticRegressionOptions) {
  const l2s = Array.isArray(options.l2) ? [...options.l2] : [options.l2 ?? 1e-3];
  if (l2s.length === 0 || !l2s.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new BrickConfigError(`${fn}: l2 must be a number >= 0 or a non-empty list of them, got ${JSON.stringify(options.l2)}`);
  }
  return {
    l2s,
    maxIter: checkInt(fn, 'maxIter', options.maxIter ?? 1000, 1),
    gradTol: checkNumber(fn, 'gradTol', options.gradTol ?? 1e-4, 0, 1),
    lossTol: checkNumber(fn, 'lossTol', options.lossTol ?? 1e-7, 0, 1),
    history: checkInt(fn, 'history', options.history ?? 10, 1, 100),
    standardize: checkChoice(fn, 'standardize', options.standardize ?? true, [true, false] as const),
    seed: checkNumber(fn, 'seed', options.seed ?? 0, -Number.MAX_VALUE, Number.MAX_VALUE),
  };
}

function checkFeatures(fn: string, arg: string, f: Features): void {
  if (f === null || typeof f !== 'object' || !(f.data instanceof Float32Array) || !Number.isInteger(f.n) || !Number.isInteger(f.dim)
    || f.n < 1 || f.dim < 1 || f.data.length !== f.n * f.dim) {
    throw new BrickConfigError(`${fn}: ${arg} must be {data: Float32Array of n·dim, n >= 1, dim >= 1}, got ${f === null || typeof f !== 'object' ? String(f) : `n ${f.n}, dim ${f.dim}, ${f.data?.length} values`}`);
  }
}

function rows(f: Features, idx: number[]): Features {
  const data = new Float32Array(idx.length * f.dim);
  idx.forEach((i, k) => data.set(f.data.subarray(i * f.dim, (i + 1) * f.dim), k * f.dim));
  return { data, n: idx.length, dim: f.dim };
}

async function fitWithL2(f: Features, labels: Int32Array, k: number, l2: number, r: ReturnType<typeof resolveLogistic>): Promise<LogisticRegressionFit> {
  const { mean, std } = standardiser(f, r.standardize);
  const xs = applyStandardiser(f, mean, std);
  const x = tf.tensor2d(xs, [f.n, f.dim]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), k).toFloat()) as tf.Tensor2D;
  try {
    const res = await fitOne(x, y, f.dim, k, l2, r);
    return {
      weight: Float32Array.from(res.theta.subarray(0, f.dim * k)), bias: Float32Array.from(res.theta.subarray(f.dim * k)),
      mean, std, dim: f.dim, numClasses: k, l2,
      iterations: res.iterations, loss: res.loss, gradNorm: res.gradNorm, converged: res.converged, stop: res.stop,
    };
  } finally {
    tf.dispose([x, y]);
  }
}

/** Class predictions of a fitted logistic regression for features `[n, dim]`. */
export async function predictLogisticRegression(fit: LogisticRegressionFit, features: Features): Promise<Int32Array> {
  checkFeatures('predictLogisticRegression', 'features', features);
  if (features.dim !== fit.dim) throw new ShapeError(`predictLogisticRegression: features have dim ${features.dim}, the fit expects ${fit.dim}`);
  const xs = applyStandardiser(features, fit.mean, fit.std);
  const pred = tf.tidy(() => tf.argMax(tf.add(matmul(tf.tensor2d(xs, [features.n, fit.dim]), tf.tensor2d(fit.weight, [fit.dim, fit.numClasses])), tf.tensor1d(fit.bias)), 1));
  const out = Int32Array.from(await pred.data());
  pred.dispose();
  return out;
}

/**
 * Fits a multinomial logistic regression with L2 on fixed features by full-batch L-BFGS
 * (backtracking Armijo line search, memory 10), from zero weights, until the largest gradient entry
 * is ≤ `gradTol` or an iteration lowers the loss by less than `lossTol` (relative), at most `maxIter`
 * iterations. The result says which criterion stopped it, the iterations and the final loss.
 */
export async function fitLogisticRegression(features: Features, labels: ArrayLike<number>, numClasses: number, options: LogisticRegressionOptions = {}): Promise<LogisticRegressionFit & { l2Search?: Array<{ l2: number; validationAccuracy: number }> }> {
  const fn = 'fitLogisticRegression';
  checkFeatures(fn, 'features', features);
  checkInt(fn, 'numClasses', numClasses, 2);
  const lab = await readLabels(fn, 'train', labels, features.n);
  for (let i = 0; i < lab.length; i++) {
    if (lab[i] >= numClasses) throw new BrickConfigError(`${fn}: labels must be in [0, ${numClasses - 1}], got ${lab[i]} at index ${i}`);
  }
  const r = resolveLogistic(fn, options);
  if (r.l2s.length === 1) return fitWithL2(features, lab, numClasses, r.l2s[0], r);
  // Validation search over λ on a stratified 80/20 split of the training features.
  const rng = new Rng(r.seed).fork();
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  lab.forEach((l, i) => byClass[l].push(i));
  const fitIdx: number[] = [];
  const valIdx: number[] = [];
  for (const members of byClass) {
    const perm = rng.permutation(members.length);
    const nVal = Math.round(0.2 * members.length);
    perm.forEach((p, j) => (j < nVal ? valIdx : fitIdx).push(members[p]));
  }
  if (valIdx.length === 0 || fitIdx.length === 0) throw new BrickConfigError(`${fn}: too few training items (${lab.length}) to search l2 on a validation split`);
  const search: Array<{ l2: number; validationAccuracy: number }> = [];
  const valFeatures = rows(features, valIdx);
  for (const l2 of r.l2s) {
    const fit = await fitWithL2(rows(features, fitIdx), Int32Array.from(fitIdx, (i) => lab[i]), numClasses, l2, r);
    const pred = await predictLogisticRegression(fit, valFeatures);
    let ok = 0;
    valIdx.forEach((i, k) => { if (pred[k] === lab[i]) ok++; });
    search.push({ l2, validationAccuracy: ok / valIdx.length });
  }
  const best = search.reduce((a, b) => (b.validationAccuracy > a.validationAccuracy || (b.validationAccuracy === a.validationAccuracy && b.l2 > a.l2) ? b : a));
  return { ...(await fitWithL2(features, lab, numClasses, best.l2, r)), l2Search: search };
}

// ---------------------------------------------------------------------------------------------
// k-NN

/** Options of {@link knnClassify} and {@link knnEval}. */
export interface KnnOptions {
  /** Neighbours (default 20). */
  k?: number;
  /**
   * `'weighted'` (default): each of the k nearest training items votes for its class with weight
   * exp(cos/τ), as in InstDisc (Wu et al. 2018) and DINO's k-NN; `'majority'`: one vote each. Ties go
   * to the lower class index.
   */
  vote?: 'weighted' | 'majority';
  /** τ of the weighted vote (default 0.07). */
  temperature?: number;
  /** Held-out rows per similarity block (default 256; bounds memory at block × N_train floats). */
  blockSize?: number;
}

/** Predicts classes of `query` features from their k nearest `train` features by cosine similarity. */
export async function knnClassify(train: Features, trainLabels: ArrayLike<number>, query: Features, numClasses: number, options: KnnOptions = {}): Promise<Int32Array> {
  const fn = 'knnClassify';
  checkFeatures(fn, 'train', train);
  checkFeatures(fn, 'query', query);
  if (train.dim !== query.dim) throw new ShapeError(`${fn}: train features have dim ${train.dim}, query features ${query.dim}`);
  checkInt(fn, 'numClasses', numClasses, 1);
  const k = checkInt(fn, 'k', options.k ?? 20, 1, train.n);
  const vote = checkChoice(fn, 'vote', options.vote ?? 'weighted', ['weighted', 'majority'] as const);
  const tau = checkNumber(fn, 'temperature', options.temperature ?? 0.07, 1e-6, 1e6);
  const block = checkInt(fn, 'blockSize', options.blockSize ?? 256, 1);
  const lab = await readLabels(fn, 'train', trainLabels, train.n);
  for (let i = 0; i < lab.length; i++) {
    if (lab[i] >= numClasses) throw new BrickConfigError(`${fn}: train labels must be in [0, ${numClasses - 1}], got ${lab[i]} at index ${i}`);
  }
  const unit = (t: tf.Tensor2D) => tf.div(t, tf.maximum(tf.norm(t, 'euclidean', 1, true), 1e-12));
  const bank = tf.tidy(() => unit(tf.tensor2d(train.data, [train.n, train.dim])));
  const out = new Int32Array(query.n);
  try {
    for (let start = 0; start < query.n; start += block) {
      const size = Math.min(block, query.n - start);
      const { values, indices } = tf.tidy(() => {
        const q = unit(tf.tensor2d(query.data.subarray(start * query.dim, (start + size) * query.dim), [size, query.dim]));
        return tf.topk(matmul(q, bank, false, true), k, true); // cosine similarities [size, N_train] → top k
      });
      const [sims, idx] = await Promise.all([values.data(), indices.data()]);
      tf.dispose([values, indices]);
      const score = new Float64Array(numClasses);
      for (let r = 0; r < size; r++) {
        score.fill(0);
        for (let j = 0; j < k; j++) score[lab[idx[r * k + j]]] += vote === 'weighted' ? Math.exp(sims[r * k + j] / tau) : 1;
        let best = 0;
        for (let c = 1; c < numClasses; c++) if (score[c] > score[best]) best = c;
        out[start + r] = best;
      }
    }
  } finally {
    bank.dispose();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Evaluators that take an encoder

/** Options of {@link linearProbe}. */
export interface LinearProbeOptions extends LogisticRegressionOptions {
  /** Inputs per encoder call (default 256). */
  batchSize?: number;
  /** Number of classes (default: largest label in either split + 1). */
  numClasses?: number;
}

/** What {@link linearProbe} returns: held-out accuracy and how the regression converged. */
export interface LinearProbeResult extends ClassificationReport {
  /** Accuracy on the training split. */
  trainAccuracy: number;
  /** Feature dimension. */
  dim: number;
  /** The fitted regression (weights, λ, iterations, final loss, stop reason). */
  fit: LogisticRegressionFit & { l2Search?: Array<{ l2: number; validationAccuracy: number }> };
}

/** What {@link knnEval} returns. */
export interface KnnResult extends ClassificationReport {
  k: number;
  vote: 'weighted' | 'majority';
  temperature: number;
  dim: number;
}

async function prepare(fn: string, encoder: Encoder, data: LabelledSplits, batchSize: number | undefined, numClasses: number | undefined) {
  if (data === null || typeof data !== 'object' || !data.train || !data.test) {
    throw new BrickConfigError(`${fn}: data must be {train, test}, each {inputs, labels} (e.g. dataset.split(0.2, seed)), got ${String(data)}`);
  }
  const trainF = await extractFeatures(encoder, data.train.inputs, { batchSize }, fn);
  const testF = await extractFeatures(encoder, data.test.inputs, { batchSize }, fn);
  if (trainF.dim !== testF.dim) throw new ShapeError(`${fn}: the encoder gave ${trainF.dim} features on train, ${testF.dim} on test`);
  const trainY = await readLabels(fn, 'train', data.train.labels, trainF.n);
  const testY = await readLabels(fn, 'test', data.test.labels, testF.n);
  let maxLabel = 0;
  for (const l of trainY) maxLabel = Math.max(maxLabel, l);
  for (const l of testY) maxLabel = Math.max(maxLabel, l);
  const k = numClasses === undefined ? maxLabel + 1 : checkInt(fn, 'numClasses', numClasses, 2);
  if (maxLabel >= k) throw new BrickConfigError(`${fn}: labels go up to ${maxLabel}, numClasses is ${k}`);
  return { trainF, testF, trainY, testY, k };
}

/**
 * Linear probe: computes the encoder's features on both splits once (batched, each batch in
 * `tf.tidy`; a Module is run in eval mode), fits {@link fitLogisticRegression} on the training split
 * and reports accuracy overall and per class and the confusion matrix on the held-out split.
 * @example
 * const res = await linearProbe((x) => encoder.forward(x), data.split(0.2, 0));
 * console.log(res.accuracy, res.fit.iterations, res.fit.loss, res.fit.converged);
 */
export async function linearProbe(encoder: Encoder, data: LabelledSplits, options: LinearProbeOptions = {}): Promise<LinearProbeResult> {
  const { trainF, testF, trainY, testY, k } = await prepare('linearProbe', encoder, data, options.batchSize, options.numClasses);
  return probeFeatures(trainF, trainY, testF, testY, k, options);
}

/** The linear probe on features already computed (see {@link linearProbe}). */
export async function probeFeatures(trainF: Features, trainY: ArrayLike<number>, testF: Features, testY: ArrayLike<number>, numClasses: number, options: LogisticRegressionOptions = {}): Promise<LinearProbeResult> {
  const fit = await fitLogisticRegression(trainF, trainY, numClasses, options);
  const trainPred = await predictLogisticRegression(fit, trainF);
  let ok = 0;
  for (let i = 0; i < trainF.n; i++) if (trainPred[i] === trainY[i]) ok++;
  const report = classificationReport(testY, await predictLogisticRegression(fit, testF), numClasses);
  return { ...report, trainAccuracy: ok / trainF.n, dim: trainF.dim, fit };
}

/**
 * k-NN evaluation: features on both splits computed once, each held-out item classified by its
 * k = 20 (default) nearest training items by cosine similarity with InstDisc's weighted vote
 * (τ = 0.07; see {@link KnnOptions}); accuracy overall and per class and the confusion matrix.
 */
export async function knnEval(encoder: Encoder, data: LabelledSplits, options: KnnOptions & { batchSize?: number; numClasses?: number } = {}): Promise<KnnResult> {
  const { trainF, testF, trainY, testY, k } = await prepare('knnEval', encoder, data, options.batchSize, options.numClasses);
  const pred = await knnClassify(trainF, trainY, testF, k, options);
  return {
    ...classificationReport(testY, pred, k), k: options.k ?? 20, vote: options.vote ?? 'weighted', temperature: options.temperature ?? 0.07, dim: trainF.dim,
  };
}

/**
 * Both evaluations from one feature pass: `{ probe, knn }` (see {@link linearProbe} and {@link knnEval}).
 */
export async function evaluateRepresentation(encoder: Encoder, data: LabelledSplits, options: { probe?: LogisticRegressionOptions; knn?: KnnOptions; batchSize?: number; numClasses?: number } = {}): Promise<{ probe: LinearProbeResult; knn: KnnResult }> {
  const { trainF, testF, trainY, testY, k } = await prepare('evaluateRepresentation', encoder, data, options.batchSize, options.numClasses);
  const probe = await probeFeatures(trainF, trainY, testF, testY, k, options.probe);
  const pred = await knnClassify(trainF, trainY, testF, k, options.knn);
  const o = options.knn ?? {};
  return { probe, knn: { ...classificationReport(testY, pred, k), k: o.k ?? 20, vote: o.vote ?? 'weighted', temperature: o.temperature ?? 0.07, dim: trainF.dim } };
}
