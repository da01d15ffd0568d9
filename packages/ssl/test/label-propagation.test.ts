import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng, movingSprites } from '@brickml/core';
import {
  ContrastiveRandomWalk,
  boundaryF,
  boundaryTolerance,
  crwNodeFeatures,
  evaluateMaskPropagation,
  l2Normalize,
  labelOverlay,
  maskBoundary,
  maskIoU,
  pixelNodeFeatures,
  propagateLabels,
} from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());

/** One-hot node features: node i of every frame is e_{perm_t(i)}. */
function oneHotFeatures(perms: number[][], n: number): tf.Tensor {
  const v = new Float32Array(perms.length * n * n);
  perms.forEach((perm, t) => perm.forEach((c, i) => (v[(t * n + i) * n + c] = 1)));
  return tf.tensor3d(v, [perms.length, n, n]);
}

describe('propagateLabels', () => {
  it('follows the features: labels move with the node that carries them', async () => {
    // 1×4 grid; in frame t the content of node i of frame 0 sits at node i+t (cyclic shift).
    const n = 4;
    const shift = (t: number) => Array.from({ length: n }, (_, i) => (i - t + n) % n); // node i of frame t shows content i−t
    const feats = oneHotFeatures([shift(0), shift(1), shift(2)], n);
    const labels = tf.tensor2d([[1, 0], [0, 1], [0, 1], [1, 0]]);
    const out = propagateLabels(feats, labels, { rows: 1, cols: n }, { topk: 1, radius: Infinity });
    expect(out.shape).toEqual([3, n, 2]);
    const v = (await out.array()) as number[][][];
    expect(v[0]).toEqual([[1, 0], [0, 1], [0, 1], [1, 0]]);
    // frame 1: node i shows content i−1 → label of frame-0 node i−1
    expect(v[1].map((r) => r.map(Math.round))).toEqual([[1, 0], [1, 0], [0, 1], [0, 1]]);
    expect(v[2].map((r) => r.map(Math.round))).toEqual([[0, 1], [1, 0], [1, 0], [0, 1]]);
    tf.dispose([feats, labels, out]);
  });

  it('weights the top-k context nodes by a softmax of affinity / τ', async () => {
    // frame 1's single query has affinities 0.6 and 0.8 to frame 0's two nodes (unit vectors).
    const feats = tf.tensor3d([[[1, 0], [0, 1]], [[0.6, 0.8], [0.6, 0.8]]]);
    const labels = tf.tensor2d([[1, 0], [0, 1]]);
    const out = propagateLabels(feats, labels, { rows: 1, cols: 2 }, { topk: 2, temperature: 0.5, radius: Infinity });
    const w1 = Math.exp(0.8 / 0.5) / (Math.exp(0.6 / 0.5) + Math.exp(0.8 / 0.5));
    const v = await host(out);
    expect(v[4]).toBeCloseTo(1 - w1, 5);
    expect(v[5]).toBeCloseTo(w1, 5);
    const top1 = propagateLabels(feats, labels, { rows: 1, cols: 2 }, { topk: 1, radius: Infinity });
    expect((await host(top1)).slice(4)).toEqual([0, 1, 0, 1]);
    tf.dispose([feats, labels, out, top1]);
  });

  it('masks far short-term context nodes, never frame 0, and feeds predictions back', async () => {
    // 1×5 grid, 6-d features. Frame 1 node 4 matches frame-0 node 0 (4 cells away: frame 0 is
    // never masked). Frame 1 node 0 carries a new feature u (plus some of frame-0 node 0, whose
    // label it inherits). Frame 2 node 4 looks like u: only radius ∞ lets it reach frame-1 node 0
    // (4 cells away); with radius 2 it falls back to node 3's label.
    const e = (i: number, a = 1) => Array.from({ length: 6 }, (_, j) => (j === i ? a : 0));
    const add = (x: number[], y: number[]) => x.map((v, i) => v + y[i]);
    const f0 = [e(0), e(1), e(2), e(3), e(4)];
    const f1 = [add(e(5), e(0, 0.5)), e(1), e(2), e(3), e(0)];
    const f2 = [e(1), e(1), e(2), e(3), add(e(5), e(3, 0.3))];
    const feats = l2Normalize(tf.tensor3d([f0, f1, f2]));
    const labels = tf.tensor2d([[0, 1], [1, 0], [1, 0], [1, 0], [1, 0]]);
    const near = (await propagateLabels(feats, labels, { rows: 1, cols: 5 }, { topk: 1, radius: 2 }).array()) as number[][][];
    expect(near[1][4]).toEqual([0, 1]); // from frame-0 node 0, 4 cells away: allowed
    expect(near[1][0]).toEqual([0, 1]); // fed back as frame 1's label
    expect(near[2][4]).toEqual([1, 0]); // frame-1 node 0 is outside the radius
    const wide = (await propagateLabels(feats, labels, { rows: 1, cols: 5 }, { topk: 1, radius: Infinity }).array()) as number[][][];
    expect(wide[2][4]).toEqual([0, 1]); // reached through frame 1's predicted label
    tf.dispose([feats, labels]);
  });

  it('gives the same labels in chunks as in one block, and checks its arguments', async () => {
    const feats = tf.tidy(() => l2Normalize(new Rng(1).normalTensor([5, 12, 6])));
    const labels = tf.tidy(() => tf.softmax(new Rng(2).normalTensor([12, 3])));
    const grid = { rows: 3, cols: 4 };
    const whole = propagateLabels(feats, labels, grid, { topk: 4, radius: 2, context: 2 });
    const chunked = propagateLabels(feats, labels, grid, { topk: 4, radius: 2, context: 2, chunk: 5 });
    const a = await host(whole);
    const b = await host(chunked);
    a.forEach((x, i) => expect(b[i]).toBeCloseTo(x, 6));
    // rows stay distributions
    const sums = await host(tf.sum(whole, -1));
    sums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    expect(() => propagateLabels(feats, labels, { rows: 2, cols: 4 })).toThrow(/has 12 nodes per frame, the grid 2×4 has 8/);
    expect(() => propagateLabels(feats, labels, grid, { topk: 0 })).toThrow(/option 'topk' expected a positive integer, got 0/);
    const before = tf.memory().numTensors;
    propagateLabels(feats, labels, grid, { chunk: 5 }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([feats, labels, whole, chunked]);
  });
});

describe('J and F', () => {
  const square = (h: number, w: number, y0: number, x0: number, s: number) => {
    const m = new Uint8Array(h * w);
    for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) m[y * w + x] = 1;
    return m;
  };

  it('IoU by hand; both empty is 1', () => {
    const a = square(8, 8, 0, 0, 4); // 16 px
    const b = square(8, 8, 2, 2, 4); // overlap 2×2 = 4
    expect(maskIoU(a, b)).toBeCloseTo(4 / 28, 10);
    expect(maskIoU(new Uint8Array(64), new Uint8Array(64))).toBe(1);
    expect(maskIoU(a, new Uint8Array(64))).toBe(0);
  });

  it('boundary F: 1 for equal masks and one-pixel shifts within the tolerance, lower beyond', () => {
    const a = square(32, 32, 8, 8, 10);
    expect(maskBoundary(a, 32, 32).reduce((s, v) => s + v, 0)).toBe(36); // perimeter of a 10×10 square
    expect(boundaryTolerance(32, 32)).toBe(1);
    expect(boundaryTolerance(480, 854)).toBe(8); // DAVIS 480p: ceil(0.008 · 979.6)
    expect(boundaryF(a, a, 32, 32)).toBe(1);
    expect(boundaryF(square(32, 32, 9, 8, 10), a, 32, 32)).toBe(1); // 1 px shift, tolerance 1
    // 4 px down: of the shifted square's 36 boundary pixels, its left and right sides on rows
    // 13..18 (6 each) and 4 of its top row (columns 8, 9, 16, 17) lie within 1 px of the original
    // boundary, the rest ≥ 2 px away: P = 16/36, and R = 16/36 by symmetry
    expect(boundaryF(square(32, 32, 12, 8, 10), a, 32, 32)).toBeCloseTo(16 / 36, 10);
    expect(boundaryF(new Uint8Array(64), new Uint8Array(64), 8, 8)).toBe(1);
    expect(boundaryF(square(8, 8, 0, 0, 3), new Uint8Array(64), 8, 8)).toBe(0);
  });
});

