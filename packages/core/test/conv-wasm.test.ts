// Conv bricks on the wasm backend (tfjs-backend-wasm 4.22: no Conv2DBackpropFilter, no depthwise
// backprops): `auto` picks the hybrid gradient, which equals cpu's native conv in value and both
// gradients; pooling gradients equal cpu's; a conv stack trains the same few steps on wasm as on cpu.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  AdamW, BatchNorm2d, ResNet, resnetTinyConfig, shapes, Conv2d, ConvTranspose2d, GroupNorm, Linear, MaxPool2d, Module, Rng, adaptiveAvgPool2d, avgPool2d, conv2d, defaultConvImpl, maxPool2d,
  type ConvPadding,
} from '../src/index.js';

async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  // A failed setBackend leaves the previous backend active: the comparison would be cpu against cpu.
  expect(await tf.setBackend(name), `tf.setBackend('${name}')`).toBe(true);
  expect(tf.getBackend()).toBe(name);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

function relErr(a: Float32Array, b: Float32Array): number {
  const scale = Math.max(1e-6, ...Array.from(a).map(Math.abs));
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!));
  return a.length === b.length ? e / scale : Infinity;
}

describe('conv bricks on wasm', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('auto picks hybrid for plain and depthwise convs (wasm has the forward kernels only)', async () => {
    await tf.setBackend('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(defaultConvImpl()).toBe('hybrid');
    expect(defaultConvImpl('depthwise')).toBe('hybrid');
    await tf.setBackend('cpu');
    expect(defaultConvImpl('depthwise')).toBe('native');
  });

  it('conv2d (auto) on wasm equals native conv on cpu: value, dx, dW, db over strides, padding, dilation, groups', async () => {
    const cases: Array<{ hw: [number, number]; k: number; cin: number; cout: number; stride: number; padding: ConvPadding; dilation: number; groups: number }> = [
      { hw: [8, 8], k: 3, cin: 5, cout: 6, stride: 1, padding: 1, dilation: 1, groups: 1 },
      { hw: [9, 7], k: 3, cin: 4, cout: 6, stride: 2, padding: 'same', dilation: 1, groups: 2 },
      { hw: [8, 8], k: 3, cin: 6, cout: 6, stride: 1, padding: 2, dilation: 2, groups: 1 },
      { hw: [8, 8], k: 3, cin: 6, cout: 12, stride: 2, padding: 1, dilation: 1, groups: 6 }, // depthwise ×2
      { hw: [10, 10], k: 7, cin: 3, cout: 4, stride: 2, padding: 3, dilation: 1, groups: 1 }, // ResNet stem
    ];
    for (const c of cases) {
      const run = (impl: 'native' | 'auto') => () => {
        const rng = new Rng(3);
        const x = rng.normalTensor([2, c.hw[0], c.hw[1], c.cin]);
        const w = rng.normalTensor([c.k, c.k, c.cin / c.groups, c.cout], 0, 0.3);
        const b = rng.normalTensor([c.cout]);
        const opts = { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, impl };
        const y = conv2d(x, w, b, opts);
        const gy = rng.normalTensor(y.shape);
        const grads = tf.grads((a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(conv2d(a, ww, bb, opts), gy)))([x, w, b]);
        tf.dispose([x, w, b, gy]);
        return [y, ...grads];
      };
      const cpu = await onBackend('cpu', run('native'));
      const wasm = await onBackend('wasm', run('auto'));
      cpu.forEach((v, i) => expect(relErr(v, wasm[i]!), `${JSON.stringify(c)} output ${i}`).toBeLessThan(1e-5));
    }
  });

  it('pooling gradients (MaxPoolGrad, AvgPoolGrad, adaptive) on wasm equal cpu', async () => {
    const run = () => {
      const rng = new Rng(4);
      const x = rng.normalTensor([2, 7, 6, 3]);
      const f = (a: tf.Tensor) =>
        tf.add(tf.add(tf.sum(tf.square(maxPool2d(a, 3, { stride: 2, padding: 1 }))), tf.sum(tf.square(avgPool2d(a, 3, { stride: 2, padding: 1, countIncludePad: false })))),
          tf.sum(tf.square(adaptiveAvgPool2d(a, [3, 2]))));
      const out = [f(x), tf.grad(f)(x)];
      x.dispose();
      return out;
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    cpu.forEach((v, i) => expect(relErr(v, wasm[i]!), `output ${i}`).toBeLessThan(1e-5));
  });

  it('a conv stack (Conv2d, BatchNorm2d, MaxPool2d, depthwise Conv2d, GroupNorm, ConvTranspose2d, pooling, Linear) trains 4 AdamW steps on wasm as on cpu', async () => {
    class Stack extends Module {
      readonly conv1: Conv2d;
      readonly bn1: BatchNorm2d;
      readonly pool: MaxPool2d;
      readonly dw: Conv2d;
      readonly gn: GroupNorm;
      readonly up: ConvTranspose2d;
      readonly conv2: Conv2d;
      readonly head: Linear;
      constructor(rng: Rng) {
        super();
        this.conv1 = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, stride: 2, padding: 1, bias: false }, { rng });
        this.bn1 = new BatchNorm2d({ numFeatures: 8 });
        this.pool = new MaxPool2d({ kernelSize: 2 });
        this.dw = new Conv2d({ inChannels: 8, outChannels: 8, kernelSize: 3, padding: 1, groups: 8 }, { rng });
        this.gn = new GroupNorm({ numGroups: 2, numChannels: 8 });
        this.up = new ConvTranspose2d({ inChannels: 8, outChannels: 6, kernelSize: 4, stride: 2, padding: 1 }, { rng });
        this.conv2 = new Conv2d({ inChannels: 6, outChannels: 8, kernelSize: 3, padding: 'same' }, { rng });
        this.head = new Linear({ inFeatures: 8, outFeatures: 4 }, { rng });
      }
      forward(x: tf.Tensor): tf.Tensor {
        return tf.tidy(() => {
          let h = this.pool.forward(tf.relu(this.bn1.forward(this.conv1.forward(x)))); // [N, 4, 4, 8]
          h = tf.relu(this.gn.forward(this.dw.forward(h)));
          h = tf.relu(this.conv2.forward(this.up.forward(h))); // [N, 8, 8, 8]
          return this.head.forward(tf.reshape(adaptiveAvgPool2d(h, 1), [x.shape[0], 8]));
        });
      }
    }
    const train = async (backend: string) => {
      await tf.setBackend(backend);
      const rng = new Rng(7);
      const net = new Stack(rng);
      const x = rng.normalTensor([6, 16, 16, 3]);
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'), 4);
      const opt = new AdamW(net, { lr: 1e-2, weightDecay: 0 });
      const names = new Map(net.namedParameters().map(([p, v]) => [v.name, p]));
      const losses: number[] = [];
      let firstGrads: Record<string, Float32Array> = {};
      for (let s = 0; s < 4; s++) {
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.losses.softmaxCrossEntropy(labels, net.forward(x)) as tf.Scalar));
        if (s === 0) {
          firstGrads = {};
          for (const [k, g] of Object.entries(grads)) firstGrads[names.get(k)!] = (await g.data()) as Float32Array;
        }
        opt.step(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
        losses.push((await value.data())[0]!);
        tf.dispose([value, ...Object.values(grads)]);
      }
      const runningVar = (await net.bn1.running_var!.data()) as Float32Array;
      tf.dispose([x, labels]);
      opt.dispose();
      net.dispose();
      return { losses, firstGrads, runningVar };
    };
    const cpu = await train('cpu');
    const wasm = await train('wasm');
    expect(Object.keys(wasm.firstGrads).sort()).toEqual(Object.keys(cpu.firstGrads).sort());
    expect(Object.keys(cpu.firstGrads).length).toBe(13); // every parameter got a gradient
    for (const [n, g] of Object.entries(cpu.firstGrads)) expect(relErr(g, wasm.firstGrads[n]!), n).toBeLessThan(1e-4);
    wasm.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i]!), `loss ${i}`).toBeLessThan(1e-4));
    expect(wasm.losses[3]).toBeLessThan(wasm.losses[0]!);
    expect(relErr(cpu.runningVar, wasm.runningVar)).toBeLessThan(1e-5);
  });
  it('a tiny ResNet learns to tell circles, squares and triangles apart on wasm (16×16 shapes, 60 steps; held-out accuracy > 0.8 in eval mode, chance 0.33) without leaking tensors', async () => {
    await tf.setBackend('wasm');
    const t0 = performance.now();
    const rng = new Rng(0);
    const encoder = new ResNet(resnetTinyConfig({ width: 8 }), { rng });
    const head = new Linear({ inFeatures: 32, outFeatures: 3 }, { rng });
    const params = [...encoder.namedParameters(), ...head.namedParameters().map(([n, p]) => [`head.${n}`, p] as [string, tf.Variable])];
    const opt = new AdamW(params, { lr: 1e-2, weightDecay: 0 });
    const names = new Map(params.map(([n, p]) => [p.name, n]));
    const data = shapes({ size: 16, batchSize: 32, seed: 1, layout: 'nhwc' });
    const losses: number[] = [];
    let tensorsAfterFirst = 0;
    for (let step = 0; step < 60; step++) {
      const batch = data.next();
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(batch.labels.shape, 3), head.forward(encoder.forward(batch.images))) as tf.Scalar),
      );
      opt.step(new Map(Object.entries(grads).map(([k, g]) => [names.get(k)!, g])));
      losses.push((await value.data())[0]!);
      tf.dispose([value, ...Object.values(grads), batch]);
      if (step === 0) tensorsAfterFirst = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterFirst);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) * 0.6);
    const test = shapes({ size: 16, batchSize: 90, seed: 99, layout: 'nhwc' }).next();
    const accuracy = async () => {
      const pred = tf.argMax(head.forward(encoder.forward(test.images)), 1);
      const hit = tf.mean(tf.cast(tf.equal(pred, test.labels.shape), 'float32'));
      const a = (await hit.data())[0]!;
      tf.dispose([pred, hit]);
      return a;
    };
    const trainModeAcc = await accuracy();
    // The weights moved fast (lr 1e-2) while the running statistics trail them (momentum 0.1), as in
    // PyTorch; let them catch up on 20 training batches without updates before evaluating.
    for (let i = 0; i < 20; i++) {
      const batch = data.next();
      tf.dispose([encoder.forward(batch.images), batch]);
    }
    encoder.eval();
    const acc = await accuracy();
    console.log(`tiny ResNet on wasm: 60 steps in ${((performance.now() - t0) / 1000).toFixed(1)} s, loss ${losses[0]!.toFixed(3)} → ${losses[59]!.toFixed(3)}, held-out accuracy ${acc.toFixed(3)} (eval mode), ${trainModeAcc.toFixed(3)} (batch statistics)`);
    expect(trainModeAcc).toBeGreaterThan(0.9);
    expect(acc).toBeGreaterThan(0.8);
    tf.dispose(test);
    opt.dispose();
    encoder.dispose();
    head.dispose();
  });
});
