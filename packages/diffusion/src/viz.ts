/**
 * Pictures of a diffusion model (PNG bytes; write them with core's `writePng`):
 * - {@link classGridPng}: samples in rows by class;
 * - {@link trajectoryPng}: the denoising trajectory of one sample (x_t above x̂0, step by step);
 * - {@link readMapsPng}: RIN read-attention maps over the image (one column per block), or over
 *   each frame of a video.
 *
 * Each can carry a title and row/column labels (opt-in), drawn with a tiny built-in 5×8 bitmap font
 * ({@link drawText}, {@link annotateRgba}): class names at the left of a class grid's rows, the
 * step's t over a trajectory's columns, "block k" over the read maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, encodePng, formatShape, heatmapRgba, imageGridSync, type HostImages, type RgbaImage } from '@brickml/core';
import type { ReadMapTrace, Trajectory } from './samplers/common.js';

// ---------------------------------------------------------------------------------------------
// Text: a 5×8 bitmap font (7 rows above the baseline, 1 for descenders), drawn in whole pixels.

/** Glyphs: 8 rows of 5 bits, top to bottom ('1' = ink); 7 given rows get an empty descender row. */
const GLYPH_ROWS: Record<string, string> = {
  A: '01110 10001 10001 11111 10001 10001 10001', B: '11110 10001 10001 11110 10001 10001 11110', C: '01110 10001 10000 10000 10000 10001 01110',
  D: '11110 10001 10001 10001 10001 10001 11110', E: '11111 10000 10000 11110 10000 10000 11111', F: '11111 10000 10000 11110 10000 10000 10000',
  G: '01110 10001 10000 10111 10001 10001 01111', H: '10001 10001 10001 11111 10001 10001 10001', I: '01110 00100 00100 00100 00100 00100 01110',
  J: '00111 00010 00010 00010 00010 10010 01100', K: '10001 10010 10100 11000 10100 10010 10001', L: '10000 10000 10000 10000 10000 10000 11111',
  M: '10001 11011 10101 10101 10001 10001 10001', N: '10001 10001 11001 10101 10011 10001 10001', O: '01110 10001 10001 10001 10001 10001 01110',
  P: '11110 10001 10001 11110 10000 10000 10000', Q: '01110 10001 10001 10001 10101 10010 01101', R: '11110 10001 10001 11110 10100 10010 10001',
  S: '01111 10000 10000 01110 00001 00001 11110', T: '11111 00100 00100 00100 00100 00100 00100', U: '10001 10001 10001 10001 10001 10001 01110',
  V: '10001 10001 10001 10001 10001 01010 00100', W: '10001 10001 10001 10101 10101 10101 01010', X: '10001 10001 01010 00100 01010 10001 10001',
  Y: '10001 10001 01010 00100 00100 00100 00100', Z: '11111 00001 00010 00100 01000 10000 11111', a: '00000 00000 01110 00001 01111 10001 01111 00000',
  b: '10000 10000 10110 11001 10001 10001 11110 00000', c: '00000 00000 01110 10000 10000 10001 01110 00000', d: '00001 00001 01101 10011 10001 10001 01111 00000',
  e: '00000 00000 01110 10001 11111 10000 01110 00000', f: '00110 01001 01000 11100 01000 01000 01000 00000', g: '00000 00000 01111 10001 10001 01111 00001 01110',
  h: '10000 10000 10110 11001 10001 10001 10001 00000', i: '00100 00000 01100 00100 00100 00100 01110 00000', j: '00010 00000 00110 00010 00010 00010 10010 01100',
  k: '10000 10000 10010 10100 11000 10100 10010 00000', l: '01100 00100 00100 00100 00100 00100 01110 00000', m: '00000 00000 11010 10101 10101 10101 10101 00000',
  n: '00000 00000 10110 11001 10001 10001 10001 00000', o: '00000 00000 01110 10001 10001 10001 01110 00000', p: '00000 00000 11110 10001 10001 11110 10000 10000',
  q: '00000 00000 01111 10001 10001 01111 00001 00001', r: '00000 00000 10110 11001 10000 10000 10000 00000', s: '00000 00000 01111 10000 01110 00001 11110 00000',
  t: '01000 01000 11100 01000 01000 01001 00110 00000', u: '00000 00000 10001 10001 10001 10011 01101 00000', v: '00000 00000 10001 10001 10001 01010 00100 00000',
  w: '00000 00000 10001 10001 10101 10101 01010 00000', x: '00000 00000 10001 01010 00100 01010 10001 00000', y: '00000 00000 10001 10001 10001 01111 00001 01110',
  z: '00000 00000 11111 00010 00100 01000 11111 00000', 0: '01110 10001 10011 10101 11001 10001 01110', 1: '00100 01100 00100 00100 00100 00100 01110',
  2: '01110 10001 00001 00010 00100 01000 11111', 3: '11111 00010 00100 00010 00001 10001 01110', 4: '00010 00110 01010 10010 11111 00010 00010',
  5: '11111 10000 11110 00001 00001 10001 01110', 6: '00110 01000 10000 11110 10001 10001 01110', 7: '11111 00001 00010 00100 01000 01000 01000',
  8: '01110 10001 10001 01110 10001 10001 01110', 9: '01110 10001 10001 01111 00001 00010 01100', ' ': '00000 00000 00000 00000 00000 00000 00000',
  '-': '00000 00000 00000 11111 00000 00000 00000', '.': '00000 00000 00000 00000 00000 01100 01100', ',': '00000 00000 00000 00000 01100 00100 01000',
  ':': '00000 01100 01100 00000 01100 01100 00000', ';': '00000 01100 01100 00000 01100 00100 01000', '(': '00010 00100 01000 01000 01000 00100 00010', ')': '01000 00100 00010 00010 00010 00100 01000',
  '/': '00000 00001 00010 00100 01000 10000 00000', '%': '11000 11001 00010 00100 01000 10011 00011', '=': '00000 00000 11111 00000 11111 00000 00000',
  '+': '00000 00100 00100 11111 00100 00100 00000', '×': '00000 10001 01010 00100 01010 10001 00000', '_': '00000 00000 00000 00000 00000 00000 11111',
  '#': '01010 01010 11111 01010 11111 01010 01010', '?': '01110 10001 00001 00010 00100 00000 00100', '!': '00100 00100 00100 00100 00100 00000 00100',
  "'": '00100 00100 01000 00000 00000 00000 00000', '[': '01110 01000 01000 01000 01000 01000 01110', ']': '01110 00010 00010 00010 00010 00010 01110',
  '<': '00010 00100 01000 10000 01000 00100 00010', '>': '01000 00100 00010 00001 00010 00100 01000', '→': '00000 00100 00010 11111 00010 00100 00000',
  '·': '00000 00000 00000 01100 01100 00000 00000', '≈': '00000 01000 10101 00010 01000 10101 00010', '~': '00000 00000 01000 10101 00010 00000 00000',
};
const GLYPHS = new Map<string, Uint8Array>(
  Object.entries(GLYPH_ROWS).map(([ch, rows]) => {
    const bits = rows.split(' ').join('').padEnd(40, '0');
    return [ch, Uint8Array.from(bits, (b) => (b === '1' ? 1 : 0))];
  }),
);
const ALIASES: Record<string, string> = { '−': '-', '–': '-', '—': '-', 'x̂': 'x', 'ŷ': 'y', '…': '.', '≤': '<', '≥': '>', 'γ': 'g', 'η': 'n', 'τ': 't' };

