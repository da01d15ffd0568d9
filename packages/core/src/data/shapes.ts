/**
 * `shapes`: procedural RGB images of one circle, square or triangle each, with known factors
 * (shape, colour, position, size) as labels. Small enough to train on in seconds, rich enough to
 * check that a generative model draws the right shape in the right colour.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError } from '../errors.js';
import type { Rng } from '../rng.js';
import { ProceduralDataset, type DatasetOptions } from './dataset.js';
import {
  checkChoice, checkInt, checkInterval, checkLabelSubset, checkNumber, checkRange,
} from './options.js';
import {
  SHAPE_NAMES, SHAPE_PALETTE, applyRange, compositeCoverage, fillBackground, nchwToNhwc, shapeCoverage,
  type ImageBackground, type ImageValueRange, type ShapeKind,
} from './raster.js';

/** Options of {@link shapes}. */
export interface ShapesOptions extends DatasetOptions {
  /** Image side in pixels: 16 or 32 (default 16). */
  size?: 16 | 32;
  /** Shape labels to draw (0 circle, 1 square, 2 triangle); default all three, uniformly. */
  classes?: number[];
  /** Palette indices to draw (see {@link SHAPE_PALETTE}); default all, uniformly. */
  colours?: number[];
  /** Range of the relative shape size (bounding-square side / image side); default [0.35, 0.75]. */
  sizeRange?: [number, number];
  /** `'dark'` (plain dark grey, default) or `'noise'` (dark grey plus mild Gaussian noise). */
  background?: ImageBackground;
  /** Standard deviation (in [0, 1] units) of the noise background; default 0.05. */
  noiseStd?: number;
  /** Value range of the images: [-1, 1] (default, diffusion convention) or [0, 1]. */
  range?: ImageValueRange;
  /** `'nchw'` (default, `[batch, 3, H, W]`, PyTorch convention) or `'nhwc'` (`[batch, H, W, 3]`). */
  layout?: 'nchw' | 'nhwc';
  /** Sample points per pixel side for anti-aliasing (default 4, i.e. 16 per pixel). */
  supersample?: number;
}

/**
 * Known factors of `n` shape images as host typed arrays, one entry per image: the labels of a
 * {@link ShapesSample} (from `sample(n)`) and the input of {@link renderShapes}. The batches of
 * `next()` carry the same factors as tensors ({@link ShapesBatch}).
 */
export interface ShapeLabels {
  /** 0 circle, 1 square, 2 triangle. */
  shape: Int32Array;
  /** Index into {@link SHAPE_PALETTE}. */
  colour: Int32Array;
  /** Centre x in [0, 1], left to right. */
  x: Float32Array;
  /** Centre y in [0, 1], top to bottom. */
  y: Float32Array;
  /** Bounding-square side relative to the image side, in [0, 1]. */
  size: Float32Array;
}

/**
 * A host-side sample of `n` shape images, as `ShapesDataset.sample(n)` (or a `fixedSplit`) returns
 * it: images and labels are plain typed arrays on the host. `next()` does not return this: it
 * returns a {@link ShapesBatch} of tensors (`toBatch(sample)` turns one into the other).
 */
export interface ShapesSample {
  n: number;
  /** Images in the data set's range and layout, `shape` below (host float32). */
  images: Float32Array;
  /** `[n, 3, H, W]` (nchw) or `[n, H, W, 3]` (nhwc). */
  shape: [number, number, number, number];
  /** The factors of each image as host typed arrays (`labels.shape[i]` is image i's shape). */
  labels: ShapeLabels;
}

/**
 * One batch of shape images as tensors, what `next()` and `toBatch(sample)` return: images and
 * labels are all `tf.Tensor`s, owned by the caller (dispose with `tf.dispose(batch)`; a type alias,
 * so it is a `tf.TensorContainer`). Use `labels.shape` directly as class ids, e.g.
 * `tf.oneHot(batch.labels.shape, 3)`; read values with `await batch.labels.shape.data()`.
 */
