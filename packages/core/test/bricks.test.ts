import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  BrickConfigError, Dropout, Embedding, LayerNorm, Linear, MLP, PatchEmbed, PatchUnembed, RMSNorm, Rng, Sequential,
  ShapeError, build, gradCheck, gradCheckVariables, registeredBricks,
} from '../src/index.js';

describe('brick configs', () => {
  const configs = [
    { type: 'Linear', inFeatures: 4, outFeatures: 3 },
    { type: 'LayerNorm', dim: 4, eps: 1e-6 },
    { type: 'RMSNorm', dim: 4 },
    { type: 'MLP', dim: 4, hidden: 8, activation: 'swiglu' },
    { type: 'Embedding', numEmbeddings: 10, dim: 4 },
    { type: 'Dropout', p: 0.2 },
    { type: 'PatchEmbed', channels: 3, patchSize: 2, dim: 8 },
    { type: 'PatchUnembed', channels: 3, patchSize: [2, 4], dim: 8, tubelet: 2 },
    { type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 4, outFeatures: 8 }, { type: 'MLP', dim: 8, hidden: 16 }] },
  ];
  it.each(configs)('$type round-trips through JSON', (cfg) => {
    const m = build(cfg, { rng: new Rng(1) });
    const json = JSON.parse(JSON.stringify(m.toConfig()));
    const again = build(json, { rng: new Rng(1) });
    expect(again.toConfig()).toEqual(m.toConfig());
    expect(again.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(m.namedParameters().map(([n, p]) => [n, p.shape]));
  });
  it('registers every core brick', () => {
    for (const t of ['Linear', 'LayerNorm', 'RMSNorm', 'MLP', 'Embedding', 'Dropout', 'Sequential', 'PatchEmbed', 'PatchUnembed']) {
      expect(registeredBricks()).toContain(t);
    }
  });
  it('names nested parameters PyTorch-style', () => {
    const m = build({ type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 4, outFeatures: 8 }, { type: 'MLP', dim: 8, hidden: 16 }] });
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'layers.0.weight', 'layers.0.bias', 'layers.1.fc1.weight', 'layers.1.fc1.bias', 'layers.1.fc2.weight', 'layers.1.fc2.bias',
    ]);
    expect(m.numParameters()).toBe(4 * 8 + 8 + 8 * 16 + 16 + 16 * 8 + 8);
  });
  it('unknown types name the package that provides them', () => {
    expect(() => build({ type: 'RinNetwork' })).toThrow(/@brickml\/attention.*npm install @brickml\/attention/);
    expect(() => build({ type: 'NoSuchBrick' })).toThrow(/unknown brick type 'NoSuchBrick'.*Linear/);
  });
  it('bad configs fail before any tensor is made, naming the field', () => {
    const before = tf.memory().numTensors;
    expect(() => build({ type: 'Linear', inFeatures: 4 })).toThrow(BrickConfigError);
    expect(() => build({ type: 'Linear', inFeatures: 4 })).toThrow(/Linear: config field 'outFeatures'.*got nothing/);
    expect(() => build({ type: 'Linear', inFeatures: '4', outFeatures: 2 })).toThrow(/field 'inFeatures'.*got "4"/);
    expect(() => build({ type: 'Linear', inFeatures: -1, outFeatures: 2 })).toThrow(/field 'inFeatures'.*got -1/);
    expect(() => build({ type: 'Dropout', p: 1.5 })).toThrow(/field 'p'.*got 1.5/);
    expect(() => build({ type: 'MLP', dim: 4, hidden: 4, activation: 'swish' })).toThrow(/field 'activation'.*got "swish"/);
    expect(() => build({ type: 'Linear', inFeatures: 4, outFeatures: 2, bais: false })).toThrow(/bais/);
    expect(() => build({ type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 4, outFeatures: 8 }, { type: 'Linear', inFeatures: 0, outFeatures: 1 }] })).toThrow(/inFeatures/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('shape contracts', () => {
  it('errors name the brick path, the argument, expected and actual shapes', () => {
    const m = build({ type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 4, outFeatures: 8 }, { type: 'MLP', dim: 6, hidden: 16 }] }) as Sequential;
    expect(() => m.forward(tf.zeros([2, 4]))).toThrow(ShapeError);
    expect(() => m.forward(tf.zeros([2, 4]))).toThrow(/MLP 'layers.1': argument 'x' expected shape \[\.\.\., 6\], got \[2, 8\]/);
    const pe = new PatchEmbed({ channels: 3, patchSize: 4, dim: 8 });
    expect(() => pe.forward(tf.zeros([1, 3, 6, 8]))).toThrow(/PatchEmbed.*\[1, 3, 6, 8\].*H divisible by 4/);
    expect(() => pe.forward(tf.zeros([1, 1, 8, 8]))).toThrow(/expected shape \[\*, 3, \*, \*\], got \[1, 1, 8, 8\]/);
  });
});

