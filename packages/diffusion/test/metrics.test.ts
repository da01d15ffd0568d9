import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, shapes } from '@brickml/core';
import {
  SHAPES_FD_REAL_SEED_B, ShapesFD, copyLastFrame, featureStats, frechetDistance, psnrPerFrame, sqrtPsd, symmetricEigen,
  traceSqrtProduct, type FeatureStats,
} from '../src/index.js';

function stats(mean: number[], cov: number[]): FeatureStats {
  return { n: 10, dim: mean.length, mean: Float64Array.from(mean), cov: Float64Array.from(cov) };
}

describe('Fréchet distance (host, float64)', () => {
  it('Jacobi eigen-decomposition reconstructs a symmetric matrix with orthonormal vectors', () => {
    const n = 12;
    const rng = new Rng(3);
    const b = rng.normalArray(n * n);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
    const { values, vectors } = symmetricEigen(a, n);
    let worst = 0, worstOrth = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let r = 0, o = 0;
        for (let k = 0; k < n; k++) {
          r += vectors[i * n + k] * values[k] * vectors[j * n + k];
          o += vectors[k * n + i] * vectors[k * n + j];
        }
        worst = Math.max(worst, Math.abs(r - a[i * n + j]));
        worstOrth = Math.max(worstOrth, Math.abs(o - (i === j ? 1 : 0)));
      }
    }
    expect(worst).toBeLessThan(1e-10);
    expect(worstOrth).toBeLessThan(1e-12);
  });

  it('sqrtPsd squares back; FD matches hand values', () => {
    const a = [2, 1, 1, 2];
    const s = sqrtPsd(a, 2);
    const sq = [s[0] * s[0] + s[1] * s[2], s[0] * s[1] + s[1] * s[3], s[2] * s[0] + s[3] * s[2], s[2] * s[1] + s[3] * s[3]];
    sq.forEach((v, i) => expect(v).toBeCloseTo(a[i], 12));
    // Σ1 = [[2,1],[1,2]], Σ2 = I, μ equal: FD = 4 + 2 − 2(√3 + 1) = 4 − 2√3
    expect(frechetDistance(stats([0, 0], a), stats([0, 0], [1, 0, 0, 1]))).toBeCloseTo(4 - 2 * Math.sqrt(3), 12);
    // diagonal covariances: FD = ‖Δμ‖² + Σ(√a − √b)²
    expect(frechetDistance(stats([1, 2], [4, 0, 0, 9]), stats([0, 0], [1, 0, 0, 1]))).toBeCloseTo(5 + 1 + 4, 12);
    // non-commuting pair: tr((Σ1Σ2)^½) = √(tr(P) + 2√det(P)) for 2×2 P = Σ1Σ2
    const c1 = [2, 0.5, 0.5, 1], c2 = [1, -0.3, -0.3, 3];
    const p = [c1[0] * c2[0] + c1[1] * c2[2], c1[0] * c2[1] + c1[1] * c2[3], c1[2] * c2[0] + c1[3] * c2[2], c1[2] * c2[1] + c1[3] * c2[3]];
    const want = Math.sqrt(p[0] + p[3] + 2 * Math.sqrt(p[0] * p[3] - p[1] * p[2]));
    expect(traceSqrtProduct(c1, c2, 2)).toBeCloseTo(want, 12);
    // identical Gaussians: 0
    const f = featureStats(new Rng(1).normalArray(50 * 4), 50, 4);
    expect(frechetDistance(f, f)).toBeLessThan(1e-9);
  });
});

describe('shapesFD with the shipped classifier', () => {
  it('the shipped classifier is accurate on held-out shapes (shape > 97%, colour > 99%)', async () => {
    const fd = await ShapesFD.load();
    const acc = await fd.accuracy(16, 1000, 31);
    expect(acc.shape).toBeGreaterThan(0.97);
    expect(acc.colour).toBeGreaterThan(0.99);
    expect(acc.factorRmse).toBeLessThan(0.05);
    fd.classifier.dispose();
  });

  it('real-vs-real ≪ noise-vs-real, and real set B scores exactly the real-vs-real reference', async () => {
    const fd = await ShapesFD.load();
    const n = 256;
    const s = shapes({ size: 16, batchSize: 1, seed: 0 }).fixedSplit(n, SHAPES_FD_REAL_SEED_B);
    const realB = tf.tensor4d(s.images, s.shape);
    const rep = await fd.evaluate(realB);
    expect(rep.n).toBe(n);
    expect(rep.shapesFD).toBeCloseTo(rep.realVsReal, 9);
    expect(rep.realVsReal).toBeLessThan(0.05 * rep.noiseVsReal);
    expect(rep.noiseVsReal).toBeGreaterThan(100);
    // a blurred real set lies in between: the metric sees image quality, not only labels
    const blurred = tf.tidy(() => {
      const nhwc = tf.transpose(realB, [0, 2, 3, 1]) as tf.Tensor4D;
      const k = tf.fill([3, 3, 3, 1], 1 / 9) as tf.Tensor4D;
      return tf.transpose(tf.depthwiseConv2d(nhwc, k, 1, 'same'), [0, 3, 1, 2]);
    });
    const blur = await fd.evaluate(blurred);
    expect(blur.shapesFD).toBeGreaterThan(3 * rep.realVsReal);
    expect(blur.shapesFD).toBeLessThan(rep.noiseVsReal);
    await expect(fd.evaluate(tf.zeros([10, 3, 16, 16]))).rejects.toThrow(/need at least 64 samples/);
    tf.dispose([realB, blurred]);
    fd.classifier.dispose();
  });
});

describe('video PSNR', () => {
  it('per-frame PSNR is 10·log10(4/MSE) for data in [−1, 1]; copy-last-frame repeats the last context frame', async () => {
    const truth = tf.zeros([2, 3, 1, 2, 2]);
    const pred = tf.tidy(() => tf.concat([tf.fill([2, 1, 1, 2, 2], 0.1), tf.fill([2, 1, 1, 2, 2], 0.2), tf.zeros([2, 1, 1, 2, 2])], 1));
    const p = await psnrPerFrame(pred, truth);
    expect(p[0]).toBeCloseTo(10 * Math.log10(4 / 0.01), 4);
    expect(p[1]).toBeCloseTo(10 * Math.log10(4 / 0.04), 4);
    expect(p[2]).toBe(Infinity);
    const ctx = tf.tensor5d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 1, 2, 2]);
    const c = copyLastFrame(ctx, 3);
    expect(c.shape).toEqual([1, 3, 1, 2, 2]);
    expect(Array.from(await c.data())).toEqual([5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8]);
    tf.dispose([truth, pred, ctx, c]);
  });
});
