import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, build, gradCheckVariables, shapes } from '@brickml/core';
import { MaskedAutoencoder, gatherTokens, maeLoss, randomMasking, scatterTokens } from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());
const tiny = (seed = 0, extra: Record<string, unknown> = {}) =>
  new MaskedAutoencoder({ imageSize: 16, patchSize: 4, dim: 16, depth: 1, heads: 2, decoderDim: 16, decoderDepth: 1, decoderHeads: 2, ...extra }, { rng: new Rng(seed) });

describe('random masking', () => {
  it('keeps ⌊L(1 − r)⌋ tokens per sample, distinct per sample, deterministic under a seed', () => {
    const m = randomMasking(3, 16, 0.75, new Rng(1));
    expect(m.keep).toBe(4);
    for (let b = 0; b < 3; b++) {
      const removed = m.mask.subarray(b * 16, (b + 1) * 16).reduce((a, c) => a + c, 0);
      expect(removed).toBe(12);
      const kept = Array.from(m.idsKeep.subarray(b * 4, (b + 1) * 4));
      kept.forEach((p) => expect(m.mask[b * 16 + p]).toBe(0));
      // ids_restore is the inverse of the shuffle: kept position kept[k] has rank k
      kept.forEach((p, k) => expect(m.idsRestore[b * 16 + p]).toBe(k));
    }
    expect(Array.from(m.idsKeep.subarray(0, 4))).not.toEqual(Array.from(m.idsKeep.subarray(4, 8)));
    expect(randomMasking(3, 16, 0.75, new Rng(1))).toEqual(m);
    expect(() => randomMasking(1, 3, 0.9, new Rng(0))).toThrow(/keeps no token of 3/);
  });

  it('gather then restore round-trips the kept tokens and fills the removed ones', async () => {
    const x = new Rng(2).normalTensor([2, 8, 3]);
    const m = randomMasking(2, 8, 0.5, new Rng(3));
    const vis = gatherTokens(x, m);
    expect(vis.shape).toEqual([2, 4, 3]);
    const fill = tf.tensor1d([7, 8, 9]);
    const back = scatterTokens(vis, m, fill);
    const xv = await host(x);
    const bv = await host(back);
    for (let b = 0; b < 2; b++) {
      for (let l = 0; l < 8; l++) {
        for (let d = 0; d < 3; d++) {
          const i = (b * 8 + l) * 3 + d;
          expect(bv[i]).toBeCloseTo(m.mask[b * 8 + l] ? [7, 8, 9][d] : xv[i], 6);
        }
      }
    }
    // gradients flow through the one-hot gather (no gather kernel gradient needed)
    const g = tf.grad((t: tf.Tensor) => tf.sum(gatherTokens(t, m)))(x);
    const gv = await host(g);
    for (let b = 0; b < 2; b++) for (let l = 0; l < 8; l++) expect(gv[(b * 8 + l) * 3]).toBe(m.mask[b * 8 + l] ? 0 : 1);
    tf.dispose([x, vis, fill, back, g]);
  });
});

describe('MAE loss', () => {
  it('counts only the removed patches; normalised targets by hand', async () => {
    const target = new Rng(4).normalTensor([1, 4, 6]);
    const mask = tf.tensor2d([[1, 0, 1, 0]]);
    const exact = maeLoss(target, target, mask);
    expect((await host(exact))[0]).toBe(0);
    // changing a kept patch leaves the loss at 0; changing a removed one does not
    const kept = tf.add(target, tf.tensor3d([[[0], [5], [0], [0]]]).tile([1, 1, 6]));
    expect((await host(maeLoss(kept, target, mask)))[0]).toBe(0);
    const removed = tf.add(target, tf.tensor3d([[[0], [0], [2], [0]]]).tile([1, 1, 6]));
    expect((await host(maeLoss(removed, target, mask)))[0]).toBeCloseTo(4 / 2, 5); // (2² on one patch of two)
    // norm_pix: target (x − μ)/√(σ² + 1e-6) per patch
    const t = tf.tensor3d([[[1, 2, 3, 4]]]);
    const mu = 2.5, v = 1.25;
    const normed = [1, 2, 3, 4].map((x) => (x - mu) / Math.sqrt(v + 1e-6));
    expect((await host(maeLoss(tf.tensor3d([[normed]]), t, tf.ones([1, 1]), true)))[0]).toBeCloseTo(0, 6);
  });
});

