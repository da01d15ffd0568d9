import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  Linear, Rng, classificationReport, imageArrays, evaluateRepresentation, extractFeatures, fitLogisticRegression, knnClassify, knnEval,
  linearProbe, shapes, type Features, type LabelledSet,
} from '../src/index.js';

/** Gaussian clusters: class c centred at `sep`·e_c in `dim` dimensions, unit noise. */
function clusters(n: number, classes: number, dim: number, sep: number, rng: Rng): LabelledSet & { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * dim);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < dim; j++) x[i * dim + j] = rng.normal() + (j === y[i] ? sep : 0);
  }
  return { inputs: { data: x, shape: [n, dim] }, labels: y, x, y };
}

describe('linear probe', () => {
  it('is near 100 % on linearly separable clusters and converges', async () => {
    const rng = new Rng(0);
    const data = { train: clusters(300, 3, 8, 8, rng), test: clusters(150, 3, 8, 8, rng) };
    const before = tf.memory().numTensors;
    const res = await linearProbe((x) => x, data);
    expect(tf.memory().numTensors).toBe(before);
    expect(res.accuracy).toBeGreaterThanOrEqual(0.99);
    expect(res.trainAccuracy).toBeGreaterThanOrEqual(0.99);
    expect(res.fit.converged).toBe(true);
    expect(res.fit.iterations).toBeGreaterThan(1);
    expect(res.fit.gradNorm).toBeLessThanOrEqual(1e-4 * 10);
    expect(res.perClassAccuracy).toHaveLength(3);
    expect(res.confusion.flat().reduce((a, b) => a + b, 0)).toBe(150);
    expect(res.n).toBe(150);
    expect(res.dim).toBe(8);
  });

  it('reaches the optimum: an independent autodiff gradient of the objective is ~0 at the fit', async () => {
    const rng = new Rng(1);
    const d = clusters(200, 3, 5, 1, rng); // overlapping, so the optimum is interior
    const f: Features = { data: d.x, n: 200, dim: 5 };
    const fit = await fitLogisticRegression(f, d.y, 3, { l2: 0.01, standardize: false, gradTol: 1e-5 });
    const g = tf.tidy(() => {
      const x = tf.tensor2d(d.x, [200, 5]);
      const y = tf.oneHot(tf.tensor1d(d.y, 'int32'), 3).toFloat();
      const loss = (w: tf.Tensor, b: tf.Tensor) => tf.add(
        tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, w), b)), tf.mul(0.005, tf.sum(tf.square(w))));
      const [gw, gb] = tf.grads(loss)([tf.tensor2d(fit.weight, [5, 3]), tf.tensor1d(fit.bias)]);
      return tf.max(tf.abs(tf.concat([gw.flatten(), gb]))).dataSync()[0];
    });
    expect(g).toBeLessThan(1e-4);
    expect(fit.converged).toBe(true);
    expect(['gradient', 'loss']).toContain(fit.stop);
  });

  it('is at chance on random labels', async () => {
    const rng = new Rng(2);
    const rand = (n: number): LabelledSet => ({
      inputs: { data: rng.normalArray(n * 10), shape: [n, 10] },
      labels: Int32Array.from({ length: n }, () => rng.int(0, 4)),
    });
    const res = await linearProbe((x) => x, { train: rand(400), test: rand(400) }, { numClasses: 4 });
    expect(res.accuracy).toBeGreaterThan(0.15);
    expect(res.accuracy).toBeLessThan(0.35);
  });

  it('searches a list of l2 values on a validation split', async () => {
    const rng = new Rng(3);
    const data = { train: clusters(200, 2, 4, 2, rng), test: clusters(100, 2, 4, 2, rng) };
    const res = await linearProbe((x) => x, data, { l2: [1e-4, 1e-2, 1] });
    expect(res.fit.l2Search?.map((s) => s.l2)).toEqual([1e-4, 1e-2, 1]);
    expect(res.fit.l2Search?.every((s) => s.validationAccuracy > 0.7)).toBe(true);
    expect([1e-4, 1e-2, 1]).toContain(res.fit.l2);
  });

  it('takes a Module encoder (run in eval mode, mode restored) and tensor inputs', async () => {
    const rng = new Rng(4);
    const lin = new Linear({ inFeatures: 6, outFeatures: 4, bias: true });
    lin.train(true);
    const mk = (n: number) => {
      const c = clusters(n, 2, 6, 6, rng);
      return { inputs: tf.tensor2d(c.x, [n, 6]), labels: tf.tensor1d(c.y, 'int32') };
    };
    const train = mk(100);
    const test = mk(60);
    const before = tf.memory().numTensors;
    const { probe, knn } = await evaluateRepresentation(lin, { train, test }, { batchSize: 32 });
    expect(tf.memory().numTensors).toBe(before);
    expect(lin.training).toBe(true);
    expect(probe.dim).toBe(4);
    expect(probe.accuracy).toBeGreaterThan(0.9);
    expect(knn.accuracy).toBeGreaterThan(0.9);
    tf.dispose([train.inputs, train.labels, test.inputs, test.labels]);
    lin.dispose();
  });

  it('extracts features in batches equal to one pass, without leaks', async () => {
    const rng = new Rng(11);
    const x = rng.normalArray(20 * 5);
    const w = tf.tensor2d(rng.normalArray(5 * 3), [5, 3]);
    const enc = (t: tf.Tensor) => tf.tanh(tf.matMul(t as tf.Tensor2D, w));
    const before = tf.memory().numTensors;
    const f = await extractFeatures(enc, { data: x, shape: [20, 5] }, { batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
    const ref = tf.tidy(() => enc(tf.tensor2d(x, [20, 5])).dataSync());
    expect([f.n, f.dim]).toEqual([20, 3]);
    f.data.forEach((v, i) => expect(v).toBeCloseTo(ref[i], 6));
    w.dispose();
  });

  it('takes an ImageArrayDataset split directly', async () => {
    // Two classes of 4x4 gray images: bright left half vs bright right half, with noise.
    const rng = new Rng(10);
    const n = 120;
    const pixels = new Uint8Array(n * 16);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < 16; p++) {
        const left = p % 4 < 2;
        pixels[i * 16 + p] = Math.round(Math.min(255, Math.max(0, ((left === (labels[i] === 0)) ? 180 : 60) + 40 * rng.normal())));
      }
    }
    const ds = imageArrays({ pixels, shape: [n, 4, 4], labels }, { batchSize: 16, seed: 0 });
    const splits = ds.split(0.25, 1);
    const res = await linearProbe((x) => tf.reshape(x, [x.shape[0], -1]), splits);
    expect(res.n).toBe(30);
    expect(res.accuracy).toBeGreaterThan(0.95);
    const knn = await knnEval((x) => tf.reshape(x, [x.shape[0], -1]), splits);
    expect(knn.accuracy).toBeGreaterThan(0.9);
  });

  it('names the function and argument on bad input', async () => {
    const data = { train: clusters(30, 2, 3, 4, new Rng(5)), test: clusters(10, 2, 3, 4, new Rng(6)) };
    await expect(linearProbe((x) => tf.reshape(x, [-1]), data)).rejects.toThrow(
      'linearProbe: the encoder must return features [30, D] for a batch of 30, got [90] (flatten or pool inside the encoder)');
    await expect(linearProbe((x) => x, { train: { ...data.train, labels: [0, 1] }, test: data.test })).rejects.toThrow(
      'linearProbe: train.labels must hold one label per input (30), got 2');
    await expect(linearProbe((x) => x, data, { l2: -1 })).rejects.toThrow(
      'fitLogisticRegression: l2 must be a number >= 0 or a non-empty list of them, got -1');
  });
});

