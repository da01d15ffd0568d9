// UNetDenoiser: shape contract, gradients (finite differences with core's native and hybrid convs),
// conditioning, config errors, overfitting one batch, the shipped flagship's outputs unchanged since
// the move onto core's Conv2d/GroupNorm, and the wasm backend against cpu.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdamW, BrickConfigError, Conv2d, GroupNorm, Rng, ShapeError, build, defaultConvImpl, gradCheckVariables, load, shapes, type Module } from '@brickml/core';
import { GaussianDiffusion, UNetDenoiser, denoiserFlops, shapesUNetConfig, type UNetDenoiserConfig } from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
/** test/fixtures/flagship-forward.json (recorded with the pre-move code; its `about` says how). */
function readFixture(): { names: Array<[string, number[]]>; output: number[]; seededTinySums: Record<string, number> } {
  return JSON.parse(readFileSync(join(here, 'fixtures', 'flagship-forward.json'), 'utf8'));
}

const tiny = (extra: Partial<UNetDenoiserConfig> = {}): UNetDenoiserConfig => ({
  inputSize: [8, 8], widths: [8, 12], groups: 4, embedDim: 16, noiseEmbedDim: 8, numClasses: 3, ...extra,
});

/** Every parameter to N(0, std²), so the zero-initialised convs matter. */
function randomize(m: Module, seed = 7, std = 0.3): void {
  const rng = new Rng(seed);
  for (const [, p] of m.namedParameters()) tf.tidy(() => p.assign(rng.normalTensor(p.shape, 0, std)));
}

function images(n: number, seed: number): tf.Tensor {
  const s = shapes({ size: 16, batchSize: n, seed }).next();
  const x = tf.slice(s.images, [0, 0, 4, 4], [n, 3, 8, 8]); // 8×8 crops keep cpu tests fast
  tf.dispose(s);
  return x;
}

