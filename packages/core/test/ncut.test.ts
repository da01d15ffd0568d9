import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { NormalizedCut, Rng, ShapeError, build, eigh, gradCheck, gradCheckVariables } from '../src/index.js';

/** Three well-separated blobs of 4 tokens each in 2-D: x [1, 12, 2] and the blob of each token. */
function blobs(rng: Rng): { x: tf.Tensor; group: number[] } {
  const centres = [[0, 0], [6, 0], [0, 6]];
  const data: number[] = [];
  const group: number[] = [];
  // Interleaved so groups are not contiguous.
  for (let i = 0; i < 12; i++) {
    const g = i % 3;
    group.push(g);
    data.push(centres[g][0] + 0.3 * rng.normal(), centres[g][1] + 0.3 * rng.normal());
  }
  return { x: tf.tensor(data, [1, 12, 2]), group };
}

describe('NormalizedCut', () => {
  it('groups tokens of the same blob: embeddings agree within a group and differ across groups', () => {
    const { x, group } = blobs(new Rng(1));
    // With three nearly disconnected groups the top three eigenvalues are all ≈ 1, so which of them
    // is the "trivial" one is arbitrary: keep all three (NJW's k = number of groups).
    const ncut = new NormalizedCut({ dim: 2, segments: 3, sigma: 1, dropTrivial: false });
    const { embedding, values } = ncut.decompose(x);
    expect(embedding.shape).toEqual([1, 12, 3]);
    const e = embedding.arraySync() as number[][][];
    const dist = (i: number, j: number) => Math.hypot(...e[0][i].map((v, k) => v - e[0][j][k]));
    let within = 0, between = Infinity;
    for (let i = 0; i < 12; i++) for (let j = i + 1; j < 12; j++) {
      if (group[i] === group[j]) within = Math.max(within, dist(i, j));
      else between = Math.min(between, dist(i, j));
    }
    expect(within).toBeLessThan(0.05);
    expect(between).toBeGreaterThan(1.3); // rows are unit vectors: the groups' rows are ≈ orthogonal (distance √2)
    for (const v of values.dataSync()) expect(v).toBeGreaterThan(0.99);
    tf.dispose([x, embedding, values]);
  });

  it('equals the eigenvectors of D^-½ W D^-½ computed by hand; the trivial one is ∝ D^½·1', () => {
    const x = new Rng(2).normalTensor([2, 7, 3], 0, 1);
    tf.tidy(() => {
      const sigma = 1.5;
      const diff = tf.sub(tf.expandDims(x, 2), tf.expandDims(x, 1)); // [2, 7, 7, 3]
      const W = tf.exp(tf.div(tf.neg(tf.sum(tf.square(diff), -1)), 2 * sigma * sigma));
      const d = tf.sum(W, -1);
      const M = tf.div(W, tf.sqrt(tf.mul(tf.expandDims(d, 2), tf.expandDims(d, 1))));
      const ref = eigh(M);
      const raw = new NormalizedCut({ dim: 3, segments: 3, sigma, embedding: 'raw', dropTrivial: false });
      const out = raw.decompose(x);
      expect(tf.max(tf.abs(tf.sub(out.affinity, W))).dataSync()[0]).toBeLessThan(1e-6);
      const last3 = tf.reverse(tf.slice(ref.vectors, [0, 0, 4], [2, 7, 3]), -1);
      expect(tf.max(tf.abs(tf.sub(out.embedding, last3))).dataSync()[0]).toBeLessThan(1e-5);
      // Leading eigenpair: λ = 1, v = D^½·1 / ‖D^½·1‖ (positive by eigh's sign convention).
      const trivial = tf.div(tf.sqrt(d), tf.norm(tf.sqrt(d), 2, -1, true));
      expect(tf.max(tf.abs(tf.sub(tf.squeeze(tf.slice(out.embedding, [0, 0, 0], [2, 7, 1]), [2]), trivial))).dataSync()[0]).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(tf.sub(tf.slice(out.values, [0, 0], [2, 1]), 1))).dataSync()[0]).toBeLessThan(1e-5);
      // Shi–Malik: D^-½ v solves (D − W) y = λ D y.
      const gen = new NormalizedCut({ dim: 3, segments: 2, sigma, embedding: 'generalized' }).decompose(x);
      const y = gen.embedding; // [2, 7, 2]
      const lhs = tf.matMul(tf.sub(tf.mul(tf.eye(7), tf.expandDims(d, 2)), W), y);
      const rhs = tf.mul(tf.mul(y, tf.expandDims(d, 2)), tf.expandDims(tf.sub(1, gen.values), 1));
      expect(tf.max(tf.abs(tf.sub(lhs, rhs))).dataSync()[0]).toBeLessThan(1e-5);
    });
    x.dispose();
  });

  it('gradients through the eigenvectors agree with finite differences (features and a learned σ)', async () => {
    const rng = new Rng(3);
    const x = rng.normalTensor([1, 6, 2], 0, 1);
    const R = rng.normalTensor([1, 6, 6], 0, 1);
    for (const embedding of ['raw', 'normalized'] as const) {
      // Σ R ∘ (E Eᵀ): invariant to the eigenvectors' signs.
      const ncut = new NormalizedCut({ dim: 2, segments: 2, sigma: 1.2, learnSigma: true, embedding });
      const loss = (a: tf.Tensor) => {
        const e = ncut.forward(a);
        return tf.sum(tf.mul(tf.matMul(e, e, false, true), R)) as tf.Scalar;
      };
      const res = await gradCheck(loss, [x], { eps: 1e-2, atol: 3e-3, rtol: 3e-2, maxChecks: 12 });
      expect(res.ok, `${embedding} x: ${JSON.stringify(res)}`).toBe(true);
      const resS = await gradCheckVariables(() => loss(x), ncut.parameters(), { eps: 1e-2, atol: 3e-3, rtol: 3e-2 });
      expect(resS.ok, `${embedding} σ: ${JSON.stringify(resS)}`).toBe(true);
      ncut.dispose();
    }
    tf.dispose([x, R]);
  });

  it('cosine affinity, config round trip, shape errors, no leaks', () => {
    const ncut = build({ type: 'NormalizedCut', dim: 4, segments: 2, affinity: 'cosine', sigma: 0.5, learnSigma: true }) as NormalizedCut;
    expect(ncut.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['log_sigma', [1]]]);
    expect(build(JSON.parse(JSON.stringify(ncut.toConfig()))).toConfig()).toEqual(ncut.toConfig());
    const x = new Rng(4).normalTensor([2, 5, 4], 0, 1);
    tf.tidy(() => {
      const W = ncut.affinity(x);
      const xn = tf.div(x, tf.norm(x, 2, -1, true));
      const ref = tf.exp(tf.div(tf.sub(tf.matMul(xn, xn, false, true), 1), 0.5));
      expect(tf.max(tf.abs(tf.sub(W, ref))).dataSync()[0]).toBeLessThan(1e-5);
    });
    expect(() => ncut.forward(tf.zeros([2, 5, 3]))).toThrow(ShapeError);
    expect(() => ncut.forward(tf.zeros([2, 5, 3]))).toThrow(/NormalizedCut.*'x' expected shape \[batch, tokens, 4\], got \[2, 5, 3\]/);
    expect(() => ncut.forward(tf.zeros([2, 2, 4]))).toThrow(/NormalizedCut: segments 2 \+ 1 \(dropTrivial\) must not exceed the number of tokens, got 2 tokens/);
    expect(() => build({ type: 'NormalizedCut', dim: 4, segments: 0 })).toThrow(/segments/);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tf.tidy(() => {
        tf.variableGrads(() => tf.sum(ncut.forward(x)) as tf.Scalar, ncut.parameters());
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    ncut.dispose();
  });
});
