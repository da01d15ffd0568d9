import * as tf from '@tensorflow/tfjs-core';

/**
 * The contract between core and the backend packages (`@brickml/backend-node`,
 * `@brickml/backend-web`): each implements {@link BackendProvider}; both return a
 * {@link BackendReport} that says what was chosen and why every other engine was not.
 */

/** Why an engine was or was not chosen. */
export type BackendStatus =
  | 'chosen'
  | 'not-installed'
  | 'no-adapter'
  | 'failed-init'
  | 'failed-self-test'
  | 'not-tried';

export interface BackendAttempt {
  /** BrickML engine name (`tensorflow-gpu`, `tensorflow`, `webgpu`, `wasm`, `webgl`, `cpu`). */
  engine: string;
  status: BackendStatus;
  /** Human-readable reason (error message, missing adapter, self-test error). */
  reason?: string;
  /** For `not-installed`: the command that installs it. */
  install?: string;
}

export interface BackendReport {
  /** The chosen BrickML engine name. */
  engine: string;
  /** The tfjs backend name now active (`tf.getBackend()`). */
  tfBackend: string;
  /** Adapter or device description, where there is one (GPU name, SwiftShader, CPU SIMD...). */
  device?: string;
  /** Self-test of the chosen backend: max abs error of a matmul against a float64 host result. */
  selfTest?: { maxAbsError: number; ms: number };
  /** Every engine considered, in preference order. */
  attempts: BackendAttempt[];
}

/** What a backend package implements. */
export interface BackendProvider {
  /** `node` or `web`. */
  readonly platform: string;
  /** Engines in default preference order. */
  readonly order: readonly string[];
  /** Picks and sets up a backend; a string or list asks for specific engines (missing ones are errors). */
  useBackend(preference?: string | readonly string[]): Promise<BackendReport>;
}

/**
 * A short self-test run before a backend is accepted: a 64×48 · 48×32 matmul on the active tfjs
 * backend compared with a float64 product computed on the host. Reads with `await data()`.
 */
export async function backendSelfTest(tolerance = 1e-3): Promise<{ ok: boolean; maxAbsError: number; ms: number }> {
  const m = 64, k = 48, n = 32;
  const a = new Float32Array(m * k), b = new Float32Array(k * n);
  for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 0.37) * 0.5;
  for (let i = 0; i < b.length; i++) b[i] = Math.cos(i * 0.11) * 0.5;
  const t0 = performance.now();
  const c = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
  const got = await c.data();
  c.dispose();
  const ms = performance.now() - t0;
  let maxAbsError = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      maxAbsError = Math.max(maxAbsError, Math.abs(s - got[i * n + j]));
    }
  return { ok: Number.isFinite(maxAbsError) && maxAbsError <= tolerance, maxAbsError, ms };
}
