/**
 * Batched image operations behind the augmentations, one parameter per sample. Kernels work on
 * NHWC images in [0, 1]; the exported functions take images in the caller's layout and range
 * ({@link AugmentOptions}) and convert at the boundary. None is meant to be differentiated: they
 * use forward kernels only (cropAndResize, depthwise conv, mirrorPad, where), present on cpu, wasm,
 * webgl and webgpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, ShapeError, formatShape } from '../../errors.js';
import { checkChoice, checkRange } from '../options.js';
import type { ImageValueRange } from '../raster.js';

/** Layout and value range of the images an augmentation takes and returns. */
export interface AugmentOptions {
  /** `'nchw'` (default, `[batch, C, H, W]`) or `'nhwc'`. */
  layout?: 'nchw' | 'nhwc';
  /** Value range of the images: [-1, 1] (default, like core's data sets) or [0, 1]. */
  range?: ImageValueRange;
}

export interface ResolvedAugment {
  layout: 'nchw' | 'nhwc';
  range: ImageValueRange;
}

export function resolveAugment(fn: string, o: AugmentOptions | undefined): ResolvedAugment {
  if (o !== undefined && (o === null || typeof o !== 'object')) throw new BrickConfigError(`${fn}: expected an options object, got ${JSON.stringify(o)}`);
  return {
    layout: checkChoice(fn, 'layout', o?.layout ?? 'nchw', ['nchw', 'nhwc'] as const),
    range: checkRange(fn, o?.range ?? [-1, 1]),
  };
}

/** Checks a batch of images: rank 4, 1 or 3 channels in the layout's channel axis. */
export function checkImages(fn: string, images: tf.Tensor, r: ResolvedAugment): void {
  if (!(images instanceof tf.Tensor)) throw new BrickConfigError(`${fn}: images must be a tf.Tensor, got ${String(images)}`);
  const c = r.layout === 'nchw' ? images.shape[1] : images.shape[3];
  if (images.rank !== 4 || (c !== 1 && c !== 3) || images.dtype !== 'float32') {
    const want = r.layout === 'nchw' ? '[batch, C, H, W]' : '[batch, H, W, C]';
    throw new ShapeError(`${fn}: images must be float32 ${want} with C = 1 or 3 (layout '${r.layout}'), got ${images.dtype} ${formatShape(images.shape)}`);
  }
}

/** To NHWC in [0, 1]. */
export function toInternal(x: tf.Tensor4D, r: ResolvedAugment): tf.Tensor4D {
  const nhwc = r.layout === 'nchw' ? tf.transpose(x, [0, 2, 3, 1]) : x;
  return r.range[0] === -1 ? tf.mul(tf.add(nhwc, 1), 0.5) as tf.Tensor4D : nhwc;
}

/** From NHWC in [0, 1] back to the caller's layout and range. */
export function fromInternal(x: tf.Tensor4D, r: ResolvedAugment): tf.Tensor4D {
  const ranged = r.range[0] === -1 ? tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D : x;
  return r.layout === 'nchw' ? tf.transpose(ranged, [0, 3, 1, 2]) : ranged;
}

/** Per-sample values as `[B, 1, 1, 1]`. */
export function perSample(values: ArrayLike<number>): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
}

/** Per-sample boolean mask as `[B, 1, 1, 1]`. */
export function perSampleMask(mask: ArrayLike<boolean>): tf.Tensor4D {
  return tf.tensor4d(Uint8Array.from(Array.from(mask, (m) => (m ? 1 : 0))), [mask.length, 1, 1, 1], 'bool');
}

/** `where(mask, a, b)` per sample. */
export function select(mask: ArrayLike<boolean>, a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  return tf.where(perSampleMask(mask), a, b);
}

const clip01 = (x: tf.Tensor4D) => tf.clipByValue(x, 0, 1);

/** ITU-R 601 luma of NHWC RGB in [0, 1] (`[B, H, W, 1]`); one-channel images are returned as is. */
export function luma(x: tf.Tensor4D): tf.Tensor4D {
  if (x.shape[3] === 1) return x;
  return tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), 3, true) as tf.Tensor4D;
}

