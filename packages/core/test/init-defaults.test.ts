/**
 * Default initialisation of core's bricks: PyTorch's (`nn.Linear`: weight and bias U(±1/√fanIn);
 * `nn.Embedding`: N(0, 1)), explicit transformer-style inits unchanged (zero biases, same draws),
 * and the README's two-moons MLP actually learning the moons with these defaults.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Embedding, Linear, MLP, PatchEmbed, PatchUnembed, Rng, Trainer, build, toy2d, type Toy2dBatch } from '../src/index.js';

async function values(t: tf.Tensor | null): Promise<number[]> {
  if (!t) throw new Error('no tensor');
  return Array.from(await t.data());
}

function stats(v: number[]): { mean: number; std: number; maxAbs: number } {
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  return { mean, std, maxAbs: Math.max(...v.map(Math.abs)) };
}

/** Checks that `v` looks like U(±bound): inside the bound, reaching near it, std ≈ bound/√3. */
function expectUniform(v: number[], bound: number, what: string) {
  const s = stats(v);
  expect(s.maxAbs, `${what}: max |v|`).toBeLessThanOrEqual(bound * (1 + 1e-6));
  expect(s.maxAbs, `${what}: max |v| reaches the bound`).toBeGreaterThan(0.9 * bound);
  expect(Math.abs(s.mean), `${what}: mean`).toBeLessThan((0.2 * bound) / Math.sqrt(v.length / 64));
  expect(s.std / (bound / Math.sqrt(3)), `${what}: std / (bound/√3)`).toBeGreaterThan(0.9);
  expect(s.std / (bound / Math.sqrt(3)), `${what}: std / (bound/√3)`).toBeLessThan(1.1);
}

describe('default initialisation follows PyTorch', () => {
  it('Linear: weight and bias U(±1/√inFeatures), as nn.Linear', async () => {
    const l = new Linear({ inFeatures: 50, outFeatures: 600 }, { rng: new Rng(0) });
    expect(l.config.init).toBe('kaimingUniform');
    expect(l.toConfig()).toMatchObject({ init: 'kaimingUniform', biasInit: 'uniform' }); // written out, so a saved config keeps its meaning
    const bound = 1 / Math.sqrt(50);
    expectUniform(await values(l.weight), bound, 'weight');
    expectUniform(await values(l.bias), bound, 'bias');
    // The bias is drawn after the weight, from the same generator (PyTorch's order).
    const r = new Rng(0);
    r.uniformArray(600 * 50);
    const expected = r.uniformArray(600, -bound, bound);
    expect(await values(l.bias)).toEqual(Array.from(expected));
  });

  it('MLP, PatchEmbed and PatchUnembed: every Linear as nn.Linear (fan-in of its own input)', async () => {
    const m = new MLP({ dim: 2, hidden: 400, outDim: 300 }, { rng: new Rng(1) });
    expectUniform(await values(m.fc1.weight), 1 / Math.sqrt(2), 'fc1.weight');
    expectUniform(await values(m.fc1.bias), 1 / Math.sqrt(2), 'fc1.bias');
    expectUniform(await values(m.fc2.weight), 1 / Math.sqrt(400), 'fc2.weight');
    expectUniform(await values(m.fc2.bias), 1 / Math.sqrt(400), 'fc2.bias');
    const pe = new PatchEmbed({ channels: 3, patchSize: 4, dim: 256 }, { rng: new Rng(2) });
    expectUniform(await values(pe.proj.weight), 1 / Math.sqrt(3 * 16), 'PatchEmbed weight'); // nn.Conv2d(3, 256, 4, 4)
    expectUniform(await values(pe.proj.bias), 1 / Math.sqrt(3 * 16), 'PatchEmbed bias');
    const pu = new PatchUnembed({ channels: 3, patchSize: 8, dim: 100 }, { rng: new Rng(3) });
    expectUniform(await values(pu.proj.bias), 1 / Math.sqrt(100), 'PatchUnembed bias');
  });

  it('Embedding: N(0, 1), as nn.Embedding', async () => {
    const e = new Embedding({ numEmbeddings: 100, dim: 100 }, { rng: new Rng(4) });
    expect(e.config.initStd).toBe(1);
    const s = stats(await values(e.weight));
    expect(Math.abs(s.mean)).toBeLessThan(0.04);
    expect(s.std).toBeGreaterThan(0.97);
    expect(s.std).toBeLessThan(1.03);
  });

  it('an explicit non-PyTorch init keeps zero biases and draws exactly what it drew before', async () => {
    const rng = new Rng(5);
    const l = new Linear({ inFeatures: 8, outFeatures: 6, init: 'truncNormal' }, { rng });
    const ref = new Rng(5);
    expect(await values(l.weight)).toEqual(Array.from(ref.truncatedNormalArray(6 * 8, 0.02)));
    expect((await values(l.bias)).every((v) => v === 0)).toBe(true);
    expect(rng.float()).toBe(ref.float()); // nothing drawn for the bias
    expect(l.toConfig()).toMatchObject({ init: 'truncNormal', biasInit: 'zeros' });
    for (const init of ['xavierUniform', 'normal', 'zeros'] as const) {
      const m = new MLP({ dim: 4, hidden: 8, init }, { rng: new Rng(6) });
      expect((await values(m.fc1.bias)).every((v) => v === 0), init).toBe(true);
      expect((await values(m.fc2.bias)).every((v) => v === 0), init).toBe(true);
    }
    const pe = new PatchEmbed({ channels: 3, patchSize: 2, dim: 8, init: 'truncNormal' }, { rng: new Rng(7) });
    expect((await values(pe.proj.bias)).every((v) => v === 0)).toBe(true);
    expect(stats(await values(pe.proj.weight)).maxAbs).toBeLessThanOrEqual(0.04 + 1e-7);
  });

  it('biasInit overrides the rule; zeroInit zeroes both and keeps the draws of the parameters after it', async () => {
    const z = new Linear({ inFeatures: 16, outFeatures: 32, biasInit: 'zeros' }, { rng: new Rng(8) });
    expect((await values(z.bias)).every((v) => v === 0)).toBe(true);
    const u = new Linear({ inFeatures: 16, outFeatures: 400, init: 'truncNormal', biasInit: 'uniform' }, { rng: new Rng(8) });
    expectUniform(await values(u.bias), 1 / 4, 'truncNormal + biasInit uniform');
    expect(new MLP({ dim: 4, hidden: 8, biasInit: 'zeros' }).fc2.config.biasInit).toBe('zeros');

    const a = new Rng(9), b = new Rng(9);
    const zero = new Linear({ inFeatures: 4, outFeatures: 4, zeroInit: true }, { rng: a });
    new Linear({ inFeatures: 4, outFeatures: 4 }, { rng: b });
    expect((await values(zero.weight)).every((v) => v === 0)).toBe(true);
    expect((await values(zero.bias)).every((v) => v === 0)).toBe(true);
    expect(a.float()).toBe(b.float());
  });

  it('configs round-trip with the same parameters for the same seed', async () => {
    for (const cfg of [
      { type: 'Linear', inFeatures: 3, outFeatures: 5 },
      { type: 'Linear', inFeatures: 3, outFeatures: 5, init: 'truncNormal', biasInit: 'uniform' },
      { type: 'MLP', dim: 3, hidden: 7, biasInit: 'zeros' },
      { type: 'Embedding', numEmbeddings: 4, dim: 3 },
    ]) {
      const m = build(cfg, { rng: new Rng(10) });
      const again = build(JSON.parse(JSON.stringify(m.toConfig())), { rng: new Rng(10) });
      for (const [[name, p], [, q]] of m.namedParameters().map((e, i) => [e, again.namedParameters()[i]] as const)) {
        expect(await values(q), `${cfg.type}.${name}`).toEqual(await values(p));
      }
    }
  });
});

