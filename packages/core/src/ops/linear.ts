import * as tf from '@tensorflow/tfjs-core';

/**
 * `y = x · Wᵀ + b` with PyTorch's weight layout W [out, in], as one op with its own gradient.
 *
 * In this layout the input gradient `dy · W` is a plain product and the weight gradient
 * `dyᵀ · x` needs one explicit transpose, so wasm stays on its fast path (see ops/matmul.ts).
 * A fused kernel per backend can later replace the reference path behind the same function.
 */

/**
 * Wᵀ for the forward product. On wasm only non-transposed products reach XNNPACK, so W [out, in]
 * is transposed explicitly — once per weight version: the transposed copy of a variable is kept
 * until the variable is assigned (its data changes) or disposed, which also lets XNNPACK reuse the
 * weights it packed for that copy (sampling loops, weight-shared layers). Other backends multiply
 * by W with `transposeB` and keep no copy.
 */
const transposedCache = new Map<number, { source: tf.Variable; dataId: object; wt: tf.Tensor }>();
/** Variables whose `dispose` also frees their cached copy (wrapped once, on first caching). */
const disposeHooked = new WeakSet<tf.Variable>();

/** Makes `v.dispose()` free v's transposed copy too, so disposing a model leaves no tensor behind. */
function freeCopyOnDispose(v: tf.Variable): void {
  if (disposeHooked.has(v)) return;
  disposeHooked.add(v);
  const dispose = v.dispose.bind(v);
  v.dispose = () => {
    const e = transposedCache.get(v.id);
    if (e && e.source === v) {
      e.wt.dispose();
      transposedCache.delete(v.id);
    }
    dispose();
  };
}

function forwardProduct(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'wasm') return tf.matMul(x, w, false, true);
  if (!(w instanceof tf.Variable)) return tf.matMul(x, tf.transpose(w));
  let entry = transposedCache.get(w.id);
  if (!entry || entry.dataId !== w.dataId || entry.wt.isDisposed) {
    if (entry) entry.wt.dispose(); // a stale copy (the variable was assigned); a disposed variable freed its own
    entry = { source: w, dataId: w.dataId, wt: tf.keep(tf.transpose(w)) };
    transposedCache.set(w.id, entry);
    freeCopyOnDispose(w);
  }
  return tf.matMul(x, entry.wt);
}

/** Frees the transposed weight copies kept for wasm (they are rebuilt on demand). */
export function clearLinearCache(): void {
  for (const e of transposedCache.values()) e.wt.dispose();
  transposedCache.clear();
}

/** dW = dyᵀ · x: an explicit transpose on wasm (its fast path), `transposeA` elsewhere. */
function weightGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.getBackend() === 'wasm' ? tf.matMul(tf.transpose(dy), x) : tf.matMul(dy, x, true, false);
}

// x2 [m, in], w [out, in], b [out] → [m, out]
const linearWithBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.add(forwardProduct(x, w), b),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      tf.matMul(dy, sw), // dx [m, in]
      weightGrad(dy, sx), // dW [out, in]
      tf.sum(dy, 0), // db [out]
    ],
  };
}) as any) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

const linearNoBias = tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: forwardProduct(x, w),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [tf.matMul(dy, sw), weightGrad(dy, sx)],
  };
}) as any) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/**
 * Affine map over the last axis: x [..., in], weight [out, in], bias [out] or null → [..., out].
 */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null = null): tf.Tensor {
  return tf.tidy(() => {
    const inF = weight.shape[1];
    const outF = weight.shape[0];
    if (x.shape[x.rank - 1] !== inF) {
      throw new Error(`linear: x [${x.shape}] last axis must equal weight [${weight.shape}] in-features ${inF}`);
    }
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inF]); // [m, in]
    const y = bias ? linearWithBias(x2, weight, bias) : linearNoBias(x2, weight);
    return tf.reshape(y, [...lead, outF]);
  });
}