/** Horizontal flip (mirror along W). */
export function flipKernel(x: tf.Tensor4D): tf.Tensor4D {
  return tf.reverse(x, 2);
}

/** Brightness: `x · f`, clipped. */
export function brightnessKernel(x: tf.Tensor4D, f: ArrayLike<number>): tf.Tensor4D {
  return clip01(tf.mul(x, perSample(f)));
}

/** Contrast: blend with the image's mean luma, `f·x + (1 − f)·mean`, clipped (torchvision's `adjust_contrast`). */
export function contrastKernel(x: tf.Tensor4D, f: ArrayLike<number>): tf.Tensor4D {
  const m = tf.mean(luma(x), [1, 2, 3], true);
  const t = perSample(f);
  return clip01(tf.add(tf.mul(t, x), tf.mul(tf.sub(1, t), m)));
}

/** Saturation: blend with the luma image, `f·x + (1 − f)·gray`, clipped; identity on one channel. */
export function saturationKernel(x: tf.Tensor4D, f: ArrayLike<number>): tf.Tensor4D {
  if (x.shape[3] === 1) return x;
  const t = perSample(f);
  return clip01(tf.add(tf.mul(t, x), tf.mul(tf.sub(1, t), luma(x))));
}

/** Hue: rotate the hue by `shift` turns (in [−0.5, 0.5]) through HSV, as torchvision's `adjust_hue`; identity on one channel. */
export function hueKernel(x: tf.Tensor4D, shift: ArrayLike<number>): tf.Tensor4D {
  if (x.shape[3] === 1) return x;
  const [r, g, b] = tf.split(x, 3, 3) as tf.Tensor4D[];
  const maxc = tf.maximum(tf.maximum(r, g), b);
  const minc = tf.minimum(tf.minimum(r, g), b);
  const cr = tf.sub(maxc, minc);
  const flat = tf.equal(maxc, minc);
  const s = tf.div(cr, tf.where(flat, tf.onesLike(maxc), maxc));
  const crDiv = tf.where(flat, tf.onesLike(cr), cr);
  const rc = tf.div(tf.sub(maxc, r), crDiv);
  const gc = tf.div(tf.sub(maxc, g), crDiv);
  const bc = tf.div(tf.sub(maxc, b), crDiv);
  const isR = tf.equal(maxc, r);
  const isG = tf.logicalAnd(tf.equal(maxc, g), tf.logicalNot(isR));
  const isB = tf.logicalAnd(tf.logicalNot(isG), tf.logicalNot(isR));
  const hr = tf.mul(tf.cast(isR, 'float32'), tf.sub(bc, gc));
  const hg = tf.mul(tf.cast(isG, 'float32'), tf.add(2, tf.sub(rc, bc)));
  const hb = tf.mul(tf.cast(isB, 'float32'), tf.add(4, tf.sub(gc, rc)));
  let h = tf.mod(tf.add(tf.div(tf.add(tf.add(hr, hg), hb), 6), 1), 1);
  h = tf.mod(tf.add(h, perSample(shift)), 1);
  const v = maxc;
  // HSV → RGB.
  const h6 = tf.mul(h, 6);
  const i = tf.floor(h6);
  const fr = tf.sub(h6, i);
  const ii = tf.mod(i, 6);
  const p = tf.clipByValue(tf.mul(v, tf.sub(1, s)), 0, 1);
  const q = tf.clipByValue(tf.mul(v, tf.sub(1, tf.mul(s, fr))), 0, 1);
  const t = tf.clipByValue(tf.mul(v, tf.sub(1, tf.mul(s, tf.sub(1, fr)))), 0, 1);
  const sectors = [0, 1, 2, 3, 4, 5].map((k) => tf.cast(tf.equal(ii, k), 'float32'));
  const pick = (vals: tf.Tensor[]) => tf.addN(vals.map((val, k) => tf.mul(sectors[k], val))); // 6 terms (addN ≤ 7 for webgpu)
  const R = pick([v, q, p, p, t, v]);
  const G = pick([t, v, v, q, p, p]);
  const B = pick([p, p, t, v, v, q]);
  return tf.concat([R, G, B], 3) as tf.Tensor4D;
}