export type ShapesBatch = {
  /** `[batch, 3, H, W]` (or `[batch, H, W, 3]` with `layout: 'nhwc'`), float32. */
  images: tf.Tensor4D;
  /** The factors of each image as tensors (unlike the host arrays of {@link ShapesSample}). */
  labels: {
    /** `[batch]` int32: 0 circle, 1 square, 2 triangle. */
    shape: tf.Tensor1D;
    /** `[batch]` int32: index into {@link SHAPE_PALETTE}. */
    colour: tf.Tensor1D;
    /** `[batch]` float32: centre x in [0, 1], left to right. */
    x: tf.Tensor1D;
    /** `[batch]` float32: centre y in [0, 1], top to bottom. */
    y: tf.Tensor1D;
    /** `[batch]` float32: bounding-square side relative to the image side. */
    size: tf.Tensor1D;
  };
};

/** Rendering options of {@link renderShapes}. */
export interface RenderShapesOptions {
  size?: 16 | 32 | 64;
  background?: ImageBackground;
  noiseStd?: number;
  range?: ImageValueRange;
  layout?: 'nchw' | 'nhwc';
  supersample?: number;
  /** Generator for the noise background (required when `background` is `'noise'`). */
  rng?: Rng;
}

interface ResolvedRender {
  side: number;
  background: ImageBackground;
  noiseStd: number;
  range: ImageValueRange;
  layout: 'nchw' | 'nhwc';
  supersample: number;
}

function resolveRender(fn: string, o: RenderShapesOptions, sizes: readonly number[]): ResolvedRender {
  return {
    side: checkChoice(fn, 'size', o.size ?? 16, sizes),
    background: checkChoice(fn, 'background', o.background ?? 'dark', ['dark', 'noise'] as const),
    noiseStd: checkNumber(fn, 'noiseStd', o.noiseStd ?? 0.05, 0, 1),
    range: checkRange(fn, o.range ?? [-1, 1]),
    layout: checkChoice(fn, 'layout', o.layout ?? 'nchw', ['nchw', 'nhwc'] as const),
    supersample: checkInt(fn, 'supersample', o.supersample ?? 4, 1, 16),
  };
}

/** Draws image `i` of `labels` into `out` at `offset` (values in [0, 1], `[3, side, side]`). */
function drawOne(out: Float32Array, offset: number, labels: ShapeLabels, i: number, r: ResolvedRender,
  rng: Rng | undefined, cov: Float32Array): void {
  fillBackground(out, offset, r.side, r.background, r.noiseStd, rng);
  shapeCoverage(labels.shape[i] as ShapeKind, labels.x[i], labels.y[i], labels.size[i], r.side, r.supersample, cov);
  compositeCoverage(out, offset, r.side, cov, SHAPE_PALETTE[labels.colour[i]].rgb);
}

/**
 * Renders shape images for given labels (e.g. to check a model against known factors, or to draw
 * a specific test case). Same options and conventions as {@link shapes}; sizes 16, 32 or 64.
 * @returns images `[n, 3, H, W]` (or `[n, H, W, 3]`), host float32
 */
export function renderShapes(labels: ShapeLabels, options: RenderShapesOptions = {}): Float32Array {
  const fn = 'renderShapes';
  const r = resolveRender(fn, options, [16, 32, 64]);
  const n = labels.shape.length;
  for (const key of ['colour', 'x', 'y', 'size'] as const) {
    if (labels[key].length !== n) {
      throw new BrickConfigError(`${fn}: labels.${key} must have ${n} entries (like labels.shape), got ${labels[key].length}`);
    }
  }
  for (let i = 0; i < n; i++) {
    if (!(labels.shape[i] >= 0 && labels.shape[i] < SHAPE_NAMES.length)) {
      throw new BrickConfigError(`${fn}: labels.shape[${i}] must be 0, 1 or 2, got ${labels.shape[i]}`);
    }
    if (!(labels.colour[i] >= 0 && labels.colour[i] < SHAPE_PALETTE.length)) {
      throw new BrickConfigError(`${fn}: labels.colour[${i}] must be in [0, ${SHAPE_PALETTE.length - 1}], got ${labels.colour[i]}`);
    }
  }
  if (r.background === 'noise' && !options.rng) throw new BrickConfigError(`${fn}: background 'noise' needs options.rng`);
  const per = 3 * r.side * r.side;
  const out = new Float32Array(n * per);
  const cov = new Float32Array(r.side * r.side);
  for (let i = 0; i < n; i++) drawOne(out, i * per, labels, i, r, options.rng, cov);
  applyRange(out, r.range);
  return r.layout === 'nhwc' ? nchwToNhwc(out, n, 3, r.side) : out;
}