/** Width and height of one character cell of the font at scale 1 (5×8 glyph + 1 px spacing to the right). */
export const FONT_CELL = Object.freeze({ width: 6, height: 8 });

/** Options of {@link drawText}. */
export interface TextOptions {
  /** Integer pixel size of a font pixel (default 2: 12 px per character). */
  scale?: number;
  /** RGB ink colour (default black). */
  color?: readonly [number, number, number];
}

/** Width in pixels of `text` in the built-in font (no trailing spacing). */
export function textWidth(text: string, scale = 2): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * FONT_CELL.width - 1) * scale;
}

/** Height in pixels of a line of text (descenders included). */
export function textHeight(scale = 2): number {
  return FONT_CELL.height * scale;
}

/**
 * Draws one line of text into an RGBA picture in place, top-left corner at (x, y), clipped at
 * the edges. Unknown characters are drawn as '?'.
 */
export function drawText(image: RgbaImage, text: string, x: number, y: number, options: TextOptions = {}): void {
  const scale = options.scale ?? 2;
  if (!Number.isInteger(scale) || scale < 1) throw new RangeError(`drawText: scale must be a positive integer, got ${scale}`);
  const [r, g, b] = options.color ?? [0, 0, 0];
  const { width, height, rgba } = image;
  let cx = Math.round(x);
  const y0 = Math.round(y);
  for (const raw of text) {
    const ch = ALIASES[raw] ?? raw;
    const glyph = GLYPHS.get(ch) ?? GLYPHS.get(ch.normalize('NFD')[0]) ?? GLYPHS.get('?')!;
    for (let gy = 0; gy < 8; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        if (!glyph[gy * 5 + gx]) continue;
        for (let dy = 0; dy < scale; dy++) {
          const py = y0 + gy * scale + dy;
          if (py < 0 || py >= height) continue;
          for (let dx = 0; dx < scale; dx++) {
            const px = cx + gx * scale + dx;
            if (px < 0 || px >= width) continue;
            const o = (py * width + px) * 4;
            rgba[o] = r;
            rgba[o + 1] = g;
            rgba[o + 2] = b;
            rgba[o + 3] = 255;
          }
        }
      }
    }
    cx += FONT_CELL.width * scale;
  }
}

