import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  Rng, gradCheck, matmul, linear, layerNorm, rmsNorm, gelu, geluTanh, embeddingLookup,
  patchifyImage, unpatchifyImage, patchifyVideo, unpatchifyVideo,
} from '../src/index.js';

const rng = new Rng(7);
const rand = (shape: number[], std = 1) => rng.normalTensor(shape, 0, std);

async function close(a: tf.Tensor, b: tf.Tensor, tol = 1e-5) {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  expect(m).toBeLessThanOrEqual(tol);
}

describe('matmul', () => {
  it('equals tf.matMul for every transpose combination, 2-D and batched', async () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = rand(ta ? [2, 5, 4] : [2, 4, 5]);
      const b = rand(tb ? [2, 3, 5] : [2, 5, 3]);
      await close(matmul(a, b, ta, tb), tf.matMul(a, b, ta, tb));
      await close(matmul(a.reshape([-1, a.shape[2]]).slice([0, 0], [a.shape[1], a.shape[2]]), b.reshape([-1, b.shape[2]]).slice([0, 0], [b.shape[1], b.shape[2]]), ta, tb),
        tf.matMul(a.reshape([-1, a.shape[2]]).slice([0, 0], [a.shape[1], a.shape[2]]), b.reshape([-1, b.shape[2]]).slice([0, 0], [b.shape[1], b.shape[2]]), ta, tb));
    }
  });
  it('broadcasts a rank-2 right operand over leading dims', async () => {
    const a = rand([2, 3, 4]);
    const w = rand([4, 6]);
    await close(matmul(a, w), tf.matMul(a.reshape([6, 4]), w).reshape([2, 3, 6]));
  });
  it('gradients match finite differences and tf autodiff', async () => {
    const a = rand([2, 3, 4]), b = rand([2, 4, 5]);
    const r = await gradCheck((x, y) => tf.sum(tf.square(matmul(x, y, false, false))), [a, b]);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(matmul(x, y, true, true))))([rand([4, 3]), rand([5, 4])]);
    expect(ga.shape).toEqual([4, 3]);
    expect(gb.shape).toEqual([5, 4]);
    const x = rand([4, 3]), y = rand([5, 4]);
    const ours = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.sin(matmul(p, q, true, true))))([x, y]);
    const ref = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.sin(tf.matMul(p, q, true, true))))([x, y]);
    await close(ours[0], ref[0]);
    await close(ours[1], ref[1]);
  });
  it('rejects mismatched operands with both shapes', () => {
    expect(() => matmul(rand([2, 3]), rand([4, 5]))).toThrow(/inner dimensions differ.*\[2,3\].*\[4,5\]/);
  });
});

describe('linear, norms, activations', () => {
  it('linear equals x·Wᵀ + b and its gradient checks', async () => {
    const x = rand([2, 3, 4]), w = rand([5, 4]), b = rand([5]);
    await close(linear(x, w, b), tf.add(tf.matMul(x.reshape([6, 4]), w, false, true), b).reshape([2, 3, 5]));
    const r = await gradCheck((p, q, s) => tf.sum(tf.square(linear(p, q, s))), [x, w, b]);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const r2 = await gradCheck((p, q) => tf.sum(tf.tanh(linear(p, q))), [x, w]);
    expect(r2.ok, JSON.stringify(r2)).toBe(true);
  });
  it('layerNorm matches the formula (biased variance) and its gradient checks', async () => {
    const x = rand([3, 6], 2), g = rand([6]), b = rand([6]);
    const { mean, variance } = tf.moments(x, -1, true);
    const ref = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
    await close(layerNorm(x, g, b, 1e-5), ref, 1e-5);
    const r = await gradCheck((p, q, s) => tf.sum(tf.mul(layerNorm(p, q, s), tf.range(0, 6).reshape([1, 6]))), [x, g, b]);
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });
  it('rmsNorm matches the formula and its gradient checks', async () => {
    const x = rand([2, 2, 5]), g = rand([5]);
    const ref = tf.mul(tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))), g);
    await close(rmsNorm(x, g), ref, 1e-5);
    const r = await gradCheck((p, q) => tf.sum(tf.mul(rmsNorm(p, q), tf.range(0, 5))), [x, g]);
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });
  it('gelu is exact and gelu_tanh approximates it', async () => {
    const x = tf.tensor([-3, -1, 0, 0.5, 2]);
    const want = [-0.0040496, -0.1586553, 0, 0.3457312, 1.9544997];
    const got = await gelu(x).data();
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    const approx = await geluTanh(x).data();
    want.forEach((v, i) => expect(Math.abs(approx[i] - v)).toBeLessThan(1e-3));
  });
  it('embedding lookup gathers rows and scatters gradients', async () => {
    const w = rand([5, 3]);
    const ids = tf.tensor2d([[0, 4], [4, 2]], [2, 2], 'int32');
    const y = embeddingLookup(ids, w);
    expect(y.shape).toEqual([2, 2, 3]);
    await close(y.reshape([4, 3]), tf.gather(w, tf.tensor1d([0, 4, 4, 2], 'int32')));
    const g = tf.grad((ww: tf.Tensor) => tf.sum(embeddingLookup(ids, ww)))(w);
    expect(Array.from(await g.data())).toEqual([1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 2, 2, 2]);
  });
});

describe('patches', () => {
  it('image patchify follows (C, ph, pw) feature order, row-major tokens, and inverts exactly', async () => {
    const x = tf.range(0, 2 * 3 * 4 * 6).reshape([2, 3, 4, 6]);
    const t = patchifyImage(x, 2, 3);
    expect(t.shape).toEqual([2, 4, 18]);
    const arr = (await t.array()) as number[][][];
    // token 1 = patch row 0, col 1; feature (c=1, i=0, j=2) → x[0, 1, 0, 5]
    expect(arr[0][1][1 * 6 + 0 * 3 + 2]).toBe(1 * 24 + 0 * 6 + 5);
    // token 2 = patch row 1, col 0; feature (c=2, i=1, j=0) → x[0, 2, 3, 0]
    expect(arr[0][2][2 * 6 + 1 * 3 + 0]).toBe(2 * 24 + 3 * 6 + 0);
    await close(unpatchifyImage(t, 3, 2, 3, { frames: 1, rows: 2, cols: 2 }), x, 0);
  });
  it('video patchify uses (t, h, w) tokens and (C, t, ph, pw) features, and inverts exactly', async () => {
    const [B, T, C, H, W] = [1, 4, 2, 4, 4];
    const x = tf.range(0, B * T * C * H * W).reshape([B, T, C, H, W]);
    const t = patchifyVideo(x, 2, 2, 2);
    expect(t.shape).toEqual([1, 2 * 2 * 2, 2 * 2 * 2 * 2]);
    const arr = (await t.array()) as number[][][];
    const xa = (await x.array()) as number[][][][][];
    // token (gt=1, gh=0, gw=1) = 1·4 + 0·2 + 1 = 5; feature (c=1, t=0, i=1, j=0) = 1·8 + 0·4 + 1·2 + 0
    expect(arr[0][5][8 + 2]).toBe(xa[0][2][1][1][2]);
    await close(unpatchifyVideo(t, C, 2, 2, 2, { frames: 2, rows: 2, cols: 2 }), x, 0);
  });
});