describe('evaluateMaskPropagation', () => {
  const data = movingSprites({ size: 16, frames: 5, batchSize: 1, seed: 4, background: 'noise', noiseStd: 0.1 });
  const held = data.fixedSplit(4, 11);

  it('copying the first mask is exact on a still video, and loses J when sprites move', async () => {
    const T = held.videoShape[1];
    const plane = 16 * 16;
    const S = held.maskShape[2];
    // a still video: every frame equals frame 0, masks too
    const still = { ...held, videos: new Float32Array(held.videos), masks: new Float32Array(held.masks) };
    for (let v = 0; v < held.n; v++) {
      for (let t = 1; t < T; t++) {
        still.videos.copyWithin((v * T + t) * 3 * plane, v * T * 3 * plane, (v * T + 1) * 3 * plane);
        still.masks.copyWithin((v * T + t) * S * plane, v * T * S * plane, (v * T + 1) * S * plane);
      }
    }
    const exact = await evaluateMaskPropagation(still, 'copyFirst');
    expect(exact.J).toBe(1);
    expect(exact.F).toBe(1);
    const moving = await evaluateMaskPropagation(held, 'copyFirst');
    expect(moving.J).toBeLessThan(0.9);
    expect(moving.objects).toBe(exact.objects);
    // raw-pixel propagation on the still video recovers most of the masks (grid resolution limits it)
    const pix = await evaluateMaskPropagation(still, { features: pixelNodeFeatures({ patchSize: 4, stride: 2 }) }, { radius: 3, keep: 1 });
    expect(pix.J).toBeGreaterThan(0.7);
    expect(pix.labelMaps).toHaveLength(1);
    expect(pix.labelMaps[0]).toHaveLength(T * plane);
  });

  it('runs CRW features at any stride without leaking tensors, and draws overlays', async () => {
    const crw = new ContrastiveRandomWalk(
      { encoder: { type: 'MLP', dim: 3 * 4 * 4, hidden: 16, outDim: 8 }, encoderDim: 8, encoderInput: 'flat', embedDim: 8, patchSize: 4, stride: 2 },
      { rng: new Rng(0) },
    );
    const features = crwNodeFeatures(crw, { stride: 2 });
    await evaluateMaskPropagation(held, { features }, { radius: 3 });
    const before = tf.memory().numTensors;
    const r = await evaluateMaskPropagation(held, { features }, { radius: 3, keep: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.J).toBeGreaterThan(0);
    expect(r.J).toBeLessThanOrEqual(1);
    expect(r.tolerance).toBe(1);
    const T = held.videoShape[1];
    const img = labelOverlay(held.videos.subarray(0, T * 3 * 256), r.labelMaps[0], T, 16, 16);
    expect(img).toHaveLength(T * 3 * 256);
    expect(Math.max(...img)).toBeLessThanOrEqual(1);
    expect(Math.min(...img)).toBeGreaterThanOrEqual(0);
    crw.dispose();
  });
});