/** A `width × height` picture of one colour (default white). */
export function blankRgba(width: number, height: number, color: readonly [number, number, number] = [255, 255, 255]): RgbaImage {
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    rgba[4 * p] = color[0];
    rgba[4 * p + 1] = color[1];
    rgba[4 * p + 2] = color[2];
    rgba[4 * p + 3] = 255;
  }
  return { width, height, rgba };
}

/** Copies `src` into `dst` with its top-left corner at (x, y) (clipped). */
export function pasteRgba(dst: RgbaImage, src: RgbaImage, x: number, y: number): void {
  for (let sy = 0; sy < src.height; sy++) {
    const dy = y + sy;
    if (dy < 0 || dy >= dst.height) continue;
    const sx0 = Math.max(0, -x);
    const sx1 = Math.min(src.width, dst.width - x);
    if (sx1 <= sx0) continue;
    dst.rgba.set(src.rgba.subarray((sy * src.width + sx0) * 4, (sy * src.width + sx1) * 4), (dy * dst.width + x + sx0) * 4);
  }
}

/** A label centred on a row or column of the picture (in the picture's own pixel coordinates). */
export interface AxisLabel {
  text: string;
  /** y (row labels) or x (column labels) of the label's centre. */
  center: number;
}

/** Options of {@link annotateRgba}. */
export interface AnnotateOptions {
  /** Text over everything ('\n' starts a new line). */
  title?: string;
  /** Labels at the left, each vertically centred on its row. */
  rowLabels?: readonly AxisLabel[];
  /** Labels above the picture, each horizontally centred on its column. */
  colLabels?: readonly AxisLabel[];
  /** Font scale (default 2). */
  textScale?: number;
  /** Gap around the text in pixels (default 6). */
  margin?: number;
}

/**
 * Puts a picture on a white canvas with room for a title, row labels at the left and column
 * labels on top (all optional) and draws them in black.
 */
export function annotateRgba(image: RgbaImage, options: AnnotateOptions = {}): RgbaImage {
  const scale = options.textScale ?? 2;
  const m = options.margin ?? 6;
  const lh = textHeight(scale);
  const rows = options.rowLabels ?? [];
  const cols = options.colLabels ?? [];
  const left = rows.length ? Math.max(...rows.map((l) => textWidth(l.text, scale))) + 2 * m : 0;
  const titleLines = options.title ? options.title.split('\n') : [];
  const lineGap = Math.ceil(lh / 4);
  const titleH = titleLines.length ? titleLines.length * (lh + lineGap) - lineGap + 2 * m : 0;
  const colH = cols.length ? lh + m : 0;
  const top = titleH + colH;
  const width = Math.max(left + image.width, ...titleLines.map((l) => textWidth(l, scale) + 2 * m));
  const out = blankRgba(width, top + image.height);
  pasteRgba(out, image, left, top);
  titleLines.forEach((line, i) => drawText(out, line, m, m + i * (lh + lineGap), { scale }));
  for (const l of cols) drawText(out, l.text, Math.round(left + l.center - textWidth(l.text, scale) / 2), titleH + Math.round(m / 2), { scale });
  for (const l of rows) drawText(out, l.text, left - m - textWidth(l.text, scale), Math.round(top + l.center - (7 * scale) / 2), { scale });
  return out;
}

/** Centres of the cells of a tiled axis: `count` cells of `size` px with `pad` px around and between. */
export function cellCenters(count: number, size: number, pad: number): number[] {
  return Array.from({ length: count }, (_, i) => pad + i * (size + pad) + size / 2);
}

function encode(image: RgbaImage): Uint8Array {
  return encodePng(image.rgba, image.width, image.height);
}

