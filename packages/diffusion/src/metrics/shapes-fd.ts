/**
 * `shapesFD`: the Fréchet distance between generated images and held-out real `shapes` images in
 * the feature space of the bundled {@link ShapesClassifier} (not "FID": the features come from a
 * small network trained on this data set's labels, and the numbers only compare models on it).
 *
 * Every report carries two references computed with the same number of images: real-vs-real
 * (two disjoint held-out sets: the floor a perfect generator reaches at this n) and noise-vs-real
 * (N(0, 1) pixels clipped to [−1, 1]: what an untrained generator scores).
 *
 * One number over all classes cannot see a class that is ignored or collapses, so with the class
 * each sample was asked for, {@link ShapesFD.evaluate} also reports per class
 * ({@link ShapesFDClassReport}): the classifier's shape accuracy against the requested class, the
 * shapesFD of that class's samples against real images of that class (with its own real-vs-real
 * floor at the same n), and brightness/coverage figures beside those of the real images — a class
 * drawn as near-empty frames shows up there even when the classifier still names it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKGROUND_LEVEL, BrickConfigError, Rng, SHAPE_NAMES, ShapeError, formatShape, load, renderShapes, shapes, type ShapeLabels } from '@brickml/core';
import { featureStats, frechetDistance, type FeatureStats } from './frechet.js';
import { ShapesClassifier } from './shapes-classifier.js';

/** Seed of the held-out real set samples are compared with (set A). */
export const SHAPES_FD_REAL_SEED = 2_000_003;
/** Seed of the second held-out real set (set B, for the real-vs-real reference). */
export const SHAPES_FD_REAL_SEED_B = 2_000_017;
/** Real images of one class that the per-class shapesFD compares a class's samples with (more when there are more samples). */
export const SHAPES_FD_CLASS_REFERENCE_N = 1000;
/** Seed of the noise reference images. */
export const SHAPES_FD_NOISE_SEED = 2_000_029;

/** A shapesFD result with its references. */
export interface ShapesFDReport {
  /** FD between the samples and held-out real images. */
  shapesFD: number;
  /** FD between two disjoint held-out real sets of the same size (the floor at this n). */
  realVsReal: number;
  /** FD between clipped Gaussian noise images and the real set (an untrained generator). */
  noiseVsReal: number;
  /** Images per set. */
  n: number;
  /** Image side. */
  size: number;
  /**
   * Figures per class (given the class each sample was asked for, or grouped by the classifier's
   * prediction for an unconditional model); see {@link ShapesFDClassReport}.
   */
  perClass?: ShapesFDClassReport[];
}

/** shapesFD and pixel figures of the samples of one class (see {@link ShapesFD.evaluate}). */
export interface ShapesFDClassReport {
  /** Class id (0 circle, 1 square, 2 triangle). */
  class: number;
  /** Class name. */
  name: string;
  /** Samples of this class (asked for it; or, grouped by prediction, classified as it). */
  n: number;
  /**
   * Share of this class's samples that the classifier calls this shape; null when the samples are
   * grouped by the classifier's prediction (an unconditional model: there is no requested class).
   */
  accuracy: number | null;
  /** Share of this class's samples the classifier assigns to each shape, indexed by class. */
  predicted: number[];
  /** The classifier's accuracy on the real images of this class (the ceiling of `accuracy`). */
  realAccuracy: number;
  /**
   * FD between this class's samples and {@link SHAPES_FD_CLASS_REFERENCE_N} held-out real images of
   * this class (NaN if n < 2). With few samples it is noisy and biased upwards: compare it with
   * `realVsReal`, not with the overall shapesFD.
   */
  shapesFD: number;
  /** FD between `n` other real images of this class and the same reference: the floor at this n. */
  realVsReal: number;
  /** Mean pixel value of the samples (in [−1, 1]; the dark background is −0.84). */
  meanPixel: number;
  /** Mean pixel value of the real images of this class (the reference set). */
  realMeanPixel: number;
  /**
   * Share of pixels that differ from the plain background (some channel more than
   * {@link COVERAGE_THRESHOLD} away from it): about the area the shape covers.
   */
  coverage: number;
  /** The same share on the real images of this class. */
  realCoverage: number;
}

