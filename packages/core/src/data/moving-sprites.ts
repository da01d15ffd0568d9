/**
 * `movingSprites`: short procedural videos of 1–3 coloured shapes (circles, squares, triangles from
 * the `shapes` rasteriser) moving at constant velocity and bouncing off the walls, with per-frame,
 * per-sprite masks (for tracking) and positions/velocities as labels.
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

/** Options of {@link movingSprites}. */
export interface MovingSpritesOptions extends DatasetOptions {
  /** Frame side in pixels: 16, 32 or 64 (default 32). */
  size?: 16 | 32 | 64;
  /** Frames per video (default 8). */
  frames?: number;
  /**
   * Sprites per video: a number (exactly that many) or `[min, max]` (uniform count); default [1, 3].
   * At most the number of `colours` (sprites in one video have distinct colours), and at most 6.
   */
  numSprites?: number | [number, number];
  /** Shape labels to draw (0 circle, 1 square, 2 triangle); default all three. */
  classes?: number[];
  /** Palette indices to draw (see {@link SHAPE_PALETTE}); default all. */
  colours?: number[];
  /** Range of relative sprite size; default [0.2, 0.35]. */
  sizeRange?: [number, number];
  /** Range of the speed in image widths per frame; default [0.03, 0.1]. Must stay below `1 − max size`. */
  speedRange?: [number, number];
  /** `'dark'` (default) or `'noise'` (one static noise background per video). */
  background?: ImageBackground;
  /** Standard deviation of the noise background; default 0.05. */
  noiseStd?: number;
  /** Value range: [-1, 1] (default) or [0, 1]. */
  range?: ImageValueRange;
  /** `'nchw'` (default, `[batch, frames, 3, H, W]`) or `'nhwc'` (`[batch, frames, H, W, 3]`). */
  layout?: 'nchw' | 'nhwc';
  /** Masks as visible coverage in [0, 1] instead of 0/1 (default false). */
  softMasks?: boolean;
  /** Sample points per pixel side for anti-aliasing (default 4). */
  supersample?: number;
}

/** Labels of `n` videos with up to `S = maxSprites` sprites (absent sprite slots hold -1 / 0). */
export interface MovingSpritesLabels {
  /** Sprites per video, `[n]`. */
  count: Int32Array;
  /** 1 where sprite slot k is used, `[n, S]`. */
  present: Int32Array;
  /** Shape label per sprite (-1 if absent), `[n, S]`. */
  shape: Int32Array;
  /** Palette index per sprite (-1 if absent), `[n, S]`. */
  colour: Int32Array;
  /** Relative size per sprite (0 if absent), `[n, S]`. */
  size: Float32Array;
  /** Centre (x, y) per frame and sprite, `[n, T, S, 2]`. */
  positions: Float32Array;
  /**
   * Velocity (dx, dy) per frame and sprite, `[n, T, S, 2]`: the displacement applied after frame t,
   * so `positions[t+1] = positions[t] + velocities[t]` unless the sprite bounced, in which case the
   * overshoot is reflected at the wall and that velocity component flips sign in frame t+1.
   */
  velocities: Float32Array;
}

/** A host-side sample of `n` videos. */
export interface MovingSpritesSample {
  n: number;
  frames: number;
  /** Sprite slots per video (the `S` axis of masks and labels). */
  sprites: number;
  /** Videos, `[n, T, 3, H, W]` (or `[n, T, H, W, 3]`). */
  videos: Float32Array;
  videoShape: [number, number, number, number, number];
  /** Visible masks, `[n, T, S, H, W]`: each pixel belongs to at most one sprite (the top-most one covering ≥ half of it). */
  masks: Float32Array;
  maskShape: [number, number, number, number, number];
  labels: MovingSpritesLabels;
}

/** One batch of videos as tensors (dispose with `tf.dispose(batch)`; a type alias, so it is a `tf.TensorContainer`). */
export type MovingSpritesBatch = {
  /** `[batch, frames, 3, H, W]` float32 (or `[batch, frames, H, W, 3]`). */
  videos: tf.Tensor5D;
  /** `[batch, frames, sprites, H, W]` float32. */
  masks: tf.Tensor5D;
  labels: {
    count: tf.Tensor1D; // [batch] int32
    present: tf.Tensor2D; // [batch, sprites] int32
    shape: tf.Tensor2D; // [batch, sprites] int32
    colour: tf.Tensor2D; // [batch, sprites] int32
    size: tf.Tensor2D; // [batch, sprites] float32
    positions: tf.Tensor4D; // [batch, frames, sprites, 2] float32
    velocities: tf.Tensor4D; // [batch, frames, sprites, 2] float32
  };
};

/**
 * Moves a coordinate by `v` within `[lo, hi]`, reflecting at the walls.
 * @returns the new position and velocity (sign flipped when it bounced)
 */
export function bounceStep(p: number, v: number, lo: number, hi: number): [number, number] {
  let q = p + v;
  let w = v;
  // Speeds are validated below the free range, so one reflection suffices; loop for safety.
  for (let k = 0; k < 8 && (q < lo || q > hi); k++) {
    if (q < lo) q = 2 * lo - q;
    else q = 2 * hi - q;
    w = -w;
  }
  return [Math.min(hi, Math.max(lo, q)), w];
}