// ---------------------------------------------------------------------------------------------

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
  /** Integer nearest-neighbour upscaling (default 4: 64 px per 16×16 sample). */
  scale?: number;
  /** A label per row drawn at its left, e.g. the class names (`SHAPE_NAMES`). */
  labels?: readonly string[];
  /** A title over the grid. */
  title?: string;
  /** Font scale of labels and title (default 2). */
  textScale?: number;
}

/**
 * Samples grouped by class, one row per class: `samples` `[rows·perRow, 3, H, W]` ordered row by
 * row (as `classRows` makes the class list), optionally with row labels and a title.
 */
export async function classGridPng(samples: tf.Tensor | HostImages, perRow: number, options: ClassGridOptions = {}): Promise<Uint8Array> {
  const host = await toHost(samples);
  const scale = options.scale ?? 4;
  const pad = 2;
  const g = imageGridSync(host, { cols: perRow, scale, pad });
  if (!options.labels && !options.title) return encode(g);
  const h = host.shape[host.shape.length - 2];
  const rows = Math.ceil(host.shape[0] / Math.min(perRow, host.shape[0]));
  const centers = cellCenters(rows, h * scale, pad);
  const rowLabels = (options.labels ?? []).slice(0, rows).map((text, i) => ({ text, center: centers[i] }));
  return encode(annotateRgba(g, { title: options.title, rowLabels, textScale: options.textScale }));
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
  /** Integer upscaling (default 4). */
  scale?: number;
  /** Label the rows (x_t, x0 estimate) and columns (t of each step). Default false. */
  labels?: boolean;
  /** A title over the picture. */
  title?: string;
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
  const scale = options.scale ?? 4;
  const g = imageGridSync({ data, shape: [2 * picks.length, c, h, w] }, { cols: picks.length, scale, pad: 2 });
  if (!options.labels && !options.title) return encode(g);
  const rowC = cellCenters(2, h * scale, 2);
  const colC = cellCenters(picks.length, w * scale, 2);
  const cell = w * scale;
  const tLabel = (t: number) => [`t=${t.toFixed(2)}`, t.toFixed(2), t.toFixed(1)].find((l) => textWidth(l, 2) <= cell) ?? '';
  return encode(annotateRgba(g, {
    title: options.title,
    rowLabels: options.labels ? [{ text: 'x_t', center: rowC[0] }, { text: 'x0 est.', center: rowC[1] }] : [],
    colLabels: options.labels ? picks.map((s, j) => ({ text: tLabel(trajectory.t[s]), center: colC[j] })) : [],
  }));
}

/** Options of {@link readMapsPng}. */
export interface ReadMapsPngOptions {
  /** Which recorded step (default: the middle one, where the maps are most telling). */
  step?: number;
  /** Samples to show (default the first 6). */
  indices?: number[];
  /** Pixels per image pixel (default 8: 128 px per 16×16 image, 16 px per 2×2 patch). */
  scale?: number;
  /** Heat-map opacity over the image (default 0.55). */
  alpha?: number;
  /** A label per shown sample (row), e.g. its class name. */
  rowLabels?: readonly string[];
  /** A title; `true` for the default one (which step, which t). Column headers come with it. */
  title?: string | boolean;
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
  const scale = options.scale ?? 8;
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
  if (!options.title && !options.rowLabels) return encode(t);
  const colC = cellCenters(cols, w * scale, 2);
  const headers = (short: boolean): string[] => {
    const heads: string[] = [];
    for (let f = 0; f < frames; f++) {
      const fr = frames > 1 ? (short ? `f${f} ` : `frame ${f} `) : '';
      heads.push(frames > 1 ? (short ? `f${f}` : `frame ${f}`) : 'sample', ...maps.map((_, b) => `${fr}${short ? 'b' : 'block '}${b + 1}`));
    }
    return heads;
  };
  const fitting = [headers(false), headers(true)].find((hs) => hs.every((hd) => textWidth(hd, 2) <= w * scale + 2)) ?? [];
  const rowC = cellCenters(indices.length, h * scale, 2);
  const title = options.title === true || (options.title === undefined && options.rowLabels)
    ? `RIN read attention, step ${step + 1}/${trace.maps.length}, t=${(trace.t[step] ?? NaN).toFixed(2)}\nbright = patch read more`
    : options.title || undefined;
  return encode(annotateRgba(t, {
    title,
    colLabels: fitting.map((text, i) => ({ text, center: colC[i] })),
    rowLabels: (options.rowLabels ?? []).slice(0, indices.length).map((text, i) => ({ text, center: rowC[i] })),
  }));
}