/** The background of `shapes` images in [−1, 1] (core's BACKGROUND_LEVEL, dark grey). */
export const SHAPES_BACKGROUND = 2 * BACKGROUND_LEVEL - 1;
/** A pixel counts as covered when some channel is more than this far (in [−1, 1] units) from the background. */
export const COVERAGE_THRESHOLD = 0.2;

/** Image sides shapesFD measures: 16, 32 and 64 (64 px: see {@link shapesImages}). */
export type ShapesFDSize = 16 | 32 | 64;

/**
 * `n` held-out `shapes` images `[n, 3, size, size]` in [−1, 1] (host) with their labels, drawn with
 * `fixedSplit(n, seed)` (optionally of some `classes` only). The `shapes` stream draws 16 or 32 px;
 * at 64 px the labels of the 32-px set are rendered at 64 px (`renderShapes`), so the three sizes
 * share positions, sizes and colours.
 */
export function shapesImages(size: ShapesFDSize, n: number, seed: number, classes?: number[]): { images: Float32Array; shape: [number, number, number, number]; labels: ShapeLabels } {
  if (size !== 16 && size !== 32 && size !== 64) throw new RangeError(`shapesImages: size must be 16, 32 or 64, got ${String(size)}`);
  const s = shapes({ size: size === 64 ? 32 : size, batchSize: 1, seed: 0, ...(classes ? { classes } : {}) }).fixedSplit(n, seed);
  if (size !== 64) return { images: s.images, shape: s.shape as [number, number, number, number], labels: s.labels };
  return { images: renderShapes(s.labels, { size: 64 }), shape: [n, 3, 64, 64], labels: s.labels };
}

/**
 * Mean pixel value and coverage (share of pixels with some channel more than
 * {@link COVERAGE_THRESHOLD} from the `shapes` background) of images `[n, C, H, W]` on the host,
 * over the images listed in `indices` (default all). NaN for no images.
 */
export function pixelFigures(data: ArrayLike<number>, shape: readonly number[], indices?: ArrayLike<number>): { meanPixel: number; coverage: number } {
  if (shape.length !== 4) throw new ShapeError(`pixelFigures: images must be [n, C, H, W], got ${formatShape(shape)}`);
  const [n, c, h, w] = shape;
  const plane = h * w;
  const per = c * plane;
  if (data.length !== n * per) throw new ShapeError(`pixelFigures: data holds ${data.length} values, shape ${formatShape(shape)} needs ${n * per}`);
  const list = indices ?? Array.from({ length: n }, (_, i) => i);
  let sum = 0, covered = 0;
  for (let k = 0; k < list.length; k++) {
    const base = list[k] * per;
    for (let p = 0; p < plane; p++) {
      let far = false;
      for (let ch = 0; ch < c; ch++) {
        const v = data[base + ch * plane + p];
        sum += v;
        if (Math.abs(v - SHAPES_BACKGROUND) > COVERAGE_THRESHOLD) far = true;
      }
      if (far) covered++;
    }
  }
  const m = list.length;
  return m === 0 ? { meanPixel: NaN, coverage: NaN } : { meanPixel: sum / (m * per), coverage: covered / (m * plane) };
}

/** Options of {@link ShapesFD.evaluate}. */
export interface ShapesFDEvaluateOptions {
  /**
   * The class each sample was asked for (`n` ids), to report {@link ShapesFDReport.perClass}; or
   * `'predicted'` to group the samples by the classifier's shape prediction (unconditional models).
   * Default: no per-class figures.
   */
  classes?: ArrayLike<number> | 'predicted';
}

