// Video conditioning options of GaussianDiffusion: residualFrom 'lastContext' (diffuse
// r = (x − last context frame) / 2, samples are last + 2·r̂) and contextChannels m (the last m
// context frames concatenated along channels to every frame of the network input).
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, build, movingSprites } from '@brickml/core';
import {
  GaussianDiffusion, ddimSample, ddpmSample, gamma, predictionToX0, videoDiffusionConfig, videoRinConfig,
  type DenoiserCallOptions, type DenoiserOutput, type GaussianDiffusionConfig,
} from '../src/index.js';
import { host, maxAbsDiff } from './helpers.js';

/** `[n, T, 3, 4, 4]` clips in [−1, 1] (tanh of normals). */
function clips(n: number, frames: number, seed: number): tf.Tensor {
  return tf.tidy(() => tf.tanh(new Rng(seed).normalTensor([n, frames, 3, 4, 4])));
}

function mlpVideo(extra: Partial<GaussianDiffusionConfig> = {}, channels = 3): GaussianDiffusion {
  return new GaussianDiffusion(
    { denoiser: { type: 'MlpDenoiser', channels, inputSize: [4, 4, 4], hidden: 32 }, contextFrames: 2, residualFrom: 'lastContext', ...extra },
    { rng: new Rng(0) },
  );
}

const slice = (x: tf.Tensor, from: number, count: number) => tf.slice(x, [0, from, 0, 0, 0], [x.shape[0], count, -1, -1, -1]);

/** Replaces the denoiser's forward by one that returns `fill(x)` (same layout as its input). */
function stubForward(model: GaussianDiffusion, fill: (x: tf.Tensor) => tf.Tensor): void {
  (model.denoiser as unknown as { forward: (x: tf.Tensor, o: DenoiserCallOptions) => DenoiserOutput }).forward = (x) => ({ output: fill(x) });
}

