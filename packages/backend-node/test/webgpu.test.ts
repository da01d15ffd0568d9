import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@brickml/core';
import { enableSwiftShader, useBackend } from '../src/index.js';
import { AdamW, FUSED_ADAMW_KERNEL, LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL, Rng, formatConformance, layerNorm, runConformance } from '@brickml/core';
import { CHROMIUM_MISSING, hasSwiftShader, inCI, skipUnlessPresentOrCI } from './presence.js';

// WebGPU for real without a GPU: Dawn (the `webgpu` package) on SwiftShader's Vulkan driver from
// Debian's chromium. The variables must be in the environment before Dawn loads, so this file sets
// them first thing (each test file runs in its own process). SwiftShader is slow: sizes stay small.
const swiftShader = hasSwiftShader ? enableSwiftShader() : null;

describe.skipIf(skipUnlessPresentOrCI(hasSwiftShader, CHROMIUM_MISSING))('webgpu through Dawn + SwiftShader', () => {
  it('has SwiftShader set up (a failure in CI when Chromium is missing)', () => {
    expect(swiftShader, CHROMIUM_MISSING).not.toBeNull();
    expect(process.env.VK_ICD_FILENAMES).toBe('/usr/lib/chromium/vk_swiftshader_icd.json');
    expect(process.env.XDG_RUNTIME_DIR).toBeTruthy();
  });

  it('skips the software adapter in the default order and chooses wasm (SwiftShader is ~100× slower)', async () => {
    const r = await useBackend(undefined, { env: {} });
    const webgpu = r.attempts.find((a) => a.engine === 'webgpu')!;
    expect(webgpu.status).toBe('no-adapter');
    expect(webgpu.reason).toMatch(/^only a software fallback adapter \(google swiftshader/);
    expect(webgpu.reason).toMatch(/about 100× slower than wasm.*useBackend\('webgpu'\)/);
    expect(r.engine).toBe('wasm');
  });

  it("uses it when asked for explicitly, and says what it is", async () => {
    const r = await useBackend('webgpu', { env: {} });
    expect(r.engine).toBe('webgpu');
    expect(r.tfBackend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(r.device).toMatch(/^google swiftshader — SwiftShader driver .*\(software fallback adapter\)$/);
    expect(r.attempts[0]).toMatchObject({ engine: 'webgpu', status: 'chosen' });
    expect(r.attempts[0].reason).toMatch(/asked for explicitly; about 100× slower than wasm/);
    expect(r.selfTest!.maxAbsError).toBeLessThan(1e-4);
  });

  it('BRICKML_BACKEND=webgpu is an explicit request too', async () => {
    const r = await useBackend(undefined, { env: { BRICKML_BACKEND: 'webgpu,wasm' } });
    expect(r.engine).toBe('webgpu');
    expect(r.source).toBe('env');
  });

  it('passes the conformance suite (reading with await data()); addN of 9 inputs is the known WebGPU issue', async () => {
    await useBackend('webgpu', { env: {} });
    const report = await runConformance();
    expect(report.backend).toBe('webgpu');
    expect(report.ok, formatConformance(report)).toBe(true);
    for (const r of report.results) {
      if (r.name === 'addN/9-inputs') expect(r.status).toBe('known-issue');
      else expect([r.name, r.status, r.leakedTensors]).toEqual([r.name, 'pass', 0]);
    }
    // webgpu has UnsortedSegmentSum: gather's gradient runs here.
    expect(report.results.find((r) => r.name === 'gather/gather')!.status).toBe('pass');
  });

  it("AdamW's fused update on WebGPU: three dispatches per parameter instead of ~11, equal to the op-by-op update", async () => {
    await useBackend('webgpu', { env: {} });
    const run = async (fused: boolean) => {
      const rng = new Rng(5);
      const params: Array<[string, tf.Variable]> = [['w', tf.variable(rng.normalTensor([33, 17]))], ['bias', tf.variable(rng.normalTensor([17]))]];
      const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.1, noDecay: (path) => path === 'bias', fused });
      let kernels: string[] = [];
      for (let s = 0; s < 3; s++) {
        const grads = Object.fromEntries(params.map(([n, p]) => [n, rng.normalTensor(p.shape)]));
        if (s === 2) kernels = (await tf.profile(() => opt.step(grads))).kernels.map((k) => k.name);
        else opt.step(grads);
        tf.dispose(Object.values(grads));
      }
      const values = await Promise.all([...params.map(([, p]) => p.data()), opt.slot('w', 'exp_avg')!.data(), opt.slot('w', 'exp_avg_sq')!.data()]);
      opt.dispose();
      tf.dispose(params.map(([, p]) => p));
      return { values, kernels };
    };
    const fused = await run(true);
    const plain = await run(false);
    expect(fused.kernels).toEqual(Array(2).fill(FUSED_ADAMW_KERNEL));
    expect(plain.kernels.length).toBeGreaterThanOrEqual(2 * 11);
    fused.values.forEach((f, i) => {
      let m = 0;
      for (let j = 0; j < f.length; j++) m = Math.max(m, Math.abs(f[j] - plain.values[i][j]));
      expect(m, `output ${i}`).toBeLessThan(1e-5);
    });
  });

  it('layerNorm on WebGPU is one fused kernel forward and one backward (values: conformance core/norms, core/layernorm-wide)', async () => {
    await useBackend('webgpu', { env: {} });
    const rng = new Rng(6);
    const [x, gamma, beta] = [rng.normalTensor([2, 9, 96]), rng.normalTensor([96]), rng.normalTensor([96])];
    const before = tf.memory().numTensors;
    const fwd = await tf.profile(() => layerNorm(x, gamma, beta));
    // Reshapes are views; 'unnamed scope' is customGrad's wrapper.
    expect(fwd.kernels.map((k) => k.name).filter((n) => n !== 'Reshape' && n !== 'unnamed scope')).toEqual([LAYER_NORM_KERNEL]);
    tf.dispose(fwd.result as tf.Tensor);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(layerNorm(a, g, b)));
    const bwd = await tf.profile(() => grads([x, gamma, beta]));
    expect(bwd.kernels.map((k) => k.name)).toContain(LAYER_NORM_GRAD_KERNEL);
    expect(bwd.kernels.map((k) => k.name)).not.toContain('Mean');
    tf.dispose(bwd.result as tf.Tensor[]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, gamma, beta]);
  });

  it('a large sum or mean to few outputs runs in two stages (tfjs gives each output one workgroup)', async () => {
    await useBackend('webgpu', { env: {} });
    // The stages call tfjs's kernel functions directly (no engine records them): watch the GPU programs.
    const be = tf.backend() as unknown as { runWebGPUProgram: (p: { outputShape: number[] }, ...rest: unknown[]) => unknown };
    const run = be.runWebGPUProgram;
    const programs: number[][] = [];
    be.runWebGPUProgram = function (p, ...rest) {
      programs.push([...p.outputShape]);
      return run.call(this, p, ...rest);
    };
    try {
      const x = new Rng(7).normalTensor([64, 4096]);
      const stages = async (op: () => tf.Tensor) => {
        programs.length = 0;
        const y = op();
        await y.data();
        y.dispose();
        return [...programs];
      };
      expect(await stages(() => tf.sum(x))).toEqual([[64], [1]]); // [64·4096] → 64 partial sums → 1
      expect(await stages(() => tf.mean(tf.reshape(x, [4, 65536]), -1, true))).toEqual([[64], [4]]); // 4 rows × 16 chunks of 4096
      expect(await stages(() => tf.mean(x, -1))).toEqual([[64]]); // 4096 per output: left to tfjs
      expect(await stages(() => tf.sum(x, 0))).toEqual([[4096, 64], [4096]]); // 4096 outputs: tfjs's own path (transpose, reduce)
      x.dispose();
    } finally {
      be.runWebGPUProgram = run;
    }
  });

  it('cannot switch Vulkan drivers once Dawn is loaded', () => {
    expect(() => enableSwiftShader()).toThrow(/Dawn .* is already loaded/);
  });
});

describe('in CI', () => {
  it.runIf(inCI)('requires Chromium for the WebGPU tests', () => {
    expect(hasSwiftShader, CHROMIUM_MISSING).toBe(true);
  });
});
