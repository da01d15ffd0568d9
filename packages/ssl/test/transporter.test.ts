// Transporter: spatial softmax coordinates on hand heatmaps, Gaussian maps, the transport equation,
// a gradient check of the whole brick, the loss falling on movingSprites, and the tracking metric.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, build, gradCheck, gradCheckVariables, movingSprites } from '@brickml/core';
import {
  Transporter, gaussianMaps, keypointTrackingError, randomKeypointTracks, spatialSoftmax, transport, transporterKeypointTracks,
} from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());

describe('spatialSoftmax', () => {
  it('returns the expected cell centre (x, y) in image units, per heatmap', async () => {
    // h 2, w 4; keypoint 0: one sharp peak at row 1, column 2; keypoint 1: flat; keypoint 2: two equal peaks
    const logits = new Float32Array(2 * 4 * 3);
    logits[(1 * 4 + 2) * 3 + 0] = 60;
    logits[(0 * 4 + 0) * 3 + 2] = 60;
    logits[(1 * 4 + 3) * 3 + 2] = 60;
    const { coords, probs } = spatialSoftmax(tf.tensor4d(logits, [1, 2, 4, 3]));
    const c = await host(coords);
    expect(coords.shape).toEqual([1, 3, 2]);
    [2.5 / 4, 1.5 / 2, 0.5, 0.5, (0.5 / 4 + 3.5 / 4) / 2, (0.5 / 2 + 1.5 / 2) / 2].forEach((v, i) => expect(c[i]).toBeCloseTo(v, 5));
    (await host(tf.sum(probs, [1, 2]))).forEach((v) => expect(v).toBeCloseTo(1, 5));
    expect(() => spatialSoftmax(tf.zeros([2, 3]))).toThrow(/spatialSoftmax: argument 'logits' expected \[N, h, w, K\], got \[2, 3\]/);
  });
});

describe('gaussianMaps and transport', () => {
  it('Gaussian maps are exp(−d²/2σ²) around the keypoints on the cell centres', async () => {
    const maps = gaussianMaps(tf.tensor3d([[[0.375, 0.125]]]), 4, 4, 0.1); // on the centre of cell (0, 1)
    const m = await host(maps);
    expect(maps.shape).toEqual([1, 4, 4, 1]);
    expect(m[0 * 4 + 1]).toBeCloseTo(1, 6);
    expect(m[0 * 4 + 2]).toBeCloseTo(Math.exp(-(0.25 ** 2) / (2 * 0.01)), 6);
    expect(m[1 * 4 + 2]).toBeCloseTo(Math.exp(-(2 * 0.25 ** 2) / (2 * 0.01)), 6);
    expect(() => gaussianMaps(tf.zeros([1, 2, 3]), 4, 4, 0.1)).toThrow(/expected \[N, K, 2\]/);
  });

  it('one keypoint: Φ̂ = (1 − H_s)(1 − H_t)·Φ_s + H_t·Φ_t; K keypoints apply it in turn', async () => {
    const rng = new Rng(0);
    const hs = rng.uniformTensor([2, 3, 3, 1]);
    const ht = rng.uniformTensor([2, 3, 3, 1]);
    const fs = rng.normalTensor([2, 3, 3, 4]);
    const ft = rng.normalTensor([2, 3, 3, 4]);
    const [a, b, p, q] = await Promise.all([hs, ht, fs, ft].map(host));
    const out = await host(transport(hs, ht, fs, ft));
    out.forEach((v, i) => {
      const cell = Math.floor(i / 4);
      expect(v).toBeCloseTo((1 - a[cell]!) * (1 - b[cell]!) * p[i]! + b[cell]! * q[i]!, 5);
    });
    // two keypoints = the equation applied twice
    const hs2 = rng.uniformTensor([2, 3, 3, 2]);
    const ht2 = rng.uniformTensor([2, 3, 3, 2]);
    const k = (t: tf.Tensor, i: number) => tf.slice(t, [0, 0, 0, i], [2, 3, 3, 1]);
    const twice = transport(k(hs2, 1), k(ht2, 1), transport(k(hs2, 0), k(ht2, 0), fs, ft), ft);
    const both = transport(hs2, ht2, fs, ft);
    const [x, y] = await Promise.all([host(twice), host(both)]);
    y.forEach((v, i) => expect(v).toBeCloseTo(x[i]!, 5));
    expect(() => transport(hs, ht2, fs, ft)).toThrow(/transport: arguments 'sourceMaps' and 'targetMaps' expected equal shapes/);
    expect(() => transport(hs, ht, fs, tf.zeros([2, 3, 3, 5]))).toThrow(/transport: arguments 'sourceFeatures' and 'targetFeatures'/);
  });
});