describe('MaskedAutoencoder', () => {
  it('encodes the visible tokens only, decodes every patch, round-trips its config', async () => {
    const mae = tiny();
    const x = new Rng(5).normalTensor([2, 3, 16, 16]);
    const out = mae.forward(x, { rng: new Rng(6) });
    expect(out.pred.shape).toEqual([2, 16, 48]);
    expect(out.mask.shape).toEqual([2, 16]);
    expect((await host(tf.sum(out.mask)))[0]).toBe(24);
    // the encoder sees K = 4 tokens: its blocks run on [B, 4, dim]
    const seen: number[][] = [];
    const block = mae.encoder.blocks[0];
    const orig = block.forward.bind(block);
    block.forward = ((t: tf.Tensor, ...rest: unknown[]) => {
      seen.push(t.shape);
      return (orig as any)(t, ...rest);
    }) as typeof block.forward;
    tf.dispose(mae.forward(x, { rng: new Rng(6) }));
    expect(seen).toEqual([[2, 4, 16]]);
    // the returned loss is maeLoss on the returned prediction and mask
    const again = maeLoss(out.pred, mae.patchify(x), out.mask);
    expect((await host(again))[0]).toBeCloseTo((await host(out.loss))[0], 5);
    expect(tf.util.arraysEqual(mae.unpatchify(mae.patchify(x)).shape, x.shape)).toBe(true);
    expect(build<MaskedAutoencoder>(mae.toConfig()).toConfig()).toEqual(mae.toConfig());
    expect(() => tiny(0, { decoderDim: 10, decoderHeads: 4 })).toThrow(/'decoderDim' \(10\) must be divisible by 'decoderHeads' \(4\)/);
    tf.dispose([x, out.loss, out.pred, out.mask, again]);
    mae.dispose();
  });

  it('has correct parameter gradients through the masking (finite differences)', async () => {
    const mae = new MaskedAutoencoder({ imageSize: 8, patchSize: 4, dim: 8, depth: 1, heads: 2, decoderDim: 8, decoderDepth: 1, decoderHeads: 2, mlpRatio: 1, maskRatio: 0.5 }, { rng: new Rng(2) });
    const x = new Rng(3).normalTensor([2, 3, 8, 8]);
    const masking = randomMasking(2, 4, 0.5, new Rng(4));
    const r = await gradCheckVariables(() => mae.forward(x, { masking }).loss, mae.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 3e-2, maxChecks: 6 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    x.dispose();
    mae.dispose();
  });

  it('the loss falls on shapes, without leaking tensors', async () => {
    const mae = tiny(1, { normPixLoss: false });
    const data = shapes({ size: 16, batchSize: 16, seed: 2 });
    const opt = new AdamW(mae.namedParameters(), { lr: 3e-3, weightDecay: 0.05, betas: [0.9, 0.95] });
    const rng = new Rng(3);
    const losses: number[] = [];
    const counts: number[] = [];
    for (let s = 0; s < 40; s++) {
      const batch = data.next();
      const { value, grads } = tf.variableGrads(() => mae.forward(batch.images, { rng }).loss, mae.parameters());
      opt.step(new Map(mae.namedParameters().map(([n, v]) => [n, grads[v.name]])));
      losses.push((await value.data())[0]);
      tf.dispose([value, ...Object.values(grads), batch]);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    const first = losses.slice(0, 5).reduce((a, c) => a + c) / 5;
    const last = losses.slice(-5).reduce((a, c) => a + c) / 5;
    expect(last).toBeLessThan(first * 0.7);
    opt.dispose();
    mae.dispose();
  });
});
