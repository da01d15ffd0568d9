/**
 * Pictures of a diffusion model (PNG bytes; write them with core's `writePng`):
 * - {@link classGridPng}: samples in rows by class;
 * - {@link trajectoryPng}: the denoising trajectory of one sample (x_t above x̂0, step by step);
 * - {@link readMapsPng}: RIN read-attention maps over the image (one column per block), or over
 *   each frame of a video.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, encodePng, formatShape, heatmapRgba, imageGridSync, type HostImages, type RgbaImage } from '@brickml/core';
import type { ReadMapTrace, Trajectory } from './samplers/common.js';

/** Tiles RGBA pictures of one size into a grid (row-major), with white padding. */
export function tileRgba(images: RgbaImage[], cols: number, pad = 2): RgbaImage {
  if (images.length === 0) throw new RangeError('tileRgba: no images');
  const { width: w, height: h } = images[0];
  if (images.some((im) => im.width !== w || im.height !== h)) throw new ShapeError('tileRgba: images must all have one size');
  const c = Math.max(1, Math.min(cols, images.length));
  const rows = Math.ceil(images.length / c);
  const width = c * w + (c + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const rgba = new Uint8Array(width * height * 4).fill(255);
  images.forEach((im, k) => {
    const x0 = pad + (k % c) * (w + pad);
    const y0 = pad + Math.floor(k / c) * (h + pad);
    for (let y = 0; y < h; y++) rgba.set(im.rgba.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * width + x0) * 4);
  });
  return { width, height, rgba };
}

async function toHost(images: tf.Tensor | HostImages): Promise<HostImages> {
  return images instanceof tf.Tensor ? { data: await images.data(), shape: images.shape } : images;
}

/** Options of {@link classGridPng}. */
export interface ClassGridOptions {
  /** Integer upscaling (default 3). */
  scale?: number;
}

/**
 * Samples grouped by class, one row per class: `samples` `[rows·perRow, 3, H, W]` ordered row by
 * row (as `classRows` makes the class list).
 */
export async function classGridPng(samples: tf.Tensor | HostImages, perRow: number, options: ClassGridOptions = {}): Promise<Uint8Array> {
  const g = imageGridSync(await toHost(samples), { cols: perRow, scale: options.scale ?? 3, pad: 2 });
  return encodePng(g.rgba, g.width, g.height);
}

/** Class ids for a class grid: `perRow` copies of each class in turn (`[0,0,…,1,1,…]`). */
export function classRows(numClasses: number, perRow: number): number[] {
  return Array.from({ length: numClasses * perRow }, (_, i) => Math.floor(i / perRow));
}

/** Options of {@link trajectoryPng}. */
export interface TrajectoryPngOptions {
  /** Which sample of the batch (default 0). */
  index?: number;
  /** Most columns (steps) to show, evenly spaced, always including the last (default 10). */
  maxSteps?: number;
  scale?: number;
}

/**
 * The denoising trajectory of one sample: top row x_t (scaled into [−1, 1] by its own max), bottom
 * row the step's x̂0, left (t = 1) to right (t → 0). Image trajectories only.
 */
export function trajectoryPng(trajectory: Trajectory, options: TrajectoryPngOptions = {}): Uint8Array {
  const shape = trajectory.shape;
  if (shape.length !== 4) throw new ShapeError(`trajectoryPng: expects an image trajectory [n, C, H, W], got ${formatShape(shape)}`);
  const [n, c, h, w] = shape;
  const index = options.index ?? 0;
  if (!(index >= 0 && index < n)) throw new RangeError(`trajectoryPng: index must be in [0, ${n}), got ${index}`);
  const steps = trajectory.x0.length;
  const maxSteps = Math.min(options.maxSteps ?? 10, steps);
  const picks = Array.from(new Set(Array.from({ length: maxSteps }, (_, i) => Math.round((i * (steps - 1)) / Math.max(1, maxSteps - 1)))));
  const per = c * h * w;
  const data = new Float32Array(2 * picks.length * per);
  picks.forEach((s, j) => {
    const xt = trajectory.xt[s].subarray(index * per, (index + 1) * per);
    let m = 1e-6;
    for (const v of xt) m = Math.max(m, Math.abs(v));
    for (let k = 0; k < per; k++) data[j * per + k] = xt[k] / m;
    data.set(trajectory.x0[s].subarray(index * per, (index + 1) * per), (picks.length + j) * per);
  });
  const g = imageGridSync({ data, shape: [2 * picks.length, c, h, w] }, { cols: picks.length, scale: options.scale ?? 4, pad: 2 });
  return encodePng(g.rgba, g.width, g.height);
}

/** Options of {@link readMapsPng}. */
export interface ReadMapsPngOptions {
  /** Which recorded step (default: the middle one, where the maps are most telling). */
  step?: number;
  /** Samples to show (default the first 6). */
  indices?: number[];
  /** Pixels per image pixel (default 4). */
  scale?: number;
  /** Heat-map opacity over the image (default 0.55). */
  alpha?: number;
}

/**
 * RIN read-attention maps over the sampled images: one row per sample, first the image, then the
 * read map of each block laid over it (viridis; each map scaled to its own min–max). For video
 * maps `[n, gt, gh, gw]` each frame gets its own column per block.
 * @param images the final samples `[n, C, H, W]` (or `[n, T, C, H, W]`) in [−1, 1]
 */
export async function readMapsPng(trace: ReadMapTrace, images: tf.Tensor | HostImages, options: ReadMapsPngOptions = {}): Promise<Uint8Array> {
  if (trace.maps.length === 0) throw new RangeError('readMapsPng: the trace holds no read maps (sample with readMaps: true and a RIN denoiser)');
  const host = await toHost(images);
  const step = options.step ?? Math.floor(trace.maps.length / 2);
  const maps = trace.maps[step];
  const video = trace.shape.length === 4;
  const [n, ...grid] = trace.shape;
  const [gh, gw] = grid.slice(-2);
  const frames = video ? grid[0] : 1;
  const imgShape = host.shape;
  const [c, h, w] = imgShape.slice(-3);
  const imgFrames = video ? imgShape[1] : 1;
  const scale = options.scale ?? 4;
  const indices = options.indices ?? Array.from({ length: Math.min(6, n) }, (_, i) => i);
  const cells: RgbaImage[] = [];
  const per = c * h * w;
  for (const i of indices) {
    for (let f = 0; f < frames; f++) {
      // the image frame that matches this map frame (tubelet: the first frame of the tubelet)
      const fi = Math.min(imgFrames - 1, Math.floor((f * imgFrames) / frames));
      const offset = (i * imgFrames + fi) * per;
      const img = imageGridSync({ data: Array.prototype.slice.call(host.data, offset, offset + per) as number[], shape: [1, c, h, w] }, { pad: 0, scale });
      cells.push(img);
      for (const m of maps) {
        const plane = gh * gw;
        const values = m.subarray((i * frames + f) * plane, (i * frames + f + 1) * plane);
        cells.push(heatmapRgba(values, gh, gw, { overlay: img, alpha: options.alpha ?? 0.55 }));
      }
    }
  }
  const cols = frames * (1 + maps.length);
  const t = tileRgba(cells, cols, 2);
  return encodePng(t.rgba, t.width, t.height);
}