describe('Transporter', () => {
  it('has correct gradients (parameters and frames) on a tiny case, reference names, and a round-tripping config', async () => {
    const model = new Transporter({ numKeypoints: 2, channels: 3, downsample: 1, norm: 'none', gaussianStd: 0.2 }, { rng: new Rng(1) });
    expect(build<Transporter>(model.toConfig()).toConfig()).toEqual(model.toConfig());
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toContain('feature_encoder.convs.0.weight');
    expect(names).toContain('keypoint_head.weight');
    expect(names).toContain('refine_net.convs.2.bias');
    const rng = new Rng(2);
    const src = rng.normalTensor([1, 4, 4, 3]);
    const tgt = rng.normalTensor([1, 4, 4, 3]);
    // eps 1e-3: at 1e-2 a finite difference straddles ReLU kinks (an error of 3e-3 on one bias)
    const r = await gradCheckVariables(() => model.loss(src, tgt), model.parameters(), { eps: 1e-3, atol: 5e-4, rtol: 3e-2, maxChecks: 24 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    const rx = await gradCheck((a, b) => model.loss(a, b), [src, tgt], { eps: 1e-3, atol: 5e-4, rtol: 3e-2 });
    expect(rx.ok, JSON.stringify(rx.worst)).toBe(true);
    const kp = model.keypoints(src);
    expect(kp.coords.shape).toEqual([1, 2, 2]);
    expect(kp.maps.shape).toEqual([1, 2, 2, 2]);
    expect(() => model.loss(tf.zeros([1, 5, 5, 3]), tf.zeros([1, 5, 5, 3]))).toThrow(/divisible by 2\^downsample = 2, got \[1, 5, 5, 3\]/);
    expect(() => model.loss(src, tf.zeros([2, 4, 4, 3]))).toThrow(/equal shapes/);
    tf.dispose([src, tgt, kp.coords, kp.maps]);
    model.dispose();
  });

  it('reconstruction loss falls on movingSprites without leaking tensors', async () => {
    const model = new Transporter({ numKeypoints: 3, channels: 4, downsample: 1 }, { rng: new Rng(0) });
    const data = movingSprites({ size: 16, frames: 3, batchSize: 4, seed: 1, layout: 'nhwc' });
    const opt = new AdamW(model.namedParameters(), { lr: 1e-2, weightDecay: 0 });
    const losses: number[] = [];
    let mid = 0;
    for (let s = 0; s < 12; s++) {
      const b = data.next();
      const { value, grads } = tf.variableGrads(() => {
        const [n, T, H, W, C] = b.videos.shape;
        const src = tf.reshape(tf.slice(b.videos, [0, 0, 0, 0, 0], [n, 1, H, W, C]), [n, H, W, C]);
        const tgt = tf.reshape(tf.slice(b.videos, [0, T - 1, 0, 0, 0], [n, 1, H, W, C]), [n, H, W, C]);
        return model.loss(src, tgt);
      }, model.parameters());
      opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
      losses.push((await value.data())[0]!);
      tf.dispose([value, ...Object.values(grads), b]);
      if (s === 2) mid = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(mid);
    const first = losses.slice(0, 3).reduce((a, c) => a + c) / 3;
    const last = losses.slice(-3).reduce((a, c) => a + c) / 3;
    expect(last).toBeLessThan(0.8 * first);
    opt.dispose();
    model.dispose();
  });
});

describe('keypoint tracking error', () => {
  it('is 0 for keypoints on the sprite centres, the shift in pixels for shifted ones; random tracks are far', async () => {
    const sample = movingSprites({ size: 16, frames: 3, numSprites: 1, batchSize: 1, seed: 3, layout: 'nhwc' }).fixedSplit(4, 1);
    const { n, frames: T } = sample;
    const tracks = new Float32Array(n * T * 2 * 2); // K = 2: the centre and a far corner
    for (let i = 0; i < n * T; i++) {
      tracks[i * 4] = sample.labels.positions[i * 2]! + 0.1;
      tracks[i * 4 + 1] = sample.labels.positions[i * 2 + 1]!;
      tracks[i * 4 + 2] = -5;
      tracks[i * 4 + 3] = -5;
    }
    const e = keypointTrackingError({ tracks, n, frames: T, numKeypoints: 2 }, sample);
    expect(e.count).toBe(n * T);
    expect(e.meanPixels).toBeCloseTo(1.6, 4);
    const r = keypointTrackingError(randomKeypointTracks(sample, 2, new Rng(0)), sample);
    expect(r.meanPixels).toBeGreaterThan(1.6);
    const model = new Transporter({ numKeypoints: 2, channels: 4 }, { rng: new Rng(0) });
    const kt = await transporterKeypointTracks(model, sample);
    expect(kt.tracks.length).toBe(n * T * 2 * 2);
    expect(model.training).toBe(true);
    expect(() => keypointTrackingError({ tracks, n: n + 1, frames: T, numKeypoints: 2 }, sample)).toThrow(/tracks are for 5 videos × 3 frames, the sample has 4 × 3/);
    model.dispose();
  });
});
