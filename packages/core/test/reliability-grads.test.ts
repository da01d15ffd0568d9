// A NaN or Inf gradient with a finite loss stops the step before the update (or skips it), found
// through the global gradient norm and named by module path.
import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Ema, NonFiniteError, Rng, Sequential, Trainer, build, type SkippedStep, type StepRecord } from '../src/index.js';

/** Identity forward; its gradient is replaced by `fill` wherever `when()` says so. */
function poison(t: tf.Tensor, fill: number, when: () => boolean): tf.Tensor {
  const f = tf.customGrad((x: tf.Tensor) => ({
    value: tf.clone(x),
    gradFunc: (dy: tf.Tensor) => (when() ? tf.fill(x.shape, fill) : tf.clone(dy)),
  }));
  return f(t) as tf.Tensor;
}

/** Linear 2 → 3 → 1; the gradient of `layers.1.bias` is `fill` at the steps in `badSteps`. */
function setup(options: { fill?: number; badSteps?: number[]; clip?: number; mode?: 'error' | 'skip'; onSkip?: (s: SkippedStep) => void } = {}) {
  const model = build<Sequential>(
    { type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 2, outFeatures: 3 }, { type: 'Linear', inFeatures: 3, outFeatures: 1 }] },
    { rng: new Rng(1) },
  );
  const optimizer = new AdamW(model, { lr: 0.01 });
  const ema = new Ema(model, { decay: 0.5 });
  const head = model.layers[1] as unknown as { weight: tf.Variable; bias: tf.Variable };
  let step = 0;
  const trainer = new Trainer<tf.Tensor2D>({
    model, optimizer, ema, steps: 3, progress: 'none', clipGradNorm: options.clip, nonFiniteGrad: options.mode, onSkip: options.onSkip,
    data: { next: () => tf.tensor2d([[1, 2], [-1, 0.5]]) },
    loss: (x, ctx) => {
      step = ctx.step;
      const hidden = (model.layers[0] as unknown as { forward(t: tf.Tensor): tf.Tensor }).forward(x);
      const bias = poison(head.bias, options.fill ?? Number.NaN, () => (options.badSteps ?? [0]).includes(step));
      const y = tf.add(tf.matMul(hidden, head.weight, false, true), bias);
      return tf.mean(tf.square(y)) as tf.Scalar;
    },
  });
  return { model, optimizer, ema, trainer };
}

async function snapshot(model: Sequential): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, v] of model.namedParameters()) out[name] = Array.from(new Uint32Array((await v.data() as Float32Array).slice().buffer));
  return out;
}

describe("non-finite gradients (nonFiniteGrad: 'error', the default)", () => {
  for (const [what, fill, clip] of [['NaN', Number.NaN, undefined], ['Inf', Number.POSITIVE_INFINITY, undefined], ['NaN with clipping', Number.NaN, 1]] as const) {
    it(`${what}: throws NonFiniteError naming the parameter, before the update`, async () => {
      const { model, optimizer, ema, trainer } = setup({ fill, clip });
      const before = await snapshot(model);
      const shadow = Array.from(await ema.shadow('layers.1.bias')!.data());
      const tensors = tf.memory().numTensors;
      const error = await trainer.fit().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NonFiniteError);
      const message = (error as Error).message;
      expect(message).toMatch(/^Trainer: at step 0 the gradient of 1 parameter holds NaN or Inf: 'layers\.1\.bias' \(the loss, [\d.e-]+, is finite\); stopping before the update \(parameters are unchanged\)/);
      expect(message).toMatch(/nonFiniteGrad: 'skip'/);
      expect(message).not.toMatch(/layers\.0|layers\.1\.weight/);
      expect(await snapshot(model)).toEqual(before);
      expect(Array.from(await ema.shadow('layers.1.bias')!.data())).toEqual(shadow);
      expect(optimizer.globalStep).toBe(0);
      expect(optimizer.paramStep('layers.0.weight')).toBe(0);
      expect(trainer.step).toBe(0);
      expect(tf.memory().numTensors).toBe(tensors);
    });
  }

  it('a global norm that overflows float32 (every gradient finite) is stopped too, and says so', async () => {
    const { model, trainer } = setup({ fill: 1e30 });
    const before = await snapshot(model);
    await expect(trainer.fit()).rejects.toThrow(/^Trainer: at step 0 the global gradient norm overflowed to Infinity though every gradient is finite/);
    expect(await snapshot(model)).toEqual(before);
  });

  it('every record carries the gradient norm, with or without clipping', async () => {
    const plain = setup({ badSteps: [] });
    const clipped = setup({ badSteps: [], clip: 1e-3 });
    const [a, b] = [await plain.trainer.fit(), await clipped.trainer.fit()];
    expect(a.every((r) => Number.isFinite(r.gradNorm) && r.gradNorm! > 0)).toBe(true);
    expect(b[0].gradNorm).toBe(a[0].gradNorm); // before clipping, same first step
  });
});

