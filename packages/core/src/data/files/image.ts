/**
 * Image decoding and resizing on the host: PNG (fast-png) and JPEG (jpeg-js), both pure JavaScript,
 * so they run in browsers too. Decoded images are 8-bit, row-major `[H, W, C]` with C = 1 or 3.
 */
import { convertIndexedToRgb, decode as decodePngRaw, type DecodedPng } from 'fast-png';
import { decode as decodeJpegRaw } from 'jpeg-js';
import { BrickConfigError } from '../../errors.js';
import { fileError, messageOf } from './errors.js';
import { checkChoice } from '../options.js';

/** A decoded 8-bit image, row-major `[height, width, channels]`. */
export interface DecodedImage {
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  data: Uint8Array;
}

/** Which format the bytes are, by their magic: `'png'` (89 50 4e 47), `'jpeg'` (ff d8 ff) or undefined. */
export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Unpacks 1/2/4-bit samples (rows padded to whole bytes) to 0..255. */
function unpackLowDepth(packed: ArrayLike<number>, width: number, height: number, channels: number, depth: number, scale: boolean): Uint8Array {
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const max = (1 << depth) - 1;
  const out = new Uint8Array(perRow * height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = packed[y * rowBytes + (bit >> 3)];
      const v = (byte >> (8 - depth - (bit & 7))) & max;
      out[y * perRow + i] = scale ? Math.round((v * 255) / max) : v;
    }
  }
  return out;
}

/** A decoded PNG as 8-bit gray, gray+alpha, RGB or RGBA samples. */
function pngSamples(png: DecodedPng): { data: Uint8Array; channels: number } {
  const { width, height, depth } = png;
  if (png.palette) {
    const indexed = depth < 8 ? unpackLowDepth(png.data, width, height, 1, depth, false) : (png.data as Uint8Array);
    const rgb = convertIndexedToRgb({ ...png, data: indexed, depth: 8 });
    return { data: rgb, channels: rgb.length / (width * height) };
  }
  if (depth === 16) {
    const src = png.data;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = Math.round(src[i] / 257);
    return { data: out, channels: png.channels };
  }
  if (depth < 8) return { data: unpackLowDepth(png.data, width, height, png.channels, depth, true), channels: png.channels };
  return { data: png.data instanceof Uint8Array ? png.data : Uint8Array.from(png.data), channels: png.channels };
}

/**
 * Converts 8-bit samples with 1–4 channels (gray, gray+alpha, RGB, RGBA) to `channels` (1 or 3).
 * Alpha is dropped (as PIL's `convert('RGB')` does); RGB → gray uses ITU-R 601 luma
 * `L = 0.299 R + 0.587 G + 0.114 B` (PIL's `convert('L')` and torchvision's `rgb_to_grayscale`).
 */
function toChannels(src: Uint8Array, pixels: number, from: number, channels: 1 | 3): Uint8Array {
  const out = new Uint8Array(pixels * channels);
  const color = from >= 3;
  for (let p = 0; p < pixels; p++) {
    const s = p * from;
    if (channels === 3) {
      if (color) {
        out[3 * p] = src[s];
        out[3 * p + 1] = src[s + 1];
        out[3 * p + 2] = src[s + 2];
      } else {
        out[3 * p] = out[3 * p + 1] = out[3 * p + 2] = src[s];
      }
    } else {
      out[p] = color ? Math.round(0.299 * src[s] + 0.587 * src[s + 1] + 0.114 * src[s + 2]) : src[s];
    }
  }
  return out;
}

/**
 * Decodes PNG or JPEG bytes (told apart by their magic, not the file name) to an 8-bit
 * `[H, W, channels]` image. PNG: gray, gray+alpha, RGB, RGBA and palette images of any bit depth
 * (16-bit samples are rounded to 8 bits); JPEG: baseline and progressive, gray or colour. Alpha is
 * dropped. A corrupt or truncated file gives a {@link DataFileError} naming `file`.
 * @param channels 1 (gray) or 3 (RGB, the default)
 */