describe('UNetDenoiser', () => {
  it('maps [B, C, H, W] to [B, C, H, W], starts at exactly zero, and round-trips its config', async () => {
    const net = build<UNetDenoiser>({ type: 'UNetDenoiser', ...tiny() }, { rng: new Rng(0) });
    const x = new Rng(1).normalTensor([2, 3, 8, 8]);
    const { output, latents } = net.forward(x, { noiseLevel: tf.tensor1d([0.2, 0.9]), classLabels: tf.tensor1d([0, 3], 'int32') });
    expect(output.shape).toEqual([2, 3, 8, 8]);
    expect(latents).toBeUndefined();
    expect(await maxAbsDiff(output, tf.zeros([2, 3, 8, 8]))).toBe(0); // out_conv is zero-initialised
    const again = build<UNetDenoiser>(net.toConfig(), { rng: new Rng(0) });
    expect(again.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(net.namedParameters().map(([n, p]) => [n, p.shape]));
    expect(net.config.selfCondition).toBe(false);
    tf.dispose([x, output]);
    net.dispose();
    again.dispose();
  });

  it('the shapes preset: 100,787 parameters, 21.67 forward MFLOPs per 16×16 image', () => {
    const net = build<UNetDenoiser>(shapesUNetConfig(), { rng: new Rng(0) });
    expect(net.numParameters()).toBe(100_787);
    expect(denoiserFlops(net, 1) / 1e6).toBeCloseTo(21.67, 2);
    expect(denoiserFlops(net, 4)).toBe(4 * denoiserFlops(net, 1));
    net.dispose();
  });

  it.each(['native', 'hybrid'] as const)('parameter gradients match finite differences (conv %s)', async (convImpl) => {
    const net = new UNetDenoiser(tiny({ convImpl, widths: [4, 8], embedDim: 8 }), { rng: new Rng(2) });
    randomize(net, 5, 0.3);
    const x = new Rng(3).normalTensor([2, 3, 8, 8]);
    const opts = { noiseLevel: tf.tensor1d([0.3, 0.7]), classLabels: tf.tensor1d([1, 3], 'int32') };
    const proj = new Rng(4).normalTensor([2, 3, 8, 8]);
    const loss = () => tf.tidy(() => tf.sum(tf.mul(net.forward(x, opts).output, proj)) as tf.Scalar);
    const picked = ['stem.weight', 'down.0.0.conv1.weight', 'down.1.0.conv2.weight', 'up.0.0.norm1.weight', 'up.0.0.skip.weight', 'out_conv.weight', 'class_embed.weight', 'noise_embed.fc1.weight'];
    const named = new Map(net.namedParameters());
    for (const n of picked) expect(named.has(n), n).toBe(true);
    const r = await gradCheckVariables(loss, picked.map((n) => named.get(n)!), { eps: 1e-2, atol: 2e-2, rtol: 2e-2, maxChecks: 6 });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    tf.dispose([x, proj, opts.noiseLevel, opts.classLabels]);
    net.dispose();
  });

  it('the class and the noise level change the output; no labels means the null class', async () => {
    const net = new UNetDenoiser(tiny(), { rng: new Rng(0) });
    randomize(net);
    const x = new Rng(1).normalTensor([2, 3, 8, 8]);
    const g = tf.tensor1d([0.4, 0.4]);
    const out = (noiseLevel: tf.Tensor, labels?: number[]) =>
      net.forward(x, { noiseLevel, classLabels: labels ? tf.tensor1d(labels, 'int32') : null }).output;
    const a = out(g, [0, 0]);
    expect(await maxAbsDiff(a, out(g, [1, 2]))).toBeGreaterThan(1e-2);
    expect(await maxAbsDiff(a, out(tf.tensor1d([0.9, 0.05]), [0, 0]))).toBeGreaterThan(1e-2);
    expect(await maxAbsDiff(out(g), out(g, [3, 3]))).toBe(0);
    net.dispose();
  });

  it('rejects bad configs and bad calls, naming the brick, the field and what it got', () => {
    expect(() => new UNetDenoiser(tiny({ widths: [8, 10] }))).toThrow(/UNetDenoiser: config field 'groups' 4 must divide .*widths \[8, 10\]/);
    expect(() => new UNetDenoiser(tiny({ inputSize: [6, 6], widths: [8, 8, 8] }))).toThrow(/UNetDenoiser: config field 'inputSize' \[6, 6\] must be divisible by 4/);
    expect(() => new UNetDenoiser(tiny({ noiseEmbedDim: 7 }))).toThrow(/'noiseEmbedDim' must be even, got 7/);
    expect(() => new UNetDenoiser(tiny({ inputSize: [4, 8, 8] }))).toThrow(BrickConfigError);
    expect(() => new UNetDenoiser({ ...tiny(), kernel: 5 } as UNetDenoiserConfig)).toThrow(BrickConfigError);
    const net = new UNetDenoiser(tiny({ numClasses: 0 }), { rng: new Rng(0) });
    const x = tf.zeros([2, 3, 8, 8]);
    const g = tf.tensor1d([0.5, 0.5]);
    expect(() => net.forward(tf.zeros([2, 3, 8, 4]), { noiseLevel: g })).toThrow(ShapeError);
    expect(() => net.forward(x, { noiseLevel: tf.tensor1d([0.5]) })).toThrow(/option 'noiseLevel' expected shape \[2\], got \[1\]/);
    expect(() => net.forward(x, { noiseLevel: g, classLabels: tf.tensor1d([0, 1], 'int32') })).toThrow(/'classLabels' given but config numClasses is 0/);
    expect(() => net.forward(x, { noiseLevel: g, prevLatents: tf.zeros([2, 1, 1]) })).toThrow(/does not self-condition/);
    net.dispose();
  });

  it('is built from core bricks: Conv2d (3×3, padding 1, zero biases) and GroupNorm, with the same names and seeded values', async () => {
    const net = new UNetDenoiser(tiny(), { rng: new Rng(0) });
    expect(net.stem).toBeInstanceOf(Conv2d);
    expect(net.out_norm).toBeInstanceOf(GroupNorm);
    expect(net.stem.toConfig()).toMatchObject({ kernelSize: 3, padding: 1, stride: 1, biasInit: 'zeros' });
    // Same seed, same parameters as the pre-move code (checksums recorded with it, see the fixture).
    const sums = readFixture().seededTinySums;
    const named = net.namedParameters();
    expect(named.map(([n]) => n)).toEqual(Object.keys(sums));
    for (const [n, p] of named) {
      const v = await p.data();
      let s = 0;
      for (let j = 0; j < v.length; j++) s += v[j]! * ((j % 7) + 1);
      expect(Math.abs(s - sums[n]!), n).toBeLessThan(1e-4);
    }
    net.dispose();
  });

  it('the 8,500-step flagship (test/fixtures/flagship-8500) gives the outputs recorded before the move to core; the shipped one has the same parameters', async () => {
    // test/fixtures/flagship-forward.json: parameter names/shapes and the denoiser output on this fixed
    // input, recorded with the pre-move code (diffusion's own conv3x3/GroupNorm), on cpu, from the
    // weights shipped then (kept as test/fixtures/flagship-8500; assets/flagship has trained on since).
    const expected = readFixture();
    const shipped = await load<GaussianDiffusion>(join(here, '..', 'assets', 'flagship'));
    expect(shipped.denoiser.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(expected.names);
    shipped.dispose();
    const model = await load<GaussianDiffusion>(join(here, 'fixtures', 'flagship-8500'));
    const den = (model as unknown as { denoiser: UNetDenoiser }).denoiser;
    expect(den).toBeInstanceOf(UNetDenoiser);
    expect(den.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(expected.names);
    const x = new Rng(123).normalTensor([2, 3, 16, 16]);
    const out = den.forward(x, { noiseLevel: tf.tensor1d([0.25, 0.8]), classLabels: tf.tensor1d([0, 2], 'int32') }).output;
    const got = await out.data();
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected.output[i]!));
    expect(got.length).toBe(expected.output.length);
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([x, out]);
    model.dispose();
  });

  it('a tiny U-Net overfits one fixed batch through GaussianDiffusion (loss falls by more than 5× in 60 steps)', async () => {
    const model = new GaussianDiffusion({ denoiser: { type: 'UNetDenoiser', ...tiny({ widths: [8, 8] }) }, objective: 'eps', classDropout: 0 }, { rng: new Rng(0) });
    const x0 = images(4, 1);
    const batch = model.prepareBatch(x0, { classes: tf.tensor1d([0, 1, 2, 0], 'int32'), rng: new Rng(2) });
    const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0 });
    const names = new Map(model.namedParameters().map(([p, v]) => [v.name, p]));
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const { value, grads } = tf.variableGrads(() => model.loss(batch));
      opt.step(new Map(Object.entries(grads).map(([k, gr]) => [names.get(k)!, gr])));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[0]).toBeGreaterThan(0.5);
    expect(losses[59]).toBeLessThan(losses[0] / 5);
    tf.dispose([x0, batch]);
    opt.dispose();
    model.dispose();
  });
});

