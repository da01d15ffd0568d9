/**
 * Pictures from tensors: image grids of samples, heat maps of attention, PNG encoding (fast-png)
 * and writing files in Node. Works in browsers too, except {@link writePng}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { encode } from 'fast-png';
import { ShapeError, formatShape } from '../errors.js';
import { colormapTable, type ColormapName } from './colormap.js';
import { importAtRuntime } from '../io/fs.js';

/** An 8-bit RGBA picture, row-major, `width*height*4` bytes. */
export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Float images on the host: `[n, C, H, W]` or `[n, H, W, C]` (C = 1 or 3), or one image of rank 3. */
export interface HostImages {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Images per row (default ⌈√n⌉, at most n). */
  cols?: number;
  /** Pixels of padding between and around cells (default 1). */
  pad?: number;
  /** Colour of the padding and of empty cells, RGB bytes (default white). */
  padColor?: readonly [number, number, number];
  /** Value range mapped to 0..255, values outside clipped: [-1, 1] (default) or [0, 1] (any [lo, hi] works). */
  range?: readonly [number, number];
  /** Integer nearest-neighbour upscaling of each image (default 1). */
  scale?: number;
  /**
   * Memory layout. Default: inferred — `'nchw'` when dim 1 is 1 or 3 and dim 3 is not, `'nhwc'` in
   * the opposite case, `'nchw'` when both could be channels.
   */
  layout?: 'nchw' | 'nhwc';
}

/** Encodes RGBA bytes (`width*height*4`) as an 8-bit RGBA PNG. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePng: width and height must be positive integers, got ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`encodePng: rgba must hold width*height*4 = ${width * height * 4} bytes, got ${rgba.length}`);
  }
  return encode({ width, height, data: rgba, channels: 4, depth: 8 });
}

function toByte(v: number, lo: number, span: number): number {
  const t = (v - lo) / span;
  if (!(t > 0)) return 0; // also NaN
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/**
 * Tiles host float images into one RGBA picture (synchronous; for tensors use {@link imageGrid}).
 * Cell (r, c) holds image `r·cols + c`; its top-left pixel is at
 * `(pad + c·(W·scale + pad), pad + r·(H·scale + pad))`.
 */
export function imageGridSync(images: HostImages, options: ImageGridOptions = {}): RgbaImage {
  const fn = 'imageGrid';
  let shape = [...images.shape];
  if (shape.length === 3) shape = [1, ...shape];
  if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`${fn}: images must be [n, C, H, W] or [n, H, W, C] (or one image of rank 3), got ${formatShape(images.shape)}`);
  }
  const isCh = (d: number) => d === 1 || d === 3;
  const layout = options.layout ?? (isCh(shape[1]) ? 'nchw' : isCh(shape[3]) ? 'nhwc' : undefined);
  if (layout !== 'nchw' && layout !== 'nhwc') {
    throw new ShapeError(`${fn}: images need 1 or 3 channels (dim 1 for NCHW or dim 3 for NHWC), got ${formatShape(images.shape)}`);
  }
  const [n, C, H, W] = layout === 'nchw' ? shape : [shape[0], shape[3], shape[1], shape[2]];
  if (!isCh(C)) throw new ShapeError(`${fn}: images need 1 or 3 channels in layout ${layout}, got ${formatShape(images.shape)}`);
  if (images.data.length !== n * C * H * W) {
    throw new ShapeError(`${fn}: data holds ${images.data.length} values, shape ${formatShape(images.shape)} needs ${n * C * H * W}`);
  }
  const cols = Math.min(n, options.cols ?? Math.ceil(Math.sqrt(n)));
  const pad = options.pad ?? 1;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(cols) || cols < 1) throw new RangeError(`${fn}: cols must be a positive integer, got ${options.cols}`);
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`${fn}: pad must be an integer >= 0, got ${pad}`);
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`${fn}: scale must be a positive integer, got ${scale}`);
  const [lo, hi] = options.range ?? [-1, 1];
  if (!(hi > lo)) throw new RangeError(`${fn}: range must be [lo, hi] with hi > lo, got ${JSON.stringify(options.range)}`);
  const [pr, pg, pb] = options.padColor ?? [255, 255, 255];
  const rows = Math.ceil(n / cols);
  const cw = W * scale;
  const ch = H * scale;
  const width = cols * cw + (cols + 1) * pad;
  const height = rows * ch + (rows + 1) * pad;
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba[4 * p] = pr;
    rgba[4 * p + 1] = pg;
    rgba[4 * p + 2] = pb;
    rgba[4 * p + 3] = 255;
  }
  const data = images.data;
  const span = hi - lo;
  const plane = H * W;
  // Strides of (channel, pixel) in the source.
  const cStride = layout === 'nchw' ? plane : 1;
  const pStride = layout === 'nchw' ? 1 : C;
  for (let k = 0; k < n; k++) {
    const x0 = pad + (k % cols) * (cw + pad);
    const y0 = pad + Math.floor(k / cols) * (ch + pad);
    const base = k * C * plane;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const src = base + (i * W + j) * pStride;
        const r = toByte(data[src], lo, span);
        const g = C === 3 ? toByte(data[src + cStride], lo, span) : r;
        const b = C === 3 ? toByte(data[src + 2 * cStride], lo, span) : r;
        for (let a = 0; a < scale; a++) {
          let o = ((y0 + i * scale + a) * width + x0 + j * scale) * 4;
          for (let c = 0; c < scale; c++, o += 4) {
            rgba[o] = r;
            rgba[o + 1] = g;
            rgba[o + 2] = b;
          }
        }
      }
    }
  }
  return { width, height, rgba };
}