export function decodeImage(bytes: Uint8Array, file = '<bytes>', channels: 1 | 3 = 3, fn = 'decodeImage'): DecodedImage {
  if (!(bytes instanceof Uint8Array)) {
    throw new BrickConfigError(`${fn}: bytes must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  checkChoice(fn, 'channels', channels, [1, 3] as const);
  const format = imageFormat(bytes);
  if (format === undefined) {
    const head = Array.from(bytes.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
    fileError(fn, file, `is not a PNG or JPEG image: expected the magic 89 50 4e 47 (PNG) or ff d8 ff (JPEG), found ${head ? `bytes ${head}` : 'no bytes'}`);
  }
  let samples: Uint8Array;
  let from: number;
  let width: number;
  let height: number;
  try {
    if (format === 'png') {
      const png = decodePngRaw(bytes);
      ({ width, height } = png);
      const s = pngSamples(png);
      samples = s.data;
      from = s.channels;
    } else {
      const jpg = decodeJpegRaw(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 1024 });
      ({ width, height } = jpg);
      samples = jpg.data;
      from = 3;
    }
  } catch (e) {
    fileError(fn, file, `is a corrupt or truncated ${format.toUpperCase()} file: ${messageOf(e)}`, e);
  }
  if (!(width > 0 && height > 0) || samples.length !== width * height * from) {
    fileError(fn, file, `decoded to ${samples.length} samples for ${width}x${height}x${from}; expected ${width * height * from} (a corrupt or truncated ${format.toUpperCase()})`);
  }
  return { width, height, channels, data: toChannels(samples, width * height, from, channels) };
}

/** Filter weights for one output axis: for each output index, the first input index and its weights. */
function axisWeights(inSize: number, outSize: number): { first: Int32Array; taps: number; w: Float32Array } {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1); // triangle filter widened when shrinking (antialiasing)
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const w = new Float32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    first[o] = lo;
    let total = 0;
    for (let i = lo; i < hi && i - lo < taps; i++) {
      const x = (i + 0.5 - centre) / support;
      const v = Math.max(0, 1 - Math.abs(x));
      w[o * taps + i - lo] = v;
      total += v;
    }
    for (let t = 0; t < taps; t++) w[o * taps + t] /= total;
  }
  return { first, taps, w };
}

/**
 * Resizes a row-major `[H, W, C]` image with a separable triangle (bilinear) filter whose support
 * widens when shrinking, so downscaling averages instead of aliasing (PIL's `BILINEAR` resize and
 * torchvision's `antialias=True`). Pixel centres are at `(i + 0.5)`; weights are renormalised at the
 * borders. Upscaling equals plain bilinear interpolation with half-pixel centres away from the borders.
 * @returns float32 `[outH, outW, C]`, in the units of the input
 */
export function resizeImage(data: ArrayLike<number>, height: number, width: number, channels: number, outHeight: number, outWidth: number): Float32Array {
  const fn = 'resizeImage';
  for (const [arg, v] of [['height', height], ['width', width], ['channels', channels], ['outHeight', outHeight], ['outWidth', outWidth]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new BrickConfigError(`${fn}: ${arg} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  if (data.length !== height * width * channels) {
    throw new BrickConfigError(`${fn}: data must hold height*width*channels = ${height * width * channels} values, got ${data.length}`);
  }
  const xs = axisWeights(width, outWidth);
  const ys = axisWeights(height, outHeight);
  // Horizontal pass: [H, W, C] → [H, outW, C].
  const mid = new Float32Array(height * outWidth * channels);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < outWidth; o++) {
      const x0 = xs.first[o];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let t = 0; t < xs.taps && x0 + t < width; t++) acc += xs.w[o * xs.taps + t] * data[(y * width + x0 + t) * channels + c];
        mid[(y * outWidth + o) * channels + c] = acc;
      }
    }
  }
  // Vertical pass: [H, outW, C] → [outH, outW, C].
  const out = new Float32Array(outHeight * outWidth * channels);
  const row = outWidth * channels;
  for (let o = 0; o < outHeight; o++) {
    const y0 = ys.first[o];
    for (let t = 0; t < ys.taps && y0 + t < height; t++) {
      const wt = ys.w[o * ys.taps + t];
      if (wt === 0) continue;
      const src = (y0 + t) * row;
      for (let i = 0; i < row; i++) out[o * row + i] += wt * mid[src + i];
    }
  }
  return out;
}
