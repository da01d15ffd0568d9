// I-JEPA: EMA momentum ramp, token selection, gradient check of the objective on a tiny model,
// targets with no gradient, and the loss falling on shapes without leaks.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, build, gradCheck, gradCheckVariables, shapes } from '@brickml/core';
import { IJEPA, ijepaMomentum, sampleIJepaMasks, selectTokens } from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());

describe('I-JEPA pieces', () => {
  it('momentum ramps linearly 0.996 → 1; selectTokens picks rows per image and is differentiable', async () => {
    expect(ijepaMomentum(0, 100)).toBeCloseTo(0.996, 12);
    expect(ijepaMomentum(50, 100)).toBeCloseTo(0.998, 12);
    expect(ijepaMomentum(100, 100)).toBe(1);
    expect(() => ijepaMomentum(1, 0)).toThrow(/ijepaMomentum: argument 'totalSteps'/);
    const x = tf.tensor3d([[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]]);
    expect(await host(selectTokens(x, [[2, 0], [1, 1]]))).toEqual([5, 6, 1, 2, 9, 10, 9, 10]);
    expect(() => selectTokens(x, [[3], [0]])).toThrow(/selectTokens: index 3 out of range \[0, 3\)/);
    const r = await gradCheck((a) => tf.sum(tf.square(selectTokens(a, [[2, 0], [1, 1]]))) as tf.Scalar, [x]);
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
  });
});

describe('IJEPA', () => {
  const config = { imageSize: 8, patchSize: 2, dim: 8, depth: 1, heads: 2, predictorDim: 8, predictorDepth: 1, predictorHeads: 2, mlpRatio: 2 };

  it('has correct gradients on a tiny case; the target encoder gets none and starts as a copy', async () => {
    const model = new IJEPA(config, { rng: new Rng(0) });
    expect(build<IJEPA>(model.toConfig()).toConfig()).toEqual(model.toConfig());
    const names = model.namedParameters().map(([n]) => n);
    expect(names.some((n) => n.startsWith('target_encoder'))).toBe(false);
    expect(names).toContain('mask_token');
    expect(names.some((n) => n.startsWith('predictor_blocks.0.'))).toBe(true);
    const online = model.encoder.namedState();
    const target = model.target_encoder.namedState();
    expect(target.map(([n]) => n)).toEqual(online.map(([n]) => n));
    for (let i = 0; i < online.length; i++) expect(await host(target[i]![1])).toEqual(await host(online[i]![1]));
    const images = tf.tanh(new Rng(1).normalTensor([2, 3, 8, 8]));
    const masks = sampleIJepaMasks(4, 4, 2, new Rng(2), { numTargets: 2, minKeep: 2, targetScale: [0.15, 0.25], contextScale: [0.85, 1] });
    const r = await gradCheckVariables(() => model.loss(images, masks), model.parameters(), { eps: 1e-3, atol: 5e-4, rtol: 3e-2, maxChecks: 12 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    expect(model.target_encoder.namedState().every(([, v]) => !v.trainable)).toBe(true);
    // the targets carry no gradient (stop-gradient after the LayerNorm)
    const grads = { g: tf.grad((x: tf.Tensor) => tf.sum(model.targets(x)))(images) };
    expect(Math.max(...(await host(tf.abs(grads.g))))).toBe(0);
    expect(() => model.loss(tf.slice(images, 0, 1), masks)).toThrow(/IJEPA.loss: masks are for 2 images/);
    tf.dispose([images, ...Object.values(grads)]);
    model.dispose();
  });

  it('loss falls on shapes; the EMA moves the target; no tensor leaks over steps', async () => {
    const model = new IJEPA({ ...config, imageSize: 16, patchSize: 4, dim: 16, predictorDim: 16 }, { rng: new Rng(0) });
    const data = shapes({ size: 16, batchSize: 16, seed: 1 });
    const opt = new AdamW(model.namedParameters(), { lr: 3e-3, weightDecay: 0 });
    const rng = new Rng(3);
    const losses: number[] = [];
    let mid = 0;
    const steps = 20;
    const [, tw] = model.target_encoder.namedState().find(([n]) => n === 'patch_embed.proj.weight' || n.endsWith('.weight'))!;
    const before = await host(tw);
    for (let s = 0; s < steps; s++) {
      const b = data.next();
      const masks = sampleIJepaMasks(4, 4, 16, rng, { numTargets: 2, minKeep: 2 });
      const { value, grads } = tf.variableGrads(() => model.loss(b.images, masks), model.parameters());
      opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
      model.updateTarget(ijepaMomentum(s, steps));
      losses.push((await value.data())[0]!);
      tf.dispose([value, ...Object.values(grads), b]);
      if (s === 2) mid = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(mid);
    const after = await host(tw);
    expect(after.some((v, i) => Math.abs(v - before[i]!) > 1e-7)).toBe(true); // the EMA moved the target
    const first = losses.slice(0, 4).reduce((a, c) => a + c) / 4;
    const last = losses.slice(-4).reduce((a, c) => a + c) / 4;
    expect(last).toBeLessThan(first);
    const x = data.next();
    expect(model.represent(x.images).shape).toEqual([16, 16]);
    tf.dispose(x);
    opt.dispose();
    model.dispose();
  });
});
