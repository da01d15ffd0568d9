/**
 * `shapesFD`: the Fréchet distance between generated images and held-out real `shapes` images in
 * the feature space of the bundled {@link ShapesClassifier} (not "FID": the features come from a
 * small network trained on this data set's labels, and the numbers only compare models on it).
 *
 * Every report carries two references computed with the same number of images: real-vs-real
 * (two disjoint held-out sets: the floor a perfect generator reaches at this n) and noise-vs-real
 * (N(0, 1) pixels clipped to [−1, 1]: what an untrained generator scores).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, Rng, ShapeError, formatShape, load, shapes } from '@brickml/core';
import { featureStats, frechetDistance, type FeatureStats } from './frechet.js';
import { ShapesClassifier } from './shapes-classifier.js';

/** Seed of the held-out real set samples are compared with (set A). */
export const SHAPES_FD_REAL_SEED = 2_000_003;
/** Seed of the second held-out real set (set B, for the real-vs-real reference). */
export const SHAPES_FD_REAL_SEED_B = 2_000_017;
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

  constructor(readonly classifier: ShapesClassifier) {
    classifier.eval();
  }

  /** Loads the shipped classifier (or one from `dir`). Node only. */
  static async load(dir?: string): Promise<ShapesFD> {
    const m = await load<ShapesClassifier>(dir ?? (await defaultClassifierDir()));
    if (!(m instanceof ShapesClassifier)) throw new BrickConfigError(`ShapesFD.load: the checkpoint is a ${(m as { typeName: string }).typeName}, expected a ShapesClassifier`);
    return new ShapesFD(m);
  }

  /** Classifier features of images `[n, 3, H, W]` (H = 16 or 32, [−1, 1]) as host rows `[n, featureDim]`. */
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

  private async realImages(size: 16 | 32, n: number, seed: number): Promise<tf.Tensor> {
    const ds = shapes({ size, batchSize: 1, seed: 0 });
    const s = ds.fixedSplit(n, seed);
    return tf.tensor4d(s.images, s.shape);
  }

  /** Real set A statistics and the two reference distances for `n` images of side `size`. */
  async references(size: 16 | 32, n: number): Promise<{ realA: FeatureStats; realVsReal: number; noiseVsReal: number }> {
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
   * shapesFD of `samples` (`[n, 3, 16|32, 16|32]` in [−1, 1]) against n held-out real images, with
   * the real-vs-real and noise-vs-real references at the same n. Use n ≥ 4·featureDim.
   */
  async evaluate(samples: tf.Tensor): Promise<ShapesFDReport> {
    if (samples.rank !== 4 || samples.shape[1] !== 3 || samples.shape[2] !== samples.shape[3] || (samples.shape[2] !== 16 && samples.shape[2] !== 32)) {
      throw new ShapeError(`ShapesFD.evaluate: samples must be [n, 3, 16, 16] or [n, 3, 32, 32], got ${formatShape(samples.shape)}`);
    }
    const n = samples.shape[0];
    if (n < 2 * this.classifier.config.featureDim) {
      throw new RangeError(`ShapesFD.evaluate: need at least ${2 * this.classifier.config.featureDim} samples (2 × feature width) for a covariance, got ${n}`);
    }
    const size = samples.shape[2] as 16 | 32;
    const refs = await this.references(size, n);
    const fd = frechetDistance(await this.stats(samples), refs.realA);
    return { shapesFD: fd, realVsReal: refs.realVsReal, noiseVsReal: refs.noiseVsReal, n, size };
  }

  /** Shape and colour accuracy of the classifier on `n` held-out images (for the record). */
  async accuracy(size: 16 | 32 = 16, n = 2000, seed = 777): Promise<{ shape: number; colour: number; factorRmse: number }> {
    const s = shapes({ size, batchSize: 1, seed: 0 }).fixedSplit(n, seed);
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

/** One-call shapesFD with the shipped classifier (loaded once per process). */
let shared: Promise<ShapesFD> | null = null;
export async function shapesFD(samples: tf.Tensor): Promise<ShapesFDReport> {
  shared ??= ShapesFD.load();
  return (await shared).evaluate(samples);
}