describe("nonFiniteGrad: 'skip'", () => {
  it('skips the update of that step (weights, optimizer state, EMA), records it, and trains on', async () => {
    const skipped: SkippedStep[] = [];
    const seen: StepRecord[] = [];
    const { model, optimizer, ema, trainer } = setup({ mode: 'skip', badSteps: [1], onSkip: (s) => skipped.push(s) });
    (trainer as unknown as { opts: { onStep: (r: StepRecord) => void } }).opts.onStep = (r) => void seen.push(r);
    const batch = tf.tensor2d([[1, 2], [-1, 0.5]]);
    await trainer.trainStep(batch);
    const after1 = await snapshot(model);
    const moment = Array.from(await optimizer.slot('layers.1.bias', 'exp_avg')!.data());
    const shadow = Array.from(await ema.shadow('layers.0.weight')!.data());
    const tensors = tf.memory().numTensors;
    const r2 = await trainer.trainStep(batch);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(r2.skipped).toBe(1);
    expect(Number.isNaN(r2.gradNorm)).toBe(true);
    expect(Number.isFinite(r2.loss)).toBe(true);
    expect(await snapshot(model)).toEqual(after1);
    expect(Array.from(await optimizer.slot('layers.1.bias', 'exp_avg')!.data())).toEqual(moment);
    expect(optimizer.paramStep('layers.1.bias')).toBe(1);
    expect(optimizer.globalStep).toBe(2); // the schedule advances with the step count
    expect(Array.from(await ema.shadow('layers.0.weight')!.data())).toEqual(shadow);
    expect(skipped).toEqual([{ step: 2, params: ['layers.1.bias'], gradNorm: Number.NaN }]);
    await trainer.fit(); // step 3 trains normally; onStep sees it
    batch.dispose();
    expect(trainer.history.map((r) => r.skipped)).toEqual([undefined, 1, undefined]);
    expect(seen.map((r) => r.step)).toEqual([3]);
    expect(await snapshot(model)).not.toEqual(after1);
    expect(optimizer.paramStep('layers.1.bias')).toBe(2);
  });

  it('warns once per skipped step by default, and a NaN loss still throws', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const { trainer } = setup({ mode: 'skip', badSteps: [0, 2] });
      await trainer.fit();
      expect(warn.mock.calls.map((c) => c[0])).toEqual([
        "Trainer: step 1: skipped the update, non-finite gradient in 'layers.1.bias'",
        "Trainer: step 3: skipped the update, non-finite gradient in 'layers.1.bias'",
      ]);
    } finally {
      warn.mockRestore();
    }
    const model = build<Sequential>({ type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 2, outFeatures: 1 }] });
    const t = new Trainer<tf.Tensor2D>({
      model, optimizer: new AdamW(model), steps: 1, progress: 'none', nonFiniteGrad: 'skip',
      data: { next: () => tf.tensor2d([[1, Number.NaN]]) },
      loss: (x) => tf.mean(model.forward(x)) as tf.Scalar,
    });
    await expect(t.fit()).rejects.toThrow(/loss is NaN at step 0/);
  });

  it('rejects an unknown mode', () => {
    const model = build<Sequential>({ type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 2, outFeatures: 1 }] });
    expect(
      () => new Trainer({ model, optimizer: new AdamW(model), steps: 1, data: { next: () => 0 }, loss: () => tf.scalar(0), nonFiniteGrad: 'ignore' as 'skip' }),
    ).toThrow(/^Trainer: 'nonFiniteGrad' must be 'error' or 'skip', got string "ignore"$/);
  });
});