describe('UNetDenoiser on wasm (forward + backward against cpu)', () => {
  let wasmOk = false;
  beforeAll(async () => {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      wasmOk = await tf.setBackend('wasm');
    } catch {
      wasmOk = false;
    }
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  async function lossAndGrads(net: UNetDenoiser) {
    const x = new Rng(3).normalTensor([2, 3, 8, 8]);
    const g = tf.tensor1d([0.3, 0.8]);
    const y = tf.tensor1d([2, 0], 'int32');
    const proj = new Rng(5).normalTensor([2, 3, 8, 8]);
    const named = net.namedParameters();
    const { value, grads } = tf.variableGrads(
      () => tf.tidy(() => tf.sum(tf.mul(net.forward(x, { noiseLevel: g, classLabels: y }).output, proj)) as tf.Scalar),
      named.map(([, v]) => v),
    );
    const out: Record<string, Float32Array> = {};
    for (const [n, v] of named) if (grads[v.name]) out[n] = (await grads[v.name].data()) as Float32Array;
    const loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads), x, g, y, proj]);
    return { loss, grads: out };
  }

  it('the 8,500-step flagship gives the recorded outputs on wasm too (hybrid convs; within 1e-4 of cpu)', async () => {
    if (!wasmOk) return expect.soft(wasmOk, 'wasm backend unavailable').toBe(true);
    const expected = readFixture();
    await tf.setBackend('wasm');
    try {
      const model = await load<GaussianDiffusion>(join(here, 'fixtures', 'flagship-8500'));
      const den = (model as unknown as { denoiser: UNetDenoiser }).denoiser;
      const x = new Rng(123).normalTensor([2, 3, 16, 16]);
      const out = den.forward(x, { noiseLevel: tf.tensor1d([0.25, 0.8]), classLabels: tf.tensor1d([0, 2], 'int32') }).output;
      const got = await out.data();
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected.output[i]!));
      expect(worst).toBeLessThan(1e-4);
      tf.dispose([x, out]);
      model.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('picks the hybrid convolution on wasm (no Conv2DBackpropFilter) and matches cpu (relative gradient error < 1e-3)', async () => {
    if (!wasmOk) return expect.soft(wasmOk, 'wasm backend unavailable').toBe(true);
    const net = new UNetDenoiser(tiny(), { rng: new Rng(1) });
    randomize(net, 2, 0.3);
    const ref = await lossAndGrads(net);
    await tf.setBackend('wasm');
    expect(defaultConvImpl()).toBe('hybrid');
    const got = await lossAndGrads(net);
    await tf.setBackend('cpu');
    expect(got.loss).toBeCloseTo(ref.loss, 2);
    expect(Object.keys(got.grads).sort()).toEqual(Object.keys(ref.grads).sort());
    expect(Object.keys(ref.grads).length).toBe(net.namedParameters().length);
    let worst = 0;
    for (const [n, gr] of Object.entries(ref.grads)) {
      const w = got.grads[n];
      for (let i = 0; i < gr.length; i++) worst = Math.max(worst, Math.abs(gr[i] - w[i]) / (1 + Math.abs(gr[i])));
    }
    expect(worst).toBeLessThan(1e-3);
    net.dispose();
  });
});
