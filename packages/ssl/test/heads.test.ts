// Projection heads with BatchNorm1d, the collapse diagnostic, and SimCLR/BYOL over core's ResNet
// (channels last, BatchNorm2d) — the EMA covering the BatchNorm buffers.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, build, resnetTinyConfig } from '@brickml/core';
import { BYOL, ProjectionHead, SimCLR, byolTau, embeddingStd, participationRatio } from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());

describe('ProjectionHead', () => {
  it('is fc2(relu(bn(fc1(x)))) with batch statistics in training mode and running ones in eval mode', async () => {
    const head = new ProjectionHead({ dim: 3, hidden: 4, outDim: 2 }, { rng: new Rng(0) });
    expect(head.namedState().map(([n]) => n)).toEqual([
      'fc1.weight', 'fc1.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked', 'fc2.weight', 'fc2.bias',
    ]);
    const x = new Rng(1).normalTensor([6, 3]);
    const h = head.fc1.forward(x);
    const { mean, variance } = tf.moments(h, 0);
    const manual = head.fc2.forward(tf.relu(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5)))));
    const y = head.forward(x);
    const m = await host(manual);
    (await host(y)).forEach((v, i) => expect(v).toBeCloseTo(m[i]!, 5));
    head.eval();
    const rm = await host(head.bn!.running_mean as unknown as tf.Tensor);
    (await host(mean)).forEach((v, i) => expect(rm[i]).toBeCloseTo(0.1 * v, 5));
    const ye = head.forward(x);
    expect(Math.max(...(await host(tf.abs(tf.sub(ye, y)))))).toBeGreaterThan(1e-3); // eval uses the running statistics
    expect(build<ProjectionHead>(head.toConfig()).toConfig()).toEqual({ type: 'ProjectionHead', dim: 3, hidden: 4, outDim: 2, batchNorm: true });
    const plain = new ProjectionHead({ dim: 3, hidden: 4, outDim: 2, batchNorm: false }, { rng: new Rng(0) });
    expect(plain.namedParameters().map(([n]) => n)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(() => head.forward(tf.zeros([2, 5]))).toThrow(/x/);
    tf.dispose([x, h, mean, variance, manual, y, ye]);
    head.dispose();
    plain.dispose();
  });
});

describe('embeddingStd', () => {
  it('is the mean over dimensions of the batch std of the normalised rows; 0 when collapsed', async () => {
    // rows (3, 0) and (0, 2) normalise to e1, e2: each dimension is {1, 0} → std 0.5
    expect(await embeddingStd(tf.tensor2d([[3, 0], [0, 2]]))).toBeCloseTo(0.5, 6);
    expect(await embeddingStd(tf.tensor2d([[1, 2], [2, 4], [0.5, 1]]))).toBeCloseTo(0, 6);
    await expect(embeddingStd(tf.zeros([1, 4]))).rejects.toThrow(/embeddingStd: argument 'z' expected \[N ≥ 2, D\], got \[1,4\]/);
  });
});

describe('participationRatio', () => {
  it('is (Σλ)²/Σλ² of the covariance: D for isotropic features, 1 along one direction, between for uneven spreads', async () => {
    const rng = new Rng(4);
    const iso = rng.normalTensor([4000, 8]);
    const pr = await participationRatio(iso);
    expect(pr).toBeGreaterThan(7.8); // sampling noise lowers it slightly below 8
    expect(pr).toBeLessThanOrEqual(8);
    // rows t·(1, 2, −1) + 5: all variance along one direction
    const line = tf.tidy(() => tf.add(tf.matMul(rng.normalTensor([50, 1]), tf.tensor2d([[1, 2, -1]])), 5));
    expect(await participationRatio(line)).toBeCloseTo(1, 4);
    // exact covariance diag(4, 1) from four rows (±2, 0), (0, ±1)·√2: λ = (4, 1) → 25/17
    const two = tf.tensor2d([[2 * Math.SQRT2, 0], [-2 * Math.SQRT2, 0], [0, Math.SQRT2], [0, -Math.SQRT2]]);
    expect(await participationRatio(two)).toBeCloseTo(25 / 17, 5);
    expect(await participationRatio(tf.ones([5, 3]))).toBe(0);
    await expect(participationRatio(tf.zeros([1, 4]))).rejects.toThrow(/participationRatio: argument 'z' expected \[N ≥ 2, D\], got \[1,4\]/);
    tf.dispose([iso, line, two]);
  });
});

describe('SimCLR and BYOL over core ResNet (channels last)', () => {
  const encoder = { type: 'ResNet', ...resnetTinyConfig({ width: 4 }), output: 'pooled' as const };

  it('BYOL: the EMA averages the BatchNorm running statistics of encoder and heads; the loss falls', async () => {
    const model = new BYOL({ encoder, encoderDim: 16, hidden: 16, projectionDim: 8 }, { rng: new Rng(0) });
    expect(model.namedBuffers().some(([n]) => n === 'target_encoder.bn1.running_mean')).toBe(true);
    expect(model.namedBuffers().some(([n]) => n === 'target_projector.bn.running_var')).toBe(true);
    const rng = new Rng(2);
    const x = tf.tanh(rng.normalTensor([8, 8, 8, 3]));
    const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0 });
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    let mid = 0;
    for (let s = 0; s < 8; s++) {
      const { value, grads } = tf.variableGrads(() => model.loss(x, tf.reverse(x, 2)), model.parameters());
      opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
      const tRm = await host(model.target_projector.bn!.running_mean as unknown as tf.Tensor);
      const oRm = await host(model.online_projector.bn!.running_mean as unknown as tf.Tensor);
      const tau = byolTau(s, 8, 0.9);
      model.updateTarget(tau);
      const after = await host(model.target_projector.bn!.running_mean as unknown as tf.Tensor);
      after.forEach((v, i) => expect(v).toBeCloseTo(tau * tRm[i]! + (1 - tau) * oRm[i]!, 5));
      losses.push((await value.data())[0]!);
      tf.dispose([value, ...Object.values(grads)]);
      if (s === 1) expect(tf.memory().numTensors).toBeGreaterThan(before); // optimizer moments
      if (s === 2) mid = tf.memory().numTensors;
      if (s === 7) expect(tf.memory().numTensors).toBe(mid); // no leaks over steps
    }
    expect(losses[7]!).toBeLessThan(losses[0]!);
    model.eval();
    expect(model.represent(x).shape).toEqual([8, 16]);
    x.dispose();
    opt.dispose();
    model.dispose();
  });

  it('SimCLR: represents channels-last images as [B, 4w], projects through a BatchNorm head, round-trips its config', async () => {
    const model = new SimCLR({ encoder, encoderDim: 16, hidden: 16, projectionDim: 8 }, { rng: new Rng(0) });
    expect(model.config.headBatchNorm).toBe(true);
    expect(build<SimCLR>(model.toConfig()).toConfig()).toEqual(model.toConfig());
    const x = tf.tanh(new Rng(3).normalTensor([6, 8, 8, 3]));
    const l = await host(model.loss(x, tf.reverse(x, 2)));
    expect(l[0]).toBeGreaterThan(0);
    expect(l[0]).toBeLessThan(Math.log(11) + 1);
    expect(() => model.represent(tf.zeros([2, 3, 8, 8]))).toThrow(/x/);
    x.dispose();
    model.dispose();
  });
});
