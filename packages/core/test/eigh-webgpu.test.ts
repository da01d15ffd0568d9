// eigh, spdLog and their gradients on real WebGPU: Dawn (the `webgpu` package) over SwiftShader's
// Vulkan driver from Debian's chromium, against the cpu backend. This file runs in its own forked
// worker (vitest `pool: 'forks'`). Sizes are tiny: SwiftShader is slow. Without an adapter the
// tests are skipped (and fail in CI).
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, eigh, spdLog } from '../src/index.js';

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

describe.runIf(run)('eigh on WebGPU (SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('values, vectors and gradients of eigh and spdLog match cpu (batch of 4×4 SPD)', async () => {
    expect(gpu.reason).toBe('');
    const n = 4;
    const compute = () => {
      const rng = new Rng(3);
      const x = rng.normalTensor([2, n, n], 0, 1);
      const a = tf.add(tf.div(tf.matMul(x, x, false, true), n), tf.mul(tf.eye(n), 0.2));
      const w = rng.normalTensor([2, n, n], 0, 1);
      const { values, vectors } = eigh(a);
      const g = tf.grad((m: tf.Tensor) => {
        const e = eigh(m);
        return tf.add(tf.sum(tf.mul(tf.square(e.vectors), w)), tf.sum(tf.mul(spdLog(m), w)));
      })(a);
      return [values, vectors, g];
    };
    const cpu = await onBackend('cpu', compute);
    expect(await tf.setBackend('webgpu')).toBe(true);
    // Every op on the GPU (WEBGPU_CPU_FORWARD off above; small tensors otherwise run on the CPU and
    // hide shader faults), and Dawn's uncaptured errors (invalid WGSL, pipelines) collected: they do
    // not throw.
    expect(tf.env().getBool('WEBGPU_CPU_FORWARD')).toBe(false);
    const gpuErrors: string[] = [];
    (tf.backend() as unknown as { device: EventTarget }).device.addEventListener('uncapturederror', (e) => {
      gpuErrors.push(String((e as unknown as { error?: { message?: string } }).error?.message ?? e));
    });
    const webgpu = await onBackend('webgpu', compute);
    await new Promise((r) => setTimeout(r, 50));
    expect(gpuErrors).toEqual([]);
    cpu.forEach((c, i) => {
      const scale = Math.max(...Array.from(c).map(Math.abs));
      const err = Math.max(...Array.from(c).map((v, j) => Math.abs(v - webgpu[i][j])));
      expect(err / scale, `output ${i}`).toBeLessThan(1e-3);
    });
  });
});
