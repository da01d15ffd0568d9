import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';
import {
  GaussianDiffusion, ddimSample, ddimSigma, ddimStep, ddpmSample, ddpmStep, gamma, predictionToX0, samplingTimes,
  type GaussianDiffusionConfig,
} from '../src/index.js';
import { host, maxAbsDiff } from './helpers.js';

function tinyModel(extra: Partial<GaussianDiffusionConfig> = {}, denoiser: Record<string, unknown> = {}): GaussianDiffusion {
  return new GaussianDiffusion(
    {
      denoiser: { type: 'MlpDenoiser', channels: 3, inputSize: [4, 4], hidden: 32, numClasses: 3, selfCondition: true, ...denoiser },
      objective: 'eps',
      ...extra,
    },
    { rng: new Rng(3) },
  );
}

describe('sampling times', () => {
  it('follow pix2seq: t_k = 1 − k/T, t_next = max(1 − (k+1+td)/T, 0)', () => {
    expect(samplingTimes(4)).toEqual([[1, 0.75], [0.75, 0.5], [0.5, 0.25], [0.25, 0]]);
    expect(samplingTimes(4, 1)).toEqual([[1, 0.5], [0.75, 0.25], [0.5, 0], [0.25, 0]]);
    expect(() => samplingTimes(0)).toThrow(/steps must be an integer ≥ 1, got 0/);
  });
});

describe('transitions', () => {
  const rng = new Rng(5);
  const shape = [2, 3, 4, 4];
  const xt = rng.normalTensor(shape);
  const x0 = tf.clipByValue(rng.normalTensor(shape), -1, 1);
  const g = 0.3, gN = 0.6;
  const eps = tf.tidy(() => tf.div(tf.sub(xt, tf.mul(x0, Math.sqrt(g))), Math.sqrt(1 - g))); // consistent with x0
  const z = rng.normalTensor(shape);
  const args = { xt, x0, eps, gamma: g, gammaNext: gN, noise: () => tf.clone(z) };

  it('DDIM η=0 is √γ_next·x̂0 + √(1−γ_next)·ε̂ and draws no noise', async () => {
    let draws = 0;
    const out = ddimStep({ ...args, noise: () => { draws++; return tf.clone(z); } }, 0);
    const want = tf.tidy(() => tf.add(tf.mul(x0, Math.sqrt(gN)), tf.mul(eps, Math.sqrt(1 - gN))));
    expect(await maxAbsDiff(out, want)).toBeLessThan(1e-6);
    expect(draws).toBe(0);
    tf.dispose([out, want]);
  });

  it('DDIM η=1 equals DDPM with the small (posterior) variance', async () => {
    const a = ddimStep(args, 1);
    const b = ddpmStep(args, 'small');
    expect(await maxAbsDiff(a, b)).toBeLessThan(2e-5);
    // σ² = (1−γn)/(1−γ)·(1 − γ/γn) = 0.4/0.7·0.5
    expect(ddimSigma(g, gN, 1) ** 2).toBeCloseTo((0.4 / 0.7) * 0.5, 12);
    tf.dispose([a, b]);
  });

  it('DDPM large variance is 1 − α (hand value on one element)', async () => {
    const out = ddpmStep(args, 'large');
    const alpha = g / gN;
    const [xv, ev, zv, ov] = await Promise.all([xt.data(), eps.data(), z.data(), out.data()]);
    const want = (xv[7] - ((1 - alpha) / Math.sqrt(1 - g)) * ev[7]) / Math.sqrt(alpha) + Math.sqrt(1 - alpha) * zv[7];
    expect(ov[7]).toBeCloseTo(want, 5);
    out.dispose();
  });
});

