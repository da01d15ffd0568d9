// Augmentations, k-NN and the logistic regression on real WebGPU: Dawn (the `webgpu` package) over
// SwiftShader's Vulkan driver from Debian's chromium, against the cpu backend. Runs in its own forked
// worker (vitest `pool: 'forks'`); tiny sizes, SwiftShader is slow. Without an adapter the tests are
// skipped (and fail in CI). The setup is the one of eigh-webgpu.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, byolAugment, fitLogisticRegression, knnClassify, shapes, simclrAugment } from '../src/index.js';

const CHROMIUM = '/usr/lib/chromium';

async function setUpWebGPU(): Promise<{ ok: boolean; reason: string }> {
  process.env.VK_ICD_FILENAMES ??= join(CHROMIUM, 'vk_swiftshader_icd.json');
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `brickml-core-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  try {
    const { RTLD_NOW, RTLD_GLOBAL } = constants.dlopen as { RTLD_NOW: number; RTLD_GLOBAL: number };
    process.dlopen({ exports: {} } as NodeJS.Module, join(CHROMIUM, 'libvulkan.so.1'), RTLD_NOW | RTLD_GLOBAL | 0x1000);
  } catch {
    // "did not self-register" is expected (not a Node addon).
  }
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]) };
    const adapter = await (globalThis as any).navigator.gpu.requestAdapter();
    if (!adapter) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned null' };
    await import('@tensorflow/tfjs-backend-webgpu');
    return { ok: true, reason: '' };
  } catch (e) {
    return { ok: false, reason: String((e as Error)?.message ?? e) };
  }
}

const gpu = await setUpWebGPU();
// tfjs-webgpu runs an op on its CPU forward path when every input is still in host memory and
// smaller than WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD (1000 elements, read once when the backend module
// loads, so setting that flag here has no effect): at these sizes much of the "webgpu" run would be
// cpu against cpu. WEBGPU_CPU_FORWARD is read on every op: off, every op runs on the GPU.
if (gpu.ok) tf.env().set('WEBGPU_CPU_FORWARD', false);
const run = gpu.ok || !!process.env.CI;

async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(name)).toBe(true);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe.runIf(run)('augmentations and evaluators on WebGPU (SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('SimCLR and BYOL views match cpu', async () => {
    expect(gpu.reason).toBe('');
    const host = shapes({ size: 16, batchSize: 1, seed: 0 }).sample(3);
    const views = () => {
      const x = tf.tensor4d(host.images, host.shape);
      const byol = byolAugment({ size: 16, blurSigma: [0.5, 1.5] });
      const out = [simclrAugment({ size: 12, blur: true })(x, new Rng(1)), byol.view1(x, new Rng(2)), byol.view2(x, new Rng(3))];
      x.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', views);
    const gpuOut = await onBackend('webgpu', views);
    cpu.forEach((c, i) => expect(maxAbsDiff(c, gpuOut[i])).toBeLessThan(1e-4));
  });

  it('k-NN predictions and the logistic-regression loss match cpu', async () => {
    const rng = new Rng(4);
    const train = { data: rng.normalArray(40 * 4), n: 40, dim: 4 };
    const query = { data: rng.normalArray(10 * 4), n: 10, dim: 4 };
    const labels = Int32Array.from({ length: 40 }, (_, i) => (train.data[i * 4] > 0 ? 1 : 0));
    const out: Array<{ knn: number[]; loss: number }> = [];
    for (const backend of ['cpu', 'webgpu']) {
      expect(await tf.setBackend(backend)).toBe(true);
      const knn = await knnClassify(train, labels, query, 2, { k: 5 });
      const fit = await fitLogisticRegression(train, labels, 2, { l2: 1e-2, maxIter: 100 });
      out.push({ knn: Array.from(knn), loss: fit.loss });
    }
    expect(out[1].knn).toEqual(out[0].knn);
    expect(out[1].loss).toBeCloseTo(out[0].loss, 3);
  });
});
