import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, build, gradCheck, shapes } from '@brickml/core';
import { BYOL, SimCLR, ViTEncoder, byolLoss, byolTau, emaUpdate, ntXentLoss, stopGradient } from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());

describe('NT-Xent', () => {
  it('matches a hand computation over 2N views (τ inside the exponent, self excluded)', async () => {
    const z1 = [[1, 0], [0.6, 0.8]];
    const z2 = [[0.8, 0.6], [0, 1]];
    const tau = 0.5;
    const z = [...z1, ...z2];
    const norm = z.map((v) => v.map((x) => x / Math.hypot(...v)));
    let total = 0;
    for (let i = 0; i < 4; i++) {
      const p = (i + 2) % 4;
      const s = norm.map((v) => (v[0] * norm[i][0] + v[1] * norm[i][1]) / tau);
      const denom = s.reduce((a, x, k) => (k === i ? a : a + Math.exp(x)), 0);
      total += -s[p] + Math.log(denom);
    }
    const loss = ntXentLoss(tf.tensor2d(z1), tf.tensor2d(z2), tau);
    expect((await host(loss))[0]).toBeCloseTo(total / 4, 5);
    // scale-invariant (the inputs are normalised)
    const scaled = ntXentLoss(tf.mul(tf.tensor2d(z1), 3), tf.tensor2d(z2), tau);
    expect((await host(scaled))[0]).toBeCloseTo(total / 4, 5);
    expect(() => ntXentLoss(tf.zeros([2, 3]), tf.zeros([3, 3]))).toThrow(/equal shapes \[N, D\], got \[2, 3\] and \[3, 3\]/);
  });

  it('is log(2N − 1) when all views are identical, and has correct gradients', async () => {
    const same = tf.ones([3, 4]);
    expect((await host(ntXentLoss(same, same, 0.1)))[0]).toBeCloseTo(Math.log(5), 4);
    const a = new Rng(1).normalTensor([3, 4]);
    const b = new Rng(2).normalTensor([3, 4]);
    const r = await gradCheck((x, y) => ntXentLoss(x, y, 0.5), [a, b], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
  });
});

describe('SimCLR', () => {
  it('represents before the head, scores NT-Xent of its projections, and its loss falls on shapes', async () => {
    const model = new SimCLR(
      { encoder: { type: 'ViTEncoder', imageSize: 16, patchSize: 4, dim: 16, depth: 1, heads: 2 }, encoderDim: 16, hidden: 32, projectionDim: 16, temperature: 0.5 },
      { rng: new Rng(0) },
    );
    expect(build<SimCLR>(model.toConfig()).toConfig()).toEqual(model.toConfig());
    const data = shapes({ size: 16, batchSize: 16, seed: 1 });
    const probe = data.next();
    expect(model.represent(probe.images).shape).toEqual([16, 16]);
    const v2 = tf.reverse(probe.images, 3);
    const direct = ntXentLoss(model.projector.forward(model.represent(probe.images)), model.projector.forward(model.represent(v2)), 0.5);
    expect((await host(model.loss(probe.images, v2)))[0]).toBeCloseTo((await host(direct))[0], 5);
    const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0 });
    const rng = new Rng(9);
    const losses: number[] = [];
    for (let s = 0; s < 25; s++) {
      const batch = data.next();
      const { value, grads } = tf.variableGrads(() => {
        const a = tf.add(batch.images, tf.mul(rng.normalTensor(batch.images.shape), 0.1));
        const b = tf.add(tf.reverse(batch.images, 3), tf.mul(rng.normalTensor(batch.images.shape), 0.1));
        return model.loss(a, b);
      }, model.parameters());
      opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads), batch]);
    }
    const first = losses.slice(0, 5).reduce((a, c) => a + c) / 5;
    const last = losses.slice(-5).reduce((a, c) => a + c) / 5;
    expect(last, `loss ${first} (first 5 steps) → ${last} (last 5)`).toBeLessThan(0.9 * first);
    tf.dispose([probe, v2, direct]);
    opt.dispose();
    model.dispose();
  });
});

