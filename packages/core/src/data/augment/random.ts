/**
 * Random augmentations as batched, seeded tfjs ops: every random choice is drawn on the host from a
 * core {@link Rng}, sample after sample, so the same generator state gives the same batch on every
 * backend. Each factory returns an {@link Augmentation}, a function `(images, rng) => images` that
 * runs inside `tf.tidy` and leaves its input alone; {@link compose} chains them with one layout and
 * range conversion.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError } from '../../errors.js';
import { Rng } from '../../rng.js';
import { checkInterval, checkNumber } from '../options.js';
import {
  blurKernel, brightnessKernel, checkImages, checkKernelSize, contrastKernel, cropResizeKernel, flipKernel, fromInternal,
  grayscaleKernel, hueKernel, resolveAugment, saturationKernel, select, solarizeKernel, toInternal,
  type AugmentOptions, type CropBox, type ResolvedAugment,
} from './ops.js';

/**
 * A random augmentation: `aug(images, rng)` returns a new batch (the caller disposes it) in the
 * same layout and range as `images`; `rng` advances by the draws of every sample.
 */
export interface Augmentation {
  (images: tf.Tensor4D, rng: Rng): tf.Tensor4D;
  /** What it does, e.g. `randomHorizontalFlip(p=0.5)`. */
  readonly description: string;
  /** Layout and range of the images it takes. */
  readonly options: Readonly<ResolvedAugment>;
  /** The same on NHWC images in [0, 1] (used by {@link compose}; not range-checked). */
  readonly internal: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
}

function makeAugmentation(fn: string, description: string, options: AugmentOptions | undefined,
  internal: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D): Augmentation {
  const r = resolveAugment(fn, options);
  const aug = (images: tf.Tensor4D, rng: Rng): tf.Tensor4D => {
    checkImages(fn, images, r);
    if (!(rng instanceof Rng)) throw new BrickConfigError(`${fn}: rng must be an Rng (e.g. new Rng(seed)), got ${String(rng)}`);
    return tf.tidy(() => fromInternal(internal(toInternal(images, r), rng), r));
  };
  return Object.assign(aug, { description, options: Object.freeze({ ...r }), internal });
}

function probability(fn: string, p: unknown, fallback: number): number {
  return checkNumber(fn, 'p', p ?? fallback, 0, 1);
}

/** Draws one Bernoulli(p) per sample. */
function draws(rng: Rng, n: number, p: number): boolean[] {
  return Array.from({ length: n }, () => rng.float() < p);
}

/** Options of {@link randomResizedCrop}. */
export interface RandomResizedCropOptions extends AugmentOptions {
  /** Output side `s` (s×s) or `[height, width]`. */
  size: number | [number, number];
  /** Range of the crop's area relative to the image (default [0.08, 1], torchvision's). */
  scale?: [number, number];
  /** Range of the crop's aspect ratio width/height, drawn log-uniformly (default [3/4, 4/3]). */
  ratio?: [number, number];
}

/**
 * torchvision's `RandomResizedCrop.get_params` for one image: up to 10 tries of an area fraction
 * ~ U(scale) and a log-uniform aspect ratio; a box that fits gets a uniform position; else the
 * central crop with the ratio clamped to the range.
 */
export function sampleCropBox(rng: Rng, height: number, width: number, scale: readonly [number, number], ratio: readonly [number, number]): CropBox {
  const area = height * width;
  const lo = Math.log(ratio[0]);
  const hi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.float());
    const aspect = Math.exp(lo + (hi - lo) * rng.float());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(0, height - h + 1);
      const left = rng.int(0, width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * Random resized crop: a box per sample as in torchvision (area scale, log-uniform aspect ratio,
 * 10 tries, central fallback), cropped and resized to `size` by bilinear sampling at half-pixel
 * centres in one `tf.image.cropAndResize` (no antialiasing).
 */
export function randomResizedCrop(options: RandomResizedCropOptions): Augmentation {
  const fn = 'randomResizedCrop';
  if (options === null || typeof options !== 'object') throw new BrickConfigError(`${fn}: expected an options object with size, got ${JSON.stringify(options)}`);
  const hw = typeof options.size === 'number' ? [options.size, options.size] : options.size;
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new BrickConfigError(`${fn}: size must be a positive integer or [height, width], got ${JSON.stringify(options.size)}`);
  }
  const scale = checkInterval(fn, 'scale', options.scale ?? [0.08, 1], 1e-6, 1);
  const ratio = checkInterval(fn, 'ratio', options.ratio ?? [3 / 4, 4 / 3], 1e-6, 1e6);
  const [oh, ow] = hw;
  return makeAugmentation(fn, `randomResizedCrop(size=[${oh}, ${ow}], scale=[${scale}], ratio=[${ratio.map((v) => +v.toFixed(4))}])`, options, (x, rng) => {
    const [b, h, w] = x.shape;
    const boxes = Array.from({ length: b }, () => sampleCropBox(rng, h, w, scale, ratio));
    return cropResizeKernel(x, boxes, oh, ow);
  });
}

