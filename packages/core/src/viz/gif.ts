/**
 * Animated GIFs of video samples (gifenc, imported on first use), and the frames of a batch of
 * videos tiled into grids.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '../errors.js';
import { imageGridSync, type HostImages, type ImageGridOptions, type RgbaImage } from './png.js';

/** Options of {@link encodeGif}. */
export interface GifOptions {
  /** Time each frame shows, in milliseconds (GIF stores hundredths of a second; default 100). */
  delayMs?: number;
  /** Loops: 0 forever (default), -1 play once, n > 0 repeat n times. */
  repeat?: number;
}

interface GifEncoderStream {
  writeFrame(index: Uint8Array, width: number, height: number, opts: { palette: number[][]; delay: number; repeat: number }): void;
  finish(): void;
  bytes(): Uint8Array;
}

interface GifencApi {
  GIFEncoder(): GifEncoderStream;
  quantize(rgba: Uint8Array, maxColors: number, opts?: { format?: 'rgb565' | 'rgb444' | 'rgba4444' }): number[][];
  applyPalette(rgba: Uint8Array, palette: number[][], format?: 'rgb565' | 'rgb444' | 'rgba4444'): Uint8Array;
}

let gifenc: Promise<GifencApi> | undefined;

function loadGifenc(): Promise<GifencApi> {
  // gifenc ships no types; its ESM build exports names, its CJS build (Node) one default object.
  gifenc ??= import('gifenc' as string).then((m: Record<string, unknown>) =>
    (typeof m.quantize === 'function' ? m : m.default) as GifencApi);
  return gifenc;
}

/**
 * Encodes RGBA frames (all the same size) as an animated GIF89a, one 256-colour palette per frame.
 * @returns the GIF bytes
 */
export async function encodeGif(frames: RgbaImage[], options: GifOptions = {}): Promise<Uint8Array> {
  const fn = 'encodeGif';
  if (!Array.isArray(frames) || frames.length === 0) throw new RangeError(`${fn}: frames must be a non-empty array, got ${frames?.length}`);
  const { width, height } = frames[0];
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height || f.rgba.length !== width * height * 4) {
      throw new ShapeError(`${fn}: frame ${i} must be ${width}x${height} with ${width * height * 4} bytes like frame 0, got ${f.width}x${f.height} with ${f.rgba.length}`);
    }
  });
  const delay = options.delayMs ?? 100;
  const repeat = options.repeat ?? 0;
  if (!(delay >= 0 && Number.isFinite(delay))) throw new RangeError(`${fn}: delayMs must be >= 0, got ${delay}`);
  if (!Number.isInteger(repeat) || repeat < -1) throw new RangeError(`${fn}: repeat must be an integer >= -1, got ${repeat}`);
  const g = await loadGifenc();
  const enc = g.GIFEncoder();
  for (const f of frames) {
    const palette = g.quantize(f.rgba, 256);
    const index = g.applyPalette(f.rgba, palette);
    enc.writeFrame(index, width, height, { palette, delay, repeat });
  }
  enc.finish();
  return enc.bytes();
}

/**
 * Tiles a batch of videos frame by frame: frame t of the result is the grid of frame t of every
 * video (read with `await data()` if a tensor).
 * @param videos `[B, T, C, H, W]` or `[B, T, H, W, C]` (C = 1 or 3), or one video of rank 4
 */
export async function videoGridFrames(videos: tf.Tensor | HostImages, options: ImageGridOptions = {}): Promise<RgbaImage[]> {
  const host: HostImages = videos instanceof tf.Tensor ? { data: await videos.data(), shape: videos.shape } : videos;
  let shape = [...host.shape];
  if (shape.length === 4) shape = [1, ...shape];
  if (shape.length !== 5) {
    throw new ShapeError(`videoGridFrames: videos must be [B, T, C, H, W] or [B, T, H, W, C] (or one video of rank 4), got ${formatShape(host.shape)}`);
  }
  const [B, T] = shape;
  const per = shape[2] * shape[3] * shape[4];
  if (host.data.length !== B * T * per) {
    throw new ShapeError(`videoGridFrames: data holds ${host.data.length} values, shape ${formatShape(host.shape)} needs ${B * T * per}`);
  }
  const frames: RgbaImage[] = [];
  const buf = new Float32Array(B * per);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const src = (b * T + t) * per;
      for (let k = 0; k < per; k++) buf[b * per + k] = host.data[src + k];
    }
    frames.push(imageGridSync({ data: buf, shape: [B, shape[2], shape[3], shape[4]] }, options));
  }
  return frames;
}

/** A batch of videos as one animated GIF of frame grids (see {@link videoGridFrames}, {@link encodeGif}). */
export async function videoGif(videos: tf.Tensor | HostImages, options: ImageGridOptions & GifOptions = {}): Promise<Uint8Array> {
  return encodeGif(await videoGridFrames(videos, options), options);
}
