import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import '@brickml/core';
import {
  BackendUnavailableError,
  NODE_ENGINES,
  formatBackendReport,
  installCommand,
  nodeBackendProvider,
  useBackend,
  type NodeBackendReport,
} from '../src/index.js';

// Selection order, the report, the BRICKML_BACKEND override and explicit requests, on this machine
// (no tfjs-node, Dawn without SwiftShader: no adapter, unless the machine has a GPU), plus a fake
// `tensorflow` engine injected through `importModule` to show the paths of an installed tfjs-node.

const noEnv = {}; // isolates the tests from a BRICKML_BACKEND set in the shell
const V = tf.version_core;

function statuses(r: NodeBackendReport) {
  return Object.fromEntries(r.attempts.map((a) => [a.engine, a.status]));
}

/** Registers a fake backend under `name` (cpu kernels), optionally with a wrong BatchMatMul or a failing factory. */
function fakeBackend(name: string, mode: 'good' | 'wrong-matmul' | 'factory-throws'): () => void {
  tf.registerBackend(name, () => {
    if (mode === 'factory-throws') throw new Error('libtensorflow.so: cannot open shared object file');
    return new MathBackendCPU();
  });
  const kernels = tf.getKernelsForBackend('cpu').map((k) => ({ ...k, backendName: name }));
  if (mode === 'wrong-matmul') {
    const i = kernels.findIndex((k) => k.kernelName === 'BatchMatMul');
    const real = kernels[i].kernelFunc;
    kernels[i] = {
      ...kernels[i],
      kernelFunc: (args) => {
        const y = real(args) as tf.TensorInfo;
        const be = args.backend as MathBackendCPU;
        const out = be.makeTensorInfo(y.shape, 'float32', (be.readSync(y.dataId) as Float32Array).map((v) => v + 0.01));
        be.disposeIntermediateTensorInfo(y);
        return out;
      },
    };
  }
  kernels.forEach((k) => tf.registerKernel(k));
  return () => {
    kernels.forEach((k) => tf.unregisterKernel(k.kernelName, name));
    tf.removeBackend(name);
  };
}

/** An importer that pretends `@tensorflow/tfjs-node` is installed (registering a fake 'tensorflow' backend). */
function withFakeTfjsNode(mode: 'good' | 'wrong-matmul' | 'factory-throws', cleanups: (() => void)[]) {
  return async (spec: string) => {
    if (spec === '@tensorflow/tfjs-node') {
      cleanups.push(fakeBackend('tensorflow', mode));
      return { version: { 'tfjs-node': '0.0.0-fake' } };
    }
    return import(spec);
  };
}

