import * as tf from '@tensorflow/tfjs-core';

/** Result of {@link gradCheck}: the worst disagreement between analytic and numeric gradients. */
export interface GradCheckResult {
  maxAbsError: number;
  maxRelError: number;
  /** Input index and flat element of the worst entry. */
  worst: { input: number; index: number; analytic: number; numeric: number };
  ok: boolean;
}

/**
 * Checks the gradients of a scalar function of tensors against central finite differences.
 * Runs in float32 (tfjs backends have no float64), so use O(1) inputs, `eps` ≈ 1e-2…1e-3 and the
 * tolerances stated by the test. At most `maxChecks` elements per input are probed (spread evenly).
 *
 * An element passes when |analytic − numeric| ≤ atol + rtol·|numeric|.
 */
export async function gradCheck(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  inputs: tf.Tensor[],
  { eps = 1e-2, atol = 1e-3, rtol = 1e-2, maxChecks = 24 }: { eps?: number; atol?: number; rtol?: number; maxChecks?: number } = {},
): Promise<GradCheckResult> {
  const grads = tf.grads(f)(inputs);
  const analytic = await Promise.all(grads.map((g) => g.data()));
  grads.forEach((g) => g.dispose());
  const values = await Promise.all(inputs.map((x) => x.data()));
  let maxAbsError = 0, maxRelError = 0;
  let worst = { input: -1, index: -1, analytic: 0, numeric: 0 };
  let ok = true;
  const evalAt = async (i: number, arr: Float32Array): Promise<number> => {
    const v = tf.tidy(() => f(...inputs.map((x, j) => (j === i ? tf.tensor(arr, x.shape, x.dtype) : x))));
    const out = (await v.data())[0];
    v.dispose();
    return out;
  };
  for (let i = 0; i < inputs.length; i++) {
    const base = Float32Array.from(values[i] as Float32Array);
    const n = base.length;
    const step = Math.max(1, Math.floor(n / maxChecks));
    for (let k = 0; k < n; k += step) {
      const orig = base[k];
      base[k] = orig + eps;
      const up = await evalAt(i, base);
      base[k] = orig - eps;
      const down = await evalAt(i, base);
      base[k] = orig;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[i][k];
      const err = Math.abs(a - numeric);
      const rel = err / Math.max(Math.abs(numeric), 1e-6);
      if (err > atol + rtol * Math.abs(numeric)) ok = false;
      if (err > maxAbsError) {
        maxAbsError = err;
        worst = { input: i, index: k, analytic: a, numeric };
      }
      maxRelError = Math.max(maxRelError, Math.min(rel, err));
    }
  }
  return { maxAbsError, maxRelError, worst, ok };
}

/**
 * Checks `tf.variableGrads` of a scalar loss against central finite differences obtained by
 * perturbing each variable in place (restored afterwards). Use for modules: pass
 * `module.parameters()` and a closure that runs the forward pass.
 */
export async function gradCheckVariables(
  loss: () => tf.Scalar,
  variables: tf.Variable[],
  { eps = 1e-2, atol = 1e-3, rtol = 1e-2, maxChecks = 16 }: { eps?: number; atol?: number; rtol?: number; maxChecks?: number } = {},
): Promise<GradCheckResult> {
  const { value, grads } = tf.variableGrads(loss, variables);
  value.dispose();
  let maxAbsError = 0, maxRelError = 0;
  let worst = { input: -1, index: -1, analytic: 0, numeric: 0 };
  let ok = true;
  const evalLoss = async () => {
    const v = tf.tidy(loss);
    const out = (await v.data())[0];
    v.dispose();
    return out;
  };
  for (let i = 0; i < variables.length; i++) {
    const v = variables[i];
    const g = grads[v.name];
    const analytic = g ? await g.data() : new Float32Array(v.size);
    const base = Float32Array.from((await v.data()) as Float32Array);
    const step = Math.max(1, Math.floor(base.length / maxChecks));
    const setTo = (arr: Float32Array) => tf.tidy(() => v.assign(tf.tensor(arr, v.shape, v.dtype)));
    for (let k = 0; k < base.length; k += step) {
      const orig = base[k];
      base[k] = orig + eps;
      setTo(base);
      const up = await evalLoss();
      base[k] = orig - eps;
      setTo(base);
      const down = await evalLoss();
      base[k] = orig;
      setTo(base);
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(analytic[k] - numeric);
      if (err > atol + rtol * Math.abs(numeric)) ok = false;
      if (err > maxAbsError) {
        maxAbsError = err;
        worst = { input: i, index: k, analytic: analytic[k], numeric };
      }
      maxRelError = Math.max(maxRelError, Math.min(err / Math.max(Math.abs(numeric), 1e-6), err));
    }
  }
  Object.values(grads).forEach((g) => g.dispose());
  return { maxAbsError, maxRelError, worst, ok };
}