/** Where the shipped classifier lives: `assets/shapes-classifier` of this package. */
export async function defaultClassifierDir(): Promise<string> {
  const { fileURLToPath } = await import('node:url');
  const { existsSync } = await import('node:fs');
  const { join, dirname } = await import('node:path');
  const candidates: string[] = [];
  try {
    candidates.push(fileURLToPath(new URL('../../assets/shapes-classifier', import.meta.url)));
  } catch {
    /* not a file URL (bundled) */
  }
  try {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url).resolve('@brickml/diffusion/package.json');
    candidates.push(join(dirname(pkg), 'assets', 'shapes-classifier'));
  } catch {
    /* not resolvable from here */
  }
  candidates.push(join(process.cwd(), 'assets', 'shapes-classifier'), join(process.cwd(), 'packages', 'diffusion', 'assets', 'shapes-classifier'));
  const found = candidates.find((d) => existsSync(join(d, 'model.safetensors')));
  if (!found) throw new BrickConfigError(`shapesFD: cannot find the shipped classifier; looked in ${candidates.join(', ')}`);
  return found;
}

/**
 * Computes shapesFD with a loaded classifier. Create it with {@link ShapesFD.load}.
 * Real and noise reference statistics are cached per (size, n).
 */
export class ShapesFD {
  private readonly cache = new Map<string, { realA: FeatureStats; realVsReal: number; noiseVsReal: number }>();
  private readonly classCache = new Map<string, ClassReference>();
  private readonly classSetCache = new Map<string, Omit<ClassReference, 'realVsReal'>>();

  constructor(readonly classifier: ShapesClassifier) {
    classifier.eval();
  }

  /** Loads the shipped classifier (or one from `dir`). Node only. */
  static async load(dir?: string): Promise<ShapesFD> {
    const m = await load<ShapesClassifier>(dir ?? (await defaultClassifierDir()));
    if (!(m instanceof ShapesClassifier)) throw new BrickConfigError(`ShapesFD.load: the checkpoint is a ${(m as { typeName: string }).typeName}, expected a ShapesClassifier`);
    return new ShapesFD(m);
  }

