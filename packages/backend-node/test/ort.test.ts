import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu'; // the conformance suite's reference backend
import { createRequire } from 'node:module';
import { formatConformance, gradCheck, linear, matmul, runConformance } from '@brickml/core';
import {
  BackendUnavailableError,
  NODE_ENGINES,
  ORT_INSTALL_COMMAND,
  ORT_TESTED_VERSION,
  installCommand,
  ortEngineStatus,
  useBackend,
} from '../src/index.js';
import { setOrtWarningSink } from '../src/ort/kernels.js';

// The opt-in `wasm+ort` engine: tfjs-wasm with its matrix products in onnxruntime-node. Selection
// and fallbacks run everywhere (with stand-ins for a missing or changed onnxruntime-node); the
// numerics (forward and gradients against the plain wasm path) need onnxruntime-node itself, an
// optional peer that `npm ci` does not install (.ci/run installs it, so CI runs them).

const noEnv = {};
const require = createRequire(import.meta.url);
const ortPresent = (() => {
  try {
    require.resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
})();
const ORT_MISSING = `onnxruntime-node is not installed (an optional peer of @brickml/backend-node), so the wasm+ort numerics are skipped; install it with \`${ORT_INSTALL_COMMAND}\` (never added to package.json)`;
if (!ortPresent) console.warn(`[skipped] ${ORT_MISSING}`);

/** An importer that hides onnxruntime-node as if it were not installed. */
const withoutOrt = async (spec: string) => {
  if (spec.startsWith('onnxruntime-node')) {
    const e = new Error(`Cannot find package '${spec}' imported from /app/main.mjs`) as Error & { code: string };
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return import(spec);
};

describe('wasm+ort selection (runs without onnxruntime-node)', () => {
  it('is opt-in: the default order and NODE_ENGINES stay without it', async () => {
    expect(NODE_ENGINES).not.toContain('wasm+ort');
    const r = await useBackend(undefined, { env: noEnv, importModule: withoutOrt });
    expect(r.attempts.map((a) => a.engine)).toEqual([...NODE_ENGINES]);
  });

  it('asked for alone and missing: an error naming the package and the install command with ONNXRUNTIME_NODE_INSTALL=skip', async () => {
    const err = await useBackend('wasm+ort', { env: noEnv, importModule: withoutOrt }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain("engine 'wasm+ort'");
    expect(err.message).toContain('onnxruntime-node is not installed');
    expect(err.message).toContain(`ONNXRUNTIME_NODE_INSTALL=skip npm install @tensorflow/tfjs-backend-wasm@${tf.version_core} onnxruntime-node@${ORT_TESTED_VERSION}`);
    expect(installCommand(['onnxruntime-node'])).toBe(ORT_INSTALL_COMMAND);
    expect(ORT_INSTALL_COMMAND).toBe(`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@${ORT_TESTED_VERSION}`);
  });

  it("'wasm+ort,wasm' falls back to plain wasm and says why", async () => {
    const r = await useBackend('wasm+ort,wasm', { env: noEnv, importModule: withoutOrt });
    expect(r.engine).toBe('wasm');
    expect(r.attempts.find((a) => a.engine === 'wasm+ort')).toMatchObject({ status: 'not-installed', install: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=skip') });
    expect(ortEngineStatus().active).toBe(false);
  });

  it('changed internals (no synchronous binding) are a failed-init with the reason, never a crash', async () => {
    const changed = async (spec: string) => {
      if (spec === 'onnxruntime-node') return { Tensor: class {}, env: { versions: { node: '9.9.9' } } };
      if (spec === 'onnxruntime-node/dist/binding.js') return { somethingElse: true };
      return import(spec);
    };
    const r = await useBackend(['wasm+ort', 'wasm'], { env: noEnv, importModule: changed });
    expect(r.engine).toBe('wasm');
    const a = r.attempts.find((x) => x.engine === 'wasm+ort')!;
    expect(a.status).toBe('failed-init');
    expect(a.reason).toMatch(/onnxruntime-node 9\.9\.9 \(this engine is tested with .*\).*dist\/binding\.js has no synchronous InferenceSession/);
    expect(a.reason).toContain(ORT_INSTALL_COMMAND);
  });

  it('a binding that no longer writes into caller memory fails the selection check', async () => {
    class FakeTensor {
      constructor(
        readonly type: string,
        readonly data: Float32Array,
        readonly dims: number[],
      ) {}
    }
    const fake = {
      initOrt: () => {},
      binding: {
        InferenceSession: class {
          loadModel() {}
          run() {
            return { y: new FakeTensor('float32', new Float32Array(15), [3, 5]) }; // a fresh array: the caller's view untouched
          }
          dispose() {}
        },
      },
    };
    const imp = async (spec: string) => {
      if (spec === 'onnxruntime-node') return { Tensor: FakeTensor, env: { versions: { node: ORT_TESTED_VERSION } } };
      if (spec === 'onnxruntime-node/dist/binding.js') return fake;
      return import(spec);
    };
    const err = await useBackend('wasm+ort', { env: noEnv, importModule: imp }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toMatch(/did not land in the pre-allocated output/);
  });

  it('rejects a bad thread count naming the option', async () => {
    await expect(useBackend('wasm+ort', { env: noEnv, ort: { threads: 0 } })).rejects.toThrow(/useBackend: options\.ort\.threads must be a positive integer.*got 0/);
    await expect(useBackend('wasm+ort', { env: { BRICKML_ORT_THREADS: 'two' } })).rejects.toThrow(/BRICKML_ORT_THREADS=two must be a positive integer/);
  });
});

// ---------------------------------------------------------------------------------------------
// Numerics: every product on the ORT path against the same product on tfjs-wasm's own kernels.

/** Deterministic O(1) data. */
function data(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(seed * 12.9898 + i * 0.7311) * 0.9;
  return tf.tensor(v, shape);
}

/** max |x − y| / max |y|. */
async function relErr(x: tf.Tensor, y: tf.Tensor): Promise<number> {
  expect(x.shape).toEqual(y.shape);
  const [a, b] = [await x.data(), await y.data()];
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
}

/** Runs `f` on plain wasm and on wasm+ort (threads 2, every product of ≥ 1024 multiply-adds and every sum in ORT); returns both results (kept) and the ORT runs it made. */
async function both(f: () => tf.Tensor[]): Promise<{ wasm: tf.Tensor[]; ort: tf.Tensor[]; ortRuns: number }> {
  await useBackend('wasm', { env: noEnv });
  const wasm = tf.tidy(f);
  await useBackend('wasm+ort', { env: noEnv, ort: { threads: 2, minMacs: 1024, minElements: 1 } });
  const before = ortEngineStatus().runs;
  const ort = tf.tidy(f);
  const ortRuns = ortEngineStatus().runs - before;
  return { wasm, ort, ortRuns };
}

// float32 products of length ≤ 512 sums: both paths accumulate in float32 in different orders.
const TOL = 2e-6;

describe.skipIf(!ortPresent)('wasm+ort numerics (needs onnxruntime-node)', () => {
  afterAll(async () => {
    await useBackend('wasm', { env: noEnv });
  });

  it('is chosen, reports ORT and its threads, and runs the self-test through ORT', async () => {
    const r = await useBackend('wasm+ort', { env: noEnv, ort: { threads: 2 } });
    expect(r.engine).toBe('wasm+ort');
    expect(r.tfBackend).toBe('wasm');
    expect(r.device).toMatch(/tfjs-backend-wasm .*; matrix products, sums and transposes in onnxruntime-node \d+\.\d+\.\d+ \(MLAS\), 2 intra-op threads, spinning off/);
    expect(r.selfTest!.maxAbsError).toBeLessThan(1e-4);
    const s = ortEngineStatus();
    expect(s).toMatchObject({ active: true, threads: 2 });
    expect(s.runs).toBeGreaterThanOrEqual(1); // the 64×48·48×32 self-test product
  });

  it('tf.matMul: odd sizes, every transpose pattern, batched and broadcast batch dims equal the wasm kernel', async () => {
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[37, 53], [53, 29], false, false],
      [[53, 37], [53, 29], true, false],
      [[37, 53], [29, 53], false, true],
      [[53, 37], [29, 53], true, true],
      [[3, 17, 33], [3, 33, 19], false, false],
      [[3, 33, 17], [3, 19, 33], true, true],
      [[3, 17, 33], [3, 19, 33], false, true],
      [[2, 3, 17, 33], [1, 3, 33, 19], false, false],
      [[1, 131, 257], [1, 257, 65], false, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = data(sa, 1), b = data(sb, 2);
      const { wasm, ort, ortRuns } = await both(() => [tf.matMul(a, b, ta, tb)]);
      expect(ortRuns, `${sa}${ta ? 'ᵀ' : ''}·${sb}${tb ? 'ᵀ' : ''} went through ORT`).toBe(1);
      expect(await relErr(ort[0], wasm[0]), `${sa}·${sb} ${ta} ${tb}`).toBeLessThan(TOL);
      tf.dispose([a, b, ...wasm, ...ort]);
    }
  });

  it('tf.sum over any axes (leading, inner, several, negative, all; keepDims) equals the wasm kernel', async () => {
    const cases: Array<[number[], number | number[] | undefined, boolean]> = [
      [[37, 53], 0, false],
      [[37, 53], 1, false],
      [[37, 53], [0, 1], false],
      [[37, 53], undefined, false],
      [[3, 17, 33], [0, 2], false],
      [[3, 17, 33], -1, true],
      [[3, 17, 33], [1], true],
      [[2, 3, 5, 7], [0, 1, 2], false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const x = data(shape, 7);
      const { wasm, ort, ortRuns } = await both(() => [tf.sum(x, axis, keepDims)]);
      expect(ortRuns, `sum [${shape}] over ${axis} went through ORT`).toBe(1);
      expect(ort[0].shape).toEqual(wasm[0].shape);
      // Both are float32 sums in different orders: the error scales with Σ|x|, not with the (possibly cancelling) sum.
      const scale = tf.tidy(() => tf.max(tf.sum(tf.abs(x), axis)));
      const [o, w, sc] = [await ort[0].data(), await wasm[0].data(), (await scale.data())[0]];
      const err = Math.max(...Array.from(o, (v, j) => Math.abs(v - w[j])));
      expect(err / sc, `sum [${shape}] over ${axis}`).toBeLessThan(1e-6);
      tf.dispose([x, scale, ...wasm, ...ort]);
    }
    // int32 sums stay on tfjs-wasm.
    const i = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    const { wasm, ort, ortRuns } = await both(() => [tf.sum(i, 0)]);
    expect(ortRuns).toBe(0);
    expect(Array.from(await ort[0].data())).toEqual(Array.from(await wasm[0].data()));
    tf.dispose([i, ...wasm, ...ort]);
  });

  it('tf.transpose (2-D, batched last-axes swap, 4-D head split) equals the wasm kernel exactly; int32 stays on wasm', async () => {
    const cases: Array<[number[], number[]]> = [
      [[37, 53], [1, 0]],
      [[3, 17, 33], [0, 2, 1]],
      [[2, 9, 4, 11], [0, 2, 1, 3]],
      [[5, 6, 7], [2, 0, 1]],
    ];
    for (const [shape, perm] of cases) {
      const x = data(shape, 5);
      const { wasm, ort, ortRuns } = await both(() => [tf.transpose(x, perm)]);
      expect(ortRuns, `transpose [${shape}] by [${perm}] went through ORT`).toBe(1);
      expect(ort[0].shape).toEqual(wasm[0].shape);
      expect(await relErr(ort[0], wasm[0])).toBe(0); // a permutation of the same values
      tf.dispose([x, ...wasm, ...ort]);
    }
    const i = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32');
    const { wasm, ort, ortRuns } = await both(() => [tf.transpose(i)]);
    expect(ortRuns).toBe(0);
    expect(Array.from(await ort[0].data())).toEqual(Array.from(await wasm[0].data()));
    tf.dispose([i, ...wasm, ...ort]);
  });

  it("core's matmul (batched too) and linear: forward and every gradient equal the wasm path", async () => {
    const a = data([4, 23, 41], 3), b = data([4, 41, 31], 4), w = data([4, 23, 31], 5);
    const x = data([5, 7, 45], 6), W = data([27, 45], 7), bias = data([27], 8), r = data([5, 7, 27], 9);
    const f = () => {
      const gm = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(matmul(p, q), w)));
      const gl = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(linear(xx, ww, bb), r)));
      // the same product from stored transposes: matmul(aᵀ, bᵀ, true, true) = a · b
      const gt = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(matmul(p, q, true, true), w)));
      const at = tf.transpose(a, [0, 2, 1]), bt = tf.transpose(b, [0, 2, 1]);
      return [matmul(a, b), ...gm([a, b]), linear(x, W, bias), ...gl([x, W, bias]), ...gt([at, bt])];
    };
    const { wasm, ort, ortRuns } = await both(f);
    expect(ortRuns).toBeGreaterThanOrEqual(8);
    const names = ['matmul', 'dA', 'dB', 'linear', 'dx', 'dW', 'db', 'dAᵀ', 'dBᵀ'];
    for (let i = 0; i < ort.length; i++) expect(await relErr(ort[i], wasm[i]), names[i]).toBeLessThan(TOL);
    tf.dispose([a, b, w, x, W, bias, r, ...wasm, ...ort]);
  });

  it('gradients on the ORT path pass a finite-difference check', async () => {
    await useBackend('wasm+ort', { env: noEnv, ort: { threads: 2, minMacs: 1024 } });
    const x = data([6, 40], 10), W = data([33, 40], 11), bias = data([33], 12);
    const runs = ortEngineStatus().runs;
    // A quadratic: central differences are exact up to float32 rounding, which a larger eps shrinks.
    const res = await gradCheck((xx, ww, bb) => tf.mean(tf.square(linear(xx, ww, bb))) as tf.Scalar, [x, W, bias], { eps: 0.1, atol: 1e-3, rtol: 1e-2 });
    expect(res.ok, JSON.stringify(res.worst)).toBe(true);
    expect(ortEngineStatus().runs).toBeGreaterThan(runs);
    tf.dispose([x, W, bias]);
  });

  it('small products stay on tfjs-wasm (minMacs), and a training-like loop leaks no tensors or sessions', async () => {
    await useBackend('wasm+ort', { env: noEnv, ort: { threads: 1, minMacs: 4096 } });
    const small = data([8, 8], 1);
    let runs = ortEngineStatus().runs;
    tf.tidy(() => tf.matMul(small, small)); // 512 MACs
    expect(ortEngineStatus().runs).toBe(runs);
    const x = data([32, 64], 2), W = data([48, 64], 3), b = data([48], 4);
    const step = () => {
      const g = tf.grads((ww: tf.Tensor, bb: tf.Tensor) => tf.mean(tf.square(linear(x, ww, bb))))([W, b]);
      tf.dispose(g);
    };
    step();
    const tensors = tf.memory().numTensors;
    const buffers = (tf.memory() as { numDataBuffers: number }).numDataBuffers;
    const sessions = ortEngineStatus().sessionsCached;
    runs = ortEngineStatus().runs;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect((tf.memory() as { numDataBuffers: number }).numDataBuffers).toBe(buffers);
    expect(ortEngineStatus().sessionsCached).toBe(sessions); // same shapes: cached sessions reused
    expect(ortEngineStatus().runs - runs).toBe(5 * 3); // forward, dx, dW per step
    tf.dispose([small, x, W, b]);
  });

  it('choosing another engine turns the routing off', async () => {
    await useBackend('wasm+ort', { env: noEnv });
    expect(ortEngineStatus().active).toBe(true);
    await useBackend('cpu', { env: noEnv });
    expect(ortEngineStatus()).toMatchObject({ active: false, runs: 0 });
    await useBackend('wasm+ort', { env: noEnv });
    expect(ortEngineStatus().active).toBe(true);
    await useBackend('wasm', { env: noEnv });
    expect(ortEngineStatus().active).toBe(false);
  });

  it('keeps at most maxSessions sessions (least recently used dropped) and stays correct when one is rebuilt', async () => {
    await useBackend('wasm+ort', { env: noEnv, ort: { threads: 1, minMacs: 1, maxSessions: 2 } });
    const xs = [data([5, 7], 1), data([6, 7], 2), data([8, 7], 3)];
    const w = data([7, 9], 4);
    const created = ortEngineStatus().sessionsCreated; // the selection's self-test made one
    const first = xs.map((x) => tf.matMul(x, w));
    expect(ortEngineStatus()).toMatchObject({ sessionsCreated: created + 3, sessionsCached: 2 });
    const again = tf.matMul(xs[0], w); // its session was dropped: rebuilt
    expect(ortEngineStatus()).toMatchObject({ sessionsCreated: created + 4, sessionsCached: 2 });
    expect(await relErr(again, first[0])).toBe(0);
    tf.dispose([...xs, w, ...first, again]);
  });

  it('a failing ORT run falls back to the wasm kernel with one warning, with correct results', async () => {
    const { binding } = require('onnxruntime-node/dist/binding.js') as { binding: { InferenceSession: new () => { run: (...a: unknown[]) => unknown } } };
    let failing = false;
    class Flaky extends binding.InferenceSession {
      run(...args: unknown[]) {
        if (failing) throw new Error('simulated ORT failure');
        return super.run(...args);
      }
    }
    const imp = async (spec: string) => {
      if (spec === 'onnxruntime-node/dist/binding.js') {
        const real = require(spec) as Record<string, unknown>;
        return { ...real, binding: { ...(real.binding as object), InferenceSession: Flaky } };
      }
      return import(spec);
    };
    const warnings: string[] = [];
    setOrtWarningSink((m) => warnings.push(m));
    try {
      await useBackend('wasm', { env: noEnv });
      const a = data([40, 50], 1), b = data([50, 30], 2);
      const ref = tf.matMul(a, b);
      const r = await useBackend('wasm+ort', { env: noEnv, importModule: imp });
      expect(r.engine).toBe('wasm+ort');
      failing = true;
      const y1 = tf.matMul(a, b);
      const y2 = tf.matMul(a, b);
      expect(await relErr(y1, ref)).toBe(0); // tfjs-wasm's own kernel again
      expect(await relErr(y2, ref)).toBe(0);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/wasm\+ort: onnxruntime-node .* failed a \[40,50\] · \[50,30\] product: simulated ORT failure; matrix products, sums and transposes fall back to tfjs-wasm/);
      expect(ortEngineStatus()).toMatchObject({ active: false, disabledReason: expect.stringContaining('simulated ORT failure') });
      tf.dispose([a, b, ref, y1, y2]);
    } finally {
      setOrtWarningSink((m) => console.warn(m));
    }
  });
});