describe('the README model learns the two moons with default settings', () => {
  it('MLP({dim: 2, hidden: 64, outDim: 2}), AdamW lr 1e-2, 500 steps of 128: held-out accuracy ≥ 99%', async () => {
    // The README snippet, with a seeded generator for the model (the README uses the global one).
    const model = new MLP({ dim: 2, hidden: 64, outDim: 2 }, { rng: new Rng(0) });
    const optimizer = new AdamW(model, { lr: 1e-2 });
    const trainer = new Trainer<Toy2dBatch>({
      model,
      optimizer,
      data: toy2d({ kind: 'moons', batchSize: 128, seed: 0 }),
      steps: 500,
      progress: 'none',
      loss: ({ x, label }) => tf.losses.softmaxCrossEntropy(tf.oneHot(label, 2), model.forward(x)) as tf.Scalar,
    });
    const history = await trainer.fit();
    // Held out: a separate draw of the same distribution with another seed.
    const test = toy2d({ kind: 'moons', batchSize: 128, seed: 1 }).fixedSplit(2000, 7);
    const pred = tf.tidy(() => tf.argMax(model.forward(tf.tensor2d(test.x, [test.n, 2])), 1));
    const p = await pred.data();
    pred.dispose();
    let right = 0;
    for (let i = 0; i < test.n; i++) right += p[i] === test.label[i] ? 1 : 0;
    const last = history.slice(-20).reduce((s, r) => s + r.loss, 0) / 20;
    expect(right / test.n, `held-out accuracy (final train loss ${last.toFixed(4)})`).toBeGreaterThanOrEqual(0.99);
    expect(last).toBeLessThan(0.02);
    optimizer.dispose();
    model.dispose();
  });
});
