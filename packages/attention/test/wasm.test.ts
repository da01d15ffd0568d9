// The wasm backend lacks UnsortedSegmentSum (so no gather gradient) and runs kernels differently from
// cpu: these checks run the bricks' forward and backward passes on wasm and compare them with cpu.
import * as tf from '@tensorflow/tfjs-core';
import { defaultDepthwiseImpl } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, build, type Module } from '@brickml/core';
import { randomizeParameters } from './helpers.js';

let wasmOk = false;
beforeAll(async () => {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    wasmOk = await tf.setBackend('wasm');
    await tf.setBackend('cpu');
  } catch {
    wasmOk = false;
  }
});
afterAll(async () => {
  await tf.setBackend('cpu');
});

/** Loss and every parameter gradient (host arrays) on the current backend; inputs made by `inputs()` on it. */
async function lossAndGrads(m: Module, run: (inputs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[]) {
  const xs = inputs();
  const named = m.namedParameters();
  const { value, grads } = tf.variableGrads(
    () => tf.tidy(() => tf.sum(tf.mul(run(xs), new Rng(5).normalTensor(run(xs).shape))) as tf.Scalar),
    named.map(([, v]) => v),
  );
  const out: Record<string, Float32Array> = {};
  for (const [n, v] of named) if (grads[v.name]) out[n] = (await grads[v.name].data()) as Float32Array;
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads), ...xs]);
  return { loss, grads: out };
}

async function compareBackends(m: Module, run: (inputs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[]) {
  await tf.setBackend('cpu');
  const ref = await lossAndGrads(m, run, inputs);
  await tf.setBackend('wasm');
  const got = await lossAndGrads(m, run, inputs);
  await tf.setBackend('cpu');
  expect(got.loss).toBeCloseTo(ref.loss, 2);
  expect(Object.keys(got.grads).sort()).toEqual(Object.keys(ref.grads).sort());
  let worst = 0;
  for (const [n, g] of Object.entries(ref.grads)) {
    const w = got.grads[n];
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]) / (1 + Math.abs(g[i])));
  }
  expect(worst).toBeLessThan(1e-3);
}

describe('wasm backend (forward + backward against cpu, relative gradient error < 1e-3)', () => {
  it('uses the shifted depthwise convolution (tfjs-wasm has no depthwise gradients); cpu uses the native one', async () => {
    if (!wasmOk) return expect.soft(wasmOk, 'wasm backend unavailable').toBe(true);
    await tf.setBackend('wasm');
    expect(defaultDepthwiseImpl()).toBe('shifted');
    await tf.setBackend('cpu');
    expect(defaultDepthwiseImpl()).toBe('native');
  });

  it('RinNetwork with class token (null class made inside the pass), self-conditioning and the write conv', async () => {
    if (!wasmOk) return expect.soft(wasmOk, 'wasm backend unavailable').toBe(true);
    const net = build({
      type: 'RinNetwork', inputSize: [8, 8], patchSize: 2, interfaceDim: 8, latentDim: 8, numLatents: 2, numBlocks: 1,
      computeLayers: 1, readHeads: 2, latentHeads: 2, numClasses: 3, selfCondition: true, writeDepthwiseConv: true,
    }, { rng: new Rng(1) });
    randomizeParameters(net, 2, 0.3);
    const inputs = () => [new Rng(3).normalTensor([2, 3, 8, 8]), tf.tensor1d([0.3, 0.8]), tf.tensor1d([2, 0], 'int32')];
    await compareBackends(net, ([x, g, y]) => (net as any).forward(x, { noiseLevel: g, classLabels: y }).output, inputs);
    await compareBackends(net, ([x, g]) => (net as any).forward(x, { noiseLevel: g }).output, inputs);
    net.dispose();
  });

  it('PerceiverIO with Fourier features, HiP grouping and a subset of decoder queries', async () => {
    if (!wasmOk) return expect.soft(wasmOk, 'wasm backend unavailable').toBe(true);
    const io = build({
      type: 'PerceiverIO',
      inputPosition: { type: 'FourierPositionEncoding', indexDims: [4, 4], numBands: 2 },
      encoder: { type: 'PerceiverEncoder', inputDim: 13, numLatents: 3, latentDim: 8, selfHeads: 2, selfAttendsPerBlock: 1, groups: 2 },
      decoder: { type: 'PerceiverDecoder', latentDim: 8, queryDim: 8, numQueries: 5, outDim: 2 },
    }, { rng: new Rng(4) });
    randomizeParameters(io, 5, 0.3);
    const mask = () => tf.tensor2d([Array.from({ length: 16 }, (_, i) => i < 13), Array(16).fill(true)], [2, 16], 'bool');
    await compareBackends(io, ([x, m]) => (io as any).forward(x, { inputMask: m, queryIndices: [4, 1] }), () => [new Rng(6).normalTensor([2, 3, 4, 4]), mask()]);
    io.dispose();
  });
});
