import * as tf from '@tensorflow/tfjs-core';
import '../src/index.js'; // registers the bricks (the named imports below may be type-only)
import { describe, expect, it } from 'vitest';
import { Rng, ShapeError, build, gradCheckVariables } from '@brickml/core';
import { PerceiverDecoder, PerceiverEncoder, PerceiverIO, type PerceiverIOConfig } from '../src/index.js';
import { maxAbsDiff, paramShapes, projectionLoss, randn, randomizeParameters } from './helpers.js';

const small = { type: 'PerceiverEncoder', inputDim: 6, numLatents: 4, latentDim: 8, crossHeads: 1, selfHeads: 2, selfAttendsPerBlock: 1 };

describe('PerceiverEncoder', () => {
  it('maps [B, M, C] to latents [B, N, D] and its latents are invariant to permuting the inputs', async () => {
    const rng = new Rng(1);
    const enc = build<PerceiverEncoder>({ ...small, numBlocks: 2 }, { rng });
    const x = randn(rng, [2, 9, 6]);
    const z = enc.forward(x);
    expect(z.shape).toEqual([2, 4, 8]);
    const idx = tf.tensor1d([4, 8, 0, 2, 7, 1, 3, 6, 5], 'int32');
    const zp = tf.tidy(() => enc.forward(tf.gather(x, idx, 1)));
    expect(await maxAbsDiff(z, zp)).toBeLessThan(1e-5);
    tf.dispose([x, z, idx, zp]);
    enc.dispose();
  });

  it('masked input elements are ignored: padding + inputMask equals the unpadded inputs', async () => {
    const rng = new Rng(2);
    const enc = build<PerceiverEncoder>(small, { rng });
    const x = randn(rng, [1, 5, 6]);
    const padded = tf.concat([x, randn(rng, [1, 3, 6], 5)], 1);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 0, 0, 0]], [1, 8], 'bool');
    const a = enc.forward(x);
    const b = enc.forward(padded, { inputMask: mask });
    expect(await maxAbsDiff(a, b)).toBeLessThan(1e-5);
    tf.dispose([x, padded, mask, a, b]);
    enc.dispose();
  });

  it('shares self-attention weights across repeats (deepmind names), or not', async () => {
    const shared = build<PerceiverEncoder>({ ...small, selfAttendsPerBlock: 2, numBlocks: 3 }, { rng: new Rng(3) });
    const once = build<PerceiverEncoder>({ ...small, selfAttendsPerBlock: 2, numBlocks: 1 }, { rng: new Rng(3) });
    const untied = build<PerceiverEncoder>({ ...small, selfAttendsPerBlock: 2, numBlocks: 3, shareWeights: false }, { rng: new Rng(3) });
    expect(shared.numParameters()).toBe(once.numParameters());
    expect(untied.self_attends.length).toBe(6);
    expect(untied.numParameters() - once.numParameters()).toBe(4 * (once.self_attends[0].numParameters()));
    const names = shared.namedParameters().map(([n]) => n);
    expect(names.slice(0, 4)).toEqual(['latents', 'cross_attend.norm1.weight', 'cross_attend.norm1.bias', 'cross_attend.norm_context.weight']);
    expect(names).toContain('self_attends.1.attn.q.weight');
    // Repeats are applied: 3 passes through the shared layers differ from 1.
    const x = randn(new Rng(4), [1, 7, 6]);
    const a = shared.forward(x), b = once.forward(x);
    expect(await maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
    tf.dispose([x, a, b]);
    [shared, once, untied].forEach((m) => m.dispose());
  });

  it('HiP grouping: each group is read by its own latents and groups stay independent at level 0', async () => {
    const rng = new Rng(5);
    const enc = build<PerceiverEncoder>({ ...small, groups: 4 }, { rng });
    expect(enc.latents.shape).toEqual([4, 4, 8]);
    const x = randn(rng, [2, 16, 6]);
    const z = enc.forward(x); // [2, 16, 8]: 4 groups × 4 latents
    expect(z.shape).toEqual([2, 16, 8]);
    // change only group 3's inputs (elements 12..15)
    const x2 = tf.concat([tf.slice(x, [0, 0, 0], [2, 12, 6]), randn(rng, [2, 4, 6])], 1);
    const z2 = enc.forward(x2);
    const head = (t: tf.Tensor) => tf.slice(t, [0, 0, 0], [2, 12, 8]);
    const tail = (t: tf.Tensor) => tf.slice(t, [0, 12, 0], [2, 4, 8]);
    expect(await maxAbsDiff(head(z), head(z2))).toBeLessThan(1e-6);
    expect(await maxAbsDiff(tail(z), tail(z2))).toBeGreaterThan(1e-4);
    // M not divisible by the groups: zero-padded and masked, equal to an explicit mask
    const x14 = tf.slice(x, [0, 0, 0], [2, 14, 6]);
    const zPad = enc.forward(x14);
    const mask = tf.concat([tf.ones([2, 14], 'bool'), tf.zeros([2, 2], 'bool')], 1);
    const zMask = enc.forward(tf.concat([x14, tf.fill([2, 2, 6], 3)], 1), { inputMask: mask });
    expect(await maxAbsDiff(zPad, zMask)).toBeLessThan(1e-6);
    tf.dispose([x, z, x2, z2, x14, zPad, mask, zMask]);
    enc.dispose();
  });

  it('HiP levels regroup by reshape (neighbouring groups merge) with new per-group latents', async () => {
    const rng = new Rng(6);
    const enc = build<PerceiverEncoder>(
      { ...small, groups: 4, hipLevels: [{ groups: 2, numLatents: 3, latentDim: 12, heads: 2, selfAttends: 1 }, { groups: 1, numLatents: 2, latentDim: 8, heads: 2 }] },
      { rng },
    );
    expect(enc.levels[0].latents.shape).toEqual([2, 3, 12]);
    expect(enc.levels[1].latents.shape).toEqual([2, 8]);
    expect(enc.outputLatents).toBe(2);
    expect(enc.namedParameters().map(([n]) => n)).toContain('levels.0.cross_attend.attn.k.weight');
    const x = randn(rng, [1, 16, 6]);
    expect(enc.forward(x).shape).toEqual([1, 2, 8]);
    // level 1 group 0 reads level-0 groups 0 and 1 only
    const one = build<PerceiverEncoder>({ ...small, groups: 4, hipLevels: [{ groups: 2, numLatents: 3, latentDim: 12, heads: 2 }] }, { rng });
    const a = one.forward(x);
    const b = one.forward(tf.concat([tf.slice(x, [0, 0, 0], [1, 8, 6]), randn(rng, [1, 8, 6])], 1));
    expect(await maxAbsDiff(tf.slice(a, [0, 0, 0], [1, 3, 12]), tf.slice(b, [0, 0, 0], [1, 3, 12]))).toBeLessThan(1e-6);
    expect(() => build({ ...small, groups: 4, hipLevels: [{ groups: 3, numLatents: 2, latentDim: 8 }] })).toThrow(
      /'hipLevels.0.groups' \(3\) must divide the previous level's groups \(4\)/,
    );
    tf.dispose([x, a, b]);
    enc.dispose();
    one.dispose();
  });

  it('gradients match finite differences (masked, grouped, HiP): float32, eps 1e-2, atol 2e-3, rtol 2e-2', async () => {
    const rng = new Rng(7);
    const enc = build<PerceiverEncoder>(
      { ...small, groups: 2, selfMlpRatio: 2, hipLevels: [{ groups: 1, numLatents: 2, latentDim: 8, heads: 2, selfAttends: 1, mlpRatio: 1 }] },
      { rng },
    );
    randomizeParameters(enc, 3, 0.4);
    const x = randn(rng, [2, 7, 6], 0.8);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1, 0], [1, 0, 1, 1, 1, 1, 1]], [2, 7], 'bool');
    const r = await gradCheckVariables(() => projectionLoss(enc.forward(x, { inputMask: mask })), enc.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 8 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    tf.dispose([x, mask]);
    enc.dispose();
  });
});