  /** Classifier features of images `[n, 3, H, W]` (H = 16, 32 or 64, [−1, 1]) as host rows `[n, featureDim]`. */
  async features(images: tf.Tensor, batchSize = 500): Promise<{ data: Float32Array; n: number; dim: number }> {
    if (images.rank !== 4 || images.shape[1] !== 3) throw new ShapeError(`ShapesFD.features: images must be [n, 3, H, W], got ${formatShape(images.shape)}`);
    const n = images.shape[0];
    const dim = this.classifier.config.featureDim;
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i += batchSize) {
      const m = Math.min(batchSize, n - i);
      const f = tf.tidy(() => this.classifier.features(tf.slice(images, [i, 0, 0, 0], [m, -1, -1, -1])));
      out.set(await f.data(), i * dim);
      f.dispose();
    }
    return { data: out, n, dim };
  }

  /** Mean and covariance of the features of `images`. */
  async stats(images: tf.Tensor): Promise<FeatureStats> {
    const f = await this.features(images);
    return featureStats(f.data, f.n, f.dim);
  }

  private async realImages(size: ShapesFDSize, n: number, seed: number): Promise<tf.Tensor> {
    const s = shapesImages(size, n, seed);
    return tf.tensor4d(s.images, s.shape);
  }

  /** Real set A statistics and the two reference distances for `n` images of side `size`. */
  async references(size: ShapesFDSize, n: number): Promise<{ realA: FeatureStats; realVsReal: number; noiseVsReal: number }> {
    const key = `${size}/${n}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const a = await this.realImages(size, n, SHAPES_FD_REAL_SEED);
    const b = await this.realImages(size, n, SHAPES_FD_REAL_SEED_B);
    const noise = tf.tidy(() => tf.clipByValue(new Rng(SHAPES_FD_NOISE_SEED).normalTensor([n, 3, size, size]), -1, 1));
    try {
      const realA = await this.stats(a);
      const refs = {
        realA,
        realVsReal: frechetDistance(await this.stats(b), realA),
        noiseVsReal: frechetDistance(await this.stats(noise), realA),
      };
      this.cache.set(key, refs);
      return refs;
    } finally {
      tf.dispose([a, b, noise]);
    }
  }

  /**
   * shapesFD of `samples` (`[n, 3, S, S]`, S = 16, 32 or 64, in [−1, 1]) against n held-out real images, with
   * the real-vs-real and noise-vs-real references at the same n. Use n ≥ 4·featureDim.
   */
  async evaluate(samples: tf.Tensor, options: ShapesFDEvaluateOptions = {}): Promise<ShapesFDReport> {
    if (samples.rank !== 4 || samples.shape[1] !== 3 || samples.shape[2] !== samples.shape[3] || (samples.shape[2] !== 16 && samples.shape[2] !== 32 && samples.shape[2] !== 64)) {
      throw new ShapeError(`ShapesFD.evaluate: samples must be [n, 3, S, S] with S = 16, 32 or 64, got ${formatShape(samples.shape)}`);
    }
    const n = samples.shape[0];
    if (n < 2 * this.classifier.config.featureDim) {
      throw new RangeError(`ShapesFD.evaluate: need at least ${2 * this.classifier.config.featureDim} samples (2 × feature width) for a covariance, got ${n}`);
    }
    const size = samples.shape[2] as ShapesFDSize;
    const refs = await this.references(size, n);
    if (options.classes === undefined) {
      const fd = frechetDistance(await this.stats(samples), refs.realA);
      return { shapesFD: fd, realVsReal: refs.realVsReal, noiseVsReal: refs.noiseVsReal, n, size };
    }
    const out = this.classifier.forward(samples);
    try {
      const dim = this.classifier.config.featureDim;
      const [features, logits, pixels] = await Promise.all([out.features.data(), out.shapeLogits.data(), samples.data()]);
      const fd = frechetDistance(featureStats(features, n, dim), refs.realA);
      const perClass = await this.classFigures({ features, logits, pixels, shape: samples.shape, classes: options.classes });
      return { shapesFD: fd, realVsReal: refs.realVsReal, noiseVsReal: refs.noiseVsReal, n, size, perClass };
    } finally {
      tf.dispose([out.features, out.shapeLogits, out.colourLogits, out.factors]);
    }
  }

  /** Per-class figures from host features, shape logits and pixels of the samples. */
  private async classFigures(a: {
    features: ArrayLike<number>; logits: ArrayLike<number>; pixels: ArrayLike<number>; shape: readonly number[]; classes: ArrayLike<number> | 'predicted';
  }): Promise<ShapesFDClassReport[]> {
    const [n, , size] = a.shape;
    const k = this.classifier.config.numShapes;
    const dim = this.classifier.config.featureDim;
    const predicted = argmaxRows(a.logits, n, k);
    const byPrediction = a.classes === 'predicted';
    const requested = byPrediction ? predicted : a.classes as ArrayLike<number>;
    if (requested.length !== n) throw new ShapeError(`ShapesFD.evaluate: classes must hold one id per sample (${n}), got ${requested.length}`);
    for (let i = 0; i < n; i++) {
      const c = requested[i];
      if (!Number.isInteger(c) || c < 0 || c >= k) throw new RangeError(`ShapesFD.evaluate: classes must be integers in [0, ${k}), got ${c} at ${i}`);
    }
    const reports: ShapesFDClassReport[] = [];
    for (let c = 0; c < k; c++) {
      const idx: number[] = [];
      for (let i = 0; i < n; i++) if (requested[i] === c) idx.push(i);
      const m = idx.length;
      const counts = new Array<number>(k).fill(0);
      for (const i of idx) counts[predicted[i]]++;
      const rows = new Float32Array(m * dim);
      idx.forEach((i, r) => {
        for (let j = 0; j < dim; j++) rows[r * dim + j] = a.features[i * dim + j];
      });
      const ref = await this.classReferences(size as ShapesFDSize, c, m);
      const px = pixelFigures(a.pixels, a.shape, idx);
      reports.push({
        class: c,
        name: SHAPE_NAMES[c] ?? `class ${c}`,
        n: m,
        accuracy: byPrediction ? null : m > 0 ? counts[c] / m : NaN,
        predicted: counts.map((v) => (m > 0 ? v / m : NaN)),
        realAccuracy: ref.realAccuracy,
        shapesFD: m >= 2 ? frechetDistance(featureStats(rows, m, dim), ref.realA) : NaN,
        realVsReal: ref.realVsReal,
        meanPixel: px.meanPixel,
        realMeanPixel: ref.meanPixel,
        coverage: px.coverage,
        realCoverage: ref.coverage,
      });
    }
    return reports;
  }

  /**
   * References of class `c` for `n` samples: real set A of the class ({@link SHAPES_FD_CLASS_REFERENCE_N}
   * images, or n if more; seeds as the mixed sets, drawn from `shapes` restricted to the class) —
   * its feature statistics, the classifier's accuracy and the pixel figures on it — and the FD of
   * `n` images of real set B against it (the floor of the class's shapesFD at this n). Cached per
   * (size, class, n).
   */
  async classReferences(size: ShapesFDSize, c: number, n: number): Promise<ClassReference> {
    const key = `${size}/${c}/${n}`;
    const hit = this.classCache.get(key);
    if (hit) return hit;
    const refN = Math.max(n, SHAPES_FD_CLASS_REFERENCE_N);
    const setKey = `${size}/${c}/A${refN}`;
    let setA = this.classSetCache.get(setKey);
    if (!setA) {
      const sa = shapesImages(size, refN, SHAPES_FD_REAL_SEED, [c]);
      const a = tf.tensor4d(sa.images, sa.shape);
      const out = this.classifier.forward(a);
      try {
        const k = this.classifier.config.numShapes;
        const [fa, logits] = await Promise.all([out.features.data(), out.shapeLogits.data()]);
        const pred = argmaxRows(logits, refN, k);
        let ok = 0;
        for (let i = 0; i < refN; i++) if (pred[i] === c) ok++;
        setA = { realA: featureStats(fa, refN, this.classifier.config.featureDim), realAccuracy: ok / refN, ...pixelFigures(sa.images, sa.shape) };
        this.classSetCache.set(setKey, setA);
      } finally {
        tf.dispose([a, out.features, out.shapeLogits, out.colourLogits, out.factors]);
      }
    }
    let realVsReal = NaN;
    if (n >= 2) {
      const sb = shapesImages(size, n, SHAPES_FD_REAL_SEED_B, [c]);
      const b = tf.tensor4d(sb.images, sb.shape);
      try {
        realVsReal = frechetDistance(await this.stats(b), setA.realA);
      } finally {
        b.dispose();
      }
    }
    const ref: ClassReference = { ...setA, realVsReal };
    this.classCache.set(key, ref);
    return ref;
  }

  /** Shape and colour accuracy of the classifier on `n` held-out images (for the record). */
  async accuracy(size: ShapesFDSize = 16, n = 2000, seed = 777): Promise<{ shape: number; colour: number; factorRmse: number }> {
    const s = shapesImages(size, n, seed);
    const x = tf.tensor4d(s.images, s.shape);
    const o = this.classifier.forward(x);
    const [sl, cl, fa] = await Promise.all([o.shapeLogits.data(), o.colourLogits.data(), o.factors.data()]);
    tf.dispose([x, o.features, o.shapeLogits, o.colourLogits, o.factors]);
    const argmax = (v: ArrayLike<number>, i: number, k: number) => {
      let best = 0;
      for (let j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
      return best;
    };
    let shapeOk = 0, colourOk = 0, se = 0;
    const ns = this.classifier.config.numShapes, nc = this.classifier.config.numColours;
    for (let i = 0; i < n; i++) {
      if (argmax(sl, i, ns) === s.labels.shape[i]) shapeOk++;
      if (argmax(cl, i, nc) === s.labels.colour[i]) colourOk++;
      se += (fa[i * 3] - s.labels.x[i]) ** 2 + (fa[i * 3 + 1] - s.labels.y[i]) ** 2 + (fa[i * 3 + 2] - s.labels.size[i]) ** 2;
    }
    return { shape: shapeOk / n, colour: colourOk / n, factorRmse: Math.sqrt(se / (3 * n)) };
  }
}

/** Real-image references of one class (see {@link ShapesFD.classReferences}). */
export interface ClassReference {
  /** Feature statistics of real set A of the class. */
  realA: FeatureStats;
  realVsReal: number;
  realAccuracy: number;
  meanPixel: number;
  coverage: number;
}

/** Row-wise argmax of `[n, k]` values. */
function argmaxRows(v: ArrayLike<number>, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** One-call shapesFD with the shipped classifier (loaded once per process). */
let shared: Promise<ShapesFD> | null = null;
export async function shapesFD(samples: tf.Tensor, options: ShapesFDEvaluateOptions = {}): Promise<ShapesFDReport> {
  shared ??= ShapesFD.load();
  return (await shared).evaluate(samples, options);
}

/** Options of {@link formatShapesFDClassTable}. */
export interface ShapesFDClassTableOptions {
  /** Prefix of every line (default two spaces). */
  indent?: string;
}

/**
 * The per-class figures as a small text table (one header line, one line per class), flagging a
 * class whose accuracy is under 50% ("wrong shape") or whose coverage is under half ("near-empty")
 * or over twice ("over-filled") that of real images of the class, e.g.
 *
 * ```text
 * class       n  acc   called c/s/t   shapesFD (real floor)  mean px (real)   coverage (real)
 * circle     43  34%   34/50/16 %       85.3 (12.1)          -0.60 (-0.55)    21% (28%)   ← wrong shape
 * ```
 */
export function formatShapesFDClassTable(perClass: readonly ShapesFDClassReport[], options: ShapesFDClassTableOptions = {}): string {
  const ind = options.indent ?? '  ';
  const pct = (v: number | null) => (v === null ? '   -' : Number.isFinite(v) ? `${(100 * v).toFixed(0)}%`.padStart(4) : ' n/a');
  const num = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const letters = perClass.map((r) => r.name[0] ?? '?').join('/');
  const head = `${'class'.padEnd(10)} ${'n'.padStart(5)}  ${'acc'.padStart(4)}  ${`called ${letters}`.padEnd(15)} ${'shapesFD (real floor)'.padEnd(22)} ${'mean px (real)'.padEnd(16)} coverage (real)`;
  const lines = perClass.map((r) => {
    const called = r.predicted.map((p) => (Number.isFinite(p) ? (100 * p).toFixed(0) : '-')).join('/');
    const flags: string[] = [];
    if (r.accuracy !== null && r.accuracy < 0.5) flags.push('wrong shape');
    if (r.coverage < 0.5 * r.realCoverage) flags.push('near-empty');
    if (r.coverage > 2 * r.realCoverage) flags.push('over-filled');
    return `${r.name.padEnd(10)} ${String(r.n).padStart(5)}  ${pct(r.accuracy)}  ${`${called} %`.padEnd(15)} ${`${num(r.shapesFD, 1).padStart(7)} (${num(r.realVsReal, 1)})`.padEnd(22)} ${`${num(r.meanPixel, 2).padStart(5)} (${num(r.realMeanPixel, 2)})`.padEnd(16)} ${pct(r.coverage)} (${pct(r.realCoverage).trim()})${flags.length ? `   <- ${flags.join(', ')}` : ''}`;
  });
  return [head, ...lines].map((l) => `${ind}${l}`.trimEnd()).join('\n');
}
