import * as tf from '@tensorflow/tfjs-core';
import '../src/index.js'; // registers the bricks (the named imports below may be type-only)
import { describe, expect, it } from 'vitest';
import { Rng, build, gradCheckVariables } from '@brickml/core';
import {
  FourierPositionEncoding,
  LearnedPositionEncoding,
  RotaryEmbedding,
  SinCosPositionEncoding,
  fourierChannels,
  fourierFeatures,
  sinCosTable,
} from '../src/index.js';
import { host, maxAbsDiff, projectionLoss, randn } from './helpers.js';

const close = (a: ArrayLike<number>, b: number[], digits = 6) => expect(Array.from(a)).toEqual(b.map((v) => expect.closeTo(v, digits)));

describe('sin-cos position tables', () => {
  it('1-D: [sin(p·ω), cos(p·ω)] with ω_i = 10000^(−i/(d/2))', () => {
    const t = sinCosTable([3], 4);
    close(t.slice(8, 12), [Math.sin(2), Math.sin(0.02), Math.cos(2), Math.cos(0.02)]);
    close(t.slice(0, 4), [0, 0, 1, 1]);
  });

  it('2-D: half the width per axis, (row, col) order, tokens row-major', () => {
    const t = sinCosTable([2, 3], 8);
    // token 5 = (row 1, col 2)
    close(t.slice(40, 48), [Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01), Math.sin(2), Math.sin(0.02), Math.cos(2), Math.cos(0.02)]);
  });

  it('3-D: a third each (rounded down to even), remainder zero-padded', () => {
    const t = sinCosTable([2, 2, 2], 8);
    close(t.slice(56, 64), [Math.sin(1), Math.cos(1), Math.sin(1), Math.cos(1), Math.sin(1), Math.cos(1), 0, 0]);
  });

  it('normalizeTo scales positions to [0, normalizeTo] (pix2seq 2π)', () => {
    const t = sinCosTable([3], 2, { normalizeTo: 2 * Math.PI });
    close(t, [0, 1, Math.sin(Math.PI), -1, Math.sin(2 * Math.PI), 1]);
  });

  it('the brick adds the table and round-trips its config; it has no parameters', async () => {
    const pe = build<SinCosPositionEncoding>({ type: 'SinCosPositionEncoding', dim: 8, grid: [2, 3] });
    const x = tf.ones([2, 6, 8]);
    const y = pe.forward(x);
    const t = sinCosTable([2, 3], 8);
    close((await host(y)).slice(48 + 40, 48 + 48), Array.from(t.slice(40, 48), (v) => v + 1), 5);
    expect(pe.numParameters()).toBe(0);
    expect(build(pe.toConfig()).toConfig()).toEqual(pe.toConfig());
    expect(() => pe.forward(tf.ones([2, 5, 8]))).toThrow(/SinCosPositionEncoding.*\[\*, 6, 8\].*\[2, 5, 8\]/);
    tf.dispose([x, y]);
    pe.dispose();
  });
});