describe('PerceiverDecoder', () => {
  it('decodes any number of queries; a subset of learned queries equals those rows of the full output', async () => {
    const rng = new Rng(8);
    const dec = build<PerceiverDecoder>({ type: 'PerceiverDecoder', latentDim: 8, queryDim: 6, numQueries: 10, outDim: 3 }, { rng });
    const z = randn(rng, [2, 4, 8]);
    const full = dec.forward(z);
    expect(full.shape).toEqual([2, 10, 3]);
    const sub = dec.forward(z, { queryIndices: [7, 2, 2] });
    const rows = tf.gather(full, tf.tensor1d([7, 2, 2], 'int32'), 1);
    expect(await maxAbsDiff(sub, rows)).toBeLessThan(1e-6);
    // explicit queries, shared [O, E] or per example [B, O, E]
    const q = randn(rng, [5, 6]);
    const a = dec.forward(z, { queries: q });
    const b = dec.forward(z, { queries: tf.stack([q, q]) });
    expect(a.shape).toEqual([2, 5, 3]);
    expect(await maxAbsDiff(a, b)).toBe(0);
    expect(() => dec.forward(z, { queryIndices: [10] })).toThrow(/'queryIndices' must be integers in \[0, 10\)/);
    expect(() => dec.forward(z, { queries: randn(rng, [5, 7]) })).toThrow(/PerceiverDecoder.*'queries'.*\[\*, 6\].*\[5, 7\]/);
    randomizeParameters(dec, 2, 0.5); // O(1) queries: LayerNorm of std-0.02 rows is too steep for finite differences
    const r = await gradCheckVariables(() => projectionLoss(dec.forward(z, { queryIndices: [1, 4] })), dec.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    tf.dispose([z, full, sub, rows, q, a, b]);
    dec.dispose();
  });
});

const ioConfig: PerceiverIOConfig = {
  inputPosition: { type: 'FourierPositionEncoding', indexDims: [4, 4], numBands: 2 },
  inputAdapter: { type: 'MLP', dim: 3 + 10, hidden: 16, outDim: 12 },
  encoder: { type: 'PerceiverEncoder', inputDim: 12, numLatents: 4, latentDim: 8, selfHeads: 2, selfAttendsPerBlock: 1 },
  decoder: { type: 'PerceiverDecoder', latentDim: 8, queryDim: 8, numQueries: 1, outDim: 3 },
};

describe('PerceiverIO', () => {
  it('takes images [B, C, H, W] as pixel arrays [B, H·W, C] (row-major) and round-trips its config', async () => {
    const rng = new Rng(9);
    const io = build<PerceiverIO>({ type: 'PerceiverIO', ...ioConfig }, { rng: new Rng(1) });
    const img = randn(rng, [2, 3, 4, 4]);
    const pixels = tf.transpose(tf.reshape(img, [2, 3, 16]), [0, 2, 1]);
    const a = io.forward(img), b = io.forward(pixels);
    expect(a.shape).toEqual([2, 1, 3]);
    expect(await maxAbsDiff(a, b)).toBe(0);
    const json = JSON.parse(JSON.stringify(io.toConfig()));
    const io2 = build<PerceiverIO>(json, { rng: new Rng(1) });
    expect(io2.toConfig()).toEqual(io.toConfig());
    expect(paramShapes(io2)).toEqual(paramShapes(io));
    expect(await maxAbsDiff(io2.forward(img), a)).toBe(0);
    expect(io.namedParameters()[0][0]).toBe('input_adapter.fc1.weight');
    tf.dispose([img, pixels, a, b]);
    io.dispose();
    io2.dispose();
  });

  it('shape errors name the brick path and both shapes; config errors name the field', () => {
    const io = build<PerceiverIO>({ type: 'PerceiverIO', ...ioConfig, inputAdapter: null, encoder: { ...(ioConfig.encoder as object), inputDim: 13 } });
    const bad = tf.zeros([2, 4, 4, 5]); // 4 channels... as elements: [2, 4, 4·?] → rank 4 is an image [B, C=4, H=4, W=5]
    expect(() => io.forward(bad)).toThrow(ShapeError);
    expect(() => io.forward(tf.zeros([2, 16, 4]))).toThrow(/PerceiverEncoder 'encoder': argument 'inputs' expected shape \[\*, \*, 13\], got \[2, 16, 14\]/);
    expect(() => build({ type: 'PerceiverIO', ...ioConfig, decoder: { ...(ioConfig.decoder as object), latentDim: 9 } })).toThrow(
      /'decoder.latentDim' \(9\) must equal the encoder's output latent width \(8\)/,
    );
    expect(() => build({ type: 'PerceiverIO', ...ioConfig, inputAdapter: { type: 'LayerNorm', dim: 13 } })).toThrow(/'inputAdapter' must be a MLP or Linear config/);
    expect(() => build({ type: 'PerceiverIO', ...ioConfig, encoder: { ...(ioConfig.encoder as object), numLatents: 0 } })).toThrow(
      /PerceiverEncoder 'encoder': config field 'numLatents'/,
    );
    bad.dispose();
    io.dispose();
  });

  it('gradients match finite differences end to end (float32, eps 1e-2, atol 2e-3, rtol 2e-2)', async () => {
    const io = build<PerceiverIO>({ type: 'PerceiverIO', ...ioConfig }, { rng: new Rng(10) });
    randomizeParameters(io, 4, 0.3);
    const x = randn(new Rng(11), [2, 3, 4, 4], 0.8);
    const r = await gradCheckVariables(() => projectionLoss(io.forward(x)), io.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 6 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    x.dispose();
    io.dispose();
  });
});
