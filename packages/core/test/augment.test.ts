import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng, adjustBrightness, adjustContrast, adjustHue, adjustSaturation, byolAugment, colorJitter, compose, cropAndResizeImages,
  gaussianBlur, gaussianWeights, horizontalFlip, randomGaussianBlur, randomGrayscale, randomHorizontalFlip, randomResizedCrop,
  randomSolarize, rgbToGrayscale, sampleCropBox, shapes, simclrAugment, type Augmentation,
} from '../src/index.js';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/** A batch of shapes images in [-1, 1], NCHW. */
function batch(n: number, size: 16 | 32 = 16, seed = 0): tf.Tensor4D {
  const ds = shapes({ size, batchSize: n, seed, background: 'noise' });
  const b = ds.next();
  tf.dispose(b.labels);
  return b.images;
}

const all: Array<[string, () => Augmentation]> = [
  ['randomResizedCrop', () => randomResizedCrop({ size: 12 })],
  ['randomHorizontalFlip', () => randomHorizontalFlip()],
  ['colorJitter', () => colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 })],
  ['randomGrayscale', () => randomGrayscale({ p: 0.5 })],
  ['randomGaussianBlur', () => randomGaussianBlur({ kernelSize: 3, p: 0.5 })],
  ['randomSolarize', () => randomSolarize()],
  ['simclrAugment', () => simclrAugment({ size: 16, blur: true })],
  ['byolAugment.view1', () => byolAugment({ size: 16 }).view1],
  ['byolAugment.view2', () => byolAugment({ size: 16 }).view2],
];

describe('augmentations: determinism, shapes, ranges, leaks', () => {
  for (const [name, make] of all) {
    it(name, () => {
      const x = batch(8);
      const aug = make();
      const before = tf.memory().numTensors;
      const a = aug(x, new Rng(5));
      const b = aug(x, new Rng(5));
      const c = aug(x, new Rng(6));
      expect(tf.memory().numTensors).toBe(before + 3);
      expect(a.shape).toEqual(name === 'randomResizedCrop' ? [8, 3, 12, 12] : [8, 3, 16, 16]);
      expect(maxDiff(a, b)).toBe(0);
      expect(maxDiff(a, c)).toBeGreaterThan(0);
      const v = a.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1 - 1e-6);
      expect(Math.max(...v)).toBeLessThanOrEqual(1 + 1e-6);
      tf.dispose([a, b, c, x]);
    });
  }

  it('draws per sample in order: the first image of a batch is augmented as when alone', () => {
    const x = batch(4);
    const aug = compose([colorJitter({ brightness: 0.5, hue: 0.2, p: 0.8 }), randomHorizontalFlip(), randomGrayscale({ p: 0.5 })]);
    const first = tf.slice(x, [0, 0, 0, 0], [1, 3, 16, 16]) as tf.Tensor4D;
    // compose runs each part over the whole batch in turn, so compare a single part instead:
    const jitter = colorJitter({ brightness: 0.5, contrast: 0.3, saturation: 0.3, hue: 0.2 });
    const whole = jitter(x, new Rng(1));
    const alone = jitter(first, new Rng(1));
    expect(maxDiff(tf.slice(whole, [0, 0, 0, 0], [1, 3, 16, 16]), alone)).toBe(0);
    expect(aug.description).toMatch(/^compose\(colorJitter\(brightness=\[0\.5,1\.5\], hue=\[-0\.2,0\.2\], p=0\.8\), randomHorizontalFlip\(p=0\.5\), randomGrayscale\(p=0\.5\)\)$/);
    tf.dispose([x, first, whole, alone]);
  });

  it('works on NHWC [0, 1] images and one-channel images', () => {
    const x = tf.tidy(() => tf.transpose(tf.mul(tf.add(batch(4), 1), 0.5), [0, 2, 3, 1])) as tf.Tensor4D;
    const aug = simclrAugment({ size: 8, layout: 'nhwc', range: [0, 1], blur: true });
    const y = aug(x, new Rng(0));
    expect(y.shape).toEqual([4, 8, 8, 3]);
    const v = y.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    const g = tf.tidy(() => tf.slice(batch(2), [0, 0, 0, 0], [2, 1, 16, 16])) as tf.Tensor4D;
    const gy = compose([randomResizedCrop({ size: 10 }), colorJitter({ brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.1 }), randomGrayscale({ p: 1 })])(g, new Rng(0));
    expect(gy.shape).toEqual([2, 1, 10, 10]);
    tf.dispose([x, y, g, gy]);
  });

  it('rejects bad images and options naming the function', () => {
    const x = tf.zeros([2, 4, 8, 8]) as tf.Tensor4D;
    expect(() => randomHorizontalFlip()(x, new Rng(0))).toThrow(
      "randomHorizontalFlip: images must be float32 [batch, C, H, W] with C = 1 or 3 (layout 'nchw'), got float32 [2, 4, 8, 8]");
    expect(() => randomGrayscale({ p: 2 })).toThrow('randomGrayscale: p must be a number in [0, 1], got 2');
    expect(() => randomGaussianBlur({ kernelSize: 4 })).toThrow(/randomGaussianBlur: kernelSize must be an odd integer >= 1/);
    const small = tf.zeros([1, 3, 4, 4]) as tf.Tensor4D;
    expect(() => randomGaussianBlur({ kernelSize: 9 })(small, new Rng(0))).toThrow(
      'randomGaussianBlur: kernelSize must be an odd integer >= 1 with (kernelSize - 1)/2 < min(H, W) = 4, got 9');
    expect(() => randomHorizontalFlip()(small, 3 as never)).toThrow('randomHorizontalFlip: rng must be an Rng (e.g. new Rng(seed)), got 3');
    expect(() => colorJitter({ hue: 0.7 })).toThrow('colorJitter: hue must be a number in [0, 0.5], got 0.7');
    tf.dispose([x, small]);
  });
});

