import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ShapeError, eigh, eighReference, gradCheck, jacobiSchedule, resolveEighMethod, type EighMethod } from '../src/index.js';

// Reference numbers from PyTorch's torch.linalg.eigh (scripts/make_linalg_fixtures.py).
interface Entry { shape: number[]; data: number[] }
const fixture = JSON.parse(readFileSync(new URL('./fixtures/linalg/eigh.json', import.meta.url), 'utf8')) as {
  eigh: { x: Entry; values: Entry; vectors: Entry; wl: Entry; W2: Entry; W3: Entry; grads: Record<'values' | 'squares' | 'vectors', Entry> };
};
const T = (e: Entry) => tf.tensor(e.data, e.shape, 'float32');

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor | Entry): number {
  const x = a.dataSync();
  const y = b instanceof tf.Tensor ? Array.from(b.dataSync()) : b.data;
  expect(a.shape).toEqual(b.shape);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** Random symmetric matrices [batch, n, n] with entries N(0, 1) (symmetrised). */
function randomSymmetric(rng: Rng, batch: number, n: number): tf.Tensor {
  return tf.tidy(() => {
    const x = rng.normalTensor([batch, n, n], 0, 1);
    return tf.mul(tf.add(x, tf.transpose(x, [0, 2, 1])), 0.5);
  });
}

/** Random SPD matrices X Xᵀ / n + 0.1 I. */
function randomSpd(rng: Rng, batch: number, n: number): tf.Tensor {
  return tf.tidy(() => {
    const x = rng.normalTensor([batch, n, n], 0, 1);
    return tf.add(tf.div(tf.matMul(x, x, false, true), n), tf.mul(tf.eye(n), 0.1));
  });
}

/** Q diag(λ) Qᵀ for a random orthogonal Q (from the reference decomposition of a random matrix). */
function withSpectrum(rng: Rng, lambda: number[]): tf.Tensor {
  const n = lambda.length;
  const s = randomSymmetric(rng, 1, n);
  const { vectors } = eighReference(s.dataSync(), n);
  s.dispose();
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let v = 0;
    for (let k = 0; k < n; k++) v += vectors[i * n + k] * lambda[k] * vectors[j * n + k];
    out[i * n + j] = v;
  }
  // Exactly symmetric in float32.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[i * n + j] = out[j * n + i];
  return tf.tensor(Float32Array.from(out), [1, n, n], 'float32');
}

function frob(x: tf.Tensor): number {
  return tf.tidy(() => tf.norm(x).dataSync()[0]);
}

