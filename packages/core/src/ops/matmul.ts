import * as tf from '@tensorflow/tfjs-core';
import { WASM_BATCH_MATMUL_KERNEL, batchedMatmulKernelUsable } from '../engine/wasm/batch-matmul.js';

/**
 * Core's matrix product, with a gradient of its own.
 *
 * tfjs's autodiff of `matMul` emits transposed (`transposeA/B`) and batched products; on wasm only
 * non-transposed batch-1 products reach XNNPACK and the rest run 10–45× slower (docs/design.md, "Own the
 * matmul"). Here transposes are materialised explicitly and the backward pass issues only plain
 * products, so every brick gets the fast path by calling this.
 */

/** Swaps the last two axes. */
export function swapLastAxes(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/**
 * A · B without transposes for A [..., m, k], B [..., k, n] with equal batch dims. Batched products
 * on wasm go through core's XNNPACK-per-item kernel (engine/wasm/batch-matmul.ts); everything else
 * is `tf.matMul`.
 */
function product(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const batch = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.rank - 1];
  // Below ~16³ multiply-adds per item the per-item call costs more than the scalar loop saves.
  const worthIt = a.rank >= 3 && batch > 1 && m * k * n >= 4096;
  if (!worthIt || a.dtype !== 'float32' || b.dtype !== 'float32' || !batchedMatmulKernelUsable()) {
    return tf.matMul(a, b);
  }
  const a3 = tf.reshape(a, [batch, m, k]); // [batch, m, k]
  const b3 = tf.reshape(b, [batch, k, n]); // [batch, k, n]
  const y = tf.engine().runKernel(WASM_BATCH_MATMUL_KERNEL, { a: a3, b: b3 }) as tf.Tensor; // [batch, m, n]
  return tf.reshape(y, [...a.shape.slice(0, -2), m, n]);
}

// C = A · B for A [..., m, k], B [..., k, n] with equal batch dims (both rank ≥ 2).
const plainMatmul = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: product(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      // dA = dC · Bᵀ ; dB = Aᵀ · dC  — transposes made explicit.
      return [product(dy, swapLastAxes(sb)), product(swapLastAxes(sa), dy)];
    },
  };
}) as any) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * `a · b` (optionally transposing either operand), for a [..., m, k] and b [..., k, n] with equal
 * batch dims, or b rank 2 shared across a's leading dims (a linear map).
 */
export function matmul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  return tf.tidy(() => {
    if (a.rank < 2 || b.rank < 2) {
      throw new Error(`matmul: operands must have rank ≥ 2, got a [${a.shape}] and b [${b.shape}]`);
    }
    const A = transposeA ? swapLastAxes(a) : a;
    const B = transposeB ? swapLastAxes(b) : b;
    if (B.rank === 2 && A.rank > 2) {
      // [..., m, k] · [k, n] → flatten the leading dims into one product.
      const lead = A.shape.slice(0, -1);
      const k = A.shape[A.rank - 1];
      const y = plainMatmul(tf.reshape(A, [-1, k]), B);
      return tf.reshape(y, [...lead, B.shape[1] as number]);
    }
    if (A.rank !== B.rank || A.shape.slice(0, -2).some((d, i) => d !== B.shape[i])) {
      throw new Error(
        `matmul: batch dimensions must match (or b must be rank 2), got a [${a.shape}] and b [${b.shape}]`,
      );
    }
    if (A.shape[A.rank - 1] !== B.shape[B.rank - 2]) {
      throw new Error(
        `matmul: inner dimensions differ: a [${a.shape}]${transposeA ? 'ᵀ' : ''} · b [${b.shape}]${transposeB ? 'ᵀ' : ''}`,
      );
    }
    return plainMatmul(A, B);
  });
}