/**
 * The `shapes` data set: an infinite, seeded stream of RGB images of one anti-aliased circle,
 * square or triangle on a dark background, with labels for every factor. Create it with
 * {@link shapes}.
 *
 * Per image the generator draws, in order: shape, colour, size, x, y, then (noise background only)
 * `3·H·W` normals. Shapes lie fully inside the image: `x, y ∈ [size/2, 1 − size/2]`.
 */
export class ShapesDataset extends ProceduralDataset<ShapesSample, ShapesBatch> {
  /** Image side in pixels. */
  readonly size: 16 | 32;
  /** Shape labels drawn (uniformly). */
  readonly classes: readonly number[];
  /** Palette indices drawn (uniformly). */
  readonly colours: readonly number[];
  /** Range of the relative shape size. */
  readonly sizeRange: readonly [number, number];
  private readonly render: ResolvedRender;

  constructor(options: ShapesOptions) {
    super('shapes', options);
    const fn = 'shapes';
    this.render = resolveRender(fn, options, [16, 32]);
    this.size = this.render.side as 16 | 32;
    this.classes = Object.freeze(checkLabelSubset(fn, 'classes', options.classes ?? [0, 1, 2], SHAPE_NAMES.length));
    this.colours = Object.freeze(checkLabelSubset(fn, 'colours', options.colours ?? SHAPE_PALETTE.map((_, i) => i), SHAPE_PALETTE.length));
    this.sizeRange = Object.freeze(checkInterval(fn, 'sizeRange', options.sizeRange ?? [0.35, 0.75], 1 / this.size, 1));
  }

  /** Value range of the images. */
  get range(): ImageValueRange {
    return this.render.range;
  }

  /** Draws `n` labelled images on the host (from the stream unless `rng` is given). */
  sample(n: number, rng?: Rng): ShapesSample {
    this.checkCount('sample', n);
    const g = rng ?? this.rng;
    const r = this.render;
    const side = r.side;
    const per = 3 * side * side;
    const labels: ShapeLabels = {
      shape: new Int32Array(n), colour: new Int32Array(n),
      x: new Float32Array(n), y: new Float32Array(n), size: new Float32Array(n),
    };
    const images = new Float32Array(n * per);
    const cov = new Float32Array(side * side);
    const [lo, hi] = this.sizeRange;
    for (let i = 0; i < n; i++) {
      labels.shape[i] = this.classes[g.int(0, this.classes.length)];
      labels.colour[i] = this.colours[g.int(0, this.colours.length)];
      const s = Math.fround(lo + (hi - lo) * g.float());
      labels.size[i] = s;
      labels.x[i] = s / 2 + (1 - s) * g.float();
      labels.y[i] = s / 2 + (1 - s) * g.float();
      drawOne(images, i * per, labels, i, r, g, cov);
    }
    applyRange(images, r.range);
    const nhwc = r.layout === 'nhwc';
    return {
      n,
      images: nhwc ? nchwToNhwc(images, n, 3, side) : images,
      shape: nhwc ? [n, side, side, 3] : [n, 3, side, side],
      labels,
    };
  }

  /** Turns a host sample into tensors (the caller disposes them). */
  toBatch(s: ShapesSample): ShapesBatch {
    return {
      images: tf.tensor4d(s.images, s.shape, 'float32'),
      labels: {
        shape: tf.tensor1d(s.labels.shape, 'int32'),
        colour: tf.tensor1d(s.labels.colour, 'int32'),
        x: tf.tensor1d(s.labels.x, 'float32'),
        y: tf.tensor1d(s.labels.y, 'float32'),
        size: tf.tensor1d(s.labels.size, 'float32'),
      },
    };
  }
}

/**
 * Creates the `shapes` data set: `[batch, 3, H, W]` images in [-1, 1] (by default) of one circle,
 * square or triangle each, with shape/colour/position/size labels.
 * @example
 * const data = shapes({ size: 16, batchSize: 64, seed: 0 });
 * const { images, labels } = data.next(); // tensors: images [64, 3, 16, 16], labels.shape [64] int32
 * const host = data.sample(8); // host arrays: host.images Float32Array, host.labels.shape Int32Array
 * tf.dispose([images, labels]);
 */
export function shapes(options: ShapesOptions): ShapesDataset {
  return new ShapesDataset(options);
}
