/**
 * Plain-JS reference for {@link eigh}: cyclic Jacobi in float64 on one matrix, row by row, with a
 * convergence test. Slow (O(n³) per sweep in scalar JS) and meant for tests and for checking a
 * backend's results, not for models.
 */

/** Result of {@link eighReference}: eigenvalues ascending, eigenvectors as columns (row-major n×n). */
export interface EighReferenceResult {
  values: Float64Array;
  /** Row-major [n, n]; column k is the eigenvector of values[k]. */
  vectors: Float64Array;
  /** Sweeps until the off-diagonal norm fell below `tol`·‖A‖_F. */
  sweeps: number;
}

/**
 * Eigen-decomposition of the symmetric part of `a` (row-major [n, n]) by cyclic Jacobi rotations
 * in float64, until the off-diagonal Frobenius norm is below `tol`·‖A‖_F (or `maxSweeps`).
 * Eigenvalues come out ascending; each eigenvector's largest-magnitude entry is positive (the same
 * sign convention as {@link eigh}).
 */
export function eighReference(a: ArrayLike<number>, n: number, { tol = 1e-14, maxSweeps = 60 } = {}): EighReferenceResult {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new Error(`eighReference: argument 'a' must hold n·n = ${n}·${n} numbers for n ≥ 1, got ${a.length}`);
  }
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) A[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
  // Vᵀ, so that V ← V·J updates two contiguous rows.
  const VT = new Float64Array(n * n);
  for (let i = 0; i < n; i++) VT[i * n + i] = 1;
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm += A[i] * A[i];
  norm = Math.sqrt(norm);
  let sweeps = 0;
  const off = () => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) s += A[i * n + j] * A[i * n + j];
    return Math.sqrt(s);
  };
  while (sweeps < maxSweeps && off() > tol * norm) {
    sweeps++;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const app = A[p * n + p], aqq = A[q * n + q];
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        // A ← Jᵀ A J with J[p,p] = J[q,q] = c, J[p,q] = s, J[q,p] = −s, kept exactly symmetric:
        // rows p and q are read and written contiguously, columns p and q mirrored.
        for (let k = 0; k < n; k++) {
          if (k === p || k === q) continue;
          const akp = A[p * n + k], akq = A[q * n + k];
          const np = c * akp - s * akq, nq = s * akp + c * akq;
          A[p * n + k] = np;
          A[k * n + p] = np;
          A[q * n + k] = nq;
          A[k * n + q] = nq;
        }
        A[p * n + p] = app - t * apq;
        A[q * n + q] = aqq + t * apq;
        A[p * n + q] = 0;
        A[q * n + p] = 0;
        // V ← V J, i.e. rows p and q of Vᵀ.
        for (let k = 0; k < n; k++) {
          const vp = VT[p * n + k], vq = VT[q * n + k];
          VT[p * n + k] = c * vp - s * vq;
          VT[q * n + k] = s * vp + c * vq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[i * n + i] - A[j * n + j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, k) => {
    values[k] = A[src * n + src];
    let pivot = 0;
    for (let i = 0; i < n; i++) if (Math.abs(VT[src * n + i]) > Math.abs(pivot)) pivot = VT[src * n + i];
    const sign = pivot < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i * n + k] = sign * VT[src * n + i];
  });
  return { values, vectors, sweeps };
}
