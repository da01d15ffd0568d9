/**
 * `toy2d`: 2-D toy distributions with a class label per point — a Gaussian mixture (on a circle or
 * a grid), concentric rings, two moons, and spiral arms. For checking density models, classifiers
 * and diffusion samplers by eye and by number.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError } from '../errors.js';
import type { Rng } from '../rng.js';
import { ProceduralDataset, type DatasetOptions } from './dataset.js';
import { checkChoice, checkInt, checkNumber } from './options.js';

/** The toy distributions of {@link toy2d}. */
export type Toy2dKind = 'gaussianMixture' | 'rings' | 'moons' | 'spiral';

/** Options of {@link toy2d}. */
export interface Toy2dOptions extends DatasetOptions {
  kind: Toy2dKind;
  /**
   * Standard deviation of isotropic Gaussian noise added to every point. Default: 0.1 for
   * `gaussianMixture` (the component std), 0.05 otherwise.
   */
  noise?: number;
  /** `gaussianMixture`: number of components (default 8). */
  k?: number;
  /**
   * `gaussianMixture`: `'circle'` (default; means evenly spaced on a circle of `radius`, starting at
   * angle 0) or `'grid'` (means on a ⌈√k⌉-wide row-major grid spanning [-radius, radius]², rows
   * from y = -radius up).
   */
  layout?: 'circle' | 'grid';
  /**
   * `gaussianMixture`: circle radius / grid half-width (default 2). `rings`: radius of the outer ring
   * (default 1). `spiral`: radius at the end of the arms (default 1).
   */
  radius?: number;
  /** `rings`: number of rings (default 2); ring i has radius `radius·(i+1)/numRings`. */
  numRings?: number;
  /** `rings`: explicit radii instead (overrides `numRings`/`radius`). */
  radii?: number[];
  /** `spiral`: number of arms (default 2). */
  arms?: number;
  /** `spiral`: turns of each arm (default 1.5). */
  turns?: number;
}

/** A host-side sample of `n` labelled 2-D points. */
export interface Toy2dSample {
  n: number;
  /** Points, `[n, 2]` row-major (x, y). */
  x: Float32Array;
  /** Component / ring / moon / arm label, `[n]`. */
  label: Int32Array;
}

/** One batch of 2-D points as tensors (dispose with `tf.dispose(batch)`; a type alias, so it is a `tf.TensorContainer`). */
export type Toy2dBatch = {
  x: tf.Tensor2D; // [batch, 2] float32
  label: tf.Tensor1D; // [batch] int32
};

/**
 * Means of a Gaussian mixture laid out on a circle of `radius` (component i at angle 2πi/k) or on a
 * ⌈√k⌉-wide grid spanning [-radius, radius]² (row-major, from (-radius, -radius)).
 * @returns `[k, 2]` row-major
 */
export function gaussianMixtureMeans(k: number, layout: 'circle' | 'grid' = 'circle', radius = 2): Float32Array {
  checkInt('gaussianMixtureMeans', 'k', k, 1);
  const out = new Float32Array(2 * k);
  if (layout === 'circle') {
    for (let i = 0; i < k; i++) {
      out[2 * i] = radius * Math.cos((2 * Math.PI * i) / k);
      out[2 * i + 1] = radius * Math.sin((2 * Math.PI * i) / k);
    }
    return out;
  }
  const side = Math.ceil(Math.sqrt(k));
  const step = side > 1 ? (2 * radius) / (side - 1) : 0;
  for (let i = 0; i < k; i++) {
    out[2 * i] = side > 1 ? -radius + (i % side) * step : 0;
    out[2 * i + 1] = side > 1 ? -radius + Math.floor(i / side) * step : 0;
  }
  return out;
}

/**
 * The `toy2d` data set (create it with {@link toy2d}). Labels are uniform over the classes; per
 * point the generator draws the label, the kind's position parameter(s), then two noise normals.
 *
 * - `gaussianMixture`: mean of component `label` plus noise.
 * - `rings`: angle θ ~ U[0, 2π), point `r_label·(cos θ, sin θ)` plus noise.
 * - `moons` (scikit-learn's `make_moons`): t ~ U[0, π]; label 0: `(cos t, sin t)`, label 1:
 *   `(1 − cos t, 0.5 − sin t)`; plus noise.
 * - `spiral`: u ~ U[0, 1), radius `radius·u`, angle `2π·turns·u + 2π·label/arms`; plus noise.
 */
