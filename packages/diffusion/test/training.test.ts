import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, build, shapes, type ShapesBatch } from '@brickml/core';
import type { RinNetwork } from '@brickml/attention';
import { GaussianDiffusion, diffusionTrainer, type GaussianDiffusionConfig } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

const tinyRin = (selfCondition: boolean) => ({
  type: 'RinNetwork', inputSize: [8, 8], patchSize: 2, numLatents: 4, numBlocks: 2, computeLayers: 1,
  latentDim: 16, interfaceDim: 12, readHeads: 2, latentHeads: 2, numClasses: 3, selfCondition,
});

function images(n: number, seed: number): tf.Tensor {
  // 8×8 crops of 16×16 shapes (RIN tests stay small on the cpu backend)
  const s = shapes({ size: 16, batchSize: n, seed }).next();
  const x = tf.slice(s.images, [0, 0, 4, 4], [n, 3, 8, 8]);
  tf.dispose(s);
  return x;
}

describe('self-conditioning', () => {
  it('at initialisation the self-conditioning path equals the plain path (RIN, zero previous latents)', async () => {
    const withSc = build<RinNetwork>(tinyRin(true), { rng: new Rng(1) });
    const plain = build<RinNetwork>(tinyRin(false), { rng: new Rng(1) });
    const x = new Rng(2).normalTensor([2, 3, 8, 8]);
    const opts = { noiseLevel: tf.tensor1d([0.3, 0.8]), classLabels: tf.tensor1d([0, 3], 'int32') };
    const a = withSc.forward(x, { ...opts, prevLatents: tf.zeros([2, withSc.numLatentTokens, 16]) });
    const b = plain.forward(x, opts);
    expect(await maxAbsDiff(a.output, b.output)).toBe(0);
    tf.dispose([a.output, a.latents, a.interface, b.output, b.latents, b.interface, x]);
    withSc.dispose();
    plain.dispose();
  });

  it('the self-conditioned training loss (two passes, rate 0.9) equals the plain loss at init, and differs once the path is trained', async () => {
    const make = (sc: boolean) =>
      new GaussianDiffusion({ denoiser: tinyRin(sc), objective: 'v', selfConditionRate: 0.9 } as GaussianDiffusionConfig, { rng: new Rng(4) });
    const sc = make(true);
    const plain = make(false);
    const x0 = images(4, 0);
    const classes = tf.tensor1d([0, 1, 2, 1], 'int32');
    const lossOf = async (m: GaussianDiffusion) => {
      const l = m.trainingLoss(x0, { classes, rng: new Rng(9) });
      const v = (await l.data())[0];
      l.dispose();
      return v;
    };
    const base = await lossOf(plain);
    expect(await lossOf(sc)).toBe(base);
    // A non-zero output norm makes the previous latents matter: the test can fail.
    const ln = (sc.denoiser as unknown as RinNetwork).latent_prev_ln!;
    ln.weight!.assign(tf.fill(ln.weight!.shape, 5));
    ln.bias!.assign(tf.fill(ln.bias!.shape, 1));
    expect(Math.abs((await lossOf(sc)) - base)).toBeGreaterThan(2e-5); // 1.7e-4 measured; equality above is exact
    tf.dispose([x0, classes]);
    sc.dispose();
    plain.dispose();
  });

  it('the prepared batch keeps latents for about rate·B examples and zeros for the rest', async () => {
    const model = new GaussianDiffusion(
      { denoiser: { type: 'MlpDenoiser', inputSize: [4, 4], hidden: 8, selfCondition: true }, selfConditionRate: 0.5 },
      { rng: new Rng(0) },
    );
    const x0 = tf.zeros([64, 3, 4, 4]);
    const batch = model.prepareBatch(x0, { rng: new Rng(1) });
    const rows = tf.tidy(() => tf.sum(tf.abs(batch.prevLatents!), [1, 2]));
    const nonzero = Array.from(await rows.data()).filter((v) => v > 0).length;
    // the mask is the last host draw: recompute it from the same generator sequence
    const rng = new Rng(1);
    for (let i = 0; i < 64; i++) rng.float(); // t
    rng.normalArray(64 * 48); // noise
    let kept = 0;
    for (let i = 0; i < 64; i++) kept += rng.float() < 0.5 ? 1 : 0;
    expect(nonzero).toBe(kept);
    expect(kept).toBeGreaterThan(20);
    expect(kept).toBeLessThan(44);
    tf.dispose([x0, batch, rows]);
    model.dispose();
  });
});

