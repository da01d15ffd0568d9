// A test page: backend selection and a tiny training step in a real browser.
// Query: ?runs=default|webgpu (preferences, in order; "default" = no argument), &wasmPaths=/wasm/,
// &conformance=1 (run core's conformance suite on the last backend chosen).
import * as tf from '@tensorflow/tfjs-core';
import '@brickml/core';
import '@tensorflow/tfjs-backend-cpu'; // the conformance reference
import { setWasmPaths, useBackend } from '../../src/index.js';
import { runConformance } from '@brickml/core';

interface RunResult {
  preference: string;
  report?: unknown;
  error?: string;
  losses?: number[];
  w?: number;
  b?: number;
}

/** Fits y = 2x + 1 with plain SGD on tf ops; every loss read with await data(). */
async function fitLine(steps = 40, lr = 0.5): Promise<{ losses: number[]; w: number; b: number }> {
  const x = tf.linspace(-1, 1, 32);
  const y = tf.tidy(() => tf.add(tf.mul(x, 2), 1));
  const zero = tf.scalar(0);
  const w = tf.variable(zero);
  const b = tf.variable(zero);
  zero.dispose();
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.add(tf.mul(x, w), b), y))) as tf.Scalar, [w, b]);
    losses.push((await value.data())[0]);
    tf.tidy(() => {
      w.assign(tf.sub(w, tf.mul(grads[w.name], lr)));
      b.assign(tf.sub(b, tf.mul(grads[b.name], lr)));
    });
    tf.dispose([value, grads[w.name], grads[b.name]]);
  }
  const out = { losses, w: (await w.data())[0], b: (await b.data())[0] };
  tf.dispose([x, y, w, b]);
  return out;
}

async function main() {
  const q = new URLSearchParams(location.search);
  if (q.get('wasmPaths')) setWasmPaths(q.get('wasmPaths')!);
  const runs: RunResult[] = [];
  for (const preference of (q.get('runs') ?? 'default').split('|')) {
    const r: RunResult = { preference };
    try {
      r.report = await useBackend(preference === 'default' ? undefined : preference);
      Object.assign(r, await fitLine());
    } catch (e) {
      r.error = (e as Error).message;
    }
    runs.push(r);
  }
  const conformance = q.get('conformance') ? await runConformance() : undefined;
  return {
    runs,
    conformance,
    numTensors: tf.memory().numTensors,
    crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated ?? false,
  };
}

const w = window as unknown as { __result?: unknown; __error?: string };
main().then(
  (r) => (w.__result = r),
  (e) => (w.__error = String((e as Error)?.stack ?? e)),
);