describe('samplers', () => {
  it('DDIM with 1 step returns the model’s clipped x̂0 prediction at t = 1', async () => {
    const model = tinyModel({ objective: 'v', inputScale: 0.5 });
    const noise = new Rng(11).normalTensor(model.sampleShape(3));
    const { samples } = await ddimSample(model, { steps: 1, classes: [0, 1, 2], noise });
    const g1 = gamma(model.config.schedule, 1);
    const want = tf.tidy(() => {
      const out = model.denoiser.forward(noise, { noiseLevel: tf.fill([3], g1), classLabels: tf.tensor1d([0, 1, 2], 'int32') });
      const x0 = predictionToX0('v', out.output, noise, g1);
      return tf.div(tf.clipByValue(x0, -0.5, 0.5), 0.5); // clip to [−b, b], back to the data range
    });
    expect(await maxAbsDiff(samples, want)).toBeLessThan(1e-5);
    tf.dispose([samples, want, noise]);
    model.dispose();
  });

  it('DDIM η=0 is deterministic: the seed only sets the starting noise', async () => {
    const model = tinyModel();
    const noise = new Rng(4).normalTensor(model.sampleShape(2));
    const a = await ddimSample(model, { steps: 6, classes: [1, 2], noise, seed: 1 });
    const b = await ddimSample(model, { steps: 6, classes: [1, 2], noise, seed: 2 });
    expect(await maxAbsDiff(a.samples, b.samples)).toBe(0);
    tf.dispose([a.samples, b.samples, noise]);
    model.dispose();
  });

  it('a fixed seed gives identical samples (DDIM η=0.5 and DDPM), another seed different ones', async () => {
    const model = tinyModel();
    for (const run of [
      (seed: number) => ddimSample(model, { steps: 5, eta: 0.5, classes: [0, 1], guidance: 2, seed }),
      (seed: number) => ddpmSample(model, { steps: 5, classes: [0, 1], seed }),
    ]) {
      const a = await run(7);
      const b = await run(7);
      const c = await run(8);
      expect(Array.from(await host(a.samples))).toEqual(Array.from(await host(b.samples)));
      expect(await maxAbsDiff(a.samples, c.samples)).toBeGreaterThan(1e-3);
      tf.dispose([a.samples, b.samples, c.samples]);
    }
    model.dispose();
  });

  it('samples lie in the data range and no tensors leak across sampling steps', async () => {
    const model = tinyModel({ inputScale: 0.7 });
    // warm up kernels and lazily created state
    tf.dispose((await ddimSample(model, { steps: 2, classes: [0], seed: 0 })).samples);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const r = await ddimSample(model, {
      steps: 8, eta: 1, classes: [0, 1, 2, 3], guidance: 3, seed: 3, trajectory: true,
      onStep: () => { counts.push(tf.memory().numTensors); },
    });
    // every step holds the same number of tensors
    expect(new Set(counts.slice(1)).size).toBe(1);
    const v = await host(r.samples);
    expect(Math.max(...v)).toBeLessThanOrEqual(1 + 1e-6);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-1 - 1e-6);
    expect(r.trajectory!.x0).toHaveLength(8);
    expect(r.trajectory!.t).toEqual(samplingTimes(8).map(([t]) => t));
    r.samples.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('progress callbacks see every step; options are checked', async () => {
    const model = tinyModel();
    const seen: number[] = [];
    const r = await ddimSample(model, { steps: 3, n: 2, seed: 0, onStep: (i) => { seen.push(i.step); expect(i.totalSteps).toBe(3); } });
    expect(seen).toEqual([1, 2, 3]);
    r.samples.dispose();
    await expect(ddimSample(model, { n: 2, classes: [0, 1, 2] })).rejects.toThrow(/n \(2\) and classes.length \(3\) disagree/);
    await expect(ddimSample(model, { classes: [5] })).rejects.toThrow(/classes\[0\] must be an integer in \[0, 3\]/);
    await expect(ddimSample(model, { n: 1, guidance: 2 })).rejects.toThrow(/guidance 2 needs 'classes'/);
    const uncond = tinyModel({}, { numClasses: 0 });
    await expect(ddimSample(uncond, { classes: [0] })).rejects.toThrow(/unconditional/);
    model.dispose();
    uncond.dispose();
  });
});

describe('classifier-free guidance', () => {
  it('denoise combines ε = (1 + w)·ε_cond − w·ε_uncond from the class and null-class passes', async () => {
    const model = tinyModel({ objective: 'v' }, { selfCondition: false });
    const xt = new Rng(1).normalTensor(model.sampleShape(2));
    const g = 0.4;
    const classes = tf.tensor1d([0, 2], 'int32');
    const guided = model.denoise(xt, g, { classes, guidance: 2.5 });
    const want = tf.tidy(() => {
      const gb = tf.fill([2], g);
      const epsOf = (ids: tf.Tensor) => {
        const out = model.denoiser.forward(xt, { noiseLevel: gb, classLabels: ids });
        return tf.add(tf.mul(out.output, Math.sqrt(g)), tf.mul(xt, Math.sqrt(1 - g))); // ε from v
      };
      const eps = tf.sub(tf.mul(epsOf(classes), 3.5), tf.mul(epsOf(tf.tensor1d([3, 3], 'int32')), 2.5));
      const x0 = tf.clipByValue(tf.div(tf.sub(xt, tf.mul(eps, Math.sqrt(1 - g))), Math.sqrt(g)), -1, 1);
      return x0;
    });
    expect(await maxAbsDiff(guided.x0, want)).toBeLessThan(1e-4);
    tf.dispose([xt, classes, guided.x0, guided.eps, want]);
    model.dispose();
  });

  it('label dropout replaces each label by the null class with probability p (host draws in order)', async () => {
    const { dropClassLabels } = await import('../src/index.js');
    const labels = tf.tensor1d(Array.from({ length: 400 }, (_, i) => i % 3), 'int32');
    const out = await dropClassLabels(labels, 0.25, 3, new Rng(6)).data();
    const rng = new Rng(6);
    let dropped = 0;
    for (let i = 0; i < 400; i++) {
      const drop = rng.float() < 0.25;
      expect(out[i]).toBe(drop ? 3 : i % 3);
      dropped += drop ? 1 : 0;
    }
    expect(dropped).toBeGreaterThan(70);
    expect(dropped).toBeLessThan(130);
    labels.dispose();
  });
});