describe('useBackend() default order', () => {
  it('tries tensorflow-gpu, tensorflow, webgpu, wasm, cpu in order and reports why each was not chosen', async () => {
    const r = await useBackend(undefined, { env: noEnv });
    expect(r.attempts.map((a) => a.engine)).toEqual([...NODE_ENGINES]);
    expect(r.source).toBe('default');
    expect(r.requested).toEqual([...NODE_ENGINES]);
    // tfjs-node(-gpu) are optional peers, never installed here: clear message + install command.
    expect(r.attempts[0]).toMatchObject({
      engine: 'tensorflow-gpu',
      status: 'not-installed',
      reason: '@tensorflow/tfjs-node-gpu is not installed',
      install: `npm install @tensorflow/tfjs-node-gpu@${V}`,
    });
    expect(r.attempts[1]).toMatchObject({ engine: 'tensorflow', status: 'not-installed', install: `npm install @tensorflow/tfjs-node@${V}` });
    const webgpu = r.attempts[2];
    if (webgpu.status === 'chosen') {
      // A machine with a real GPU: a hardware adapter wins over wasm.
      expect(r.engine).toBe('webgpu');
      expect(r.device).not.toMatch(/fallback/);
    } else {
      expect(webgpu.status).toBe('no-adapter');
      expect(webgpu.reason).toMatch(/adapter/);
      expect(r.engine).toBe('wasm');
      expect(r.tfBackend).toBe('wasm');
      expect(tf.getBackend()).toBe('wasm');
      expect(r.device).toMatch(/^tfjs-backend-wasm 4\.22\.0 \(XNNPACK\), SIMD, 1 thread — threads are not available in Node/);
      expect(r.attempts[4]).toMatchObject({ engine: 'cpu', status: 'not-tried', reason: "'wasm' was chosen first" });
    }
    expect(r.selfTest!.maxAbsError).toBeLessThan(1e-4);
    expect(r.selfTest!.ms).toBeGreaterThan(0);
    expect(formatBackendReport(r)).toMatch(/tensorflow-gpu not-installed .*\[npm install @tensorflow\/tfjs-node-gpu@/);
  });

  it('is the BackendProvider of the core contract', () => {
    expect(nodeBackendProvider.platform).toBe('node');
    expect(nodeBackendProvider.order).toEqual(['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
    expect(installCommand(['webgpu', '@tensorflow/tfjs-backend-webgpu'])).toBe(`npm install webgpu @tensorflow/tfjs-backend-webgpu@${V}`);
  });
});

describe('useBackend(preference)', () => {
  it('sets the one engine asked for and lists the others as not requested', async () => {
    const r = await useBackend('cpu', { env: noEnv });
    expect(r).toMatchObject({ engine: 'cpu', tfBackend: 'cpu', source: 'argument', requested: ['cpu'] });
    expect(tf.getBackend()).toBe('cpu');
    expect(r.device).toMatch(/^tfjs-backend-cpu \(plain JavaScript, 1 thread\) on .+ \(\d+ logical cores\)$/);
    expect(statuses(r)).toEqual({ cpu: 'chosen', 'tensorflow-gpu': 'not-tried', tensorflow: 'not-tried', webgpu: 'not-tried', wasm: 'not-tried', 'wasm+ort': 'not-tried' });
    expect(r.attempts.find((a) => a.engine === 'wasm')!.reason).toBe('not requested (useBackend("cpu"))');
  });

  it('takes an ordered list (array or comma string) and falls through it', async () => {
    const r = await useBackend(['tensorflow', 'wasm', 'cpu'], { env: noEnv });
    expect(r.engine).toBe('wasm');
    expect(r.attempts.slice(0, 3).map((a) => [a.engine, a.status])).toEqual([
      ['tensorflow', 'not-installed'],
      ['wasm', 'chosen'],
      ['cpu', 'not-tried'],
    ]);
    const s = await useBackend(' Tensorflow-GPU , cpu ', { env: noEnv });
    expect(s.engine).toBe('cpu');
    expect(s.requested).toEqual(['tensorflow-gpu', 'cpu']);
  });

  it('throws for an explicitly requested engine that is not installed, naming it and the npm command', async () => {
    await useBackend('cpu', { env: noEnv });
    const err = await useBackend('tensorflow', { env: noEnv }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toMatch(/engine 'tensorflow'.*is not available; no fallback/);
    expect(err.message).toContain(`npm install @tensorflow/tfjs-node@${V}`);
    expect((err as BackendUnavailableError).report.attempts[0]).toMatchObject({ engine: 'tensorflow', status: 'not-installed' });
    // No silent fallback: the previous backend stays active.
    expect(tf.getBackend()).toBe('cpu');
    await expect(useBackend('tensorflow-gpu', { env: noEnv })).rejects.toThrow(`npm install @tensorflow/tfjs-node-gpu@${V}`);
    await expect(useBackend(['tensorflow-gpu', 'tensorflow'], { env: noEnv })).rejects.toThrow(
      /none of the engines asked for.*\n.*tensorflow-gpu: not-installed.*\n.*tensorflow: not-installed/,
    );
  });

  it('rejects unknown engine names with the list of valid ones', async () => {
    await expect(useBackend('gpu', { env: noEnv })).rejects.toThrow(
      "useBackend: unknown engine 'gpu' (from useBackend(\"gpu\")); expected one of tensorflow-gpu, tensorflow, webgpu, wasm, cpu",
    );
  });
});

describe('BRICKML_BACKEND', () => {
  it('overrides the argument (comma list)', async () => {
    const r = await useBackend('wasm', { env: { BRICKML_BACKEND: 'tensorflow,cpu' } });
    expect(r).toMatchObject({ engine: 'cpu', source: 'env', requested: ['tensorflow', 'cpu'] });
    expect(r.attempts.find((a) => a.engine === 'wasm')!.reason).toBe('not requested (BRICKML_BACKEND=tensorflow,cpu)');
  });

  it('is read from process.env by default, and an empty value means no override', async () => {
    const saved = process.env.BRICKML_BACKEND;
    try {
      process.env.BRICKML_BACKEND = 'cpu';
      expect((await useBackend('wasm')).engine).toBe('cpu');
      process.env.BRICKML_BACKEND = '';
      expect((await useBackend('wasm')).engine).toBe('wasm');
    } finally {
      if (saved === undefined) delete process.env.BRICKML_BACKEND;
      else process.env.BRICKML_BACKEND = saved;
    }
  });

  it('makes a missing engine an error that names the variable', async () => {
    await expect(useBackend(undefined, { env: { BRICKML_BACKEND: 'tensorflow' } })).rejects.toThrow(
      /engine 'tensorflow' \(asked for by BRICKML_BACKEND=tensorflow\) is not available[\s\S]*npm install @tensorflow\/tfjs-node@/,
    );
    await expect(useBackend(undefined, { env: { BRICKML_BACKEND: 'cuda' } })).rejects.toThrow(/unknown engine 'cuda' \(from BRICKML_BACKEND=cuda\)/);
  });
});

describe('an installed tfjs-node (simulated through importModule)', () => {
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await tf.setBackend('cpu');
    cleanups.splice(0).forEach((c) => c());
  });

  it('is chosen before webgpu and wasm when it works', async () => {
    const r = await useBackend(undefined, { env: noEnv, importModule: withFakeTfjsNode('good', cleanups) });
    expect(r.engine).toBe('tensorflow');
    expect(r.tfBackend).toBe('tensorflow');
    expect(r.device).toBe('libtensorflow via @tensorflow/tfjs-node 0.0.0-fake (CPU, multi-threaded)');
    expect(statuses(r)).toEqual({ 'tensorflow-gpu': 'not-installed', tensorflow: 'chosen', webgpu: 'not-tried', wasm: 'not-tried', cpu: 'not-tried' });
  });

  it('is rejected when its self-test matmul is wrong, and the next engine is chosen', async () => {
    const r = await useBackend(['tensorflow', 'cpu'], { env: noEnv, importModule: withFakeTfjsNode('wrong-matmul', cleanups) });
    expect(r.engine).toBe('cpu');
    expect(r.attempts[0].status).toBe('failed-self-test');
    // Every element is off by 0.01.
    expect(r.attempts[0].reason).toMatch(/differs from the float64 host result by 0\.0100\d* \(tolerance 0\.001\)/);
  });

  it('reports failed-init when the backend cannot initialise', async () => {
    const r = await useBackend(['tensorflow', 'cpu'], { env: noEnv, importModule: withFakeTfjsNode('factory-throws', cleanups) });
    expect(r.engine).toBe('cpu');
    expect(r.attempts[0]).toMatchObject({ engine: 'tensorflow', status: 'failed-init' });
    expect(r.attempts[0].reason).toMatch(/tf\.setBackend\('tensorflow'\) returned false/);
  });

  it('reports failed-init (not not-installed) when the package is there but its import throws', async () => {
    const importModule = async (spec: string) => {
      if (spec === '@tensorflow/tfjs-node') throw new Error("Cannot find module 'libtensorflow.so.2'");
      return import(spec);
    };
    const r = await useBackend(['tensorflow', 'cpu'], { env: noEnv, importModule });
    expect(r.attempts[0]).toMatchObject({ status: 'failed-init', reason: "importing @tensorflow/tfjs-node failed: Cannot find module 'libtensorflow.so.2'" });
  });
});