describe('eigh: the decomposition', () => {
  it('the round-robin schedule rotates every pair exactly once per sweep', () => {
    for (const n of [2, 5, 8, 13]) {
      const seen = new Set<string>();
      for (const r of jacobiSchedule(n)) {
        const used = [...r.p, ...r.q, ...(r.rest >= 0 ? [r.rest] : [])];
        expect(new Set(used).size).toBe(used.length); // disjoint within a round
        r.p.forEach((p, k) => seen.add(`${p},${r.q[k]}`));
      }
      expect(seen.size).toBe((n * (n - 1)) / 2);
    }
  });

  it('auto picks the host path on cpu (tensors in host memory)', () => {
    expect(resolveEighMethod()).toBe('host');
    expect(resolveEighMethod('tensor')).toBe('tensor');
    expect(() => eigh(tf.eye(2), { method: 'qr' as EighMethod })).toThrow(/eigh: option 'method' must be 'auto', 'tensor' or 'host', got "qr"/);
  });

  it.each([
    ['SPD', 8, 12, 'tensor'],
    ['symmetric, odd n', 3, 9, 'tensor'],
    ['SPD 16×16', 2, 16, 'tensor'],
    ['symmetric 32×32', 2, 32, 'tensor'],
    ['SPD', 8, 12, 'host'],
    ['symmetric, odd n', 3, 9, 'host'],
    ['symmetric 32×32', 2, 32, 'host'],
  ] as const)('%s (%i × %i², %s path): V diag(λ) Vᵀ ≈ A, VᵀV ≈ I, λ ascending and equal to the float64 reference', (kind, batch, n, method) => {
    const rng = new Rng(n);
    const A = kind.startsWith('SPD') ? randomSpd(rng, batch, n) : randomSymmetric(rng, batch, n);
    const { values, vectors } = eigh(A, { method });
    expect(values.shape).toEqual([batch, n]);
    expect(vectors.shape).toEqual([batch, n, n]);
    const rec = tf.matMul(tf.mul(vectors, tf.expandDims(values, 1)), vectors, false, true);
    const relErr = frob(tf.sub(rec, A)) / frob(A);
    const orth = frob(tf.sub(tf.matMul(vectors, vectors, true), tf.eye(n)));
    expect(relErr).toBeLessThan(1e-5);
    expect(orth).toBeLessThan(2e-5);
    const vals = values.dataSync();
    const aData = A.dataSync();
    for (let b = 0; b < batch; b++) {
      const ref = eighReference(aData.subarray(b * n * n, (b + 1) * n * n), n);
      const scale = Math.max(...Array.from(ref.values, Math.abs));
      for (let k = 0; k < n; k++) {
        expect(Math.abs(vals[b * n + k] - ref.values[k])).toBeLessThan(2e-6 * scale + 1e-6);
        if (k > 0) expect(vals[b * n + k]).toBeGreaterThanOrEqual(vals[b * n + k - 1]);
      }
    }
    tf.dispose([A, values, vectors, rec]);
  });

  it.each(['tensor', 'host'] as const)('converges with clustered eigenvalues (%s path, default sweeps, 12×12)', (method) => {
    const lambda = [0.5, 0.5001, 0.5002, 1, 1, 1.0003, 2, 2.0001, 3, 3, 3, 3.0002];
    const A = withSpectrum(new Rng(77), lambda);
    const { values, vectors } = eigh(A, { method });
    const rec = tf.matMul(tf.mul(vectors, tf.expandDims(values, 1)), vectors, false, true);
    expect(frob(tf.sub(rec, A)) / frob(A)).toBeLessThan(1e-5);
    expect(frob(tf.sub(tf.matMul(vectors, vectors, true), tf.eye(12)))).toBeLessThan(2e-5);
    Array.from(values.dataSync()).forEach((v, k) => expect(Math.abs(v - lambda[k])).toBeLessThan(1e-5));
    tf.dispose([A, values, vectors, rec]);
  });

  it.each(['tensor', 'host'] as const)('follows the sign convention and agrees with torch.linalg.eigh (values and vectors; %s path)', (method) => {
    const f = fixture.eigh;
    const x = T(f.x);
    const { values, vectors } = eigh(x, { method });
    expect(maxAbsDiff(values, f.values)).toBeLessThan(1e-5);
    expect(maxAbsDiff(vectors, f.vectors)).toBeLessThan(2e-5);
    tf.dispose([x, values, vectors]);
  });

  it('uses only the symmetric part; handles leading batch dims, n = 1 and diagonal input', () => {
    const rng = new Rng(2);
    const x = rng.normalTensor([2, 3, 4, 4], 0, 1);
    const sym = tf.mul(tf.add(x, tf.transpose(x, [0, 1, 3, 2])), 0.5);
    const a = eigh(x), b = eigh(sym);
    expect(a.values.shape).toEqual([2, 3, 4]);
    expect(a.vectors.shape).toEqual([2, 3, 4, 4]);
    expect(maxAbsDiff(a.values, b.values)).toBe(0);
    const one = eigh(tf.tensor([[[3]]]));
    expect(Array.from(one.values.dataSync())).toEqual([3]);
    expect(Array.from(one.vectors.dataSync())).toEqual([1]);
    const d = eigh(tf.tensor([[2, 0, 0], [0, -1, 0], [0, 0, 5]]));
    expect(Array.from(d.values.dataSync())).toEqual([-1, 2, 5]);
    expect(Array.from(d.vectors.dataSync())).toEqual([0, 1, 0, 1, 0, 0, 0, 0, 1]);
    tf.dispose([x, sym, a.values, a.vectors, b.values, b.vectors, one.values, one.vectors, d.values, d.vectors]);
  });

  it('is deterministic and leaks no tensors (forward and gradient)', () => {
    const A = randomSpd(new Rng(5), 4, 8);
    const before = tf.memory().numTensors;
    const runs = [0, 1].map(() =>
      tf.tidy(() => {
        const g = tf.grad((a: tf.Tensor) => {
          const { values, vectors } = eigh(a);
          return tf.add(tf.sum(values), tf.sum(tf.square(tf.slice(vectors, [0, 0, 0], [4, 8, 2]))));
        })(A);
        const { values } = eigh(A);
        return [Array.from(values.dataSync()), Array.from(g.dataSync())];
      }),
    );
    expect(runs[0]).toEqual(runs[1]);
    expect(tf.memory().numTensors).toBe(before);
    A.dispose();
  });

  it('rejects non-square or non-float input naming the function and argument', () => {
    expect(() => eigh(tf.zeros([3, 4]))).toThrow(ShapeError);
    expect(() => eigh(tf.zeros([2, 3, 4]))).toThrow(/eigh: argument 'a' expected shape \[\.\.\., n, n\] \(square matrices\), got \[2, 3, 4\]/);
    expect(() => eigh(tf.zeros([5]))).toThrow(/got \[5\]/);
    expect(() => eigh(tf.zeros([2, 2], 'int32'))).toThrow(/eigh: argument 'a' must be float32, got int32/);
    expect(() => eigh(tf.eye(2), { sweeps: -1 })).toThrow(/option 'sweeps'/);
  });
});