describe('bricks compute', () => {
  it('Linear/LayerNorm/RMSNorm/MLP/SwiGLU gradients match finite differences', async () => {
    const rng = new Rng(3);
    const x = rng.normalTensor([2, 3, 4]);
    const bricks = [
      new Linear({ inFeatures: 4, outFeatures: 5 }, { rng }),
      new LayerNorm({ dim: 4 }),
      new RMSNorm({ dim: 4 }),
      new MLP({ dim: 4, hidden: 6, activation: 'gelu', init: 'xavierUniform' }, { rng }),
      new MLP({ dim: 4, hidden: 6, activation: 'swiglu', init: 'xavierUniform' }, { rng }),
    ];
    for (const b of bricks) {
      const proj = rng.normalTensor([(b as any).forward(x).shape.at(-1)]);
      const loss = () => tf.sum(tf.mul((b as any).forward(x), proj)) as tf.Scalar;
      const r = await gradCheckVariables(loss, b.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
      expect(r.ok, `${b.typeName}: ${JSON.stringify(r)}`).toBe(true);
      const rx = await gradCheck((xx) => tf.sum(tf.mul((b as any).forward(xx), proj)) as tf.Scalar, [x], { atol: 2e-3, rtol: 2e-2 });
      expect(rx.ok, `${b.typeName} input: ${JSON.stringify(rx)}`).toBe(true);
    }
  });
  it('same seed gives the same parameters; different seeds differ', async () => {
    const a = new MLP({ dim: 4, hidden: 8 }, { rng: new Rng(5) });
    const b = new MLP({ dim: 4, hidden: 8 }, { rng: new Rng(5) });
    const c = new MLP({ dim: 4, hidden: 8 }, { rng: new Rng(6) });
    expect(Array.from(await a.fc1.weight.data())).toEqual(Array.from(await b.fc1.weight.data()));
    expect(Array.from(await a.fc1.weight.data())).not.toEqual(Array.from(await c.fc1.weight.data()));
  });
  it('truncNormal init has the right spread and zeroInit gives zeros', async () => {
    const l = new Linear({ inFeatures: 256, outFeatures: 256, init: 'truncNormal' }, { rng: new Rng(0) });
    const w = await l.weight.data();
    let s = 0, mx = 0;
    for (const v of w) { s += v * v; mx = Math.max(mx, Math.abs(v)); }
    const std = Math.sqrt(s / w.length);
    expect(std).toBeGreaterThan(0.0165); // truncation at 2σ shrinks the std to ≈ 0.88σ
    expect(std).toBeLessThan(0.0185);
    expect(mx).toBeLessThanOrEqual(0.04 + 1e-7);
    expect(Array.from(await l.bias!.data()).every((v) => v === 0)).toBe(true); // an explicit truncNormal keeps zero biases
    const z = new Linear({ inFeatures: 4, outFeatures: 4, zeroInit: true });
    expect(Array.from(await z.weight.data()).every((v) => v === 0)).toBe(true);
    expect(Array.from(await z.bias!.data()).every((v) => v === 0)).toBe(true);
  });
  it('Dropout zeroes the expected fraction, rescales, and is the identity in eval', async () => {
    const d = new Dropout({ p: 0.25 });
    const y = await d.forward(tf.ones([10000]), new Rng(1)).data();
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros / 10000).toBeGreaterThan(0.23);
    expect(zeros / 10000).toBeLessThan(0.27);
    expect(y.find((v) => v !== 0)).toBeCloseTo(1 / 0.75, 6);
    d.eval();
    const x = tf.ones([5]);
    expect(d.forward(x)).toBe(x);
  });
  it('Embedding looks up rows and rejects float ids', async () => {
    const e = new Embedding({ numEmbeddings: 4, dim: 2 });
    const y = e.forward(tf.tensor1d([3, 1], 'int32'));
    const w = (await e.weight.array()) as number[][];
    expect(await y.array()).toEqual([w[3], w[1]]);
    expect(() => e.forward(tf.tensor1d([1]))).toThrow(/Embedding.*'ids' must be int32, got float32/);
  });
  it('PatchEmbed → PatchUnembed shapes for images and video', () => {
    const pe = new PatchEmbed({ channels: 3, patchSize: 2, dim: 8 });
    const pu = new PatchUnembed({ channels: 3, patchSize: 2, dim: 8 });
    const img = tf.zeros([2, 3, 8, 8]);
    const tok = pe.forward(img);
    expect(tok.shape).toEqual([2, 16, 8]);
    expect(pu.forward(tok, pe.grid(img.shape)).shape).toEqual([2, 3, 8, 8]);
    const pv = new PatchEmbed({ channels: 3, patchSize: 4, tubelet: 2, dim: 8 });
    const puv = new PatchUnembed({ channels: 3, patchSize: 4, tubelet: 2, dim: 8 });
    const vid = tf.zeros([1, 4, 3, 8, 8]);
    const vt = pv.forward(vid);
    expect(vt.shape).toEqual([1, 2 * 2 * 2, 8]);
    expect(puv.forward(vt, pv.grid(vid.shape)).shape).toEqual([1, 4, 3, 8, 8]);
  });
});