/** Grayscale with the channel count kept (luma replicated to 3 channels). */
export function grayscaleKernel(x: tf.Tensor4D): tf.Tensor4D {
  if (x.shape[3] === 1) return x;
  return tf.tile(luma(x), [1, 1, 1, 3]);
}

/** Solarize: `x ≥ threshold ? 1 − x : x` (threshold in [0, 1] units). */
export function solarizeKernel(x: tf.Tensor4D, threshold: number): tf.Tensor4D {
  return tf.where(tf.greaterEqual(x, threshold), tf.sub(1, x), x) as tf.Tensor4D;
}

/** 1-D Gaussian weights, torchvision's `_get_gaussian_kernel1d`: x = −(k−1)/2 … (k−1)/2, exp(−x²/2σ²), normalised. */
export function gaussianWeights(kernelSize: number, sigma: number): Float32Array {
  const w = new Float32Array(kernelSize);
  const half = (kernelSize - 1) / 2;
  let total = 0;
  for (let i = 0; i < kernelSize; i++) {
    const x = i - half;
    w[i] = Math.exp(-0.5 * (x / sigma) ** 2);
    total += w[i];
  }
  for (let i = 0; i < kernelSize; i++) w[i] /= total;
  return w;
}

/**
 * Separable Gaussian blur with one σ per sample and reflect padding (torchvision's
 * `gaussian_blur`). The batch is folded into the channels so one depthwise convolution per axis
 * blurs every sample with its own kernel.
 */
export function blurKernel(x: tf.Tensor4D, sigmas: ArrayLike<number>, kernelSize: number): tf.Tensor4D {
  const [bsz, h, w, c] = x.shape;
  const r = (kernelSize - 1) / 2;
  const weights = new Float32Array(bsz * c * kernelSize);
  for (let b = 0; b < bsz; b++) {
    const g = gaussianWeights(kernelSize, sigmas[b]);
    for (let ch = 0; ch < c; ch++) for (let k = 0; k < kernelSize; k++) weights[k * bsz * c + b * c + ch] = g[k];
  }
  const folded = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, bsz * c]); // [1, H, W, B·C]
  const fx = tf.tensor4d(weights, [1, kernelSize, bsz * c, 1]);
  const fy = tf.tensor4d(weights, [kernelSize, 1, bsz * c, 1]);
  const padX = tf.mirrorPad(folded, [[0, 0], [0, 0], [r, r], [0, 0]], 'reflect');
  const bx = tf.depthwiseConv2d(padX as tf.Tensor4D, fx, 1, 'valid');
  const padY = tf.mirrorPad(bx, [[0, 0], [r, r], [0, 0], [0, 0]], 'reflect');
  const by = tf.depthwiseConv2d(padY, fy, 1, 'valid'); // [1, H, W, B·C]
  return tf.transpose(tf.reshape(by, [h, w, bsz, c]), [2, 0, 1, 3]);
}

/** A crop in pixels: rows `top … top + height − 1`, columns `left … left + width − 1`. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Crops each sample's box and resizes it to `[outH, outW]` with bilinear sampling at half-pixel
 * centres (like `tf.image.resizeBilinear(…, halfPixelCenters = true)` of the crop, no antialiasing),
 * through one `tf.image.cropAndResize` over a 1-pixel edge-padded batch (so samples beyond the image's
 * outer pixel centres clamp to the edge instead of reading zeros). One difference from resizing the
 * cropped slice: when a crop is stretched (output larger than the box along an axis), its outermost
 * output pixels sample up to half an input pixel beyond the box, reading the image's neighbouring
 * pixels where a resize of the slice would clamp to the box's edge.
 */