describe('augmentation semantics', () => {
  it('flip twice is the identity; p = 0 is the identity; a flip mirrors columns', () => {
    const x = batch(3);
    const f = horizontalFlip(x);
    const ff = horizontalFlip(f);
    expect(maxDiff(ff, x)).toBe(0);
    const xv = x.arraySync() as number[][][][];
    const fv = f.arraySync() as number[][][][];
    expect(fv[1][2][5][0]).toBe(xv[1][2][5][15]);
    const flip = randomHorizontalFlip({ p: 1 });
    const r = flip(flip(x, new Rng(0)), new Rng(1));
    expect(maxDiff(r, x)).toBe(0);
    const id = randomHorizontalFlip({ p: 0 })(x, new Rng(0));
    expect(maxDiff(id, x)).toBe(0);
    tf.dispose([x, f, ff, r, id]);
  });

  it('a crop of the full box equals a bilinear resize (half-pixel centres); a box equals resizing its slice', () => {
    const x = batch(2);
    const full = randomResizedCrop({ size: [9, 23], scale: [1, 1], ratio: [1, 1] })(x, new Rng(3));
    const ref = tf.tidy(() => tf.transpose(tf.image.resizeBilinear(tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D, [9, 23], false, true), [0, 3, 1, 2]));
    expect(maxDiff(full, ref)).toBeLessThan(1e-5);
    const boxes = [{ top: 2, left: 3, height: 10, width: 7 }, { top: 0, left: 0, height: 5, width: 16 }];
    const crops = cropAndResizeImages(x, boxes, [6, 6]);
    boxes.forEach((b, i) => {
      const refI = tf.tidy(() => {
        const slice = tf.slice(x, [i, 0, b.top, b.left], [1, 3, b.height, b.width]);
        return tf.transpose(tf.image.resizeBilinear(tf.transpose(slice, [0, 2, 3, 1]) as tf.Tensor4D, [6, 6], false, true), [0, 3, 1, 2]);
      });
      // Box 1 is shrunk: exact. Box 2 is stretched 5 → 6 rows: its last output row samples 1/12 of a
      // row beyond the box (the image's next row) where a resize of the slice clamps, so compare rows 0–4.
      const rows = i === 0 ? 6 : 5;
      const got = tf.slice(crops, [i, 0, 0, 0], [1, 3, rows, 6]);
      const want = tf.slice(refI, [0, 0, 0, 0], [1, 3, rows, 6]);
      expect(maxDiff(got, want)).toBeLessThan(1e-5);
      tf.dispose([refI, got, want]);
    });
    tf.dispose([x, full, ref, crops]);
  });

  it('crop boxes follow torchvision: area and ratio in range, inside the image, central fallback', () => {
    const rng = new Rng(0);
    for (let i = 0; i < 500; i++) {
      const b = sampleCropBox(rng, 32, 24, [0.2, 0.6], [0.5, 2]);
      expect(b.top + b.height).toBeLessThanOrEqual(32);
      expect(b.left + b.width).toBeLessThanOrEqual(24);
      const area = (b.height * b.width) / (32 * 24);
      expect(area).toBeGreaterThan(0.15);
      expect(area).toBeLessThan(0.67);
      expect(b.width / b.height).toBeGreaterThan(0.4);
      expect(b.width / b.height).toBeLessThan(2.5);
    }
    // No box of 99 % area with ratio 4 fits a square: fallback = central crop at the clamped ratio.
    expect(sampleCropBox(new Rng(1), 20, 20, [0.99, 1], [4, 5])).toEqual({ top: 7, left: 0, height: 5, width: 20 });
  });

  it('grayscale gives equal channels with ITU-R 601 luma', () => {
    const x = batch(2);
    const g = rgbToGrayscale(x, { range: [-1, 1] });
    const [r, gg, b] = tf.split(g, 3, 1);
    expect(maxDiff(r, gg)).toBe(0);
    expect(maxDiff(r, b)).toBe(0);
    const luma = tf.tidy(() => {
      const [xr, xg, xb] = tf.split(tf.mul(tf.add(x, 1), 0.5), 3, 1);
      return tf.sub(tf.mul(tf.addN([tf.mul(xr, 0.299), tf.mul(xg, 0.587), tf.mul(xb, 0.114)]), 2), 1);
    });
    expect(maxDiff(r, luma)).toBeLessThan(1e-5);
    const rg = randomGrayscale({ p: 1 })(x, new Rng(0));
    expect(maxDiff(rg, g)).toBe(0);
    tf.dispose([x, g, r, gg, b, luma, rg]);
  });

  it('colour adjustments: brightness scales, contrast 0 is flat mean luma, saturation 0 is grayscale, hue rotates', () => {
    const px = tf.tensor4d([1, 0, 0, 0.5, 0.25, 0.1], [2, 1, 1, 3]); // NHWC [0,1]: red, orange
    const opts = { layout: 'nhwc', range: [0, 1] } as const;
    expect(Array.from(adjustBrightness(px, [0.5, 2], opts).dataSync())).toEqual([0.5, 0, 0, 1, 0.5, 0.2].map(Math.fround));
    const c0 = adjustContrast(px, [0, 0], opts).dataSync();
    expect(c0[0]).toBeCloseTo(0.299, 5);
    expect(c0[1]).toBeCloseTo(0.299, 5);
    const s0 = adjustSaturation(px, [0, 0], opts);
    expect(maxDiff(s0, rgbToGrayscale(px, opts))).toBeLessThan(1e-6);
    const h = adjustHue(px, [1 / 3, 0], opts).dataSync();
    [0, 1, 0].forEach((v, i) => expect(h[i]).toBeCloseTo(v, 5)); // red + 120° = green
    [0.5, 0.25, 0.1].forEach((v, i) => expect(h[3 + i]).toBeCloseTo(v, 5)); // shift 0 keeps it
    const x = batch(3);
    const none = colorJitter({ brightness: [1, 1], contrast: [1, 1], saturation: [1, 1], hue: [0, 0] })(x, new Rng(0));
    expect(maxDiff(none, x)).toBeLessThan(1e-6);
    const hue0 = adjustHue(x, [0, 0, 0]);
    expect(maxDiff(hue0, x)).toBeLessThan(1e-5);
    tf.dispose([px, s0, x, none, hue0]);
  });

  it('blur: constants unchanged, weights like torchvision, matches a host reference with reflect padding', () => {
    expect(Array.from(gaussianWeights(3, 1)).map((v) => +v.toFixed(6))).toEqual([0.274069, 0.451863, 0.274069]);
    const flat = tf.fill([2, 3, 7, 7], 0.3) as tf.Tensor4D;
    const bf = gaussianBlur(flat, [0.5, 2], 5);
    expect(maxDiff(bf, flat)).toBeLessThan(1e-6);
    const rng = new Rng(2);
    const img = tf.tensor4d(rng.uniformArray(2 * 1 * 6 * 5, -1, 1), [2, 1, 6, 5]);
    const sig = [0.7, 1.6];
    const got = gaussianBlur(img, sig, 5).arraySync() as number[][][][];
    const src = img.arraySync() as number[][][][];
    const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
    for (let b = 0; b < 2; b++) {
      const w = gaussianWeights(5, sig[b]);
      const tmp = src[b][0].map((row) => row.map((_, x) => w.reduce((acc, wk, k) => acc + wk * row[refl(x + k - 2, 5)], 0)));
      for (let y = 0; y < 6; y++) {
        for (let x = 0; x < 5; x++) {
          const v = w.reduce((acc, wk, k) => acc + wk * tmp[refl(y + k - 2, 6)][x], 0);
          expect(got[b][0][y][x]).toBeCloseTo(v, 5);
        }
      }
    }
    tf.dispose([flat, bf, img]);
  });

  it('compose equals its parts applied in turn with the same generator', () => {
    const x = batch(4);
    const parts = [randomResizedCrop({ size: 10 }), randomHorizontalFlip(), colorJitter({ brightness: 0.4, hue: 0.1 })];
    const composed = compose(parts)(x, new Rng(9));
    const rng = new Rng(9);
    let y = x;
    for (const p of parts) y = p(y, rng);
    expect(maxDiff(composed, y)).toBeLessThan(1e-5);
    tf.dispose([x, composed]);
  });
});
