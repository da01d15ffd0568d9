import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { decode } from 'fast-png';
import { Rng, build, load, save } from '@brickml/core';
import { RinNetwork, rinNetworkFlops } from '@brickml/attention';
import {
  GaussianDiffusion, TransformerDenoiser, classGridPng, denoiserFlops, classRows, ddimSample, evaluateVideoPSNR, readMapsPng, sampleClassGrid,
  shapesDiffusionConfig, shapesRinConfig, shapesTransformerConfig, trajectoryPng, videoDiffusionConfig,
} from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

const tinyVideoRin = {
  type: 'RinNetwork', inputSize: [3, 8, 8], patchSize: 4, numLatents: 4, numBlocks: 1, computeLayers: 1,
  latentDim: 16, interfaceDim: 12, readHeads: 2, latentHeads: 2, writeDepthwiseConv: true,
};

describe('video frame prediction', () => {
  it('context frames enter the network clean (scaled by b); only predicted frames are noised and scored', async () => {
    const model = new GaussianDiffusion(
      { denoiser: { type: 'MlpDenoiser', inputSize: [3, 4, 4], hidden: 16 }, contextFrames: 1, inputScale: 0.5, objective: 'x0' },
      { rng: new Rng(0) },
    );
    expect(model.sampleShape(2)).toEqual([2, 2, 3, 4, 4]);
    expect(model.contextShape(2)).toEqual([2, 1, 3, 4, 4]);
    const x0 = tf.tidy(() => tf.tanh(new Rng(1).normalTensor([2, 3, 3, 4, 4])));
    const b = model.prepareBatch(x0, { rng: new Rng(2) });
    expect(b.input.shape).toEqual([2, 3, 3, 4, 4]);
    const ctxIn = tf.slice(b.input, [0, 0, 0, 0, 0], [2, 1, 3, 4, 4]);
    const ctxWant = tf.tidy(() => tf.mul(tf.slice(x0, [0, 0, 0, 0, 0], [2, 1, 3, 4, 4]), 0.5));
    expect(await maxAbsDiff(ctxIn, ctxWant)).toBe(0);
    // x0 objective: the target is b·x0 of the predicted frames only
    const tgtWant = tf.tidy(() => tf.mul(tf.slice(x0, [0, 1, 0, 0, 0], [2, 2, 3, 4, 4]), 0.5));
    expect(await maxAbsDiff(b.target, tgtWant)).toBeLessThan(1e-7);
    const loss = model.loss(b);
    expect(Number.isFinite((await loss.data())[0])).toBe(true);
    const context = tf.slice(x0, [0, 0, 0, 0, 0], [2, 1, 3, 4, 4]);
    const r = await ddimSample(model, { context, steps: 3, seed: 0 });
    expect(r.samples.shape).toEqual([2, 2, 3, 4, 4]);
    await expect(ddimSample(model, { n: 2, steps: 2 })).rejects.toThrow(/pass 'context'/);
    tf.dispose([x0, b, ctxIn, ctxWant, tgtWant, loss, context, r.samples]);
    model.dispose();
  });

  it('a video RIN predicts frames with per-frame read maps; PSNR is reported next to copy-last-frame', async () => {
    const model = new GaussianDiffusion({ ...videoDiffusionConfig({ frames: 3, context: 1 }), denoiser: tinyVideoRin }, { rng: new Rng(0) });
    const context = new Rng(3).uniformTensor([2, 1, 3, 8, 8], -1, 1);
    const r = await ddimSample(model, { context, steps: 2, seed: 1, readMaps: true });
    expect(r.samples.shape).toEqual([2, 2, 3, 8, 8]);
    expect(r.readMaps!.shape).toEqual([2, 3, 2, 2]); // [n, frames, gh, gw]
    const png = decode(await readMapsPng(r.readMaps!, tf.concat([context, r.samples], 1), { indices: [0] }));
    expect(png.width).toBeGreaterThan(0);
    tf.dispose([context, r.samples]);
    model.dispose();
  });
});

