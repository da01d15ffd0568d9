// Augmentations and the k-NN / probe kernels on the wasm backend, against the cpu results.
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Rng, byolAugment, knnClassify, fitLogisticRegression, simclrAugment, shapes } from '../src/index.js';

async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(name)).toBe(true);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('augmentations on wasm', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('SimCLR and BYOL views match cpu (same seed, same batch)', async () => {
    const host = shapes({ size: 16, batchSize: 1, seed: 0 }).sample(6);
    const run = () => {
      const x = tf.tensor4d(host.images, host.shape);
      const byol = byolAugment({ size: 16, blurSigma: [0.5, 1.5] });
      const out = [simclrAugment({ size: 12, blur: true })(x, new Rng(1)), byol.view1(x, new Rng(2)), byol.view2(x, new Rng(3))];
      x.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    cpu.forEach((c, i) => expect(maxAbsDiff(c, wasm[i])).toBeLessThan(1e-4));
  });

  it('k-NN and the logistic regression give the same answers as on cpu', async () => {
    const rng = new Rng(4);
    const train = { data: rng.normalArray(80 * 6), n: 80, dim: 6 };
    const query = { data: rng.normalArray(30 * 6), n: 30, dim: 6 };
    const labels = Int32Array.from({ length: 80 }, (_, i) => (train.data[i * 6] > 0 ? 1 : 0) + (train.data[i * 6 + 1] > 0 ? 1 : 0));
    const results: Array<{ knn: Int32Array; loss: number }> = [];
    for (const backend of ['cpu', 'wasm']) {
      expect(await tf.setBackend(backend)).toBe(true);
      const before = tf.memory().numTensors;
      const knn = await knnClassify(train, labels, query, 3, { k: 5 });
      const fit = await fitLogisticRegression(train, labels, 3, { l2: 1e-2 });
      expect(fit.converged).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      results.push({ knn, loss: fit.loss });
    }
    expect(Array.from(results[1].knn)).toEqual(Array.from(results[0].knn));
    expect(results[1].loss).toBeCloseTo(results[0].loss, 4);
  });
});