describe('eigh: matrix-backpropagation gradient', () => {
  const losses = {
    values: (l: tf.Tensor, _v: tf.Tensor, w: tf.Tensor[]) => tf.sum(tf.mul(l, w[0])),
    squares: (_l: tf.Tensor, v: tf.Tensor, w: tf.Tensor[]) => tf.sum(tf.mul(tf.square(v), w[1])),
    vectors: (_l: tf.Tensor, v: tf.Tensor, w: tf.Tensor[]) => tf.sum(tf.mul(v, w[2])),
  };

  const cases = (['tensor', 'host'] as const).flatMap((m) => (Object.keys(losses) as Array<keyof typeof losses>).map((l) => [l, m] as const));
  it.each(cases)('%s loss (%s path): gradient equals torch.linalg.eigh autograd', (name, method) => {
    const f = fixture.eigh;
    const x = T(f.x);
    const w = [T(f.wl), T(f.W2), T(f.W3)];
    const g = tf.grad((a: tf.Tensor) => {
      const { values, vectors } = eigh(a, { method });
      return losses[name](values, vectors, w) as tf.Scalar;
    })(x);
    const ref = f.grads[name];
    const scale = Math.max(...ref.data.map(Math.abs));
    expect(maxAbsDiff(g, ref) / scale).toBeLessThan(2e-4);
    tf.dispose([x, g, ...w]);
  });

  it('agrees with finite differences (well-separated spectrum)', async () => {
    const rng = new Rng(21);
    const A = withSpectrum(rng, [-1.5, -0.2, 0.9, 2.0, 3.4, 4.5]);
    const w = [rng.normalTensor([1, 6], 0, 1), rng.normalTensor([1, 6, 6], 0, 1), rng.normalTensor([1, 6, 6], 0, 1)];
    // Sign-invariant losses (a loss of V itself jumps where the sign convention's pivot entry
    // changes, which a finite difference can straddle; its gradient is checked against torch above).
    const quadratic = (_l: tf.Tensor, v: tf.Tensor, ws: tf.Tensor[]) => tf.sum(tf.mul(tf.sum(tf.mul(v, tf.matMul(ws[1], v)), 1), ws[0])); // Σ_k w_k v_kᵀ B v_k
    for (const loss of [losses.values, losses.squares, quadratic]) {
      const res = await gradCheck(
        (a) => {
          const { values, vectors } = eigh(a);
          return loss(values, vectors, w) as tf.Scalar;
        },
        [A],
        { eps: 1e-2, atol: 3e-3, rtol: 2e-2, maxChecks: 36 },
      );
      expect(res.ok, JSON.stringify(res)).toBe(true);
    }
    tf.dispose([A, ...w]);
  });

  it('repeated eigenvalues: finite values, exact gradient of an eigenspace projector, no NaN anywhere', async () => {
    const rng = new Rng(33);
    const A = withSpectrum(rng, [1, 1, 2, 3, 3]); // two double eigenvalues
    const R = rng.normalTensor([1, 5, 5], 0, 1);
    const { values } = eigh(A);
    expect(Array.from(values.dataSync()).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([1, 1, 2, 3, 3]);
    // The projector onto the eigenspace of λ = 1 is basis-invariant: its gradient exists and the
    // safeguard (F = 0 inside the degenerate pair) gives it exactly.
    const projector = (a: tf.Tensor) => {
      const { vectors } = eigh(a);
      const u = tf.slice(vectors, [0, 0, 0], [1, 5, 2]); // [1, 5, 2]
      return tf.sum(tf.mul(tf.matMul(u, u, false, true), R)) as tf.Scalar;
    };
    const res = await gradCheck(projector, [A], { eps: 1e-2, atol: 3e-3, rtol: 2e-2, maxChecks: 25 });
    expect(res.ok, JSON.stringify(res)).toBe(true);
    // A basis-dependent loss has no true gradient here; the safeguard still keeps it finite.
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(eigh(a).vectors, R)))(A);
    expect(g.dataSync().every(Number.isFinite)).toBe(true);
    // The same holds for an exactly repeated spectrum (the identity).
    const gi = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(eigh(a).vectors, R)))(tf.eye(5).expandDims(0));
    expect(gi.dataSync().every(Number.isFinite)).toBe(true);
    tf.dispose([A, R, values, g, gi]);
  });
});
