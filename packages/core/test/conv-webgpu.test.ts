// Conv bricks on real WebGPU: Dawn (the `webgpu` package) over SwiftShader's Vulkan driver from
// Debian's chromium, against the cpu backend (set-up in webgpu-setup.ts). tfjs-backend-webgpu 4.22
// has every conv and pooling gradient kernel, so `auto` is `native` there; the hybrid gradient is
// checked too. Tiny sizes (SwiftShader is slow). Without an adapter the tests are skipped (and fail in CI).
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchNorm2d, GroupNorm, Rng, adaptiveAvgPool2d, avgPool2d, conv2d, convTranspose2d, defaultConvImpl, maxPool2d, type ConvImpl } from '../src/index.js';
import { gpu, onBackend, run } from './webgpu-setup.js';


function relErr(a: Float32Array, b: Float32Array): number {
  const scale = Math.max(1e-6, ...Array.from(a).map(Math.abs));
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? e / scale : Infinity;
}

describe.runIf(run)('conv bricks on WebGPU (SwiftShader)', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('auto is native for plain and depthwise convs; native and hybrid convs, transposed convs and their gradients equal cpu', async () => {
    expect(gpu.reason).toBe('');
    await tf.setBackend('webgpu');
    expect(defaultConvImpl()).toBe('native');
    expect(defaultConvImpl('depthwise')).toBe('native');
    const cases = [
      { cin: 4, cout: 6, k: 3, stride: 2, padding: 1, groups: 2 },
      { cin: 4, cout: 8, k: 3, stride: 1, padding: 1, groups: 4 },
      { cin: 3, cout: 4, k: 3, stride: 1, padding: 2, groups: 1, dilation: 2 },
    ];
    for (const c of cases) {
      for (const impl of ['native', 'hybrid'] as ConvImpl[]) {
        const f = () => {
          const rng = new Rng(2);
          const x = rng.normalTensor([2, 7, 6, c.cin]);
          const w = rng.normalTensor([c.k, c.k, c.cin / c.groups, c.cout], 0, 0.3);
          const opts = { stride: c.stride, padding: c.padding, groups: c.groups, dilation: c.dilation ?? 1, impl };
          const y = conv2d(x, w, null, opts);
          const gy = rng.normalTensor(y.shape);
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2d(a, b, null, opts), gy)))([x, w]);
          const wt = rng.normalTensor([4, 4, 3, c.cin], 0, 0.3);
          const t = convTranspose2d(x, wt, null, { stride: 2, padding: 1, impl });
          const gt = tf.grad((b: tf.Tensor) => tf.sum(tf.square(convTranspose2d(x, b, null, { stride: 2, padding: 1, impl }))))(wt);
          tf.dispose([x, w, gy, wt]);
          return [y, ...g, t, gt];
        };
        const cpu = await onBackend('cpu', f);
        const gpuOut = await onBackend('webgpu', f);
        cpu.forEach((v, i) => expect(relErr(v, gpuOut[i]!), `${JSON.stringify(c)} ${impl} output ${i}`).toBeLessThan(1e-4));
      }
    }
  });

  it('pooling, GroupNorm and BatchNorm2d (values, gradients, running statistics) equal cpu', async () => {
    const f = () => {
      const rng = new Rng(3);
      const x = rng.normalTensor([2, 7, 6, 4]);
      const gn = new GroupNorm({ numGroups: 2, numChannels: 4 });
      const bn = new BatchNorm2d({ numFeatures: 4 });
      const loss = (a: tf.Tensor) =>
        tf.addN([
          tf.sum(tf.square(maxPool2d(a, 3, { stride: 2, padding: 1 }))),
          tf.sum(tf.square(avgPool2d(a, 2))),
          tf.sum(tf.square(adaptiveAvgPool2d(a, [3, 2]))),
          tf.sum(tf.mul(gn.forward(a), a)),
          tf.sum(tf.mul(bn.forward(a), a)),
        ]);
      const out = [loss(x), tf.grad(loss)(x), bn.running_var!.clone()];
      x.dispose();
      gn.dispose();
      bn.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', f);
    const gpuOut = await onBackend('webgpu', f);
    cpu.forEach((v, i) => expect(relErr(v, gpuOut[i]!), `output ${i}`).toBeLessThan(1e-4));
  });
});
