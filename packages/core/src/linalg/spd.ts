import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '../ops/matmul.js';
import { checkSquare, defaultJacobiSweeps, eighForward, symmetrize, type EighMethod } from './eigh.js';

/**
 * Functions of symmetric (positive-definite) matrices through the eigendecomposition,
 * f(A) = V diag(f(λ)) Vᵀ, each with its own gradient (the Daleckii–Krein / Löwner form of matrix
 * backpropagation):
 *
 * ```text
 * dA = sym(V (K ∘ (Vᵀ sym(dY) V)) Vᵀ),  K_ij = (f(λ_i) − f(λ_j)) / (λ_i − λ_j)   for λ_i ≠ λ_j
 *                                      K_ij = f'((λ_i + λ_j) / 2)                  for λ_i ≈ λ_j
 * ```
 * This equals the eigh gradient of Ionescu et al. composed with Y = V diag(f(λ)) Vᵀ, written so that
 * repeated eigenvalues need no safeguard: the divided difference tends to f'(λ) as the gap closes.
 * **Safeguard (Taylor step):** when |λ_i − λ_j| ≤ `taylorTol`·max(|λ_i|, |λ_j|) (default 1e-3) the
 * divided difference, which loses precision to cancellation in float32, is replaced by f' at the
 * midpoint, whose error is O(gap²·f''') — below float32 rounding at that threshold.
 */

/** Options of {@link spdFunction} and the named SPD functions. */
export interface SpdFunctionOptions {
  /** Jacobi sweeps of the eigendecomposition's tensor path (default as {@link eigh}). */
  sweeps?: number;
  /** Forward algorithm of the eigendecomposition (default `auto`, as {@link eigh}). */
  method?: EighMethod;
  /**
   * Eigenvalues are clamped below at this value before f is applied (the result is f of the
   * nearest matrix with eigenvalues ≥ it; the gradient is taken at the clamped eigenvalues).
   * Default: none for {@link symFunction}; 0 for {@link spdSqrt}; for `spdLog`/`spdInvSqrt` none
   * (a singular input gives ∓∞: add ε·I first, as `O2PPooling` does).
   */
  minEigenvalue?: number;
  /** Relative gap below which K uses f' at the midpoint instead of the divided difference (default 1e-3). */
  taylorTol?: number;
}

/** Elementwise f and f' on eigenvalues (tensors in, tensors out). */
export type EigenvalueFunction = (lambda: tf.Tensor) => tf.Tensor;

/**
 * f(A) = V diag(f(λ)) Vᵀ for a batch of symmetric matrices A [..., n, n] (their symmetric part is
 * used), with the divided-difference gradient above. `f` and `df` (its derivative) act
 * elementwise on the eigenvalue tensor. Named instances: {@link spdLog}, {@link spdSqrt},
 * {@link spdInvSqrt}, {@link spdPow}, {@link symExp}.
 */
export function symFunction(a: tf.Tensor, f: EigenvalueFunction, df: EigenvalueFunction, options: SpdFunctionOptions = {}, name = 'symFunction'): tf.Tensor {
  const n = checkSquare(name, 'a', a);
  const sweeps = options.sweeps ?? defaultJacobiSweeps(n);
  const taylorTol = options.taylorTol ?? 1e-3;
  const minEig = options.minEigenvalue;
  if (!Number.isInteger(sweeps) || sweeps < 0) throw new Error(`${name}: option 'sweeps' must be an integer ≥ 0, got ${sweeps}`);
  if (!(taylorTol >= 0)) throw new Error(`${name}: option 'taylorTol' must be ≥ 0, got ${taylorTol}`);
  if (options.method !== undefined && !['auto', 'tensor', 'host'].includes(options.method)) {
    throw new Error(`${name}: option 'method' must be 'auto', 'tensor' or 'host', got ${JSON.stringify(options.method)}`);
  }
  if (minEig !== undefined && !Number.isFinite(minEig)) throw new Error(`${name}: option 'minEigenvalue' must be a finite number, got ${minEig}`);
  return tf.tidy(() => {
    const a3 = tf.reshape(a, [-1, n, n]); // [b, n, n]
    const apply = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      const eig = eighForward(symmetrize(x), sweeps, options.method);
      const lambda = minEig === undefined ? eig.values : tf.maximum(eig.values, minEig); // [b, n]
      const V = eig.vectors; // [b, n, n]
      const fl = f(lambda); // [b, n]
      save([lambda, V, fl]);
      return {
        value: matmul(tf.mul(V, tf.expandDims(fl, 1)), V, false, true), // V diag(f(λ)) Vᵀ
        gradFunc: (dy: tf.Tensor, [L, V2, FL]: tf.Tensor[]) => {
          const K = loewner(L, FL, df, taylorTol); // [b, n, n]
          const inner = tf.mul(K, matmul(matmul(V2, symmetrize(dy), true), V2)); // K ∘ (Vᵀ sym(dY) V)
          return symmetrize(matmul(matmul(V2, inner), V2, false, true));
        },
      };
    }) as any) as (x: tf.Tensor) => tf.Tensor;
    return tf.reshape(apply(a3), a.shape);
  });
}