describe('training', () => {
  it('a tiny MLP denoiser overfits one fixed batch: the loss falls by more than 20×', async () => {
    const model = new GaussianDiffusion(
      { denoiser: { type: 'MlpDenoiser', inputSize: [8, 8], hidden: 64, numClasses: 3 }, objective: 'eps', classDropout: 0 },
      { rng: new Rng(0) },
    );
    const x0 = images(8, 1);
    const batch = model.prepareBatch(x0, { classes: tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), rng: new Rng(2) });
    const opt = new AdamW(model, { lr: 3e-3, weightDecay: 0 });
    const losses: number[] = [];
    const names = new Map(model.namedParameters().map(([p, v]) => [v.name, p]));
    for (let i = 0; i < 200; i++) {
      const { value, grads } = tf.variableGrads(() => model.loss(batch));
      opt.step(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[0]).toBeGreaterThan(0.5);
    expect(losses[199]).toBeLessThan(losses[0] / 20);
    tf.dispose([x0, batch]);
    opt.dispose();
    model.dispose();
  });

  it('a tiny RIN overfits one fixed batch (loss falls by more than 4× in 60 steps)', async () => {
    const model = new GaussianDiffusion({ denoiser: tinyRin(false), objective: 'eps', classDropout: 0 } as GaussianDiffusionConfig, { rng: new Rng(0) });
    const x0 = images(4, 3);
    const batch = model.prepareBatch(x0, { classes: tf.tensor1d([0, 1, 2, 0], 'int32'), rng: new Rng(5) });
    const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0 });
    const names = new Map(model.namedParameters().map(([p, v]) => [v.name, p]));
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const { value, grads } = tf.variableGrads(() => model.loss(batch));
      opt.step(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[59]).toBeLessThan(losses[0] / 4);
    tf.dispose([x0, batch]);
    opt.dispose();
    model.dispose();
  });

  it('diffusionTrainer: no tensor leaks across steps, and a resumed run continues with the same losses', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'brickml-diffusion-'));
    const cfg: GaussianDiffusionConfig = {
      denoiser: { type: 'MlpDenoiser', inputSize: [16, 16], hidden: 16, numClasses: 3, selfCondition: true }, objective: 'v',
    };
    const counts: number[] = [];
    const run = (steps: number) => {
      const model = new GaussianDiffusion(cfg, { rng: new Rng(0) });
      const parts = diffusionTrainer({
        model, data: shapes({ size: 16, batchSize: 4, seed: 0 }), toData: (b: ShapesBatch) => ({ x0: b.images, classes: b.labels.shape }),
        steps, warmupSteps: 2, decaySteps: 6, progress: 'none', checkpoint: { dir }, seed: 3,
        onStep: () => { counts.push(tf.memory().numTensors); },
      });
      return { model, ...parts, free: () => { model.dispose(); parts.optimizer.dispose(); parts.ema.dispose(); } };
    };
    try {
      const ref = run(6);
      await ref.trainer.fit();
      // optimizer moments appear at the first step; after that every step holds the same tensors
      expect(new Set(counts.slice(1)).size).toBe(1);
      const refLosses = ref.trainer.history.map((h) => h.loss);
      expect(refLosses.every(Number.isFinite)).toBe(true);
      ref.free();
      await rm(dir, { recursive: true, force: true });

      const first = run(3);
      await first.trainer.fit();
      first.free();
      const second = run(6);
      await second.trainer.resume(dir);
      await second.trainer.fit();
      expect(second.trainer.history.map((h) => h.loss)).toEqual(refLosses);
      second.free();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('trainWithBudget', () => {
  it("with a time budget, the progress total and eta follow the budget, not a far-away step cap", async () => {
    const { Linear, Trainer, SGD } = await import('@brickml/core');
    const { trainWithBudget } = await import('../src/index.js');
    const model = new Linear({ inFeatures: 4, outFeatures: 1 }, { rng: new Rng(0) });
    const x = new Rng(1).normalTensor([8, 4]);
    const trainer = new Trainer<tf.Tensor>({
      model, optimizer: new SGD(model, { lr: 0.01 }), steps: 1_000_000, progress: 'none',
      loss: (b) => tf.mean(tf.square(model.forward(b))) as tf.Scalar,
    });
    const totals: number[] = [];
    const run = await trainWithBudget(trainer, { next: () => tf.clone(x) }, {
      steps: 1_000_000, seconds: 0.5, progress: (info) => totals.push(info.totalSteps),
    });
    expect(run.stoppedBy).toBe('time');
    expect(totals.length).toBe(run.steps);
    expect(Math.max(...totals.slice(1))).toBeLessThan(1_000_000);
    // the projection ends where the run ended (within the last few steps' jitter)
    expect(Math.abs(totals[totals.length - 1] - run.steps)).toBeLessThanOrEqual(Math.max(3, run.steps * 0.1));
    x.dispose();
    model.dispose();
  });
});
