import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, Linear, Module, O2PPooling, PatchEmbed, Rng, ShapeError, build, gelu, gradCheck, shapes, spdLog, spdSqrt, triuVector,
} from '../src/index.js';

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

describe('triuVector', () => {
  it('keeps the upper triangle row by row; √2 on off-diagonals preserves the Frobenius norm', () => {
    tf.tidy(() => {
      const m = tf.tensor([[1, 2, 3], [2, 4, 5], [3, 5, 6]]);
      expect(Array.from(triuVector(m).dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
      const v = triuVector(tf.stack([m, tf.mul(m, 2)]), Math.SQRT2);
      expect(v.shape).toEqual([2, 6]);
      expect(Math.abs(tf.norm(v.slice([0, 0], [1, 6])).dataSync()[0] - tf.norm(m).dataSync()[0])).toBeLessThan(1e-5);
    });
  });
  it('gradient agrees with finite differences (the backward pass is a gather too)', async () => {
    const m = new Rng(1).normalTensor([2, 4, 4], 0, 1);
    const w = new Rng(2).normalTensor([2, 10], 0, 1);
    const res = await gradCheck((x) => tf.sum(tf.mul(triuVector(x, Math.SQRT2), w)) as tf.Scalar, [m]);
    expect(res.ok, JSON.stringify(res)).toBe(true);
    tf.dispose([m, w]);
  });
});

describe('O2PPooling', () => {
  it('pools the regularised covariance and normalises it with log or sqrt', () => {
    const x = new Rng(3).normalTensor([2, 10, 4], 0, 1);
    tf.tidy(() => {
      // Hand-computed covariance (biased, 1/N) + εI.
      const xc = tf.sub(x, tf.mean(x, 1, true));
      const cov = tf.add(tf.div(tf.matMul(xc, xc, true), 10), tf.mul(tf.eye(4), 0.01));
      const plain = new O2PPooling({ channels: 4, normalization: 'none', output: 'matrix', eps: 0.01 });
      expect(maxAbs(plain.forward(x), cov)).toBeLessThan(1e-6);
      const log = new O2PPooling({ channels: 4, output: 'matrix', eps: 0.01 });
      expect(maxAbs(log.forward(x), spdLog(cov))).toBeLessThan(1e-6);
      const sqrt = new O2PPooling({ channels: 4, normalization: 'sqrt', eps: 0.01, scaleOffDiagonal: false });
      expect(sqrt.outFeatures).toBe(10);
      expect(maxAbs(sqrt.forward(x), triuVector(spdSqrt(cov)))).toBeLessThan(1e-6);
      // The raw second moment without centring.
      const raw = new O2PPooling({ channels: 4, normalization: 'none', output: 'matrix', center: false, eps: 0.01 });
      expect(maxAbs(raw.forward(x), tf.add(tf.div(tf.matMul(x, x, true), 10), tf.mul(tf.eye(4), 0.01)))).toBeLessThan(1e-6);
    });
    x.dispose();
  });

  it('gradient with respect to the tokens agrees with finite differences (log and sqrt)', async () => {
    const rng = new Rng(4);
    const x = rng.normalTensor([2, 12, 4], 0, 1);
    const w = rng.normalTensor([2, 10], 0, 1);
    for (const normalization of ['log', 'sqrt'] as const) {
      const pool = new O2PPooling({ channels: 4, normalization, eps: 0.05 });
      const res = await gradCheck((a) => tf.sum(tf.mul(pool.forward(a), w)) as tf.Scalar, [x], { eps: 1e-2, atol: 3e-3, rtol: 2e-2, maxChecks: 32 });
      expect(res.ok, `${normalization}: ${JSON.stringify(res)}`).toBe(true);
    }
    tf.dispose([x, w]);
  });

  it('round-trips its config, checks shapes, leaks nothing', () => {
    const pool = build({ type: 'O2PPooling', channels: 3, normalization: 'sqrt' }) as O2PPooling;
    expect(pool.toConfig()).toEqual({ type: 'O2PPooling', channels: 3, normalization: 'sqrt', eps: 1e-3, center: true, output: 'triu', scaleOffDiagonal: true });
    expect(pool.numParameters()).toBe(0);
    expect(() => pool.forward(tf.zeros([2, 5, 4]))).toThrow(ShapeError);
    expect(() => pool.forward(tf.zeros([2, 5, 4]))).toThrow(/O2PPooling.*'x' expected shape \[batch, tokens, 3\], got \[2, 5, 4\]/);
    expect(() => build({ type: 'O2PPooling', channels: 3, normalization: 'exp' })).toThrow(/normalization/);
    const x = new Rng(5).normalTensor([3, 8, 3], 0, 1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tf.tidy(() => {
        tf.grad((a: tf.Tensor) => tf.sum(pool.forward(a)))(x);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

/** Patch embedding → GELU → pooling → linear classifier over the 3 shape classes. */
class ShapeClassifier extends Module {
  readonly embed: PatchEmbed;
  readonly pool: O2PPooling | null;
  readonly head: Linear;
  constructor(pooling: 'o2p' | 'mean', dim: number, rng: Rng) {
    super();
    this.embed = new PatchEmbed({ channels: 3, patchSize: 4, dim }, { rng });
    this.pool = pooling === 'o2p' ? new O2PPooling({ channels: dim, normalization: 'log' }) : null;
    this.head = new Linear({ inFeatures: this.pool ? this.pool.outFeatures : dim, outFeatures: 3 }, { rng });
  }
  forward(images: tf.Tensor): tf.Tensor {
    const tokens = gelu(this.embed.forward(images)); // [batch, 16, dim]
    return this.head.forward(this.pool ? this.pool.forward(tokens) : tf.mean(tokens, 1));
  }
}

describe('O2P on shapes', () => {
  it('a model with O2P (log) pooling learns the shape class and beats mean pooling of the same width', () => {
    const steps = 100;
    const test = shapes({ size: 16, batchSize: 300, seed: 99 }).next();
    const run = (pooling: 'o2p' | 'mean') => {
      // O2P: 6 channels → 21 pooled features; mean pooling: 21 channels → 21 pooled features.
      const net = new ShapeClassifier(pooling, pooling === 'o2p' ? 6 : 21, new Rng(0));
      const opt = new AdamW(net, { lr: 1e-2, weightDecay: 0 });
      const data = shapes({ size: 16, batchSize: 32, seed: 1 });
      const named = net.namedParameters();
      const losses: number[] = [];
      for (let s = 0; s < steps; s++) {
        const b = data.next();
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.losses.softmaxCrossEntropy(tf.oneHot(b.labels.shape, 3), net.forward(b.images)) as tf.Scalar,
            named.map(([, p]) => p),
          );
          losses.push(value.dataSync()[0]);
          opt.step(new Map(named.map(([n, p]) => [n, grads[p.name]])));
        });
        tf.dispose(b);
      }
      const accuracy = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(net.forward(test.images), -1), test.labels.shape), 'float32')).dataSync()[0]);
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      const result = { first: mean(losses.slice(0, 10)), last: mean(losses.slice(-10)), accuracy };
      net.dispose();
      opt.dispose();
      return result;
    };
    const o2p = run('o2p');
    const avg = run('mean');
    console.log(`O2P on shapes (${steps} steps, 300 held-out images): O2P loss ${o2p.first.toFixed(3)} → ${o2p.last.toFixed(3)}, accuracy ${o2p.accuracy.toFixed(3)}; ` +
      `mean pooling loss ${avg.first.toFixed(3)} → ${avg.last.toFixed(3)}, accuracy ${avg.accuracy.toFixed(3)} (chance 0.333)`);
    expect(o2p.last).toBeLessThan(0.8 * o2p.first);
    expect(o2p.accuracy).toBeGreaterThan(0.6);
    expect(o2p.accuracy).toBeGreaterThan(avg.accuracy + 0.1);
    tf.dispose(test);
  });
});
