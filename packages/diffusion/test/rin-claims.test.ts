// RIN's own claims, the measuring pieces: read-attention mass on sprite patches, the FLOP counters
// that set up the same-FLOPs crossover, and shapesFD at 64 px.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { RinNetwork } from '@brickml/attention';
import { Rng, build, movingSprites } from '@brickml/core';
import {
  ShapesFD, TransformerDenoiser, denoiserFlops, formatReadMassTable, matchTransformerFlops, readAttentionMass, readMassOnMask, shapesImages,
  spritePatchMask, transformerDenoiserFlops, type ReadMapTrace,
} from '../src/index.js';

describe('read-attention mass on sprite patches', () => {
  // one clip, 2 frames, 2 sprite slots, 4×4 pixels; patch 2 → a 2×2 grid per frame
  const shape = [1, 2, 2, 4, 4];
  const masks = new Float32Array(2 * 2 * 16);
  const px = (t: number, s: number, y: number, x: number) => ((t * 2 + s) * 4 + y) * 4 + x;
  // frame 0: sprite 0 fills patch (0,0); sprite 1 one pixel of patch (1,1) (coverage 1/4)
  for (const [y, x] of [[0, 0], [0, 1], [1, 0], [1, 1]]) masks[px(0, 0, y, x)] = 1;
  masks[px(0, 1, 3, 3)] = 1;
  // frame 1: sprite 0 two pixels of patch (0,1) (1/2), sprite 1 overlapping it on one of them (union, not sum)
  masks[px(1, 0, 0, 2)] = 1;
  masks[px(1, 0, 0, 3)] = 1;
  masks[px(1, 1, 0, 3)] = 1;

  it('downsamples the union of the sprites to the patch grid at the coverage threshold', () => {
    const m = spritePatchMask(masks, shape, { patchSize: 2 });
    expect(m.shape).toEqual([1, 2, 2, 2]);
    expect(Array.from(m.data)).toEqual([1, 0, 0, 1, /* frame 1 */ 0, 1, 0, 0]);
    const strict = spritePatchMask(masks, shape, { patchSize: 2, minCoverage: 0.5 });
    expect(Array.from(strict.data)).toEqual([1, 0, 0, 0, 0, 1, 0, 0]);
    // a tubelet of 2 frames averages over time too: patch (0,0) 4/8, (0,1) 2/8, (1,1) 1/8
    const tub = spritePatchMask(masks, shape, { patchSize: 2, tubelet: 2, minCoverage: 0.25 });
    expect(tub.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(tub.data)).toEqual([1, 1, 0, 0]);
  });

  it('the mass share, uniform share and frame shares of a hand-built map', () => {
    const mask = spritePatchMask(masks, shape, { patchSize: 2 }); // sprite patches: f0 (0,0),(1,1); f1 (0,1)
    // frame 0: 6, 1, 1, 2 (sum 10); frame 1: 2, 3, 3, 2 (sum 10)
    const map = Float32Array.from([6, 1, 1, 2, 2, 3, 3, 2]);
    const context = readMassOnMask(map, mask, 0, 1);
    expect(context.mass).toBeCloseTo(8 / 10, 12);
    expect(context.uniform).toBeCloseTo(2 / 4, 12);
    expect(context.lift).toBeCloseTo(1.6, 12);
    expect(context.frameMass).toBeCloseTo(0.5, 12);
    expect(context.frameShare).toBe(0.5);
    expect(context.clips).toBe(1);
    const predicted = readMassOnMask(map, mask, 1, 2);
    expect(predicted.mass).toBeCloseTo(3 / 10, 12);
    expect(predicted.uniform).toBeCloseTo(1 / 4, 12);
    const all = readMassOnMask(map, mask, 0, 2);
    expect(all.mass).toBeCloseTo(11 / 20, 12);
    expect(all.uniform).toBeCloseTo(3 / 8, 12);
    expect(all.frameMass).toBeCloseTo(1, 12);
    // scaling the map (RIN's maps sum to heads · latents) changes nothing
    expect(readMassOnMask(map.map((v) => 7 * v), mask, 1, 2).mass).toBeCloseTo(predicted.mass, 12);
  });

  it('tables a trace per step, block and kind of frame; averages over clips and skips clips without sprites', () => {
    // two clips: the first as above, the second has no sprite in frame 1
    const two = new Float32Array(2 * masks.length);
    two.set(masks, 0);
    for (const [y, x] of [[2, 0], [2, 1], [3, 0], [3, 1]]) two[masks.length + px(0, 0, y, x)] = 1; // clip 2 frame 0: patch (1,0)
    const mask = spritePatchMask(two, [2, 2, 2, 4, 4], { patchSize: 2 });
    const a = Float32Array.from([6, 1, 1, 2, 2, 3, 3, 2, /* clip 2 */ 1, 1, 2, 0, 1, 1, 1, 1]);
    const uniformMap = new Float32Array(16).fill(1);
    const trace: ReadMapTrace = { t: [1, 0.5], maps: [[a, uniformMap], [uniformMap, a]], shape: [2, 2, 2, 2] };
    const rows = readAttentionMass(trace, mask, { contextCells: 1 });
    expect(rows).toHaveLength(2 * 2 * 3);
    const r = rows.find((x) => x.step === 0 && x.block === 0 && x.frames === 'context')!;
    expect(r.t).toBe(1);
    expect(r.clips).toBe(2);
    expect(r.mass).toBeCloseTo((8 / 10 + 2 / 4) / 2, 12);
    expect(r.uniform).toBeCloseTo((2 / 4 + 1 / 4) / 2, 12);
    const p = rows.find((x) => x.step === 0 && x.block === 0 && x.frames === 'predicted')!;
    expect(p.clips).toBe(1); // clip 2 has no sprite patch in frame 1
    expect(p.mass).toBeCloseTo(3 / 10, 12);
    // a uniform map reads sprites exactly at their share: lift 1
    for (const u of rows.filter((x) => (x.step === 0 && x.block === 1) || (x.step === 1 && x.block === 0))) {
      expect(u.mass).toBeCloseTo(u.uniform, 12);
      expect(u.lift).toBeCloseTo(1, 12);
    }
    const table = formatReadMassTable(rows);
    expect(table.split('\n')).toHaveLength(1 + rows.length);
    expect(table).toMatch(/predicted +30\.0% +25\.0% +1\.20/);
  });

  it('on movingSprites: the patch mask follows the sprites, a map on the sprite patches has mass 1', () => {
    const s = movingSprites({ size: 16, frames: 4, batchSize: 1, seed: 0 }).fixedSplit(8, 5);
    const mask = spritePatchMask(s.masks, s.maskShape, { patchSize: 4, minCoverage: 1 / 16 });
    expect(mask.shape).toEqual([8, 4, 4, 4]);
    // every sprite pixel lies in a sprite patch (any-pixel threshold), and sprites move: frames differ
    const [n, T, S, H, W] = s.maskShape;
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < T; t++) {
        for (let k = 0; k < S; k++) {
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
              if (s.masks[((((i * T + t) * S + k) * H + y) * W) + x] > 0) expect(mask.data[((i * T + t) * 4 + (y >> 2)) * 4 + (x >> 2)]).toBe(1);
            }
          }
        }
      }
    }
    let changed = 0;
    for (let i = 0; i < n; i++) for (let q = 0; q < 16; q++) if (mask.data[(i * 4) * 16 + q] !== mask.data[(i * 4 + 3) * 16 + q]) changed++;
    expect(changed).toBeGreaterThan(0);
    const onSprites = mask.data.map((v) => v * 3 + 1e-9);
    const r = readMassOnMask(onSprites, mask, 0, 4);
    expect(r.mass).toBeGreaterThan(0.999);
    expect(r.uniform).toBeGreaterThan(0.05);
    expect(r.uniform).toBeLessThan(0.9);
  });

  it('rejects mismatched shapes and bad options with the function and argument named', () => {
    const mask = spritePatchMask(masks, shape, { patchSize: 2 });
    expect(() => spritePatchMask(masks, [1, 2, 2, 4], { patchSize: 2 })).toThrow(/spritePatchMask: masks must be \[n, T, S, H, W\]/);
    expect(() => spritePatchMask(masks, shape, { patchSize: 3 })).toThrow(/spritePatchMask: patchSize must be a positive integer dividing the frame 4×4, got 3/);
    expect(() => spritePatchMask(masks, shape, { patchSize: 2, minCoverage: 0 })).toThrow(/minCoverage must be in \(0, 1\], got 0/);
    expect(() => readMassOnMask(new Float32Array(3), mask, 0, 1)).toThrow(/readMassOnMask: the map holds 3 values/);
    expect(() => readMassOnMask(new Float32Array(8), mask, 1, 1)).toThrow(/readMassOnMask: frame cells must satisfy 0 ≤ from < to ≤ 2, got \[1, 1\)/);
    expect(() => readMassOnMask(new Float32Array(8).fill(-1), mask, 0, 1)).toThrow(/read maps must be non-negative/);
    const trace: ReadMapTrace = { t: [1], maps: [[new Float32Array(8)]], shape: [1, 2, 2, 2] };
    expect(() => readAttentionMass(trace, mask, { contextCells: 2 })).toThrow(/readAttentionMass: contextCells must be an integer in \[1, 1\], got 2/);
    expect(() => readAttentionMass({ ...trace, shape: [1, 2, 2] }, mask, { contextCells: 1 })).toThrow(/readAttentionMass: the trace must hold video maps/);
  });
});

