/**
 * Fréchet distance between two Gaussians fitted to feature sets (the formula behind FID), in plain
 * float64 JavaScript on the host:
 *
 * ```text
 * FD = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2·tr( (Σ1^½ · Σ2 · Σ1^½)^½ )
 * ```
 * (`tr((Σ1Σ2)^½)` equals the last trace; the symmetric form needs only square roots of symmetric
 * positive semi-definite matrices, computed from a cyclic Jacobi eigen-decomposition, with
 * negative round-off eigenvalues clamped at 0.)
 */

/** Mean and covariance of `n` feature rows of width `dim`. */
export interface FeatureStats {
  n: number;
  dim: number;
  /** `[dim]` */
  mean: Float64Array;
  /** `[dim, dim]` row-major, unbiased (divides by n − 1). */
  cov: Float64Array;
}

/** Mean and unbiased covariance of row-major features `[n, dim]`. */
export function featureStats(features: ArrayLike<number>, n: number, dim: number): FeatureStats {
  if (features.length !== n * dim) throw new RangeError(`featureStats: expected n·dim = ${n * dim} values, got ${features.length}`);
  if (n < 2) throw new RangeError(`featureStats: need at least 2 rows, got ${n}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += features[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) row[j] = features[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ra = row[a];
      for (let b = a; b < dim; b++) cov[a * dim + b] += ra * row[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / (n - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  return { n, dim, mean, cov };
}

/** Eigen-decomposition of a symmetric matrix: `A = V·diag(values)·Vᵀ`, eigenvectors in the columns of V. */
export interface SymmetricEigen {
  values: Float64Array;
  /** `[n, n]` row-major; column k is the k-th eigenvector. */
  vectors: Float64Array;
}

/**
 * Cyclic Jacobi eigen-decomposition of a symmetric `[n, n]` matrix (row-major; the upper
 * triangle is trusted). Converges quadratically; stops when the off-diagonal mass is below
 * `tol`·‖A‖² or after `maxSweeps` sweeps.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number, { tol = 1e-24, maxSweeps = 100 } = {}): SymmetricEigen {
  if (matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n}×${n} = ${n * n} values, got ${matrix.length}`);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      a[i * n + j] = matrix[i * n + j];
      a[j * n + i] = matrix[i * n + j];
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let k = 0; k < n * n; k++) total += a[k] * a[k];
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= tol * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // columns p and q of A
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // rows p and q of A
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/** Square root of a symmetric positive semi-definite matrix (negative eigenvalues clamped to 0). */
export function sqrtPsd(matrix: ArrayLike<number>, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * s;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return out;
}

function matmulSquare(a: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b[k * n + j];
    }
  }
  return out;
}

/** `tr((Σ1^½ Σ2 Σ1^½)^½)` = `tr((Σ1 Σ2)^½)`. */
export function traceSqrtProduct(cov1: ArrayLike<number>, cov2: ArrayLike<number>, n: number): number {
  const s1 = sqrtPsd(cov1, n);
  const m = matmulSquare(matmulSquare(s1, cov2, n), s1, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const avg = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = avg;
      m[j * n + i] = avg;
    }
  }
  const { values } = symmetricEigen(m, n);
  let tr = 0;
  for (const v of values) tr += Math.sqrt(Math.max(v, 0));
  return tr;
}

/** Fréchet distance between two fitted Gaussians (see the module comment). */
export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  if (a.dim !== b.dim) throw new RangeError(`frechetDistance: feature widths differ (${a.dim} vs ${b.dim})`);
  const n = a.dim;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (a.mean[i] - b.mean[i]) ** 2;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += a.cov[i * n + i] + b.cov[i * n + i];
  return Math.max(0, d2 + tr - 2 * traceSqrtProduct(a.cov, b.cov, n));
}
