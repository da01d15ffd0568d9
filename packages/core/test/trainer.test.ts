import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW, Ema, Linear, MLP, NonFiniteError, Rng, Sequential, Trainer, build, toy2d, type Toy2dBatch } from '../src/index.js';

// A 2-class classifier on the two-moons toy set: MLP 2 → 32 → 2, cross-entropy.
function setup(seed = 1, opts: { ema?: boolean; clip?: number; steps?: number; lr?: number } = {}) {
  const rng = new Rng(seed);
  const model = build<Sequential>(
    { type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 2, outFeatures: 32, init: 'xavierUniform' }, { type: 'MLP', dim: 32, hidden: 32, outDim: 2, activation: 'relu', init: 'xavierUniform' }] },
    { rng },
  );
  const optimizer = new AdamW(model, { lr: { kind: 'warmupCosine', peakLr: opts.lr ?? 1e-2, warmupSteps: 5, totalSteps: opts.steps ?? 60 }, weightDecay: 1e-4 });
  const ema = opts.ema ? new Ema(model, { decay: 0.9 }) : undefined;
  const data = toy2d({ kind: 'moons', batchSize: 64, seed: seed + 100, noise: 0.1 });
  const trainer = new Trainer<Toy2dBatch>({
    model, optimizer, ema, data, steps: opts.steps ?? 60, seed: seed + 200, clipGradNorm: opts.clip, progress: 'none',
    loss: (b, ctx) => {
      // A little input noise from the trainer's generator, so resume must restore it too.
      const x = tf.add(b.x, ctx.rng.normalTensor(b.x.shape, 0, 0.01));
      const logits = model.forward(x);
      const onehot = tf.oneHot(b.label, 2);
      const loss = tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1))) as tf.Scalar;
      const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), b.label), 'float32'));
      return { loss, metrics: { acc } };
    },
  });
  return { model, optimizer, ema, data, trainer };
}

describe('Trainer', () => {
  it('learns the two-moons task: loss falls by 3x and accuracy beats 85%', async () => {
    const { trainer } = setup(1, { steps: 150, lr: 2e-2 });
    const h = await trainer.fit();
    const first = h.slice(0, 5).reduce((s, r) => s + r.loss, 0) / 5;
    const last = h.slice(-10).reduce((s, r) => s + r.loss, 0) / 10;
    const acc = h.slice(-10).reduce((s, r) => s + (r.acc ?? 0), 0) / 10;
    expect(last).toBeLessThan(first / 3);
    expect(acc).toBeGreaterThan(0.85);
  });

  it('a resumed run continues with exactly the losses of an uninterrupted one (cpu)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brickml-resume-'));
    const full = setup(3, { ema: true, clip: 1 });
    await full.trainer.fit();

    const part = setup(3, { ema: true, clip: 1 });
    (part.trainer as any).opts.steps = 25;
    await part.trainer.fit();
    await part.trainer.save(join(dir, 'ckpt'));

    // A fresh process would build everything anew with a different seed; resume restores it all.
    const resumed = setup(99, { ema: true, clip: 1 });
    await resumed.trainer.resume(join(dir, 'ckpt'));
    expect(resumed.trainer.step).toBe(25);
    await resumed.trainer.fit();
    expect(resumed.trainer.history.map((r) => r.loss)).toEqual(full.trainer.history.map((r) => r.loss));
    const a = await full.model.layers[0].forward(tf.ones([1, 2])).data();
    const b = await resumed.model.layers[0].forward(tf.ones([1, 2])).data();
    expect(Array.from(b)).toEqual(Array.from(a));
    const ea = await full.ema!.shadow('layers.1.fc2.weight')!.data();
    const eb = await resumed.ema!.shadow('layers.1.fc2.weight')!.data();
    expect(Array.from(eb)).toEqual(Array.from(ea));
    expect(readdirSync(dir)).toEqual(['ckpt']); // no temp folders left
    expect(readdirSync(join(dir, 'ckpt')).sort()).toEqual(['config.json', 'ema.safetensors', 'model.safetensors', 'optimizer.safetensors', 'trainer.json']);
  });

  it('does not leak tensors over 50 steps', async () => {
    const { trainer, data } = setup(4, { ema: true, clip: 1, steps: 1000 });
    for (let i = 0; i < 5; i++) { const b = data.next(); await trainer.trainStep(b); tf.dispose(b as any); }
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) { const b = data.next(); await trainer.trainStep(b); tf.dispose(b as any); }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops with a clear error on a NaN loss, before touching the parameters', async () => {
    const model = new Linear({ inFeatures: 2, outFeatures: 1 });
    const optimizer = new AdamW(model, { lr: 1e-2 });
    const before = Array.from(await model.weight.data());
    const trainer = new Trainer<tf.Tensor>({
      model, optimizer, steps: 3, progress: 'none',
      data: { next: () => tf.tensor2d([[1, Number.NaN]]) },
      loss: (x) => tf.mean(model.forward(x)) as tf.Scalar,
    });
    await expect(trainer.fit()).rejects.toThrow(NonFiniteError);
    await expect(trainer.fit()).rejects.toThrow(/loss is NaN at step 0; stopping before the update/);
    expect(Array.from(await model.weight.data())).toEqual(before);
  });

  it('writes JSON lines, calls the progress callback, and saves periodic checkpoints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brickml-log-'));
    const { trainer } = setup(5, { steps: 10 });
    const seen: number[] = [];
    Object.assign((trainer as any).opts, {
      logFile: join(dir, 'log.jsonl'),
      progress: (p: { step: number }) => seen.push(p.step),
      checkpoint: { dir: join(dir, 'ck'), every: 4 },
    });
    await trainer.fit();
    const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(typeof lines[0].loss).toBe('number');
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(JSON.parse(readFileSync(join(dir, 'ck', 'trainer.json'), 'utf8')).step).toBe(10);
    expect(existsSync(join(dir, 'ck', 'config.json'))).toBe(true);
  });

  it('rejects a checkpoint for another model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brickml-bad-'));
    const { trainer } = setup(6, { steps: 10 });
    await trainer.fit();
    await trainer.save(join(dir, 'ck'));
    const other = new MLP({ dim: 2, hidden: 8 });
    const t2 = new Trainer<Toy2dBatch>({ model: other, optimizer: new AdamW(other), data: toy2d({ kind: 'moons', batchSize: 4, seed: 1 }), steps: 2, loss: () => tf.scalar(0), progress: 'none' });
    await expect(t2.resume(join(dir, 'ck'))).rejects.toThrow(/fc1.weight/);
  });
});