/** A RIN like shapesRinConfig at side `size` and patch `p` (interface 48, latents 16 × 80, 2 blocks × 1 layer). */
function rinConfig(size: number, p: number) {
  return {
    type: 'RinNetwork', channels: 3, inputSize: [size, size], patchSize: p, numLatents: 16, numBlocks: 2, computeLayers: 1,
    latentDim: 80, interfaceDim: 48, readHeads: 4, latentHeads: 4, numClasses: 3, writeDepthwiseConv: true,
  };
}

describe('FLOP counters (hand-computed)', () => {
  /** RIN forward FLOPs by hand: N interface tokens of width C = 48, L = 18 latents (16 + noise + class) of width D = 80. */
  function rinByHand(n: number, p: number): number {
    const C = 48, D = 80, L = 18, rw = 48; // read/write heads 4 × dimHead min(C, D)/4 = 12
    const read = 2 * L * D * rw + 2 * 2 * n * C * rw + 2 * L * rw * D + 2 * 2 * L * n * rw + 2 * L * (D * 4 * D + 4 * D * D);
    const compute = 2 * L * D * D * 4 + 2 * 2 * L * L * D + 2 * L * (D * 4 * D + 4 * D * D);
    const write = 2 * n * C * rw + 2 * 2 * L * D * rw + 2 * n * rw * C + 2 * 2 * n * L * rw + 2 * n * (C * 2 * C + 2 * C * C);
    const conv = 2 * n * C * 9;
    return 2 * 2 * n * (3 * p * p) * C + 2 * (read + compute + write + conv);
  }
  /** Transformer forward FLOPs by hand: N + 2 tokens of width d, depth blocks, MLP ×2. */
  function transformerByHand(patches: number, p: number, d: number, depth: number): number {
    const n = patches + 2;
    const block = 2 * n * d * d * 4 + 2 * 2 * n * n * d + 2 * n * (d * 2 * d + 2 * d * d);
    return depth * block + 2 * 2 * patches * (3 * p * p) * d;
  }

  it.each([
    [16, 2, 64],
    [64, 4, 256],
  ])('RIN and transformer at %i px, patch %i (%i tokens)', (size, p, tokens) => {
    const rin = build<RinNetwork>(rinConfig(size, p), { rng: new Rng(0) });
    expect(rin.numInterfaceTokens).toBe(tokens);
    expect(denoiserFlops(rin, 1)).toBe(rinByHand(tokens, p));
    expect(denoiserFlops(rin, 3)).toBe(3 * rinByHand(tokens, p));
    const trConfig = { type: 'TransformerDenoiser', channels: 3, inputSize: [size, size], patchSize: p, dim: 40, depth: 3, heads: 4, mlpRatio: 2, numClasses: 3 };
    const tr = build<TransformerDenoiser>(trConfig, { rng: new Rng(0) });
    expect(denoiserFlops(tr, 1)).toBe(transformerByHand(tokens, p, 40, 3));
    expect(transformerDenoiserFlops(trConfig, 2)).toBe(denoiserFlops(tr, 2));
    rin.dispose();
    tr.dispose();
  });

  it('matchTransformerFlops finds the closest width at each size (same FLOPs within 5%)', () => {
    for (const [size, p] of [[16, 4], [32, 4], [64, 4], [16, 2]]) {
      const target = rinByHand((size / p) ** 2, p);
      const base = { channels: 3, inputSize: [size, size], patchSize: p, heads: 4, mlpRatio: 2, numClasses: 3, depth: 3 };
      const m = matchTransformerFlops(target, base, { depths: [2, 3, 4], dimStep: 4 }); // as examples/crossover.ts
      expect(m.flops).toBe(transformerDenoiserFlops(m.config, 1));
      expect(m.ratio).toBeCloseTo(m.flops / target, 12);
      expect(Math.abs(m.ratio - 1)).toBeLessThan(0.05);
      for (const dim of [m.config.dim! - 4, m.config.dim! + 4]) {
        if (dim < 4) continue;
        const other = transformerDenoiserFlops({ ...m.config, dim }, 1) / target;
        expect(Math.abs(Math.log(other))).toBeGreaterThan(Math.abs(Math.log(m.ratio)));
      }
    }
    // the 16-px, patch-2 case is the shipped baseline's width 64 (README: 1.01×)
    expect(matchTransformerFlops(rinByHand(64, 2), { channels: 3, inputSize: [16, 16], patchSize: 2, heads: 4, mlpRatio: 2, numClasses: 3, depth: 3 }).config.dim).toBe(64);
    expect(() => matchTransformerFlops(0, { inputSize: [16, 16] })).toThrow(/matchTransformerFlops: targetFlops must be positive, got 0/);
    expect(() => transformerDenoiserFlops({ inputSize: [16, 16], patchSize: 3 }, 1)).toThrow(/transformerDenoiserFlops: patch 3×3/);
  });
});