describe('k-NN', () => {
  it('is exact on well-separated clusters', async () => {
    const rng = new Rng(7);
    const res = await knnEval((x) => x, { train: clusters(200, 4, 6, 10, rng), test: clusters(80, 4, 6, 10, rng) });
    expect(res.accuracy).toBe(1);
    expect(res.k).toBe(20);
    expect(res.vote).toBe('weighted');
    for (let c = 0; c < 4; c++) expect(res.confusion[c][c]).toBe(20);
  });

  it('equals a brute-force reference (weighted and majority), across similarity blocks', async () => {
    const rng = new Rng(8);
    const train: Features = { data: rng.normalArray(60 * 5), n: 60, dim: 5 };
    const query: Features = { data: rng.normalArray(25 * 5), n: 25, dim: 5 };
    const labels = Int32Array.from({ length: 60 }, () => rng.int(0, 3));
    const norm = (f: Features, i: number) => {
      const v = Array.from(f.data.subarray(i * 5, i * 5 + 5));
      const s = Math.hypot(...v);
      return v.map((x) => x / s);
    };
    for (const vote of ['weighted', 'majority'] as const) {
      const got = await knnClassify(train, labels, query, 3, { k: 7, vote, temperature: 0.1, blockSize: 8 });
      for (let q = 0; q < 25; q++) {
        const a = norm(query, q);
        const sims = Array.from({ length: 60 }, (_, i) => ({ i, s: norm(train, i).reduce((acc, v, j) => acc + v * a[j], 0) }));
        sims.sort((x, y) => y.s - x.s);
        const score = [0, 0, 0];
        for (const { i, s } of sims.slice(0, 7)) score[labels[i]] += vote === 'weighted' ? Math.exp(s / 0.1) : 1;
        const best = score.indexOf(Math.max(...score));
        expect(got[q]).toBe(best);
      }
    }
  });

  it('reports per-class accuracy and the confusion matrix', () => {
    const r = classificationReport([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 4);
    expect(r.accuracy).toBeCloseTo(3 / 5, 10);
    expect(r.perClassAccuracy.slice(0, 3)).toEqual([0.5, 1, 0]);
    expect(Number.isNaN(r.perClassAccuracy[3])).toBe(true);
    expect(r.confusion[0]).toEqual([1, 1, 0, 0]);
    expect(r.confusion[2]).toEqual([1, 0, 0, 0]);
  });
});

describe('probe on shapes (shape factor)', () => {
  it('raw pixels vs a random-projection encoder', async () => {
    const ds = shapes({ size: 16, batchSize: 1, seed: 0 });
    const toSet = (s: ReturnType<typeof ds.sample>): LabelledSet => ({ inputs: { data: s.images, shape: s.shape }, labels: s.labels.shape });
    const data = { train: toSet(ds.fixedSplit(800, 1)), test: toSet(ds.fixedSplit(400, 2)) };
    const rng = new Rng(9);
    const proj = tf.tensor2d(rng.normalArray(768 * 256, 0, 1 / Math.sqrt(768)), [768, 256]);
    const raw = (x: tf.Tensor) => tf.reshape(x, [x.shape[0], -1]);
    const random = (x: tf.Tensor) => tf.relu(tf.matMul(raw(x) as tf.Tensor2D, proj));
    const t0 = performance.now();
    const pix = await evaluateRepresentation(raw, data);
    const rp = await evaluateRepresentation(random, data);
    const seconds = (performance.now() - t0) / 1000;
    proj.dispose();
    console.log(JSON.stringify({
      rawPixels: { probe: pix.probe.accuracy, knn: pix.knn.accuracy, iterations: pix.probe.fit.iterations, loss: pix.probe.fit.loss, stop: pix.probe.fit.stop, perClass: pix.probe.perClassAccuracy },
      randomProjection256: { probe: rp.probe.accuracy, knn: rp.knn.accuracy, iterations: rp.probe.fit.iterations, loss: rp.probe.fit.loss, stop: rp.probe.fit.stop, perClass: rp.probe.perClassAccuracy },
      seconds,
    }));
    for (const r of [pix, rp]) {
      expect(r.probe.accuracy).toBeGreaterThan(0.45); // chance is 1/3
      expect(r.knn.accuracy).toBeGreaterThan(0.4);
    }
  });
});