export function cropResizeKernel(x: tf.Tensor4D, boxes: readonly CropBox[], outH: number, outW: number): tf.Tensor4D {
  const [bsz, h, w] = x.shape;
  const padded = tf.mirrorPad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], 'symmetric'); // edge replicate
  const coords = new Float32Array(bsz * 4);
  const axis = (start: number, len: number, out: number, size: number): [number, number] => {
    // Output pixel i samples input coordinate start + (i + 0.5)·len/out − 0.5 (+1 for the padding).
    const a = start + (0.5 * len) / out - 0.5 + 1;
    const z = a + (len / out) * (out - 1);
    const denom = size + 1; // padded size − 1
    return [a / denom, z / denom];
  };
  boxes.forEach((bx, i) => {
    const [y1, y2] = axis(bx.top, bx.height, outH, h);
    const [x1, x2] = axis(bx.left, bx.width, outW, w);
    coords.set([y1, x1, y2, x2], 4 * i);
  });
  const single = outH === 1 || outW === 1;
  if (single) {
    // cropAndResize samples the box centre for a size-1 axis; our formula already gives the centre.
    boxes.forEach((bx, i) => {
      if (outH === 1) coords[4 * i] = coords[4 * i + 2] = (bx.top + bx.height / 2 - 0.5 + 1) / (h + 1);
      if (outW === 1) coords[4 * i + 1] = coords[4 * i + 3] = (bx.left + bx.width / 2 - 0.5 + 1) / (w + 1);
    });
  }
  return tf.image.cropAndResize(padded, tf.tensor2d(coords, [bsz, 4]), tf.tensor1d(Int32Array.from({ length: bsz }, (_, i) => i), 'int32'), [outH, outW], 'bilinear');
}

/** Runs an internal kernel on images in the caller's layout and range. */
export function applyExternal(fn: string, images: tf.Tensor4D, options: AugmentOptions | undefined, kernel: (x: tf.Tensor4D) => tf.Tensor4D): tf.Tensor4D {
  const r = resolveAugment(fn, options);
  checkImages(fn, images, r);
  return tf.tidy(() => fromInternal(kernel(toInternal(images, r)), r));
}

function checkPerSample(fn: string, arg: string, values: ArrayLike<number>, batch: number, lo: number, hi: number): void {
  if (values === null || typeof values !== 'object' || values.length !== batch) {
    throw new BrickConfigError(`${fn}: ${arg} must hold one value per image (${batch}), got ${values === null || typeof values !== 'object' ? String(values) : `${values.length} values`}`);
  }
  for (let i = 0; i < batch; i++) {
    if (!(values[i] >= lo && values[i] <= hi)) throw new BrickConfigError(`${fn}: ${arg}[${i}] must be in [${lo}, ${hi}], got ${values[i]}`);
  }
}

const batchOf = (images: tf.Tensor) => (images instanceof tf.Tensor ? images.shape[0] : 0);

/** Mirrors every image left–right. */
export function horizontalFlip(images: tf.Tensor4D, options?: AugmentOptions): tf.Tensor4D {
  return applyExternal('horizontalFlip', images, options, flipKernel);
}

/** Grayscale (ITU-R 601 luma) with the channel count kept. */
export function rgbToGrayscale(images: tf.Tensor4D, options?: AugmentOptions): tf.Tensor4D {
  return applyExternal('rgbToGrayscale', images, options, grayscaleKernel);
}

/** Multiplies each image by its factor (≥ 0) in [0, 1] units, clipped. */
export function adjustBrightness(images: tf.Tensor4D, factors: ArrayLike<number>, options?: AugmentOptions): tf.Tensor4D {
  checkPerSample('adjustBrightness', 'factors', factors, batchOf(images), 0, Number.MAX_VALUE);
  return applyExternal('adjustBrightness', images, options, (x) => brightnessKernel(x, factors));
}

/** Blends each image with its mean luma by its factor (≥ 0): 0 gives flat grey, 1 the image. */
export function adjustContrast(images: tf.Tensor4D, factors: ArrayLike<number>, options?: AugmentOptions): tf.Tensor4D {
  checkPerSample('adjustContrast', 'factors', factors, batchOf(images), 0, Number.MAX_VALUE);
  return applyExternal('adjustContrast', images, options, (x) => contrastKernel(x, factors));
}