/** Mirrors each image left–right with probability `p` (default 0.5). */
export function randomHorizontalFlip(options: AugmentOptions & { p?: number } = {}): Augmentation {
  const fn = 'randomHorizontalFlip';
  const p = probability(fn, options?.p, 0.5);
  return makeAugmentation(fn, `randomHorizontalFlip(p=${p})`, options, (x, rng) => {
    const m = draws(rng, x.shape[0], p);
    return m.some(Boolean) ? select(m, flipKernel(x), x) : x;
  });
}

/** Options of {@link colorJitter}: each strength `v` means a factor range [max(0, 1 − v), 1 + v] (hue: a shift in [−v, v] turns); a pair gives the range itself; 0 disables it. */
export interface ColorJitterOptions extends AugmentOptions {
  brightness?: number | [number, number];
  contrast?: number | [number, number];
  saturation?: number | [number, number];
  /** At most 0.5, or a pair inside [−0.5, 0.5]. */
  hue?: number | [number, number];
  /** Probability that a sample is jittered at all (default 1; SimCLR and BYOL use 0.8). */
  p?: number;
}

function factorRange(fn: string, arg: string, v: number | [number, number] | undefined, hue: boolean): [number, number] | undefined {
  if (v === undefined || v === 0) return undefined;
  if (Array.isArray(v)) {
    const r = hue ? checkInterval(fn, arg, v, -0.5, 0.5) : checkInterval(fn, arg, v, 0, Number.MAX_VALUE);
    return r[0] === r[1] && r[0] === (hue ? 0 : 1) ? undefined : r;
  }
  if (hue) {
    const h = checkNumber(fn, arg, v, 0, 0.5);
    return [-h, h];
  }
  const s = checkNumber(fn, arg, v, 0, Number.MAX_VALUE);
  return [Math.max(0, 1 - s), 1 + s];
}

/**
 * Colour jitter as torchvision's `ColorJitter` (wrapped in `RandomApply` with `p`), per sample:
 * whether to apply, a random order of the enabled adjustments, then a factor for each (brightness,
 * contrast, saturation, hue, in that order); results are clipped to the range after each step.
 * Contrast blends with the mean luma, saturation with the luma image, hue rotates in HSV.
 */
export function colorJitter(options: ColorJitterOptions = {}): Augmentation {
  const fn = 'colorJitter';
  const ranges = [
    factorRange(fn, 'brightness', options?.brightness, false), factorRange(fn, 'contrast', options?.contrast, false),
    factorRange(fn, 'saturation', options?.saturation, false), factorRange(fn, 'hue', options?.hue, true),
  ];
  const p = probability(fn, options?.p, 1);
  const kernels = [brightnessKernel, contrastKernel, saturationKernel, hueKernel];
  const enabled = [0, 1, 2, 3].filter((k) => ranges[k] !== undefined);
  const names = ['brightness', 'contrast', 'saturation', 'hue'];
  const desc = enabled.map((k) => `${names[k]}=[${ranges[k]!.map((v) => +v.toFixed(4))}]`).join(', ');
  return makeAugmentation(fn, `colorJitter(${desc}, p=${p})`, options, (x, rng) => {
    const n = x.shape[0];
    const applied: boolean[] = [];
    const orders: number[][] = [];
    const factors = enabled.map(() => new Float32Array(n));
    for (let i = 0; i < n; i++) {
      applied.push(rng.float() < p);
      orders.push(Array.from(rng.permutation(enabled.length), (j) => enabled[j]));
      enabled.forEach((k, e) => {
        const [lo, hi] = ranges[k]!;
        factors[e][i] = lo + (hi - lo) * rng.float();
      });
    }
    let out = x;
    for (let stage = 0; stage < enabled.length; stage++) {
      enabled.forEach((k, e) => {
        const mask = orders.map((o, i) => applied[i] && o[stage] === k);
        if (mask.some(Boolean)) out = select(mask, kernels[k](out, factors[e]), out);
      });
    }
    return out;
  });
}

