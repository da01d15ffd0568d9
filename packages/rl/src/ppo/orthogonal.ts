import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@brickml/core';

/**
 * A `[rows, cols]` matrix with orthonormal rows or columns (whichever are fewer), times `gain`:
 * PyTorch's `nn.init.orthogonal_` (QR of a standard normal matrix with the signs of R's diagonal
 * made positive), computed on the host with modified Gram–Schmidt from `rng`, so it is the same on
 * every backend. (Belongs in core's initialisers; it lives here until core has it.)
 */
export function orthogonalArray(rows: number, cols: number, gain: number, rng: Rng): Float32Array {
  const transpose = rows < cols;
  const m = transpose ? cols : rows; // tall: m ≥ n
  const n = transpose ? rows : cols;
  const a = rng.normalArray(m * n); // column-major columns of length m: a[j*m + i]
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(m);
    for (let i = 0; i < m; i++) v[i] = a[j * m + i];
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += q[k * m + i] * v[i];
      for (let i = 0; i < m; i++) v[i] -= dot * q[k * m + i];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < m; i++) q[j * m + i] = v[i] / norm;
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // Q is m×n (column j stored at q[j*m..]); the result is Q (rows=m) or Qᵀ (rows=n).
      out[r * cols + c] = gain * (transpose ? q[r * m + c] : q[c * m + r]);
    }
  }
  return out;
}

/** {@link orthogonalArray} as a tensor. */
export function orthogonalTensor(rows: number, cols: number, gain: number, rng: Rng): tf.Tensor2D {
  return tf.tensor2d(orthogonalArray(rows, cols, gain, rng), [rows, cols]);
}