/**
 * The `movingSprites` data set (create it with {@link movingSprites}).
 *
 * Per video the generator draws, in order: the sprite count, a permutation of the allowed colours
 * (sprites get distinct colours), then per sprite shape, size, x, y, direction, speed, then (noise
 * background only) `3·H·W` normals for a static background. Sprites are painted in slot order, so
 * slot k+1 occludes slot k.
 */
export class MovingSpritesDataset extends ProceduralDataset<MovingSpritesSample, MovingSpritesBatch> {
  /** Frame side in pixels. */
  readonly size: 16 | 32 | 64;
  /** Frames per video. */
  readonly frames: number;
  /** Fewest sprites in a video. */
  readonly minSprites: number;
  /** Most sprites in a video: the size of the sprite axis of masks and labels. */
  readonly maxSprites: number;
  /** Shape labels drawn (uniformly). */
  readonly classes: readonly number[];
  /** Palette indices drawn (distinct within a video). */
  readonly colours: readonly number[];
  /** Range of the relative sprite size. */
  readonly sizeRange: readonly [number, number];
  /** Range of the speed in image widths per frame. */
  readonly speedRange: readonly [number, number];
  private readonly background: ImageBackground;
  private readonly noiseStd: number;
  private readonly range: ImageValueRange;
  private readonly layout: 'nchw' | 'nhwc';
  private readonly softMasks: boolean;
  private readonly supersample: number;

  constructor(options: MovingSpritesOptions) {
    super('movingSprites', options);
    const fn = 'movingSprites';
    this.size = checkChoice(fn, 'size', options.size ?? 32, [16, 32, 64] as const);
    this.frames = checkInt(fn, 'frames', options.frames ?? 8, 1, 1024);
    this.classes = Object.freeze(checkLabelSubset(fn, 'classes', options.classes ?? [0, 1, 2], SHAPE_NAMES.length));
    this.colours = Object.freeze(checkLabelSubset(fn, 'colours', options.colours ?? SHAPE_PALETTE.map((_, i) => i), SHAPE_PALETTE.length));
    const ns = options.numSprites ?? [1, 3];
    if (typeof ns === 'number') {
      this.minSprites = this.maxSprites = checkInt(fn, 'numSprites', ns, 1, this.colours.length);
    } else {
      const [a, b] = checkInterval(fn, 'numSprites', ns, 1, this.colours.length);
      if (!Number.isInteger(a) || !Number.isInteger(b)) {
        throw new BrickConfigError(`${fn}: numSprites must be an integer or [min, max] of integers, got ${JSON.stringify(ns)}`);
      }
      this.minSprites = a;
      this.maxSprites = b;
    }
    this.sizeRange = Object.freeze(checkInterval(fn, 'sizeRange', options.sizeRange ?? [0.2, 0.35], 1 / this.size, 0.9));
    this.speedRange = Object.freeze(checkInterval(fn, 'speedRange', options.speedRange ?? [0.03, 0.1], 0, 1));
    if (this.speedRange[1] >= 1 - this.sizeRange[1]) {
      throw new BrickConfigError(`${fn}: speedRange max must be below 1 - sizeRange max = ${1 - this.sizeRange[1]}, got ${this.speedRange[1]}`);
    }
    this.background = checkChoice(fn, 'background', options.background ?? 'dark', ['dark', 'noise'] as const);
    this.noiseStd = checkNumber(fn, 'noiseStd', options.noiseStd ?? 0.05, 0, 1);
    this.range = checkRange(fn, options.range ?? [-1, 1]);
    this.layout = checkChoice(fn, 'layout', options.layout ?? 'nchw', ['nchw', 'nhwc'] as const);
    this.softMasks = options.softMasks ?? false;
    this.supersample = checkInt(fn, 'supersample', options.supersample ?? 4, 1, 16);
  }