describe('video conditioning: residual from the last context frame', () => {
  it('prepareBatch: context clean (×b), extra channels = last m context frames (×b) on every frame, target b·(x − last)/2', async () => {
    const model = mlpVideo({ objective: 'x0', inputScale: 0.5, contextChannels: 2 }, 9);
    expect(model.channels).toBe(3);
    expect(model.sampleShape(2)).toEqual([2, 2, 3, 4, 4]);
    const x0 = clips(2, 4, 1);
    const b = model.prepareBatch(x0, { rng: new Rng(2) });
    expect(b.input.shape).toEqual([2, 4, 9, 4, 4]); // [B, T, C·(1 + m), H, W]
    const context = slice(x0, 0, 2);
    const last = slice(x0, 1, 1);
    const want = tf.tidy(() => {
      const ctxScaled = tf.mul(context, 0.5); // [2, 2, 3, 4, 4]
      const extra = tf.tile(tf.reshape(ctxScaled, [2, 1, 6, 4, 4]), [1, 4, 1, 1, 1]);
      return {
        ctx: ctxScaled,
        extra,
        target: tf.mul(tf.div(tf.sub(slice(x0, 2, 2), last), 2), 0.5),
      };
    });
    const ctxIn = tf.slice(b.input, [0, 0, 0, 0, 0], [2, 2, 3, 4, 4]);
    const extraIn = tf.slice(b.input, [0, 0, 3, 0, 0], [2, 4, 6, 4, 4]);
    expect(await maxAbsDiff(ctxIn, want.ctx)).toBe(0);
    expect(await maxAbsDiff(extraIn, want.extra)).toBe(0);
    expect(await maxAbsDiff(b.target, want.target)).toBeLessThan(1e-7);
    // round trip: the x0-objective target (b·r) maps back to the predicted frames
    const back = model.toDataRange(b.target, context);
    expect(await maxAbsDiff(back, slice(x0, 2, 2))).toBeLessThan(1e-6);
    const loss = model.loss(b);
    expect(Number.isFinite((await loss.data())[0])).toBe(true);
    tf.dispose([x0, b, context, last, want, ctxIn, extraIn, back, loss]);
    model.dispose();
  });

  it('round trip: a network that predicts r = (truth − last)/2 makes every sampler return the truth frames', async () => {
    const model = mlpVideo({ objective: 'x0', inputScale: 0.7, contextChannels: 1 }, 6);
    const x0 = clips(3, 4, 4);
    const context = slice(x0, 0, 2);
    const truth = slice(x0, 2, 2);
    // network scale b·r in the predicted frames' first C channels; garbage elsewhere (cropped away)
    const r = tf.tidy(() => tf.mul(tf.div(tf.sub(truth, slice(x0, 1, 1)), 2), 0.7));
    const full = tf.tidy(() => tf.concat([tf.concat([tf.fill([3, 2, 3, 4, 4], 9), r], 1), tf.fill([3, 4, 3, 4, 4], -9)], 2));
    stubForward(model, (x) => {
      expect(x.shape).toEqual([3, 4, 6, 4, 4]);
      return tf.clone(full);
    });
    for (const run of [
      () => ddimSample(model, { context, steps: 4, seed: 0 }),
      () => ddpmSample(model, { context, steps: 5, seed: 1 }),
    ]) {
      const { samples } = await run();
      expect(samples.shape).toEqual([3, 2, 3, 4, 4]);
      expect(await maxAbsDiff(samples, truth)).toBeLessThan(1e-5); // last + 2·r = truth
      samples.dispose();
    }
    tf.dispose([x0, context, truth, r, full]);
    model.dispose();
  });

  it('x̂0 is clipped to the residual range that keeps frames in [−1, 1]: r̂ = ±5 gives frames ±1', async () => {
    const model = mlpVideo({ objective: 'x0', inputScale: 0.5 });
    const x0 = clips(2, 4, 6);
    const context = slice(x0, 0, 2);
    const last = await host(slice(x0, 1, 1));
    for (const v of [5, -5]) {
      stubForward(model, (x) => tf.fill(x.shape, v));
      const d = model.denoise(new Rng(1).normalTensor(model.sampleShape(2)), 0.5, { context });
      const x0v = await host(d.x0); // b·r̂ ∈ [−b(1 + last)/2, b(1 − last)/2]
      const bound = Array.from(last.subarray(0, 48), (l) => (v > 0 ? 0.5 * (1 - l) / 2 : (-0.5 * (1 + l)) / 2));
      for (let i = 0; i < 48; i++) expect(x0v[i]).toBeCloseTo(bound[i], 6);
      const { samples } = await ddimSample(model, { context, steps: 2, seed: 0 });
      const s = await host(samples);
      expect(s.every((e) => Math.abs(e - Math.sign(v)) < 1e-6)).toBe(true);
      tf.dispose([d.x0, d.eps, samples]);
    }
    tf.dispose([x0, context]);
    model.dispose();
  });

  it('DDIM with 1 step returns the model’s x̂0 in frame space: last + 2·clip(x̂0)/b', async () => {
    const model = mlpVideo({ objective: 'v', inputScale: 0.5, contextChannels: 1 }, 6);
    const x0 = clips(3, 4, 7);
    const context = slice(x0, 0, 2);
    const noise = new Rng(11).normalTensor(model.sampleShape(3));
    const { samples } = await ddimSample(model, { steps: 1, context, noise });
    const g1 = gamma(model.config.schedule, 1);
    const want = tf.tidy(() => {
      const ctx = tf.mul(context, 0.5);
      const last = slice(ctx, 1, 1); // b·last
      const input = tf.concat([tf.concat([ctx, noise], 1), tf.tile(last, [1, 4, 1, 1, 1])], 2);
      const out = model.denoiser.forward(input, { noiseLevel: tf.fill([3], g1) }).output;
      const pred = tf.slice(out, [0, 2, 0, 0, 0], [3, 2, 3, 4, 4]);
      const x0hat = predictionToX0('v', pred, noise, g1);
      const clipped = tf.minimum(tf.maximum(x0hat, tf.mul(tf.add(last, 0.5), -0.5)), tf.mul(tf.sub(0.5, last), 0.5));
      return tf.add(slice(context, 1, 1), tf.mul(clipped, 2 / 0.5));
    });
    expect(await maxAbsDiff(samples, want)).toBeLessThan(1e-5);
    const v = await host(samples);
    expect(Math.max(...v)).toBeLessThanOrEqual(1 + 1e-6);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-1 - 1e-6);
    tf.dispose([x0, context, noise, samples, want]);
    model.dispose();
  });

  it('no tensors leak across sampling steps (DDIM and DDPM, residual + context channels)', async () => {
    const model = mlpVideo({ objective: 'v', inputScale: 0.7, contextChannels: 2 }, 9);
    const x0 = clips(2, 4, 8);
    const context = slice(x0, 0, 2);
    tf.dispose((await ddimSample(model, { context, steps: 2, seed: 0 })).samples); // warm-up
    const before = tf.memory().numTensors;
    for (const run of [
      (onStep: () => void) => ddimSample(model, { context, steps: 6, eta: 0.5, seed: 3, trajectory: true, onStep }),
      (onStep: () => void) => ddpmSample(model, { context, steps: 6, seed: 3, onStep }),
    ]) {
      const counts: number[] = [];
      const r = await run(() => { counts.push(tf.memory().numTensors); });
      expect(counts).toHaveLength(6);
      expect(new Set(counts.slice(1)).size).toBe(1);
      r.samples.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    tf.dispose([x0, context]);
    model.dispose();
  });

  it('a tiny video RIN with residual + context channels overfits one batch of movingSprites (loss falls by more than 20× in 60 steps)', async () => {
    const config = videoDiffusionConfig({
      frames: 3, context: 1, residual: true, contextChannels: 1,
      denoiser: {
        ...videoRinConfig({ frames: 3, context: 1, contextChannels: 1 }),
        numLatents: 4, numBlocks: 1, computeLayers: 1, latentDim: 32, interfaceDim: 64, readHeads: 2, latentHeads: 2,
      },
    });
    expect(config.residualFrom).toBe('lastContext');
    expect((config.denoiser as { channels: number }).channels).toBe(6);
    const model = new GaussianDiffusion(config, { rng: new Rng(0) });
    expect((build(model.toConfig(), { rng: new Rng(0) }) as GaussianDiffusion).config).toEqual(model.config);
    const data = movingSprites({ size: 16, frames: 3, batchSize: 4, seed: 1 }).next();
    const batch = model.prepareBatch(data.videos, { rng: new Rng(5) });
    expect(batch.input.shape).toEqual([4, 3, 6, 16, 16]);
    const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0 });
    const names = new Map(model.namedParameters().map(([p, v]) => [v.name, p]));
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const { value, grads } = tf.variableGrads(() => model.loss(batch));
      opt.step(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[0]).toBeGreaterThan(0.2);
    expect(losses[59]).toBeLessThan(losses[0] / 20); // measured: 0.354 → 0.0070 (50×)
    tf.dispose([data, batch]);
    opt.dispose();
    model.dispose();
  });

  it('bad settings fail naming the brick, the field, what was expected and what was given', async () => {
    const mlp = { type: 'MlpDenoiser', inputSize: [4, 4, 4], hidden: 8 };
    expect(() => new GaussianDiffusion({ denoiser: mlp, residualFrom: 'lastContext' })).toThrow(
      /GaussianDiffusion: config field 'residualFrom' 'lastContext' needs context frames \(config field 'contextFrames' ≥ 1\), got contextFrames 0/,
    );
    expect(() => new GaussianDiffusion({ denoiser: mlp, contextFrames: 1, contextChannels: 2 })).toThrow(
      /GaussianDiffusion: config field 'contextChannels' must be in \[0, contextFrames = 1\], got 2/,
    );
    expect(() => new GaussianDiffusion({ denoiser: mlp, contextFrames: 2, contextChannels: 1 })).toThrow(
      /the denoiser's channels must be C·2 .*got 3/,
    );
    expect(() => new GaussianDiffusion({ denoiser: mlp, contextFrames: 1, residualFrom: 'last' as never })).toThrow(/residualFrom/);
    expect(() => videoDiffusionConfig({ context: 2, contextChannels: 3 })).toThrow(
      /videoDiffusionConfig: contextChannels must be an integer in \[0, context = 2\], got 3/,
    );
    expect(() => videoDiffusionConfig({ objective: 'score' as never })).toThrow(/videoDiffusionConfig: objective must be one of eps, x0, v, got score/);
    expect(videoDiffusionConfig({ objective: 'x0' }).objective).toBe('x0');
    const model = mlpVideo();
    const x = tf.zeros(model.sampleShape(1));
    expect(() => model.toDataRange(x)).toThrow(/GaussianDiffusion.toDataRange: config residualFrom 'lastContext' needs 'context' \[B, k, C, H, W\], got none/);
    const bad = tf.zeros([1, 1, 3, 4, 4]);
    expect(() => model.toDataRange(x, bad)).toThrow(/argument 'context' expected shape \[1, 2, 3, 4, 4\], got \[1, 1, 3, 4, 4\]/);
    tf.dispose([x, bad]);
    model.dispose();
  });
});