/**
 * The Löwner matrix K [b, n, n] of f at eigenvalues L [b, n] (f(L) = FL): divided differences
 * off the diagonal, f' on it and wherever the relative gap is ≤ taylorTol.
 */
function loewner(L: tf.Tensor, FL: tf.Tensor, df: EigenvalueFunction, taylorTol: number): tf.Tensor {
  return tf.tidy(() => {
    const li = tf.expandDims(L, 2), lj = tf.expandDims(L, 1); // [b, n, 1], [b, 1, n]
    const gap = tf.sub(li, lj); // λ_i − λ_j
    const size = tf.maximum(tf.maximum(tf.abs(li), tf.abs(lj)), 1e-30);
    const close = tf.lessEqual(tf.abs(gap), tf.mul(size, taylorTol));
    const divided = tf.div(tf.sub(tf.expandDims(FL, 2), tf.expandDims(FL, 1)), tf.where(close, tf.onesLike(gap), gap));
    const slope = df(tf.mul(tf.add(li, lj), 0.5));
    return tf.where(close, slope, divided);
  });
}

/** f(A) for symmetric positive-definite A: {@link symFunction} under its SPD name. */
export function spdFunction(a: tf.Tensor, f: EigenvalueFunction, df: EigenvalueFunction, options: SpdFunctionOptions = {}): tf.Tensor {
  return symFunction(a, f, df, options, 'spdFunction');
}

/** Principal matrix logarithm of SPD matrices [..., n, n] (log-Euclidean metric). */
export function spdLog(a: tf.Tensor, options: SpdFunctionOptions = {}): tf.Tensor {
  return symFunction(a, (l) => tf.log(l), (l) => tf.reciprocal(l), options, 'spdLog');
}

/** Principal square root A^½ of SPD (or PSD) matrices [..., n, n]; eigenvalues clamped at 0 by default. */
export function spdSqrt(a: tf.Tensor, options: SpdFunctionOptions = {}): tf.Tensor {
  return symFunction(
    a,
    (l) => tf.sqrt(l),
    (l) => tf.div(0.5, tf.sqrt(l)),
    { minEigenvalue: 0, ...options },
    'spdSqrt',
  );
}

/** Inverse square root A^-½ of SPD matrices [..., n, n] (whitening). */
export function spdInvSqrt(a: tf.Tensor, options: SpdFunctionOptions = {}): tf.Tensor {
  return symFunction(
    a,
    (l) => tf.rsqrt(l),
    (l) => tf.mul(-0.5, tf.pow(l, -1.5)),
    options,
    'spdInvSqrt',
  );
}

/** A^p of SPD matrices [..., n, n] for a real power p (p = 0.5 is iSQRT-style power normalisation). */
export function spdPow(a: tf.Tensor, p: number, options: SpdFunctionOptions = {}): tf.Tensor {
  if (!Number.isFinite(p)) throw new Error(`spdPow: argument 'p' must be a finite number, got ${p}`);
  return symFunction(
    a,
    (l) => tf.pow(l, p),
    (l) => tf.mul(p, tf.pow(l, p - 1)),
    options,
    'spdPow',
  );
}

/** Matrix exponential of symmetric matrices [..., n, n] (the inverse of {@link spdLog}). */
export function symExp(a: tf.Tensor, options: SpdFunctionOptions = {}): tf.Tensor {
  return symFunction(a, (l) => tf.exp(l), (l) => tf.exp(l), options, 'symExp');
}