describe('Fourier features (deepmind position_encoding.py)', () => {
  it('2-D with 64 bands gives 2 + 2·2·64 = 258 channels', () => {
    expect(fourierChannels(2, 64)).toBe(258);
    const f = fourierFeatures([16, 16], 64, { maxResolution: [224, 224] });
    expect(f.length).toBe(256 * 258);
    // first token = position (−1, −1): pos channels first
    close(f.slice(0, 2), [-1, -1]);
  });

  it('1-D values: positions linspace(−1, 1), bands linspace(1, res/2), [pos, sin(πfx), cos(πfx)]', () => {
    const f = fourierFeatures([3], 3, { maxResolution: [8] }); // bands [1, 2.5, 4]
    close(f.slice(14, 21), [1, Math.sin(Math.PI), Math.sin(2.5 * Math.PI), Math.sin(4 * Math.PI), -1, Math.cos(2.5 * Math.PI), 1], 5);
    close(f.slice(7, 14), [0, 0, 0, 0, 1, 1, 1]);
  });

  it('2-D order: sines dimension-major, band-minor, then cosines in the same order', () => {
    // indexDims [2, 3] → bands dim0 linspace(1, 1, 2) = [1, 1], dim1 linspace(1, 1.5, 2) = [1, 1.5]
    const f = fourierFeatures([2, 3], 2);
    const ch = fourierChannels(2, 2);
    expect(ch).toBe(10);
    // token 5 = (1, 2) → pos (1, 1)
    close(f.slice(5 * ch, 6 * ch), [1, 1, 0, 0, 0, -1, -1, -1, -1, 0], 5);
    const sineOnly = fourierFeatures([2, 3], 2, { sineOnly: true, concatPos: false });
    close(sineOnly.slice(5 * 4, 6 * 4), [0, 0, 0, -1], 5);
  });

  it('the brick concatenates features to the input channels', async () => {
    const pe = new FourierPositionEncoding({ indexDims: [2, 3], numBands: 2 });
    expect(pe.numChannels).toBe(10);
    const x = tf.fill([1, 6, 3], 7);
    const y = pe.forward(x);
    expect(y.shape).toEqual([1, 6, 13]);
    const v = await host(y);
    close(v.slice(5 * 13, 6 * 13), [7, 7, 7, 1, 1, 0, 0, 0, -1, -1, -1, -1, 0], 5);
    expect(build(pe.toConfig()).toConfig()).toEqual(pe.toConfig());
    tf.dispose([x, y]);
    pe.dispose();
  });
});

describe('learned position encoding', () => {
  it('adds `weight` [N, dim] and its gradient checks (float32, eps 1e-2, atol 1e-3)', async () => {
    const pe = new LearnedPositionEncoding({ numPositions: 4, dim: 3 }, { rng: new Rng(1) });
    expect(pe.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['weight', [4, 3]]]);
    const x = randn(new Rng(2), [2, 4, 3]);
    const y = pe.forward(x);
    const expected = tf.add(x, pe.weight);
    expect(await maxAbsDiff(y, expected)).toBe(0);
    const r = await gradCheckVariables(() => projectionLoss(tf.square(pe.forward(x))), pe.parameters(), { eps: 1e-2, atol: 1e-3 });
    expect(r.ok).toBe(true);
    tf.dispose([x, y, expected]);
    pe.dispose();
  });
});

describe('rotary embedding', () => {
  it('rotates feature pairs (i, i + dim/2) by position·θ^(−2i/dim); pass-through features unchanged', async () => {
    const rot = new RotaryEmbedding({ dim: 2 });
    // head width 3: features 0,1 rotated, feature 2 passes through; positions 0 and 1
    const x = tf.tensor4d([1, 0, 5, 1, 0, 5], [1, 1, 2, 3]);
    const y = await host(rot.forward(x));
    close(y, [1, 0, 5, Math.cos(1), Math.sin(1), 5], 6);
  });

  it('scores depend only on relative position and norms are preserved', async () => {
    const rng = new Rng(3);
    const rot = new RotaryEmbedding({ dim: 8 });
    const q = randn(rng, [1, 1, 1, 8]);
    const k = randn(rng, [1, 1, 1, 8]);
    const score = async (m: number, n: number) => {
      const a = rot.forward(q, m), b = rot.forward(k, n);
      const s = tf.sum(tf.mul(a, b));
      const v = (await s.data())[0];
      tf.dispose([a, b, s]);
      return v;
    };
    expect(await score(5, 2)).toBeCloseTo(await score(13, 10), 4);
    expect(await score(0, 7)).toBeCloseTo(await score(4, 11), 4);
    const r = rot.forward(q, 9);
    expect((await host(tf.norm(r)))[0]).toBeCloseTo((await host(tf.norm(q)))[0], 5);
    tf.dispose([q, k, r]);
  });
});