/** Blends each image with its grayscale by its factor (≥ 0): 0 gives grayscale, 1 the image. */
export function adjustSaturation(images: tf.Tensor4D, factors: ArrayLike<number>, options?: AugmentOptions): tf.Tensor4D {
  checkPerSample('adjustSaturation', 'factors', factors, batchOf(images), 0, Number.MAX_VALUE);
  return applyExternal('adjustSaturation', images, options, (x) => saturationKernel(x, factors));
}

/** Rotates each image's hue by its shift in turns, in [−0.5, 0.5]. */
export function adjustHue(images: tf.Tensor4D, shifts: ArrayLike<number>, options?: AugmentOptions): tf.Tensor4D {
  checkPerSample('adjustHue', 'shifts', shifts, batchOf(images), -0.5, 0.5);
  return applyExternal('adjustHue', images, options, (x) => hueKernel(x, shifts));
}

/** Blurs each image with its own σ (> 0) and an odd `kernelSize` (reflect padding; see {@link blurKernel}). */
export function gaussianBlur(images: tf.Tensor4D, sigmas: ArrayLike<number>, kernelSize: number, options?: AugmentOptions): tf.Tensor4D {
  const fn = 'gaussianBlur';
  checkPerSample(fn, 'sigmas', sigmas, batchOf(images), 1e-6, Number.MAX_VALUE);
  const r = resolveAugment(fn, options);
  checkImages(fn, images, r);
  checkKernelSize(fn, kernelSize, images.shape[r.layout === 'nchw' ? 2 : 1], images.shape[r.layout === 'nchw' ? 3 : 2]);
  return applyExternal(fn, images, options, (x) => blurKernel(x, sigmas, kernelSize));
}

/** Throws unless `kernelSize` is odd, ≥ 1 and small enough for reflect padding (`(k − 1)/2 < min(H, W)`). */
export function checkKernelSize(fn: string, kernelSize: number, h: number, w: number): void {
  if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0 || (kernelSize - 1) / 2 >= Math.min(h, w)) {
    throw new BrickConfigError(`${fn}: kernelSize must be an odd integer >= 1 with (kernelSize - 1)/2 < min(H, W) = ${Math.min(h, w)}, got ${JSON.stringify(kernelSize)}`);
  }
}

/** Crops each image's box (pixels) and resizes it to `size` (see {@link cropResizeKernel}). */
export function cropAndResizeImages(images: tf.Tensor4D, boxes: readonly CropBox[], size: [number, number], options?: AugmentOptions): tf.Tensor4D {
  const fn = 'cropAndResizeImages';
  const r = resolveAugment(fn, options);
  checkImages(fn, images, r);
  const [h, w] = r.layout === 'nchw' ? images.shape.slice(2) : images.shape.slice(1, 3);
  if (!Array.isArray(boxes) || boxes.length !== images.shape[0]) throw new BrickConfigError(`${fn}: boxes must hold one box per image (${images.shape[0]}), got ${Array.isArray(boxes) ? boxes.length : String(boxes)}`);
  boxes.forEach((b, i) => {
    if (!(b && Number.isInteger(b.top) && Number.isInteger(b.left) && Number.isInteger(b.height) && Number.isInteger(b.width)
      && b.top >= 0 && b.left >= 0 && b.height >= 1 && b.width >= 1 && b.top + b.height <= h && b.left + b.width <= w)) {
      throw new BrickConfigError(`${fn}: boxes[${i}] must be integers {top, left, height, width} inside the ${h}x${w} image, got ${JSON.stringify(b)}`);
    }
  });
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isInteger(d) && d >= 1)) throw new BrickConfigError(`${fn}: size must be [height, width] of positive integers, got ${JSON.stringify(size)}`);
  return applyExternal(fn, images, options, (x) => cropResizeKernel(x, boxes, size[0], size[1]));
}