describe('BYOL', () => {
  it('τ schedule: 0.996 at the start, 0.998 half-way, 1 at the end', () => {
    expect(byolTau(0, 100)).toBeCloseTo(0.996, 12);
    expect(byolTau(50, 100)).toBeCloseTo(0.998, 12);
    expect(byolTau(100, 100)).toBe(1);
    expect(byolTau(25, 100)).toBeCloseTo(1 - 0.004 * (Math.cos(Math.PI / 4) + 1) / 2, 12);
    expect(byolTau(0, 10, 0.99)).toBeCloseTo(0.99, 12);
    expect(() => byolTau(1, 0)).toThrow(/byolTau: argument 'totalSteps' expected a positive integer, got 0/);
  });

  it('loss is 2 − 2cos per direction, symmetrised; zero for identical views with an identity predictor', async () => {
    const p = tf.tensor2d([[1, 0]]);
    const zt = tf.tensor2d([[0.6, 0.8]]);
    expect((await host(byolLoss(p, zt, p, zt)))[0]).toBeCloseTo(2 * (2 - 2 * 0.6), 5);
    const model = new BYOL(
      { encoder: { type: 'ViTEncoder', imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2 }, encoderDim: 16, hidden: 32, projectionDim: 8, predictorHidden: 0 },
      { rng: new Rng(0) },
    );
    const x = new Rng(3).normalTensor([4, 3, 8, 8]);
    expect((await host(model.loss(x, x)))[0]).toBeCloseTo(0, 5);
    const y = new Rng(4).normalTensor([4, 3, 8, 8]);
    expect((await host(model.loss(x, y)))[0]).toBeGreaterThan(0.01);
    model.dispose();
  });

  it('only the online network trains; the target follows by EMA, buffers included', async () => {
    const model = new BYOL(
      { encoder: { type: 'ViTEncoder', imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2 }, encoderDim: 16, hidden: 32, projectionDim: 8 },
      { rng: new Rng(0) },
    );
    const names = model.namedParameters().map(([n]) => n);
    expect(names.some((n) => n.startsWith('target_'))).toBe(false);
    expect(names.some((n) => n.startsWith('predictor.'))).toBe(true);
    expect(model.namedBuffers().some(([n]) => n === 'target_encoder.pos_embed')).toBe(true);
    expect(build<BYOL>(model.toConfig()).toConfig()).toEqual(model.toConfig());
    // one optimizer step moves the online weights; the target moves by (1 − τ) of the gap
    const opt = new AdamW(model.namedParameters(), { lr: 1e-2 });
    const x = new Rng(5).normalTensor([4, 3, 8, 8]);
    const y = tf.reverse(x, 3);
    const { grads, value } = tf.variableGrads(() => model.loss(x, y), model.parameters());
    opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
    const w = model.online_projector.fc1.weight;
    const t = model.target_projector.fc1.weight;
    const before = await host(t);
    const online = await host(w);
    // the target starts as a copy of the online network: the step must have moved the online weights
    expect(Math.max(...online.map((v, i) => Math.abs(v - before[i]!)))).toBeGreaterThan(1e-4);
    model.updateTarget(0.9);
    const after = await host(t);
    after.forEach((v, i) => expect(v).toBeCloseTo(0.9 * before[i] + 0.1 * online[i], 5));
    // buffers: emaUpdate averages them too
    const a = new ViTEncoder({ imageSize: 8, patchSize: 4, dim: 8, depth: 0, heads: 2 }, { rng: new Rng(1) });
    const b = new ViTEncoder({ imageSize: 8, patchSize: 4, dim: 8, depth: 0, heads: 2 }, { rng: new Rng(2) });
    b.pos_embed.assign(tf.onesLike(b.pos_embed));
    const pa = await host(a.pos_embed);
    emaUpdate(a, b, 0.75);
    (await host(a.pos_embed)).forEach((v, i) => expect(v).toBeCloseTo(0.75 * pa[i] + 0.25, 5));
    tf.dispose([x, y, value, ...Object.values(grads)]);
    opt.dispose();
    model.dispose();
    a.dispose();
    b.dispose();
  });

  it('stopGradient passes values and blocks gradients', async () => {
    const x = tf.tensor1d([1, 2]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.add(tf.mul(v, v), stopGradient(tf.mul(v, v)))))(x);
    expect(await host(g)).toEqual([2, 4]);
  });

  it('trains on shapes: the loss falls over a few steps', async () => {
    const model = new BYOL(
      { encoder: { type: 'ViTEncoder', imageSize: 16, patchSize: 4, dim: 16, depth: 1, heads: 2 }, encoderDim: 16, hidden: 32, projectionDim: 16 },
      { rng: new Rng(0) },
    );
    const data = shapes({ size: 16, batchSize: 16, seed: 1 });
    const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0 });
    const rng = new Rng(9);
    const losses: number[] = [];
    const steps = 30;
    let before = 0;
    for (let s = 0; s < steps; s++) {
      if (s === 1) before = tf.memory().numTensors; // after the optimizer made its moments
      const batch = data.next();
      // views: the batch and its horizontal flip, each with pixel noise
      const { value, grads } = tf.variableGrads(() => {
        const v1 = tf.add(batch.images, tf.mul(rng.normalTensor(batch.images.shape), 0.1));
        const v2 = tf.add(tf.reverse(batch.images, 3), tf.mul(rng.normalTensor(batch.images.shape), 0.1));
        return model.loss(v1, v2);
      }, model.parameters());
      opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
      model.updateTarget(byolTau(s, steps, 0.99));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads), batch]);
    }
    expect(tf.memory().numTensors, 'tensors leaked over training steps').toBe(before);
    const first = losses.slice(0, 5).reduce((a, c) => a + c) / 5;
    const last = losses.slice(-5).reduce((a, c) => a + c) / 5;
    expect(last, `loss ${first} (first 5 steps) → ${last} (last 5)`).toBeLessThan(0.9 * first);
    opt.dispose();
    model.dispose();
  });
});
