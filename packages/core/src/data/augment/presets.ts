/**
 * The view pipelines of SimCLR and BYOL, scaled to small images.
 *
 * | step | SimCLR (Chen et al. 2020, App. A) | BYOL view 1 / view 2 (Grill et al. 2020, Table 6) |
 * |---|---|---|
 * | random resized crop | scale [0.08, 1], ratio [3/4, 4/3] | same |
 * | horizontal flip | p 0.5 | p 0.5 |
 * | colour jitter (p 0.8) | brightness, contrast, saturation 0.8·s, hue 0.2·s | 0.4, 0.4, 0.2, 0.1 |
 * | grayscale | p 0.2 | p 0.2 |
 * | Gaussian blur, σ ∈ [0.1, 2.0] at 224 px | p 0.5 (ImageNet; dropped for CIFAR) | p 1.0 / 0.1 |
 * | solarize (threshold 0.5) | — | p 0 / 0.2 |
 *
 * Small-image scaling (the defaults here; every one is an option):
 * - crop scale [0.2, 1] instead of [0.08, 1] for images of 32 px or less: an 8 % crop of a 16 px image
 *   is 4–5 px and often misses the object entirely (MoCo/SimCLR CIFAR recipes commonly use 0.2);
 * - SimCLR strength s = 0.5 (the paper's CIFAR-10 setting) and no blur, as the paper does on CIFAR;
 * - blur kernel = the odd number nearest 10 % of the side (at least 3), σ range scaled with the side:
 *   [0.1, 2.0]·side/224, i.e. the same blur relative to the image as at 224 px (a light one at 32 px).
 */
import { BrickConfigError } from '../../errors.js';
import { checkInt, checkInterval, checkNumber } from '../options.js';
import type { AugmentOptions } from './ops.js';
import {
  colorJitter, compose, randomGaussianBlur, randomGrayscale, randomHorizontalFlip, randomResizedCrop, randomSolarize,
  type Augmentation,
} from './random.js';

/** Options shared by the view presets. */
export interface ViewPresetOptions extends AugmentOptions {
  /** Output side in pixels (square views). */
  size: number;
  /** Crop area range (default [0.2, 1] for size ≤ 32, else [0.08, 1]). */
  cropScale?: [number, number];
  /** σ range of the blur in pixels (default [0.1, 2.0]·size/224). */
  blurSigma?: [number, number];
  /** Blur kernel side (default the odd number nearest 0.1·size, at least 3). */
  blurKernelSize?: number;
}

function resolvePreset(fn: string, o: ViewPresetOptions) {
  if (o === null || typeof o !== 'object') throw new BrickConfigError(`${fn}: expected an options object with size, got ${JSON.stringify(o)}`);
  const size = checkInt(fn, 'size', o.size, 1);
  const cropScale = checkInterval(fn, 'cropScale', o.cropScale ?? (size <= 32 ? [0.2, 1] : [0.08, 1]), 1e-6, 1);
  const blurSigma = checkInterval(fn, 'blurSigma', o.blurSigma ?? [0.1 * size / 224, 2.0 * size / 224], 1e-6, 1e6);
  const odd = Math.max(3, 2 * Math.round((0.1 * size - 1) / 2) + 1);
  const blurKernelSize = checkInt(fn, 'blurKernelSize', o.blurKernelSize ?? odd, 1);
  return { size, cropScale, blurSigma, blurKernelSize, io: { layout: o.layout, range: o.range } };
}

/**
 * SimCLR's augmentation (apply it twice to get the two views): crop, flip, colour jitter with
 * strength s (p 0.8), grayscale (p 0.2), optional blur (p 0.5). See the module notes for the
 * small-image defaults.
 * @example
 * const aug = simclrAugment({ size: 16 });
 * const v1 = aug(images, rng), v2 = aug(images, rng);
 */
export function simclrAugment(options: ViewPresetOptions & { strength?: number; blur?: boolean }): Augmentation {
  const fn = 'simclrAugment';
  const r = resolvePreset(fn, options);
  const s = checkNumber(fn, 'strength', options.strength ?? 0.5, 0, 10);
  const blur = options.blur ?? false;
  if (typeof blur !== 'boolean') throw new BrickConfigError(`${fn}: blur must be true or false, got ${JSON.stringify(blur)}`);
  const parts = [
    randomResizedCrop({ size: r.size, scale: r.cropScale }),
    randomHorizontalFlip({ p: 0.5 }),
    colorJitter({ brightness: 0.8 * s, contrast: 0.8 * s, saturation: 0.8 * s, hue: Math.min(0.5, 0.2 * s), p: 0.8 }),
    randomGrayscale({ p: 0.2 }),
  ];
  if (blur) parts.push(randomGaussianBlur({ kernelSize: r.blurKernelSize, sigma: r.blurSigma, p: 0.5 }));
  return compose(parts, r.io);
}

/**
 * BYOL's two asymmetric view pipelines: both crop, flip, jitter (0.4, 0.4, 0.2, 0.1; p 0.8) and
 * grayscale (p 0.2); view 1 always blurs and never solarizes, view 2 blurs with p 0.1 and solarizes
 * with p 0.2. See the module notes for the small-image defaults.
 */
export function byolAugment(options: ViewPresetOptions): { view1: Augmentation; view2: Augmentation } {
  const fn = 'byolAugment';
  const r = resolvePreset(fn, options);
  const view = (blurP: number, solarizeP: number) => compose([
    randomResizedCrop({ size: r.size, scale: r.cropScale }),
    randomHorizontalFlip({ p: 0.5 }),
    colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, p: 0.8 }),
    randomGrayscale({ p: 0.2 }),
    randomGaussianBlur({ kernelSize: r.blurKernelSize, sigma: r.blurSigma, p: blurP }),
    randomSolarize({ threshold: 0.5, p: solarizeP }),
  ], r.io);
  return { view1: view(1.0, 0), view2: view(0.1, 0.2) };
}