/** Turns each image to grayscale (luma replicated to every channel) with probability `p` (default 0.1, torchvision's; SimCLR and BYOL use 0.2). */
export function randomGrayscale(options: AugmentOptions & { p?: number } = {}): Augmentation {
  const fn = 'randomGrayscale';
  const p = probability(fn, options?.p, 0.1);
  return makeAugmentation(fn, `randomGrayscale(p=${p})`, options, (x, rng) => {
    const m = draws(rng, x.shape[0], p);
    return m.some(Boolean) ? select(m, grayscaleKernel(x), x) : x;
  });
}

/** Options of {@link randomGaussianBlur}. */
export interface RandomGaussianBlurOptions extends AugmentOptions {
  /** Odd kernel side (SimCLR and BYOL: about 10 % of the image side). */
  kernelSize: number;
  /** Range of σ in pixels, drawn uniformly per sample (default [0.1, 2.0]). */
  sigma?: [number, number];
  /** Probability of blurring a sample (default 1). */
  p?: number;
}

/** Gaussian blur with a σ ~ U(sigma) per sample, applied with probability `p` (separable, reflect padding). */
export function randomGaussianBlur(options: RandomGaussianBlurOptions): Augmentation {
  const fn = 'randomGaussianBlur';
  if (options === null || typeof options !== 'object') throw new BrickConfigError(`${fn}: expected an options object with kernelSize, got ${JSON.stringify(options)}`);
  const k = options.kernelSize;
  checkKernelSize(fn, k, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const sigma = checkInterval(fn, 'sigma', options.sigma ?? [0.1, 2.0], 1e-6, 1e6);
  const p = probability(fn, options.p, 1);
  return makeAugmentation(fn, `randomGaussianBlur(kernelSize=${k}, sigma=[${sigma.map((v) => +v.toFixed(4))}], p=${p})`, options, (x, rng) => {
    checkKernelSize(fn, k, x.shape[1], x.shape[2]);
    const n = x.shape[0];
    const m: boolean[] = [];
    const s = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      m.push(rng.float() < p);
      s[i] = sigma[0] + (sigma[1] - sigma[0]) * rng.float();
    }
    return m.some(Boolean) ? select(m, blurKernel(x, s, k), x) : x;
  });
}

/** Solarizes (inverts values at or above `threshold`, in [0, 1] units; default 0.5) with probability `p` (default 0.5). */
export function randomSolarize(options: AugmentOptions & { threshold?: number; p?: number } = {}): Augmentation {
  const fn = 'randomSolarize';
  const p = probability(fn, options?.p, 0.5);
  const threshold = checkNumber(fn, 'threshold', options?.threshold ?? 0.5, 0, 1);
  return makeAugmentation(fn, `randomSolarize(threshold=${threshold}, p=${p})`, options, (x, rng) => {
    const m = draws(rng, x.shape[0], p);
    return m.some(Boolean) ? select(m, solarizeKernel(x, threshold), x) : x;
  });
}

/**
 * Chains augmentations in order (each draws from the same generator in turn), converting layout
 * and range once; the parts' own layout/range options are ignored in favour of `options`.
 */
export function compose(augmentations: readonly Augmentation[], options: AugmentOptions = {}): Augmentation {
  const fn = 'compose';
  if (!Array.isArray(augmentations) || !augmentations.every((a) => typeof a === 'function' && typeof (a as Augmentation).internal === 'function')) {
    throw new BrickConfigError(`${fn}: expected a list of augmentations (from randomResizedCrop, colorJitter, …), got ${String(augmentations)}`);
  }
  const parts = [...augmentations];
  return makeAugmentation(fn, `compose(${parts.map((a) => a.description).join(', ')})`, options, (x, rng) => {
    let out = x;
    for (const a of parts) out = a.internal(out, rng);
    return out;
  });
}