describe('image pipeline and pictures', () => {
  it('the flagship RIN recipe builds; the transformer baseline has a comparable forward cost', () => {
    const rin = build<RinNetwork>(shapesRinConfig(), { rng: new Rng(0) });
    expect(rin.numInterfaceTokens).toBe(64);
    expect(rin.numLatentTokens).toBe(18); // 16 latents + noise token + class token
    const tr = build<TransformerDenoiser>(shapesTransformerConfig(), { rng: new Rng(0) });
    const rinFlops = rinNetworkFlops(rin, 1);
    expect(denoiserFlops(rin, 2)).toBe(2 * rinFlops);
    // transformer by hand: 66 tokens (64 patches + noise + class) of width 64, 3 blocks of
    // attention (q, k, v, out projections + scores + weighted sum) and an MLP ×2, + stem and readout
    const n = 66, d = 64;
    const block = 2 * n * d * d * 4 + 2 * 2 * n * n * d + 2 * n * (d * 2 * d + 2 * d * d);
    const trFlops = 3 * block + 2 * 2 * 64 * 12 * d;
    expect(denoiserFlops(tr, 1)).toBe(trFlops);
    expect(trFlops / rinFlops).toBeGreaterThan(0.95);
    expect(trFlops / rinFlops).toBeLessThan(1.05);
    expect(shapesDiffusionConfig().objective).toBe('v');
    rin.dispose();
    tr.dispose();
  });

  it('a transformer-denoised diffusion model round-trips through save/load and samples identically', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const model = new GaussianDiffusion(
      { ...shapesDiffusionConfig(), denoiser: { ...shapesTransformerConfig({ dim: 16, depth: 1 }), inputSize: [8, 8], patchSize: 4 } },
      { rng: new Rng(0) },
    );
    const dir = await mkdtemp(join(tmpdir(), 'brickml-diffusion-'));
    try {
      await save(model, dir);
      const back = await load<GaussianDiffusion>(dir);
      expect(back).toBeInstanceOf(GaussianDiffusion);
      expect(back.toConfig()).toEqual(model.toConfig());
      const a = await ddimSample(model, { classes: [0, 2], steps: 2, seed: 5, guidance: 1 });
      const b = await ddimSample(back, { classes: [0, 2], steps: 2, seed: 5, guidance: 1 });
      expect(await maxAbsDiff(a.samples, b.samples)).toBe(0);
      tf.dispose([a.samples, b.samples]);
      back.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
      model.dispose();
    }
  });

  it('class grid, trajectory and read-map PNGs have the expected layout', async () => {
    const model = new GaussianDiffusion(
      { ...shapesDiffusionConfig(), denoiser: { ...shapesRinConfig(), inputSize: [8, 8], latentDim: 16, interfaceDim: 12, numLatents: 4 } },
      { rng: new Rng(0) },
    );
    expect(classRows(3, 2)).toEqual([0, 0, 1, 1, 2, 2]);
    const r = await sampleClassGrid(model, { perClass: 2, steps: 3, seed: 0, trajectory: true, readMaps: true });
    expect(r.samples.shape).toEqual([6, 3, 8, 8]);
    const grid = decode(await classGridPng(r.samples, 2, { scale: 3 }));
    // 2 columns × 3 rows of 24-px cells with 2-px padding
    expect([grid.width, grid.height]).toEqual([2 * 24 + 3 * 2, 3 * 24 + 4 * 2]);
    const traj = decode(trajectoryPng(r.trajectory!, { maxSteps: 3, scale: 2 }));
    expect([traj.width, traj.height]).toEqual([3 * 16 + 4 * 2, 2 * 16 + 3 * 2]);
    expect(r.readMaps!.maps).toHaveLength(3);
    expect(r.readMaps!.maps[0]).toHaveLength(2); // one map per block
    expect(r.readMaps!.shape).toEqual([6, 4, 4]);
    // each read map sums to heads · latent tokens (4 + noise + class = 6) = 24 per sample
    const sum = r.readMaps!.maps[0][0].subarray(0, 16).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(4 * 6, 3);
    const maps = decode(await readMapsPng(r.readMaps!, r.samples, { indices: [0, 2], scale: 4 }));
    expect([maps.width, maps.height]).toEqual([3 * 32 + 4 * 2, 2 * 32 + 3 * 2]);
    r.samples.dispose();
    model.dispose();
  });

  it('evaluateVideoPSNR reports per-frame PSNR of model and baseline', async () => {
    const model = new GaussianDiffusion({ ...videoDiffusionConfig({ frames: 3, context: 1 }), denoiser: { ...tinyVideoRin, inputSize: [3, 16, 16] } }, { rng: new Rng(0) });
    const rep = await evaluateVideoPSNR(model, { n: 2, steps: 2 });
    expect(rep.model).toHaveLength(2);
    expect(rep.copyLastFrame).toHaveLength(2);
    expect(rep.meanCopyLastFrame).toBeGreaterThan(10); // sprites move a little per frame
    expect(rep.meanModel).toBeLessThan(rep.meanCopyLastFrame); // untrained
    model.dispose();
  });
});
