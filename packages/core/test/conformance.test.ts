import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { conformanceCases, formatConformance, runConformance, type ConformanceCase } from '../src/testing/conformance.js';

// A fake backend: the cpu backend's kernels under another name, with `patch` applied, so the suite
// can be shown to catch a wrong kernel, a missing kernel and a stale declaration.
function registerFakeBackend(name: string, patch: (kernels: Map<string, tf.KernelConfig>) => void): () => void {
  tf.registerBackend(name, () => new MathBackendCPU());
  const kernels = new Map(tf.getKernelsForBackend('cpu').map((k) => [k.kernelName, { ...k, backendName: name }]));
  patch(kernels);
  for (const k of kernels.values()) tf.registerKernel(k);
  return () => {
    for (const k of kernels.values()) tf.unregisterKernel(k.kernelName, name);
    tf.removeBackend(name);
  };
}

async function onBackend<T>(name: string, f: () => Promise<T>): Promise<T> {
  const prev = tf.getBackend();
  expect(await tf.setBackend(name)).toBe(true);
  try {
    return await f();
  } finally {
    await tf.setBackend(prev);
  }
}

describe('runConformance on cpu', () => {
  it('passes every standard case on cpu, without leaks, and leaves cpu active', async () => {
    const before = tf.memory().numTensors;
    const report = await runConformance();
    expect(report.backend).toBe('cpu');
    expect(report.reference).toBe('cpu');
    expect(report.results.map((r) => r.name)).toEqual(conformanceCases.map((c) => c.name));
    expect(report.ok, formatConformance(report)).toBe(true);
    for (const r of report.results) {
      expect(r.status, r.name).toBe('pass');
      expect(r.leakedTensors, r.name).toBe(0);
      expect(r.maxAbsError, r.name).toBe(0);
      expect(r.outputs.length, r.name).toBeGreaterThan(0);
    }
    expect(tf.getBackend()).toBe('cpu');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('covers forward values and gradients of the ops the technique packages use', () => {
    const names = conformanceCases.map((c) => c.name);
    for (const want of ['matmul/batched', 'matmul/transposes', 'softmax', 'layernorm/composed', 'gather/gather', 'scatter-add/segment-sum', 'scatter-add/one-hot', 'topk', 'cumsum', 'einsum/contractions', 'activations/gelu']) {
      expect(names).toContain(want);
    }
    // wasm's missing UnsortedSegmentSum is declared, not skipped.
    expect(conformanceCases.find((c) => c.name === 'gather/gather')?.unsupported?.wasm).toMatch(/UnsortedSegmentSum/);
    expect(conformanceCases.find((c) => c.name === 'scatter-add/segment-sum')?.unsupported?.wasm).toMatch(/UnsortedSegmentSum/);
  });

  it('reports output names for value and gradients (topk indices are int32, compared exactly)', async () => {
    const report = await runConformance({ only: /^(topk|matmul\/batched)$/ });
    const topk = report.results.find((r) => r.name === 'topk')!;
    expect(topk.outputs.map((o) => o.name)).toEqual(['values', 'indices', 'picked.y', 'picked.d0']);
    expect(topk.outputs.find((o) => o.name === 'indices')).toMatchObject({ dtype: 'int32', shape: [4, 3] });
    const mm = report.results.find((r) => r.name === 'matmul/batched')!;
    expect(mm.outputs.map((o) => [o.name, o.shape])).toEqual([['y', [3, 4, 6]], ['d0', [3, 4, 5]], ['d1', [3, 5, 6]]]);
  });

  it('documents the tfjs 4.22 bug that makes matmul/broadcast forward-only (throws until tfjs fixes it)', () => {
    const a = tf.ones([2, 3, 4]), b = tf.ones([4, 5]);
    expect(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y)))([a, b])).toThrow(/gradient of input 'b' has shape '2,4,5'/);
    tf.dispose([a, b]);
  });

  it('rejects an unregistered reference backend with a message saying what to import', async () => {
    await expect(runConformance({ reference: 'nope' })).rejects.toThrow(/reference backend 'nope'.*tfjs-backend-nope/);
  });
});

