// Core's ops on the wasm backend (the default Node engine here), against the cpu results.
import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { Rng, embeddingLookup, layerNorm, linear, matmul } from '../src/index.js';

async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(name);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

describe('core ops on wasm', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('wasm')).toBe(true);
  });
  it('forward and gradients of matmul, linear, layerNorm and embedding match cpu', async () => {
    const run = () => {
      const rng = new Rng(11);
      const x = rng.normalTensor([2, 5, 8]), w = rng.normalTensor([6, 8]), b = rng.normalTensor([6]);
      const g = rng.normalTensor([6]), beta = rng.normalTensor([6]), table = rng.normalTensor([7, 6]);
      const ids = tf.tensor1d([0, 3, 3, 6, 1], 'int32');
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor, gg: tf.Tensor, tt: tf.Tensor) => {
        const h = layerNorm(linear(xx, ww, bb), gg, beta); // [2, 5, 6]
        const e = embeddingLookup(ids, tt); // [5, 6]
        const s = matmul(h, tf.tile(tf.expandDims(e, 0), [2, 1, 1]), false, true); // [2, 5, 5]
        return tf.sum(tf.square(s)) as tf.Scalar;
      };
      return [f(x, w, b, g, table), ...tf.grads(f)([x, w, b, g, table])];
    };
    const cpu = await onBackend('cpu', run);
    const wasm = await onBackend('wasm', run);
    cpu.forEach((c, i) => {
      const scale = Math.max(...Array.from(c).map(Math.abs));
      const err = Math.max(...Array.from(c).map((v, j) => Math.abs(v - wasm[i][j])));
      expect(err / scale, `output ${i}`).toBeLessThan(1e-4);
    });
  });
});
