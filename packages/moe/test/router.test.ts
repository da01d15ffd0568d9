import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BrickConfigError, Rng, build } from '@brickml/core';
import { Router, loadBalancingLoss, routeTopK, routerZLoss } from '../src/index.js';
import { host } from './helpers.js';

describe('routeTopK', () => {
  it('picks the top-k softmax probabilities with their raw values as weights', async () => {
    const logits = tf.tensor2d([
      [0, 1, 2, 3],
      [3, 2, 1, 0],
      [1, 5, 1, 2],
    ]);
    const r = routeTopK(logits, { k: 2 });
    expect(await host(r.indices)).toEqual([3, 2, 0, 1, 1, 3]);
    const p = await host(tf.softmax(logits));
    const w = await host(r.weights);
    const expected = [p[3], p[2], p[4], p[5], p[9], p[11]];
    w.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    expect(await host(r.counts)).toEqual([1, 2, 1, 2]);
    // slotMask[t, e, s] = 1 iff indices[t, s] = e
    const mask = await r.slotMask.array();
    expect(mask[0][3][0]).toBe(1);
    expect(mask[0][2][1]).toBe(1);
    expect(mask[2][1][0]).toBe(1);
    expect((await host(r.slotMask)).reduce((a, b) => a + b, 0)).toBe(6);
  });

  it('sends exact ties to the lower expert index (and float32 near-ties to the larger score)', async () => {
    const logits = tf.tensor2d([
      [2, 2, 2, 2],
      [0, 5, 5, 1],
      [1, 1 + 2 ** -20, 1, 0],
    ]);
    const r = routeTopK(logits, { k: 2 });
    expect(await host(r.indices)).toEqual([0, 1, 1, 2, 1, 0]);
  });

  it('normalises weights to sum 1 per token when asked', async () => {
    const logits = tf.tensor2d([[0.3, -1, 2, 0.5]]);
    const r = routeTopK(logits, { k: 2, normalizeWeights: true });
    const w = await host(r.weights);
    expect(w[0] + w[1]).toBeCloseTo(1, 6);
    const p = await host(tf.softmax(logits));
    expect(w[0]).toBeCloseTo(p[2] / (p[2] + p[3]), 6);
  });

  it('sigmoid routing ranks sigmoid scores and balances with scores normalised per token', async () => {
    const logits = tf.tensor2d([[0, 2, -1]]);
    const r = routeTopK(logits, { k: 1, score: 'sigmoid' });
    expect(await host(r.indices)).toEqual([1]);
    expect((await host(r.weights))[0]).toBeCloseTo(1 / (1 + Math.exp(-2)), 6);
    const s = [0, 2, -1].map((v) => 1 / (1 + Math.exp(-v)));
    const sum = s.reduce((a, b) => a + b);
    (await host(r.probs)).forEach((v, i) => expect(v).toBeCloseTo(s[i] / sum, 6));
  });

  it('routing weights carry the gradient of the probabilities (TopK has none)', async () => {
    const logits = tf.tensor2d([[0.1, 0.7, -0.3]]);
    const g = tf.grad((l: tf.Tensor) => tf.sum(routeTopK(l as tf.Tensor2D, { k: 1 }).weights))(
      logits,
    );
    // d p_1 / d l_j = p_1 (δ_1j − p_j)
    const p = await host(tf.softmax(logits));
    const expected = [-p[1] * p[0], p[1] * (1 - p[1]), -p[1] * p[2]];
    (await host(g)).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });

  it('rejects k outside [1, E]', () => {
    expect(() => routeTopK(tf.zeros([2, 3]) as tf.Tensor2D, { k: 4 })).toThrow(
      /k must be an integer in \[1, E=3\], got 4/,
    );
  });
});

describe('aux losses', () => {
  it('load-balancing loss = α·E/(T·k)·Σ count·mean p, hand-computed', async () => {
    // T = 2, E = 2, k = 1: p = [[0.7, 0.3], [0.4, 0.6]], counts = [1, 1]
    // mean p = [0.55, 0.45]; Σ count·mean = 1.0; loss = 0.1 · 2/(2·1) · 1.0 = 0.1
    const probs = tf.tensor2d([
      [0.7, 0.3],
      [0.4, 0.6],
    ]);
    expect((await host(loadBalancingLoss(probs, tf.tensor1d([1, 1]), 1)))[0]).toBeCloseTo(0.1, 7);
    // Everything to expert 0: counts [2, 0] → 0.1 · 1 · (2·0.55) = 0.11
    expect((await host(loadBalancingLoss(probs, tf.tensor1d([2, 0]), 1)))[0]).toBeCloseTo(0.11, 7);
    // k = 2, α = 0.5, counts [2, 2]: 0.5 · 2/(2·2) · (2·0.55 + 2·0.45) = 0.5
    expect((await host(loadBalancingLoss(probs, tf.tensor1d([2, 2]), 2, 0.5)))[0]).toBeCloseTo(
      0.5,
      7,
    );
  });

  it('z-loss = c_z · mean logsumexp², hand-computed', async () => {
    // logsumexp([0, 0]) = ln 2; logsumexp([ln 3, 0]) = ln 4 → mean of squares = (ln²2 + ln²4)/2
    const logits = tf.tensor2d([
      [0, 0],
      [Math.log(3), 0],
    ]);
    const expected = 1e-3 * ((Math.log(2) ** 2 + Math.log(4) ** 2) / 2);
    expect((await host(routerZLoss(logits)))[0]).toBeCloseTo(expected, 9);
    expect((await host(routerZLoss(logits, 2)))[0]).toBeCloseTo(expected * 2000, 5);
  });
});

describe('Router brick', () => {
  it('has a bias-free [E, dim] weight and routes deterministically under a seed, jitter included', async () => {
    const make = () =>
      new Router({ dim: 5, numExperts: 4, topK: 2, jitterEps: 0.1 }, { rng: new Rng(3) });
    const a = make();
    const b = make();
    expect(a.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['weight', [4, 5]]]);
    const x = new Rng(9).normalTensor([16, 5]) as tf.Tensor2D;
    const ra = a.forward(x, { rng: new Rng(1) });
    const rb = b.forward(x, { rng: new Rng(1) });
    expect(await host(ra.indices)).toEqual(await host(rb.indices));
    expect(await host(ra.logits)).toEqual(await host(rb.logits));
    // Jitter changes the logits in training, and is off in eval.
    const rc = a.forward(x, { rng: new Rng(2) });
    expect(await host(rc.logits)).not.toEqual(await host(ra.logits));
    a.eval();
    const clean = await host(tf.matMul(x, a.weight, false, true));
    (await host(a.forward(x).logits)).forEach((v, i) => expect(v).toBeCloseTo(clean[i], 5));
  });

  it('rejects k > experts and zero experts, naming the brick, field, expectation and value', () => {
    expect(() => build({ type: 'Router', dim: 4, numExperts: 2, topK: 3 })).toThrow(
      BrickConfigError,
    );
    expect(() => build({ type: 'Router', dim: 4, numExperts: 2, topK: 3 })).toThrow(
      /Router: config field 'topK' must be ≤ numExperts \(2\) \(got 3\)/,
    );
    expect(() => build({ type: 'Router', dim: 4, numExperts: 0 })).toThrow(
      /Router: config field 'numExperts' .*>0.*\(got 0\)/,
    );
  });
});
