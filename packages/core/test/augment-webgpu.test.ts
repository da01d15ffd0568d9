// Augmentations, k-NN and the logistic regression on real WebGPU: Dawn (the `webgpu` package) over
// SwiftShader's Vulkan driver from Debian's chromium, against the cpu backend. Runs in its own forked
// worker (vitest `pool: 'forks'`); tiny sizes, SwiftShader is slow. Without an adapter the tests are
// skipped (and fail in CI). The setup is the one of eigh-webgpu.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, byolAugment, fitLogisticRegression, knnClassify, shapes, simclrAugment } from '../src/index.js';
import { gpu, onBackend, run } from './webgpu-setup.js';


const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe.runIf(run)('augmentations and evaluators on WebGPU (SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('SimCLR and BYOL views match cpu', async () => {
    expect(gpu.reason).toBe('');
    const host = shapes({ size: 16, batchSize: 1, seed: 0 }).sample(3);
    const views = () => {
      const x = tf.tensor4d(host.images, host.shape);
      const byol = byolAugment({ size: 16, blurSigma: [0.5, 1.5] });
      const out = [simclrAugment({ size: 12, blur: true })(x, new Rng(1)), byol.view1(x, new Rng(2)), byol.view2(x, new Rng(3))];
      x.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', views);
    const gpuOut = await onBackend('webgpu', views);
    cpu.forEach((c, i) => expect(maxAbsDiff(c, gpuOut[i])).toBeLessThan(1e-4));
  });

  it('k-NN predictions and the logistic-regression loss match cpu', async () => {
    const rng = new Rng(4);
    const train = { data: rng.normalArray(40 * 4), n: 40, dim: 4 };
    const query = { data: rng.normalArray(10 * 4), n: 10, dim: 4 };
    const labels = Int32Array.from({ length: 40 }, (_, i) => (train.data[i * 4] > 0 ? 1 : 0));
    const out: Array<{ knn: number[]; loss: number }> = [];
    for (const backend of ['cpu', 'webgpu']) {
      expect(await tf.setBackend(backend)).toBe(true);
      const knn = await knnClassify(train, labels, query, 2, { k: 5 });
      const fit = await fitLogisticRegression(train, labels, 2, { l2: 1e-2, maxIter: 100 });
      out.push({ knn: Array.from(knn), loss: fit.loss });
    }
    expect(out[1].knn).toEqual(out[0].knn);
    expect(out[1].loss).toBeCloseTo(out[0].loss, 3);
  });
});