describe.skipIf(!ortPresent)('conformance on wasm+ort (needs onnxruntime-node)', () => {
  it("core's numerical conformance suite passes with every product of ≥ 64 multiply-adds and every float32 sum in ORT", async () => {
    const chosen = await useBackend('wasm+ort', { env: noEnv, ort: { threads: 2, minMacs: 64, minElements: 1 } });
    expect(chosen.engine).toBe('wasm+ort');
    const runs = ortEngineStatus().runs;
    const report = await runConformance();
    expect(report.backend).toBe('wasm');
    expect(report.ok, formatConformance(report)).toBe(true);
    // The same cases as plain wasm (conformance.test.ts): the kernels wasm lacks stay expected-unsupported.
    for (const r of report.results) {
      if (r.status === 'expected-unsupported') expect(r.message).toMatch(/Kernel '(UnsortedSegmentSum|DepthwiseConv2dNativeBackprop(Input|Filter))' not registered for backend 'wasm'/);
      else expect([r.name, r.status]).toEqual([r.name, 'pass']);
    }
    expect(Math.max(...report.results.map((r) => r.maxAbsError ?? 0))).toBeLessThan(1e-4);
    expect(ortEngineStatus().runs - runs).toBeGreaterThan(20);
    await useBackend('wasm', { env: noEnv });
  });
});