export class Toy2dDataset extends ProceduralDataset<Toy2dSample, Toy2dBatch> {
  readonly kind: Toy2dKind;
  readonly noise: number;
  /** Number of classes (components, rings, moons or arms). */
  readonly numClasses: number;
  /** `gaussianMixture`: the component means `[k, 2]`; otherwise undefined. */
  readonly means?: Float32Array;
  /** `rings`: the ring radii; otherwise undefined. */
  readonly radii?: readonly number[];
  private readonly radius: number;
  private readonly turns: number;

  constructor(options: Toy2dOptions) {
    super('toy2d', options);
    const fn = 'toy2d';
    this.kind = checkChoice(fn, 'kind', options.kind, ['gaussianMixture', 'rings', 'moons', 'spiral'] as const);
    this.noise = checkNumber(fn, 'noise', options.noise ?? (this.kind === 'gaussianMixture' ? 0.1 : 0.05), 0, 1e6);
    this.turns = checkNumber(fn, 'turns', options.turns ?? 1.5, 0, 1e3);
    switch (this.kind) {
      case 'gaussianMixture': {
        this.numClasses = checkInt(fn, 'k', options.k ?? 8, 1, 1e6);
        this.radius = checkNumber(fn, 'radius', options.radius ?? 2, 0, 1e6);
        const layout = checkChoice(fn, 'layout', options.layout ?? 'circle', ['circle', 'grid'] as const);
        this.means = gaussianMixtureMeans(this.numClasses, layout, this.radius);
        break;
      }
      case 'rings': {
        this.radius = checkNumber(fn, 'radius', options.radius ?? 1, 0, 1e6);
        if (options.radii !== undefined) {
          const r = options.radii;
          if (!Array.isArray(r) || r.length === 0 || !r.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
            throw new BrickConfigError(`${fn}: radii must be a non-empty list of finite numbers >= 0, got ${JSON.stringify(r)}`);
          }
          this.radii = Object.freeze([...r]);
        } else {
          const m = checkInt(fn, 'numRings', options.numRings ?? 2, 1, 1e6);
          this.radii = Object.freeze(Array.from({ length: m }, (_, i) => (this.radius * (i + 1)) / m));
        }
        this.numClasses = this.radii.length;
        break;
      }
      case 'moons':
        this.radius = 1;
        this.numClasses = 2;
        break;
      case 'spiral':
        this.radius = checkNumber(fn, 'radius', options.radius ?? 1, 0, 1e6);
        this.numClasses = checkInt(fn, 'arms', options.arms ?? 2, 1, 1e6);
        break;
    }
  }

  /** Draws `n` labelled points on the host (from the stream unless `rng` is given). */
  sample(n: number, rng?: Rng): Toy2dSample {
    this.checkCount('sample', n);
    const g = rng ?? this.rng;
    const x = new Float32Array(2 * n);
    const label = new Int32Array(n);
    const C = this.numClasses;
    for (let i = 0; i < n; i++) {
      const c = g.int(0, C);
      label[i] = c;
      let px: number;
      let py: number;
      switch (this.kind) {
        case 'gaussianMixture':
          px = this.means![2 * c];
          py = this.means![2 * c + 1];
          break;
        case 'rings': {
          const th = 2 * Math.PI * g.float();
          px = this.radii![c] * Math.cos(th);
          py = this.radii![c] * Math.sin(th);
          break;
        }
        case 'moons': {
          const t = Math.PI * g.float();
          px = c === 0 ? Math.cos(t) : 1 - Math.cos(t);
          py = c === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
          break;
        }
        case 'spiral': {
          const u = g.float();
          const th = 2 * Math.PI * this.turns * u + (2 * Math.PI * c) / C;
          px = this.radius * u * Math.cos(th);
          py = this.radius * u * Math.sin(th);
          break;
        }
      }
      x[2 * i] = px + this.noise * g.normal();
      x[2 * i + 1] = py + this.noise * g.normal();
    }
    return { n, x, label };
  }

  /** Turns a host sample into tensors (the caller disposes them). */
  toBatch(s: Toy2dSample): Toy2dBatch {
    return { x: tf.tensor2d(s.x, [s.n, 2], 'float32'), label: tf.tensor1d(s.label, 'int32') };
  }
}

/**
 * Creates a 2-D toy data set: batches `{x: [batch, 2], label: [batch] int32}`.
 * @example
 * const data = toy2d({ kind: 'moons', batchSize: 256, seed: 0, noise: 0.05 });
 * const { x, label } = data.next();
 */
export function toy2d(options: Toy2dOptions): Toy2dDataset {
  return new Toy2dDataset(options);
}