/** Reads a tensor on the host with `await data()` (never `dataSync`, which fails on WebGPU in Node). */
async function toHost(images: tf.Tensor | HostImages): Promise<HostImages> {
  if (images instanceof tf.Tensor) return { data: await images.data(), shape: images.shape };
  return images;
}

/**
 * Tiles float images (a tensor, read with `await data()`, or host data) into one RGBA picture.
 * @param images `[n, C, H, W]` or `[n, H, W, C]`, C = 1 or 3
 */
export async function imageGrid(images: tf.Tensor | HostImages, options: ImageGridOptions = {}): Promise<RgbaImage> {
  return imageGridSync(await toHost(images), options);
}

/** Tiles float images into a grid and encodes it as PNG bytes. */
export async function imageGridPng(images: tf.Tensor | HostImages, options: ImageGridOptions = {}): Promise<Uint8Array> {
  const g = await imageGrid(images, options);
  return encodePng(g.rgba, g.width, g.height);
}

/** Options of {@link heatmapRgba}. */
export interface HeatmapOptions {
  /** Colour map (default viridis). */
  colormap?: ColormapName;
  /** Value mapped to the colour map's start (default: the smallest finite value). */
  min?: number;
  /** Value mapped to the colour map's end (default: the largest finite value). */
  max?: number;
  /**
   * A picture to draw the heat map over. The output then has its size and the heat map is
   * stretched over it by nearest neighbour (e.g. a 4×4 attention map over a 16×16 image).
   */
  overlay?: RgbaImage;
  /** Opacity of the heat map over `overlay` (default 0.6). */
  alpha?: number;
  /** Integer upscaling of the heat map when there is no overlay (default 1). */
  scale?: number;
}

/**
 * Colours a `[h, w]` grid of values (e.g. one query's attention over image patches) with a colour
 * map, optionally blended over a picture.
 */
export function heatmapRgba(values: ArrayLike<number>, h: number, w: number, options: HeatmapOptions = {}): RgbaImage {
  const fn = 'heatmapRgba';
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new RangeError(`${fn}: h and w must be positive integers, got ${h}x${w}`);
  }
  if (values.length !== h * w) throw new ShapeError(`${fn}: values must hold h*w = ${h * w} numbers, got ${values.length}`);
  let lo = options.min;
  let hi = options.max;
  if (lo === undefined || hi === undefined) {
    let mn = Infinity;
    let mx = -Infinity;
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      if (Number.isFinite(v)) {
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
    }
    lo ??= Number.isFinite(mn) ? mn : 0;
    hi ??= Number.isFinite(mx) ? mx : 1;
  }
  const span = hi > lo ? hi - lo : 1;
  const lut = colormapTable(options.colormap ?? 'viridis');
  const overlay = options.overlay;
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`${fn}: scale must be a positive integer, got ${scale}`);
  const width = overlay ? overlay.width : w * scale;
  const height = overlay ? overlay.height : h * scale;
  if (overlay && overlay.rgba.length !== width * height * 4) {
    throw new ShapeError(`${fn}: overlay.rgba must hold ${width * height * 4} bytes, got ${overlay.rgba.length}`);
  }
  const alpha = options.alpha ?? 0.6;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`${fn}: alpha must be in [0, 1], got ${alpha}`);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const i = Math.min(h - 1, Math.floor((y * h) / height));
    for (let x = 0; x < width; x++) {
      const j = Math.min(w - 1, Math.floor((x * w) / width));
      const v = values[i * w + j];
      const t = Number.isFinite(v) ? Math.min(1, Math.max(0, (v - lo) / span)) : 0;
      const li = 3 * Math.round(t * 255);
      const o = (y * width + x) * 4;
      for (let c = 0; c < 3; c++) {
        rgba[o + c] = overlay ? Math.round(alpha * lut[li + c] + (1 - alpha) * overlay.rgba[o + c]) : lut[li + c];
      }
      rgba[o + 3] = 255;
    }
  }
  return { width, height, rgba };
}

/**
 * Writes bytes (a PNG, a GIF) to a file, creating its folder. Node only: `node:fs/promises` is
 * imported when this is first called, so browser bundles never load it.
 */
export async function writePng(path: string, bytes: Uint8Array): Promise<void> {
  const fs = await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises');
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (cut > 0) await fs.mkdir(path.slice(0, cut), { recursive: true });
  await fs.writeFile(path, bytes);
}