describe('shapesFD at 64 px', () => {
  let metric: ShapesFD;
  beforeAll(async () => {
    metric = await ShapesFD.load();
  });
  afterAll(() => metric.classifier.dispose());

  it('real vs real ≪ noise vs real; real 64-px images score near the floor; the classifier reads them', async () => {
    const before = tf.memory().numTensors;
    const s = shapesImages(64, 128, 4242);
    expect(s.shape).toEqual([128, 3, 64, 64]);
    const real = tf.tensor4d(s.images, s.shape);
    const rep = await metric.evaluate(real);
    expect(rep.size).toBe(64);
    expect(rep.n).toBe(128);
    expect(rep.noiseVsReal).toBeGreaterThan(20 * rep.realVsReal);
    expect(rep.shapesFD).toBeLessThan(3 * rep.realVsReal + 1);
    const noise = tf.tidy(() => tf.clipByValue(new Rng(9).normalTensor([128, 3, 64, 64]), -1, 1));
    expect((await metric.evaluate(noise)).shapesFD).toBeGreaterThan(10 * rep.shapesFD);
    const acc = await metric.accuracy(64, 300);
    expect(acc.shape).toBeGreaterThan(0.9);
    tf.dispose([real, noise]);
    await expect(metric.evaluate(tf.zeros([64, 3, 48, 48]))).rejects.toThrow(/ShapesFD.evaluate: samples must be \[n, 3, S, S\] with S = 16, 32 or 64, got \[64, 3, 48, 48\]/);
    expect(tf.memory().numTensors).toBe(before + 1); // the zeros of the rejected call
  });

  it('64-px reference images share the 32-px set\'s labels', () => {
    const a = shapesImages(32, 16, 7), b = shapesImages(64, 16, 7);
    expect(Array.from(b.labels.shape)).toEqual(Array.from(a.labels.shape));
    expect(Array.from(b.labels.x)).toEqual(Array.from(a.labels.x));
    expect(() => shapesImages(48 as 64, 4, 1)).toThrow(/shapesImages: size must be 16, 32 or 64, got 48/);
  });
});
