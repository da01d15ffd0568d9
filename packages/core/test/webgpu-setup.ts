// Shared set-up of core's WebGPU tests: Dawn (the `webgpu` package) over SwiftShader's Vulkan
// driver from Debian's chromium, every op forced onto the GPU, and a helper that runs a computation
// on a named backend. Importing it sets WebGPU up once per test file.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

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

/** Whether WebGPU came up, and why not. */
export const gpu = await setUpWebGPU();
// tfjs-webgpu runs an op on its CPU forward path when every input is still in host memory and
// smaller than WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD (1000 elements, read once when the backend module
// loads, so setting that flag here has no effect): at these sizes much of the "webgpu" run would be
// cpu against cpu. WEBGPU_CPU_FORWARD is read on every op: off, every op runs on the GPU.
if (gpu.ok) tf.env().set('WEBGPU_CPU_FORWARD', false);
/** Run the WebGPU tests: with an adapter, and always in CI (where a missing adapter must fail). */
export const run = gpu.ok || !!process.env.CI;

/** Runs `f` on backend `name` (which must start) and reads its outputs back. */
export async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(name)).toBe(true);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}
