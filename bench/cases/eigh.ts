/**
 * Batched symmetric eigendecomposition with its gradient: core's `eigh` beside
 * `torch.linalg.eigh` (`bench/torch/eigh.py`) on 16 SPD matrices of 64×64.
 *
 * One step is the forward decomposition A = V diag(λ) Vᵀ plus the gradient with respect to A of
 *
 * ```text
 * loss_b = Σ_k u_k λ_k  +  Σ_ij W_ij (V diag(log λ) Vᵀ)_ij        (per matrix b; the step sums them)
 * ```
 * with fixed random u [n] and symmetric W [n, n]. The second term is a function of the
 * eigenvectors that does not depend on their signs (or on the basis inside a repeated eigenspace):
 * it is log(A) built from `eigh`'s outputs, so the gradient runs through both halves of the
 * matrix-backpropagation formula (dλ and dV with F_ij = 1/(λ_j − λ_i)), not through `spdLog`'s
 * own Daleckii–Krein gradient.
 *
 * - `eigh-64-b16`: `method: 'auto'` — the float64 host Jacobi on `cpu`/`wasm`, the tensor-op
 *   parallel Jacobi elsewhere (WebGPU).
 * - `eigh-64-b16-tensor`: `method: 'tensor'` on every backend — the parallel cyclic Jacobi in tfjs
 *   ops (8 sweeps of 63 rounds for n = 64) that WebGPU runs, measured where it can be compared.
 *
 * Parity outputs: `values` [16, 64] (ascending, as torch), `logm` [16, 64, 64] (the sign-invariant
 * reconstruction), `loss` [16] and `grad.a` [16, 64, 64]. The PyTorch module computes them in
 * float64 from the same float32 inputs, so max |Δ| is BrickML's float32 error; its timed step is
 * float32, like BrickML's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, eigh, matmul, resolveEighMethod, swapLastAxes, type EighMethod } from '@brickml/core';
import type { BenchCase } from '../case.js';

const BATCH = 16;
const N = 64;
/** Columns of X in A = X Xᵀ / (2N) + 0.1·I: eigenvalues ≈ 0.19 … 3.0 (Marchenko–Pastur, ratio ½). */
const WIDTH = 2 * N;
const SHIFT = 0.1;

/**
 * Nominal FLOPs of one step per matrix (the decomposition counted as LAPACK would do it, not as the
 * Jacobi sweeps BrickML runs): 9n³ for the symmetric eigendecomposition with vectors (Golub & Van
 * Loan's estimate for tridiagonalisation + implicit QR), 2n³ for V diag(log λ) Vᵀ and 4n³ for its
 * backward, 8n³ for the eigh backward V (F ∘ VᵀdV + diag dλ) Vᵀ (four n×n products).
 */
const FLOPS = BATCH * 23 * N ** 3;

function eighCase(method: EighMethod): BenchCase {
  const tensorPath = method === 'tensor';
  return {
    id: tensorPath ? 'eigh-64-b16-tensor' : 'eigh-64-b16',
    title:
      `eigh fwd+bwd, ${BATCH} SPD ${N}×${N}, loss on λ and V diag(log λ) Vᵀ ` +
      (tensorPath ? '(tensor path: parallel Jacobi in tfjs ops, as on WebGPU)' : '(auto: host Jacobi on cpu/wasm)'),
    flops: FLOPS,
    reference: { module: 'eigh' },
    meta: { batch: BATCH, n: N, method, parity: 'float64' },
    // The harness's default 1e-3 (absolute). Measured (wasm and cpu, host and tensor path): the
    // largest outputs are loss (|·| ≤ 27, a sum over 64 + 4096 terms) with max |Δ| ≤ 3.0e-4 and
    // grad.a (|·| ≤ 7.3) with max |Δ| ≤ 2.1e-4, i.e. ≤ 3e-5 relative: float32 against float64, with
    // the eigenvalue gaps down to 9.5e-4 that F = 1/(λ_j − λ_i) divides by; values (≤ 3.1) ≤ 3.6e-5,
    // logm (≤ 0.61) ≤ 1.2e-5. A wrong sign or a missing term of the gradient is off by O(1).
    tolerance: 1e-3,
    async setup() {
      const rng = new Rng(7);
      const a = tf.tidy(() => {
        const x = rng.normalTensor([BATCH, N, WIDTH]); // [batch, n, 2n]
        const s = tf.add(tf.div(matmul(x, x, false, true), WIDTH), tf.mul(tf.eye(N), SHIFT)); // [batch, n, n]
        return tf.mul(tf.add(s, swapLastAxes(s)), 0.5); // exactly symmetric
      });
      const u = rng.normalTensor([N]); // [n] weights on the eigenvalues
      const w = tf.tidy(() => {
        const g = rng.normalTensor([N, N]);
        return tf.mul(tf.add(g, tf.transpose(g)), Math.SQRT1_2); // [n, n] symmetric, entries ~N(0, 1)
      });

      /** Per-matrix loss [batch], eigenvalues and log(A) rebuilt from eigh's outputs. */
      const forward = (m: tf.Tensor) => {
        const { values, vectors } = eigh(m, { method }); // [batch, n], [batch, n, n]
        const logm = matmul(tf.mul(vectors, tf.expandDims(tf.log(values), 1)), vectors, false, true); // [batch, n, n]
        const loss = tf.add(tf.sum(tf.mul(values, u), -1), tf.sum(tf.mul(logm, w), [-2, -1])); // [batch]
        return { values, logm, loss };
      };
      const grad = tf.grad((m: tf.Tensor) => tf.sum(forward(m).loss));

      return {
        tensors: () => ({ 'in.a': a, 'in.u': u, 'in.w': w }),
        outputs: async () =>
          tf.tidy(() => {
            const { values, logm, loss } = forward(a);
            return { values, logm, loss, 'grad.a': grad(a) };
          }),
        step: async () => {
          const g = tf.tidy(() => grad(a)); // [batch, n, n]
          await g.data();
          g.dispose();
        },
        facts: () => ({ method: resolveEighMethod(method) }),
        dispose: () => tf.dispose([a, u, w]),
      };
    },
  };
}

export function eighCases(): BenchCase[] {
  return [eighCase('auto'), eighCase('tensor')];
}