describe('runConformance catches a bad backend', () => {
  let removeBroken: () => void;
  let removeNoSeg: () => void;
  beforeAll(() => {
    // Softmax off by 1e-3 relative; TopK returning indices shifted by one where possible.
    removeBroken = registerFakeBackend('conf-broken', (k) => {
      const softmax = k.get('Softmax')!;
      k.set('Softmax', {
        ...softmax,
        kernelFunc: (args) => {
          const y = softmax.kernelFunc(args) as tf.TensorInfo;
          const be = args.backend as MathBackendCPU;
          const vals = be.readSync(y.dataId) as Float32Array;
          const out = be.makeTensorInfo(y.shape, 'float32', vals.map((v) => v * 1.001));
          be.disposeIntermediateTensorInfo(y);
          return out;
        },
      });
    });
    removeNoSeg = registerFakeBackend('conf-noseg', (k) => k.delete('UnsortedSegmentSum'));
  });
  afterAll(() => {
    removeBroken();
    removeNoSeg();
  });

  it('fails the softmax case (and only the cases that use softmax) on a backend with a wrong Softmax', async () => {
    const report = await onBackend('conf-broken', () => runConformance());
    expect(report.backend).toBe('conf-broken');
    expect(report.ok).toBe(false);
    const failed = report.results.filter((r) => !r.ok).map((r) => r.name).sort();
    expect(failed).toEqual(['attention/causal', 'softmax']);
    const sm = report.results.find((r) => r.name === 'softmax')!;
    expect(sm.status).toBe('fail');
    expect(sm.message).toMatch(/softmax\.y max\|err\|/);
    // softmax values ≤ 1, scaled by 1.001: the error is at most 1e-3, yet above the 1e-5 + 1e-4·|ref| tolerance.
    const y = sm.outputs.find((o) => o.name === 'softmax.y')!;
    expect(y.ok).toBe(false);
    expect(y.maxAbsError).toBeGreaterThan(1e-5);
    expect(y.maxAbsError).toBeLessThan(1.001e-3);
    expect(sm.outputs.find((o) => o.name === 'logSoftmax.y')!.ok).toBe(true); // LogSoftmax is its own kernel
    expect(formatConformance(report)).toMatch(/FAILED/);
  });

  it('reports a missing kernel as an error, or as expected-unsupported where declared', async () => {
    const report = await onBackend('conf-noseg', () => runConformance({ only: /^(gather|scatter-add|core\/embedding)/ }));
    const status = Object.fromEntries(report.results.map((r) => [r.name, r.status]));
    expect(status).toEqual({
      'gather/gather': 'error', // not declared for this backend
      'gather/one-hot': 'pass',
      'core/embedding': 'pass', // core's lookup switches to a one-hot product when the kernel is missing
      'scatter-add/segment-sum': 'error',
      'scatter-add/one-hot': 'pass',
    });
    expect(report.results[0].message).toMatch(/UnsortedSegmentSum/);
    const declared: ConformanceCase[] = conformanceCases
      .filter((c) => c.name === 'gather/gather')
      .map((c) => ({ ...c, unsupported: { 'conf-noseg': 'no UnsortedSegmentSum here' } }));
    const again = await onBackend('conf-noseg', () => runConformance({ cases: declared }));
    expect(again.results[0]).toMatchObject({ status: 'expected-unsupported', ok: true });
    expect(again.ok).toBe(true);
  });

  it('flags stale declarations as unexpected-pass, and known-wrong results as known-issue', async () => {
    const softmax = conformanceCases.find((c) => c.name === 'softmax')!;
    const cumsum = conformanceCases.find((c) => c.name === 'cumsum')!;
    const cases: ConformanceCase[] = [
      { ...softmax, knownWrong: { 'conf-broken': 'Softmax scaled by 1.001 on purpose' } },
      { ...cumsum, knownWrong: { 'conf-broken': 'claimed wrong but is right' } },
      { ...cumsum, name: 'cumsum/declared-unsupported', unsupported: { 'conf-broken': 'claimed missing but exists' } },
    ];
    const report = await onBackend('conf-broken', () => runConformance({ cases }));
    expect(report.results.map((r) => [r.name, r.status, r.ok])).toEqual([
      ['softmax', 'known-issue', true],
      ['cumsum', 'unexpected-pass', false],
      ['cumsum/declared-unsupported', 'unexpected-pass', false],
    ]);
  });

  it('applies |got − ref| ≤ atol + rtol·|ref| and compares integer outputs exactly', async () => {
    // Values differ by exactly 2e-3 between backends on a reference of 10 (float32-representable steps).
    const make = (tol: { atol: number; rtol: number }, name: string): ConformanceCase => ({
      name,
      description: 'tolerance probe',
      tolerance: tol,
      compute: () => ({ y: tf.scalar(tf.getBackend() === 'cpu' ? 10 : 10.001953125) }),
    });
    const ints: ConformanceCase = {
      name: 'ints',
      description: 'integer probe',
      tolerance: { atol: 10, rtol: 10 },
      compute: () => ({ i: tf.tensor1d([1, 2, tf.getBackend() === 'cpu' ? 3 : 4], 'int32') }),
    };
    const report = await onBackend('conf-broken', () =>
      runConformance({ cases: [make({ atol: 1e-3, rtol: 0 }, 'abs-tight'), make({ atol: 0, rtol: 2e-4 }, 'rel-loose'), make({ atol: 1e-3, rtol: 5e-5 }, 'sum-tight'), ints] }),
    );
    const byName = Object.fromEntries(report.results.map((r) => [r.name, r]));
    expect(byName['abs-tight'].status).toBe('fail'); // 1.953e-3 > 1e-3
    expect(byName['rel-loose'].status).toBe('pass'); // 1.953e-3 ≤ 2e-4·10
    expect(byName['sum-tight'].status).toBe('fail'); // 1.953e-3 > 1e-3 + 5e-5·10
    expect(byName['abs-tight'].maxAbsError).toBeCloseTo(0.001953125, 9);
    expect(byName['ints'].status).toBe('fail'); // off by one, exact comparison despite atol 10
    expect(byName['ints'].outputs[0]).toMatchObject({ dtype: 'int32', maxAbsError: 1 });
  });
});
