// eigh, spdLog and their gradients on real WebGPU: Dawn (the `webgpu` package) over SwiftShader's
// Vulkan driver from Debian's chromium, against the cpu backend. This file runs in its own forked
// worker (vitest `pool: 'forks'`). Sizes are tiny: SwiftShader is slow. Without an adapter the
// tests are skipped (and fail in CI).
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, eigh, spdLog } from '../src/index.js';
import { gpu, onBackend, run } from './webgpu-setup.js';


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
