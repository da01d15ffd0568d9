import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ShapeError, gradCheck, spdFunction, spdInvSqrt, spdLog, spdPow, spdSqrt, symExp, symFunction } from '../src/index.js';

// Reference numbers from PyTorch (scripts/make_linalg_fixtures.py): f(S) via torch.linalg.eigh in
// float64 and its autograd gradient; torch.linalg.matrix_exp; a finite-difference gradient at
// repeated eigenvalues.
interface Entry { shape: number[]; data: number[] }
const fixture = JSON.parse(readFileSync(new URL('./fixtures/linalg/eigh.json', import.meta.url), 'utf8')) as {
  spd: { a: Entry; r: Entry; expInput: Entry; exp: Entry } & Record<'log' | 'sqrt' | 'invSqrt', { value: Entry; grad: Entry }>;
  repeated: { a: Entry; r: Entry; values: Entry; log: Entry; logGrad: Entry };
};
const T = (e: Entry) => tf.tensor(e.data, e.shape, 'float32');

function relDiff(a: tf.Tensor, b: tf.Tensor | Entry): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b instanceof tf.Tensor ? Array.from(b.dataSync()) : b.data;
  let m = 0, s = 0;
  for (let i = 0; i < x.length; i++) {
    m = Math.max(m, Math.abs(x[i] - y[i]));
    s = Math.max(s, Math.abs(y[i]));
  }
  return m / Math.max(s, 1e-12);
}

/** Random SPD matrices X Xᵀ / n + shift·I [batch, n, n]. */
function randomSpd(rng: Rng, batch: number, n: number, shift = 0.2): tf.Tensor {
  return tf.tidy(() => {
    const x = rng.normalTensor([batch, n, n], 0, 1);
    return tf.add(tf.div(tf.matMul(x, x, false, true), n), tf.mul(tf.eye(n), shift));
  });
}

describe('SPD matrix functions', () => {
  it('spdSqrt(A)² ≈ A, A^-½ A A^-½ ≈ I, symExp(spdLog(A)) ≈ A, spdPow(A, 1) ≈ A (8×8 and 12×12 batches)', () => {
    for (const [batch, n] of [[8, 8], [4, 12]]) {
      tf.tidy(() => {
        const A = randomSpd(new Rng(n), batch, n);
        const S = spdSqrt(A);
        expect(relDiff(tf.matMul(S, S), A)).toBeLessThan(2e-5);
        const W = spdInvSqrt(A);
        expect(relDiff(tf.matMul(tf.matMul(W, A), W), tf.tile(tf.expandDims(tf.eye(n), 0), [batch, 1, 1]))).toBeLessThan(2e-4);
        expect(relDiff(symExp(spdLog(A)), A)).toBeLessThan(2e-5);
        expect(relDiff(spdPow(A, 1), A)).toBeLessThan(2e-5);
        expect(relDiff(spdPow(A, 0.5), S)).toBeLessThan(2e-5);
      });
    }
  });

  it.each(['log', 'sqrt', 'invSqrt'] as const)('spd %s: values and gradients equal the torch reference', (name) => {
    const f = fixture.spd;
    const fn = { log: spdLog, sqrt: spdSqrt, invSqrt: spdInvSqrt }[name];
    tf.tidy(() => {
      const A = T(f.a), R = T(f.r);
      expect(relDiff(fn(A), f[name].value)).toBeLessThan(1e-5);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(fn(a), R)))(A);
      expect(relDiff(g, f[name].grad)).toBeLessThan(1e-4);
    });
  });

  it('symExp equals torch.linalg.matrix_exp; spdLog inverts it', () => {
    tf.tidy(() => {
      const E = T(fixture.spd.expInput);
      const X = symExp(E);
      expect(relDiff(X, fixture.spd.exp)).toBeLessThan(1e-5);
      expect(relDiff(spdLog(X), E)).toBeLessThan(1e-4);
    });
  });

  it('gradients agree with finite differences (log, sqrt, inverse sqrt, a custom f)', async () => {
    const rng = new Rng(4);
    const A = randomSpd(rng, 2, 5, 0.5);
    const R = rng.normalTensor([2, 5, 5], 0, 1);
    const cube = (a: tf.Tensor) => spdFunction(a, (l) => tf.pow(l, 3), (l) => tf.mul(3, tf.square(l)));
    for (const fn of [spdLog, spdSqrt, spdInvSqrt, cube]) {
      const res = await gradCheck((a) => tf.sum(tf.mul(fn(a), R)) as tf.Scalar, [A], { eps: 1e-2, atol: 3e-3, rtol: 2e-2, maxChecks: 25 });
      expect(res.ok, `${fn.name}: ${JSON.stringify(res)}`).toBe(true);
    }
    tf.dispose([A, R]);
  });

  it('repeated eigenvalues: the divided-difference (Taylor) form gives the exact gradient, no NaN', () => {
    const f = fixture.repeated;
    tf.tidy(() => {
      const A = T(f.a), R = T(f.r);
      expect(relDiff(spdLog(A), f.log)).toBeLessThan(1e-5);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(spdLog(a), R)))(A);
      expect(g.dataSync().every(Number.isFinite)).toBe(true);
      // Reference: central differences in float64 of the same function (torch's eigh gradient is not finite here).
      expect(relDiff(g, f.logGrad)).toBeLessThan(1e-4);
      // The identity: every eigenvalue equal; d/dA Σ R ∘ log(A) at I is sym(R).
      const gi = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(spdLog(a), R)))(tf.eye(5));
      expect(relDiff(gi, tf.mul(tf.add(R, tf.transpose(R)), 0.5))).toBeLessThan(1e-5);
    });
  });

  it('clamps eigenvalues when asked; leaks no tensors; rejects bad input', () => {
    tf.tidy(() => {
      // A PSD matrix of rank 1: spdSqrt clamps its (rounded) zero eigenvalues at 0, so no NaN.
      const v = tf.tensor([[1], [2], [3]]);
      const P = tf.matMul(v, v, false, true);
      const S = spdSqrt(P);
      expect(S.dataSync().every(Number.isFinite)).toBe(true);
      expect(relDiff(tf.matMul(S, S), P)).toBeLessThan(1e-4);
      const L = symFunction(P, (l) => tf.log(l), (l) => tf.reciprocal(l), { minEigenvalue: 1e-3 });
      expect(L.dataSync().every(Number.isFinite)).toBe(true);
    });
    const A = randomSpd(new Rng(9), 3, 6);
    const R = tf.onesLike(A);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      tf.tidy(() => {
        tf.grad((a: tf.Tensor) => tf.sum(tf.mul(spdLog(a), R)))(A);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([A, R]);
    expect(() => spdLog(tf.zeros([3, 4]))).toThrow(ShapeError);
    expect(() => spdSqrt(tf.zeros([2, 3, 4]))).toThrow(/spdSqrt: argument 'a' expected shape \[\.\.\., n, n\] \(square matrices\), got \[2, 3, 4\]/);
    expect(() => spdPow(tf.eye(2), NaN)).toThrow(/spdPow: argument 'p' must be a finite number, got NaN/);
    expect(() => spdLog(tf.eye(2), { taylorTol: -1 })).toThrow(/spdLog: option 'taylorTol'/);
  });
});