  /** Draws `n` labelled videos on the host (from the stream unless `rng` is given). */
  sample(n: number, rng?: Rng): MovingSpritesSample {
    this.checkCount('sample', n);
    const g = rng ?? this.rng;
    const T = this.frames;
    const S = this.maxSprites;
    const side = this.size;
    const plane = side * side;
    const perFrame = 3 * plane;
    const labels: MovingSpritesLabels = {
      count: new Int32Array(n),
      present: new Int32Array(n * S),
      shape: new Int32Array(n * S).fill(-1),
      colour: new Int32Array(n * S).fill(-1),
      size: new Float32Array(n * S),
      positions: new Float32Array(n * T * S * 2),
      velocities: new Float32Array(n * T * S * 2),
    };
    const videos = new Float32Array(n * T * perFrame);
    const masks = new Float32Array(n * T * S * plane);
    const bg = new Float32Array(perFrame);
    const covs = Array.from({ length: S }, () => new Float32Array(plane));
    const vis = new Float32Array(S);
    const [sLo, sHi] = this.sizeRange;
    const [vLo, vHi] = this.speedRange;
    const px = new Float64Array(S);
    const py = new Float64Array(S);
    const vx = new Float64Array(S);
    const vy = new Float64Array(S);

    for (let b = 0; b < n; b++) {
      const count = this.minSprites === this.maxSprites ? this.minSprites : g.int(this.minSprites, this.maxSprites + 1);
      labels.count[b] = count;
      const perm = g.permutation(this.colours.length);
      for (let k = 0; k < count; k++) {
        const o = b * S + k;
        labels.present[o] = 1;
        labels.shape[o] = this.classes[g.int(0, this.classes.length)];
        labels.colour[o] = this.colours[perm[k]];
        const s = Math.fround(sLo + (sHi - sLo) * g.float());
        labels.size[o] = s;
        px[k] = s / 2 + (1 - s) * g.float();
        py[k] = s / 2 + (1 - s) * g.float();
        const angle = 2 * Math.PI * g.float();
        const speed = vLo + (vHi - vLo) * g.float();
        vx[k] = speed * Math.cos(angle);
        vy[k] = speed * Math.sin(angle);
      }
      fillBackground(bg, 0, side, this.background, this.noiseStd, g);

      for (let t = 0; t < T; t++) {
        const frameOff = (b * T + t) * perFrame;
        videos.set(bg, frameOff);
        for (let k = 0; k < count; k++) {
          const o = b * S + k;
          const s = labels.size[o];
          const l = ((b * T + t) * S + k) * 2;
          // Store float32-rounded values and render from them, so labels match pixels exactly.
          labels.positions[l] = px[k];
          labels.positions[l + 1] = py[k];
          labels.velocities[l] = vx[k];
          labels.velocities[l + 1] = vy[k];
          shapeCoverage(labels.shape[o] as ShapeKind, labels.positions[l], labels.positions[l + 1], s, side, this.supersample, covs[k]);
          compositeCoverage(videos, frameOff, side, covs[k], SHAPE_PALETTE[labels.colour[o]].rgb);
          [px[k], vx[k]] = bounceStep(labels.positions[l], vx[k], s / 2, 1 - s / 2);
          [py[k], vy[k]] = bounceStep(labels.positions[l + 1], vy[k], s / 2, 1 - s / 2);
        }
        // Visible coverage per sprite: its coverage times what the sprites above leave uncovered.
        const maskOff = (b * T + t) * S * plane;
        for (let p = 0; p < plane; p++) {
          let remaining = 1;
          let best = -1;
          let bestVis = 0;
          for (let k = count - 1; k >= 0; k--) {
            const c = covs[k][p];
            vis[k] = c * remaining;
            remaining *= 1 - c;
            if (vis[k] > bestVis) {
              bestVis = vis[k];
              best = k;
            }
          }
          if (this.softMasks) {
            for (let k = 0; k < count; k++) masks[maskOff + k * plane + p] = vis[k];
          } else if (best >= 0 && bestVis >= 0.5) {
            masks[maskOff + best * plane + p] = 1;
          }
        }
      }
    }
    applyRange(videos, this.range);
    const nhwc = this.layout === 'nhwc';
    return {
      n,
      frames: T,
      sprites: S,
      videos: nhwc ? nchwToNhwc(videos, n * T, 3, side) : videos,
      videoShape: nhwc ? [n, T, side, side, 3] : [n, T, 3, side, side],
      masks,
      maskShape: [n, T, S, side, side],
      labels,
    };
  }

  /** Turns a host sample into tensors (the caller disposes them). */
  toBatch(s: MovingSpritesSample): MovingSpritesBatch {
    const { n, frames: T, sprites: S } = s;
    return {
      videos: tf.tensor5d(s.videos, s.videoShape, 'float32'),
      masks: tf.tensor5d(s.masks, s.maskShape, 'float32'),
      labels: {
        count: tf.tensor1d(s.labels.count, 'int32'),
        present: tf.tensor2d(s.labels.present, [n, S], 'int32'),
        shape: tf.tensor2d(s.labels.shape, [n, S], 'int32'),
        colour: tf.tensor2d(s.labels.colour, [n, S], 'int32'),
        size: tf.tensor2d(s.labels.size, [n, S], 'float32'),
        positions: tf.tensor4d(s.labels.positions, [n, T, S, 2], 'float32'),
        velocities: tf.tensor4d(s.labels.velocities, [n, T, S, 2], 'float32'),
      },
    };
  }
}

/**
 * Creates the `movingSprites` data set: videos `[batch, frames, 3, H, W]` (values in [-1, 1] by
 * default) of 1–3 bouncing sprites, with masks `[batch, frames, sprites, H, W]` and
 * positions/velocities `[batch, frames, sprites, 2]`.
 * @example
 * const data = movingSprites({ size: 32, frames: 8, batchSize: 16, seed: 0 });
 * const batch = data.next();
 * tf.dispose(batch);
 */
export function movingSprites(options: MovingSpritesOptions): MovingSpritesDataset {
  return new MovingSpritesDataset(options);
}
