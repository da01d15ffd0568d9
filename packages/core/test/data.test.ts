import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, Rng } from '../src/index.js';
import {
  BACKGROUND_LEVEL, SHAPE_NAMES, SHAPE_PALETTE, shapeCoverage,
} from '../src/data/raster.js';
import { renderShapes, shapes, type ShapeLabels } from '../src/data/shapes.js';
import { bounceStep, movingSprites } from '../src/data/moving-sprites.js';
import { gaussianMixtureMeans, toy2d } from '../src/data/toy2d.js';

async function read(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Reads every tensor of a (nested) batch into plain arrays, for equality checks. */
async function readAll(batch: tf.TensorContainer): Promise<unknown> {
  if (batch instanceof tf.Tensor) return { shape: batch.shape, dtype: batch.dtype, data: await read(batch) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(batch as Record<string, tf.TensorContainer>)) out[k] = await readAll(v);
  return out;
}

function labelsOf(shape: number, colour: number, x: number, y: number, size: number): ShapeLabels {
  return {
    shape: Int32Array.of(shape), colour: Int32Array.of(colour),
    x: Float32Array.of(x), y: Float32Array.of(y), size: Float32Array.of(size),
  };
}

/** Coverage (0..1) of the shape, recovered from pixels of a [0,1]-range NCHW image on the dark background. */
function coverageFromImage(img: Float32Array, side: number, colour: number): Float32Array {
  const plane = side * side;
  const rgb = SHAPE_PALETTE[colour].rgb;
  const c = rgb.indexOf(Math.max(...rgb)); // the channel with the largest contrast
  const cov = new Float32Array(plane);
  for (let p = 0; p < plane; p++) cov[p] = (img[c * plane + p] - BACKGROUND_LEVEL) / (rgb[c] - BACKGROUND_LEVEL);
  return cov;
}

describe('shapes', () => {
  it('validates options and names the argument', () => {
    expect(() => shapes({ size: 24 as 16, batchSize: 4, seed: 0 })).toThrow(BrickConfigError);
    expect(() => shapes({ size: 24 as 16, batchSize: 4, seed: 0 })).toThrow(/shapes: size must be one of 16, 32, got 24/);
    expect(() => shapes({ batchSize: 0, seed: 0 })).toThrow(/batchSize/);
    expect(() => shapes({ batchSize: 2, seed: 0, rng: new Rng(1) })).toThrow(/seed or rng/);
    expect(() => shapes({ batchSize: 2, seed: 0, classes: [0, 3] })).toThrow(/classes/);
    expect(() => shapes({ batchSize: 2, seed: 0, range: [-2, 2] as never })).toThrow(/range/);
  });

  it('gives [batch, 3, H, W] images in [-1, 1] with labels', async () => {
    for (const size of [16, 32] as const) {
      const ds = shapes({ size, batchSize: 8, seed: 1 });
      const b = ds.next();
      expect(b.images.shape).toEqual([8, 3, size, size]);
      expect(b.labels.shape.dtype).toBe('int32');
      expect(b.labels.colour.dtype).toBe('int32');
      expect(b.labels.x.shape).toEqual([8]);
      const px = await read(b.images);
      expect(Math.min(...px)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...px)).toBeLessThanOrEqual(1);
      // Background pixels (the most common value) are 0.08 → 2·0.08 − 1.
      const counts = new Map<number, number>();
      for (const v of px) counts.set(v, (counts.get(v) ?? 0) + 1);
      const mode = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
      expect(mode).toBeCloseTo(2 * BACKGROUND_LEVEL - 1, 6);
      tf.dispose(b);
    }
  });

  it('honours range [0, 1] and the nhwc layout', async () => {
    const a = shapes({ batchSize: 3, seed: 5, range: [0, 1] }).sample(3);
    const b = shapes({ batchSize: 3, seed: 5, layout: 'nhwc' }).sample(3);
    expect(b.shape).toEqual([3, 16, 16, 3]);
    expect(Math.min(...a.images)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a.images)).toBeLessThanOrEqual(1);
    // nhwc[n, i, j, c] = 2·nchw01[n, c, i, j] − 1
    for (const [n, c, i, j] of [[0, 0, 3, 4], [1, 2, 8, 8], [2, 1, 15, 0], [2, 2, 7, 9]]) {
      expect(b.images[((n * 16 + i) * 16 + j) * 3 + c]).toBeCloseTo(2 * a.images[((n * 3 + c) * 16 + i) * 16 + j] - 1, 6);
    }
  });

  it('same seed gives identical batches, different seeds differ', async () => {
    const a = shapes({ batchSize: 6, seed: 42 });
    const b = shapes({ batchSize: 6, seed: 42 });
    const c = shapes({ batchSize: 6, seed: 43 });
    for (let k = 0; k < 3; k++) {
      const [ba, bb, bc] = [a.next(), b.next(), c.next()];
      const [ra, rb, rc] = await Promise.all([readAll(ba), readAll(bb), readAll(bc)]);
      expect(ra).toEqual(rb);
      expect(ra).not.toEqual(rc);
      tf.dispose([ba, bb, bc]);
    }
  });

  it('draws items one after another: sample(2) then sample(3) equals sample(5)', () => {
    const a = shapes({ batchSize: 1, seed: 9, background: 'noise' });
    const b = shapes({ batchSize: 1, seed: 9, background: 'noise' });
    const x = a.sample(2);
    const y = a.sample(3);
    const z = b.sample(5);
    expect(Array.from(z.images)).toEqual([...x.images, ...y.images]);
    expect(Array.from(z.labels.x)).toEqual([...x.labels.x, ...y.labels.x]);
  });

  it("labels match pixels: the shape's inner pixel has exactly its palette colour", () => {
    const ds = shapes({ size: 16, batchSize: 1, seed: 3, range: [0, 1] });
    const s = ds.sample(300);
    const side = 16;
    const plane = side * side;
    const bad: string[] = []; // background pixels that are not background
    for (let n = 0; n < s.n; n++) {
      const { shape, colour, x, y, size } = s.labels;
      expect(x[n]).toBeGreaterThanOrEqual(size[n] / 2 - 1e-6);
      expect(x[n]).toBeLessThanOrEqual(1 - size[n] / 2 + 1e-6);
      // Probe the centre (circle, square) or the middle of the lower half (triangle, wider there).
      const py = shape[n] === 2 ? y[n] + size[n] / 4 : y[n];
      const i = Math.floor(py * side);
      const j = Math.floor(x[n] * side);
      const rgb = SHAPE_PALETTE[colour[n]].rgb;
      for (let c = 0; c < 3; c++) expect(s.images[(n * 3 + c) * plane + i * side + j]).toBeCloseTo(rgb[c], 6);
      // Pixels wholly outside the bounding square are background.
      const h = size[n] / 2;
      let outside = 0;
      for (let pi = 0; pi < side; pi++) {
        for (let pj = 0; pj < side; pj++) {
          const clear = (pj + 1) / side < x[n] - h || pj / side > x[n] + h || (pi + 1) / side < y[n] - h || pi / side > y[n] + h;
          if (!clear) continue;
          outside++;
          for (let c = 0; c < 3; c++) {
            if (s.images[(n * 3 + c) * plane + pi * side + pj] !== Math.fround(BACKGROUND_LEVEL)) bad.push(`${[n, c, pi, pj]}`);
          }
        }
      }
      expect(outside).toBeGreaterThan(0.2 * plane);
    }
    expect(bad).toEqual([]);
  });

  it('covers the expected area (square s²W², circle πs²W²/4, triangle s²W²/2) at the expected centroid', () => {
    // An aligned square covers exactly 8×8 pixels 4..11.
    const sq = renderShapes(labelsOf(1, 2, 0.5, 0.5, 0.5), { size: 16, range: [0, 1] });
    const cov = coverageFromImage(sq, 16, 2);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) expect(cov[i * 16 + j]).toBeCloseTo(i >= 4 && i < 12 && j >= 4 && j < 12 ? 1 : 0, 5);
    }
    const cases: [number, number, number, number, number][] = [
      [1, 0.47, 0.53, 0.43, 16], [0, 0.41, 0.6, 0.55, 16], [2, 0.5, 0.45, 0.6, 16],
      [0, 0.3, 0.62, 0.37, 32], [2, 0.66, 0.35, 0.41, 32], [1, 0.5, 0.5, 0.33, 32],
    ];
    for (const [kind, x, y, s, side] of cases) {
      const img = renderShapes(labelsOf(kind, 0, x, y, s), { size: side as 16, range: [0, 1] });
      const area = coverageFromImage(img, side, 0).reduce((a, b) => a + b, 0);
      const sf = Math.fround(s) * side;
      const expected = kind === 1 ? sf * sf : kind === 0 ? (Math.PI / 4) * sf * sf : (sf * sf) / 2;
      // Supersampling 4×4 puts each edge within half a sample spacing (1/8 px): error ≤ perimeter/8.
      const perimeter = kind === 1 ? 4 * sf : kind === 0 ? Math.PI * sf : (1 + Math.sqrt(5)) * sf;
      expect(Math.abs(area - expected)).toBeLessThanOrEqual(perimeter / 8);
      // Centroid of coverage: the centre for circle and square; 2/3 down the height for the triangle.
      let mx = 0;
      let my = 0;
      const c = coverageFromImage(img, side, 0);
      for (let p = 0; p < side * side; p++) {
        mx += c[p] * ((p % side) + 0.5) / side;
        my += c[p] * (Math.floor(p / side) + 0.5) / side;
      }
      expect(mx / area).toBeCloseTo(Math.fround(x), 2);
      expect(my / area).toBeCloseTo(kind === 2 ? Math.fround(y) + Math.fround(s) / 6 : Math.fround(y), 2);
    }
  });

  it('anti-aliases: edge pixels take fractional coverage in steps of 1/16', () => {
    const cov = shapeCoverage(0, 0.5, 0.5, 0.6, 16, 4);
    const fractional = Array.from(cov).filter((v) => v > 0 && v < 1);
    expect(fractional.length).toBeGreaterThan(10);
    for (const v of fractional) expect(v * 16).toBeCloseTo(Math.round(v * 16), 6);
  });

  it('is roughly balanced over 3000 samples and honours class and colour subsets', () => {
    const s = shapes({ batchSize: 1, seed: 11 }).sample(3000);
    const shapeCounts = [0, 0, 0];
    const colourCounts = new Array(SHAPE_PALETTE.length).fill(0);
    s.labels.shape.forEach((v) => shapeCounts[v]++);
    s.labels.colour.forEach((v) => colourCounts[v]++);
    for (const c of shapeCounts) expect(Math.abs(c - 1000)).toBeLessThan(110); // ±4σ
    for (const c of colourCounts) expect(Math.abs(c - 500)).toBeLessThan(90); // ±4σ
    const sizes = Array.from(s.labels.size);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(0.35 - 1e-6);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(0.75 + 1e-6);
    const sub = shapes({ batchSize: 1, seed: 1, classes: [0, 2], colours: [4] }).sample(200);
    expect(new Set(sub.labels.shape)).toEqual(new Set([0, 2]));
    expect(new Set(sub.labels.colour)).toEqual(new Set([4]));
    expect(SHAPE_NAMES).toEqual(['circle', 'square', 'triangle']);
    expect(SHAPE_PALETTE.map((p) => p.name)).toEqual(['red', 'green', 'blue', 'yellow', 'magenta', 'cyan']);
  });

  it('has a mild noise background as an option', () => {
    const s = shapes({ batchSize: 1, seed: 2, background: 'noise', noiseStd: 0.05, range: [0, 1] }).sample(20);
    // Top-left 2×2 pixels of every channel are background (shapes lie inside, corners stay clear).
    const vals: number[] = [];
    for (let n = 0; n < 20; n++) {
      for (let c = 0; c < 3; c++) for (const p of [0, 1, 16, 17]) vals.push(s.images[(n * 3 + c) * 256 + p]);
    }
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
    expect(mean).toBeGreaterThan(0.06);
    expect(mean).toBeLessThan(0.11);
    expect(std).toBeGreaterThan(0.03);
    expect(std).toBeLessThan(0.06);
  });

  it('saves and restores its state: a resumed stream continues with identical batches', async () => {
    const ds = shapes({ batchSize: 4, seed: 7 });
    tf.dispose([ds.next(), ds.next()]);
    const saved = JSON.parse(JSON.stringify(ds.getState()));
    expect(saved.batches).toBe(2);
    const first: unknown[] = [];
    for (const b of ds.take(3)) {
      first.push(await readAll(b));
      tf.dispose(b);
    }
    const resumed = shapes({ batchSize: 4, seed: 999 });
    resumed.setState(saved);
    const second: unknown[] = [];
    for (const b of resumed.take(3)) {
      second.push(await readAll(b));
      tf.dispose(b);
    }
    expect(second).toEqual(first);
    expect(resumed.batchesServed).toBe(5);
    expect(() => resumed.setState({ batches: -1 } as never)).toThrow(/setState/);
  });

  it('iterates forever, takes n, and draws fixed held-out splits without touching the stream', async () => {
    const a = shapes({ batchSize: 2, seed: 4 });
    const b = shapes({ batchSize: 2, seed: 4 });
    const split1 = a.fixedSplit(10, 123);
    const split2 = b.fixedSplit(10, 123);
    expect(Array.from(split1.images)).toEqual(Array.from(split2.images));
    expect(Array.from(a.fixedSplit(10, 124).labels.x)).not.toEqual(Array.from(split1.labels.x));
    // A split with the stream's own seed does not repeat the stream's first items.
    expect(Array.from(a.fixedSplit(2, 4).labels.x)).not.toEqual(Array.from(shapes({ batchSize: 2, seed: 4 }).sample(2).labels.x));
    let count = 0;
    const fresh = shapes({ batchSize: 2, seed: 4 });
    for (const batch of a) {
      const expected = fresh.next();
      expect(await readAll(batch)).toEqual(await readAll(expected));
      tf.dispose([batch, expected]);
      if (++count === 4) break;
    }
    expect([...b.take(0)]).toEqual([]);
    const test = b.toBatch(split1);
    expect(test.images.shape).toEqual([10, 3, 16, 16]);
    expect(await read(test.labels.size)).toEqual(Array.from(split1.labels.size));
    tf.dispose(test);
  });

  it('leaks no tensors in a next() loop', () => {
    const ds = shapes({ size: 32, batchSize: 8, seed: 0 });
    const before = tf.memory().numTensors;
    for (let k = 0; k < 20; k++) tf.dispose(ds.next());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('movingSprites', () => {
  const side = 32;

  it('validates options', () => {
    expect(() => movingSprites({ size: 48 as 32, batchSize: 2, seed: 0 })).toThrow(/movingSprites: size must be one of 16, 32, 64, got 48/);
    expect(() => movingSprites({ batchSize: 2, seed: 0, numSprites: 7 })).toThrow(/numSprites/);
    expect(() => movingSprites({ batchSize: 2, seed: 0, speedRange: [0.1, 0.7] })).toThrow(/speedRange/);
    expect(() => movingSprites({ batchSize: 2, seed: 0, frames: 0 })).toThrow(/frames/);
  });

  it('gives videos [B, T, 3, H, W], masks [B, T, S, H, W] and motion labels', async () => {
    const ds = movingSprites({ size: 16, frames: 5, batchSize: 3, seed: 0 });
    const b = ds.next();
    expect(b.videos.shape).toEqual([3, 5, 3, 16, 16]);
    expect(b.masks.shape).toEqual([3, 5, 3, 16, 16]);
    expect(b.labels.positions.shape).toEqual([3, 5, 3, 2]);
    expect(b.labels.velocities.shape).toEqual([3, 5, 3, 2]);
    expect(b.labels.count.dtype).toBe('int32');
    const v = await read(b.videos);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    tf.dispose(b);
    const big = movingSprites({ size: 64, frames: 2, batchSize: 1, seed: 0, numSprites: 2 }).sample(1);
    expect(big.videoShape).toEqual([1, 2, 3, 64, 64]);
    expect(big.maskShape).toEqual([1, 2, 2, 64, 64]);
  });

  it('same seed gives identical videos, different seeds differ', async () => {
    const [a, b, c] = [1, 1, 2].map((seed) => movingSprites({ size: 16, frames: 4, batchSize: 2, seed }));
    const [ba, bb, bc] = [a.next(), b.next(), c.next()];
    const [ra, rb, rc] = await Promise.all([readAll(ba), readAll(bb), readAll(bc)]);
    expect(ra).toEqual(rb);
    expect(ra).not.toEqual(rc);
    tf.dispose([ba, bb, bc]);
  });

  it('stays in bounds, moves at constant velocity and bounces off the walls', () => {
    const ds = movingSprites({ size: side, frames: 24, batchSize: 1, seed: 3, speedRange: [0.05, 0.12] });
    const s = ds.sample(40);
    const { positions: P, velocities: V, size, present, count } = s.labels;
    const T = s.frames;
    const S = s.sprites;
    let bounces = 0;
    let straight = 0;
    for (let b = 0; b < s.n; b++) {
      expect(count[b]).toBeGreaterThanOrEqual(1);
      expect(count[b]).toBeLessThanOrEqual(3);
      for (let k = 0; k < S; k++) {
        const o = b * S + k;
        expect(present[o]).toBe(k < count[b] ? 1 : 0);
        if (!present[o]) continue;
        const lo = size[o] / 2;
        const hi = 1 - size[o] / 2;
        for (let t = 0; t < T; t++) {
          for (let d = 0; d < 2; d++) {
            const l = ((b * T + t) * S + k) * 2 + d;
            expect(P[l]).toBeGreaterThanOrEqual(lo - 1e-6);
            expect(P[l]).toBeLessThanOrEqual(hi + 1e-6);
            if (t === T - 1) continue;
            const next = P[l + S * 2];
            const vNext = V[l + S * 2];
            const free = P[l] + V[l];
            if (free >= lo && free <= hi) {
              straight++;
              expect(next).toBeCloseTo(free, 5);
              expect(vNext).toBeCloseTo(V[l], 6);
            } else {
              bounces++;
              expect(Math.sign(vNext)).toBe(-Math.sign(V[l]));
              expect(Math.abs(vNext)).toBeCloseTo(Math.abs(V[l]), 6);
              expect(next).toBeCloseTo(free < lo ? 2 * lo - free : 2 * hi - free, 5);
            }
          }
        }
      }
    }
    expect(bounces).toBeGreaterThan(20);
    expect(straight).toBeGreaterThan(500);
    expect(bounceStep(0.95, 0.1, 0.1, 0.9)).toEqual([expect.closeTo(0.75, 10), -0.1]);
    expect(bounceStep(0.2, -0.15, 0.1, 0.9)).toEqual([expect.closeTo(0.15, 10), 0.15]);
  });

  it('masks coincide with the sprite pixels', () => {
    const ds = movingSprites({ size: side, frames: 6, batchSize: 1, seed: 5, numSprites: [2, 3], range: [0, 1] });
    const s = ds.sample(12);
    const T = s.frames;
    const S = s.sprites;
    const plane = side * side;
    const bg = [BACKGROUND_LEVEL, BACKGROUND_LEVEL, BACKGROUND_LEVEL] as const;
    const colours = [...SHAPE_PALETTE.map((p) => p.rgb), bg];
    const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    let maskPixels = 0;
    let exactPixels = 0;
    const bad: string[] = []; // collected, so one assertion reports all (per-pixel expects are slow)
    for (let b = 0; b < s.n; b++) {
      const used = new Set<number>();
      for (let k = 0; k < s.labels.count[b]; k++) used.add(s.labels.colour[b * S + k]);
      expect(used.size).toBe(s.labels.count[b]); // distinct colours per video
      for (let t = 0; t < T; t++) {
        for (let p = 0; p < plane; p++) {
          const pix = [0, 1, 2].map((c) => s.videos[((b * T + t) * 3 + c) * plane + p]);
          let owners = 0;
          for (let k = 0; k < S; k++) {
            const m = s.masks[((b * T + t) * S + k) * plane + p];
            if (m !== 0 && m !== 1) bad.push(`mask value ${m} at ${[b, t, k, p]}`);
            if (m !== 1) continue;
            owners++;
            maskPixels++;
            if (k >= s.labels.count[b]) bad.push(`mask of absent sprite at ${[b, t, k, p]}`);
            const col = SHAPE_PALETTE[s.labels.colour[b * S + k]]?.rgb ?? bg;
            // At least half the pixel shows this sprite, so it lies within half the farthest colour.
            const far = Math.max(...colours.map((c) => dist(c, col)));
            if (dist(pix, col) > 0.5 * far + 1e-5) bad.push(`pixel ${pix} too far from sprite colour at ${[b, t, k, p]}`);
          }
          if (owners > 1) bad.push(`${owners} owners at ${[b, t, p]}`);
          // A pixel showing exactly a sprite's colour is in that sprite's mask.
          for (let k = 0; k < s.labels.count[b]; k++) {
            const col = SHAPE_PALETTE[s.labels.colour[b * S + k]].rgb;
            if (dist(pix, col) < 1e-5) {
              exactPixels++;
              if (s.masks[((b * T + t) * S + k) * plane + p] !== 1) bad.push(`sprite pixel outside its mask at ${[b, t, k, p]}`);
            }
          }
        }
      }
    }
    expect(bad).toEqual([]);
    expect(exactPixels).toBeGreaterThan(1000);
    expect(maskPixels).toBeGreaterThan(exactPixels);
  });

  it("a lone sprite's mask has its area and sits at its position", () => {
    const s = movingSprites({ size: side, frames: 3, batchSize: 1, seed: 8, numSprites: 1 }).sample(30);
    const plane = side * side;
    for (let b = 0; b < s.n; b++) {
      const kind = s.labels.shape[b];
      const sz = s.labels.size[b] * side;
      const expected = kind === 1 ? sz * sz : kind === 0 ? (Math.PI / 4) * sz * sz : (sz * sz) / 2;
      for (let t = 0; t < s.frames; t++) {
        let area = 0;
        let mx = 0;
        let my = 0;
        for (let p = 0; p < plane; p++) {
          const m = s.masks[(b * s.frames + t) * plane + p];
          area += m;
          mx += m * ((p % side) + 0.5);
          my += m * (Math.floor(p / side) + 0.5);
        }
        expect(Math.abs(area - expected)).toBeLessThan(0.15 * expected + 2);
        const px = s.labels.positions[(b * s.frames + t) * 2] * side;
        const py = s.labels.positions[(b * s.frames + t) * 2 + 1] * side + (kind === 2 ? sz / 6 : 0);
        expect(Math.abs(mx / area - px)).toBeLessThan(0.6);
        expect(Math.abs(my / area - py)).toBeLessThan(0.6);
      }
    }
  });

  it('soft masks hold visible coverage', () => {
    const s = movingSprites({ size: 16, frames: 2, batchSize: 1, seed: 1, numSprites: 1, softMasks: true }).sample(3);
    const vals = Array.from(s.masks);
    expect(vals.some((v) => v > 0 && v < 1)).toBe(true);
    expect(Math.max(...vals)).toBe(1);
  });

  it('saves and restores its state', async () => {
    const ds = movingSprites({ size: 16, frames: 3, batchSize: 2, seed: 6, background: 'noise' });
    tf.dispose(ds.next());
    const state = ds.getState();
    const a = ds.next();
    const ra = await readAll(a);
    ds.setState(state);
    const b = ds.next();
    expect(await readAll(b)).toEqual(ra);
    tf.dispose([a, b]);
  });

  it('leaks no tensors in a next() loop', () => {
    const ds = movingSprites({ size: 16, frames: 4, batchSize: 2, seed: 0 });
    const before = tf.memory().numTensors;
    for (let k = 0; k < 10; k++) tf.dispose(ds.next());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('toy2d', () => {
  function byLabel(x: Float32Array, label: Int32Array, c: number): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < label.length; i++) if (label[i] === c) out.push([x[2 * i], x[2 * i + 1]]);
    return out;
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

  it('validates options', () => {
    expect(() => toy2d({ kind: 'swirl' as 'moons', batchSize: 4, seed: 0 })).toThrow(/toy2d: kind must be one of/);
    expect(() => toy2d({ kind: 'rings', batchSize: 4, seed: 0, radii: [] })).toThrow(/radii/);
    expect(() => toy2d({ kind: 'moons', batchSize: 4, seed: 0, noise: -1 })).toThrow(/noise/);
  });

  it('gives {x: [B, 2], label: int32 [B]} batches, deterministic per seed', async () => {
    const [a, b, c] = [3, 3, 4].map((seed) => toy2d({ kind: 'spiral', batchSize: 16, seed }));
    const [ba, bb, bc] = [a.next(), b.next(), c.next()];
    expect(ba.x.shape).toEqual([16, 2]);
    expect(ba.label.dtype).toBe('int32');
    expect(await readAll(ba)).toEqual(await readAll(bb));
    expect(await readAll(ba)).not.toEqual(await readAll(bc));
    tf.dispose([ba, bb, bc]);
  });

  it('rings: radii per label within tolerance', () => {
    const ds = toy2d({ kind: 'rings', batchSize: 1, seed: 1, numRings: 3, radius: 1.5, noise: 0.05 });
    expect(ds.radii).toEqual([0.5, 1, 1.5]);
    const s = ds.sample(3000);
    for (let c = 0; c < 3; c++) {
      const r = byLabel(s.x, s.label, c).map(([x, y]) => Math.hypot(x, y));
      expect(Math.abs(r.length - 1000)).toBeLessThan(110);
      expect(mean(r)).toBeCloseTo(0.5 * (c + 1), 1);
      expect(Math.abs(mean(r) - 0.5 * (c + 1))).toBeLessThan(0.01);
      const sd = Math.sqrt(mean(r.map((v) => (v - mean(r)) ** 2)));
      expect(sd).toBeGreaterThan(0.04);
      expect(sd).toBeLessThan(0.06);
    }
  });

  it('moons: two half circles, the second shifted by (1, 0.5) and flipped', () => {
    const s = toy2d({ kind: 'moons', batchSize: 1, seed: 2, noise: 0.05 }).sample(4000);
    const m0 = byLabel(s.x, s.label, 0);
    const m1 = byLabel(s.x, s.label, 1);
    expect(Math.abs(m0.length - 2000)).toBeLessThan(130);
    // Means of the arcs: (0, 2/π) and (1, 0.5 − 2/π).
    expect(mean(m0.map((p) => p[0]))).toBeCloseTo(0, 1);
    expect(Math.abs(mean(m0.map((p) => p[1])) - 2 / Math.PI)).toBeLessThan(0.02);
    expect(Math.abs(mean(m1.map((p) => p[0])) - 1)).toBeLessThan(0.03);
    expect(Math.abs(mean(m1.map((p) => p[1])) - (0.5 - 2 / Math.PI))).toBeLessThan(0.02);
    // Distance to the arc's circle is the noise alone: mean |N(0, 0.05)| ≈ 0.04.
    const d0 = mean(m0.map(([x, y]) => Math.abs(Math.hypot(x, y) - 1)));
    const d1 = mean(m1.map(([x, y]) => Math.abs(Math.hypot(x - 1, y - 0.5) - 1)));
    expect(d0).toBeLessThan(0.05);
    expect(d1).toBeLessThan(0.05);
    // Upper moon above, lower moon below (up to noise).
    expect(m0.filter((p) => p[1] < -0.2).length).toBe(0);
    expect(m1.filter((p) => p[1] > 0.7).length).toBe(0);
  });

  it('gaussianMixture: components on a circle or a grid, each point near its own mean', () => {
    const ds = toy2d({ kind: 'gaussianMixture', batchSize: 1, seed: 3, k: 8, radius: 2, noise: 0.1 });
    const s = ds.sample(4000);
    const means = ds.means!;
    expect(means[0]).toBeCloseTo(2, 6);
    expect(means[1]).toBeCloseTo(0, 6);
    expect(means[4]).toBeCloseTo(0, 6); // component 2 at angle π/2
    expect(means[5]).toBeCloseTo(2, 6);
    for (let c = 0; c < 8; c++) {
      const pts = byLabel(s.x, s.label, c);
      expect(Math.abs(mean(pts.map((p) => p[0])) - means[2 * c])).toBeLessThan(0.03);
      expect(Math.abs(mean(pts.map((p) => p[1])) - means[2 * c + 1])).toBeLessThan(0.03);
      const sd = Math.sqrt(mean(pts.map((p) => (p[0] - means[2 * c]) ** 2)));
      expect(sd).toBeGreaterThan(0.085);
      expect(sd).toBeLessThan(0.115);
    }
    expect(Array.from(gaussianMixtureMeans(9, 'grid', 2))).toEqual([-2, -2, 0, -2, 2, -2, -2, 0, 0, 0, 2, 0, -2, 2, 0, 2, 2, 2]);
  });

  it('spiral: arms balanced, radius bounded', () => {
    const s = toy2d({ kind: 'spiral', batchSize: 1, seed: 4, arms: 3, noise: 0.02 }).sample(3000);
    for (let c = 0; c < 3; c++) expect(Math.abs(byLabel(s.x, s.label, c).length - 1000)).toBeLessThan(110);
    const r = Array.from({ length: s.n }, (_, i) => Math.hypot(s.x[2 * i], s.x[2 * i + 1]));
    expect(Math.max(...r)).toBeLessThan(1.1);
    expect(mean(r)).toBeGreaterThan(0.45);
    expect(mean(r)).toBeLessThan(0.55);
  });

  it('restores state and leaks no tensors', async () => {
    const ds = toy2d({ kind: 'moons', batchSize: 32, seed: 0 });
    const state = ds.getState();
    const a = ds.next();
    ds.setState(state);
    const b = ds.next();
    expect(await readAll(a)).toEqual(await readAll(b));
    tf.dispose([a, b]);
    const before = tf.memory().numTensors;
    for (let k = 0; k < 50; k++) tf.dispose(ds.next());
    expect(tf.memory().numTensors).toBe(before);
  });
});
