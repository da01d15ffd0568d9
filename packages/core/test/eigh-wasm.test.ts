// eigh, the SPD functions and the GRU on the wasm backend, against the cpu results.
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { GRU, Rng, eigh, spdLog } from '../src/index.js';

async function onBackend(name: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  // A failed setBackend leaves the previous backend active: the comparison would be cpu against cpu.
  expect(await tf.setBackend(name), `tf.setBackend('${name}')`).toBe(true);
  expect(tf.getBackend()).toBe(name);
  const out = f();
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

function expectSame(cpu: Float32Array[], other: Float32Array[], tol: number): void {
  cpu.forEach((c, i) => {
    const scale = Math.max(...Array.from(c).map(Math.abs));
    const err = Math.max(...Array.from(c).map((v, j) => Math.abs(v - other[i][j])));
    expect(err / scale, `output ${i}`).toBeLessThan(tol);
  });
}

describe('linalg and GRU on wasm', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each(['host', 'tensor'] as const)('eigh and spdLog (%s path on wasm): values, vectors and gradients match cpu (batch of 9×9 and 16×16 SPD)', async (method) => {
    for (const n of [9, 16]) {
      const run = (onWasm: boolean) => () => {
        const m = onWasm ? method : 'host';
        const rng = new Rng(n);
        const x = rng.normalTensor([4, n, n], 0, 1);
        const a = tf.add(tf.div(tf.matMul(x, x, false, true), n), tf.mul(tf.eye(n), 0.1));
        const w = rng.normalTensor([4, n, n], 0, 1);
        const { values, vectors } = eigh(a, { method: m });
        const g = tf.grad((x2: tf.Tensor) => {
          const e = eigh(x2, { method: m });
          return tf.add(tf.sum(tf.mul(tf.square(e.vectors), w)), tf.sum(tf.mul(spdLog(x2, { method: m }), w)));
        })(a);
        return [values, vectors, g];
      };
      expectSame(await onBackend('cpu', run(false)), await onBackend('wasm', run(true)), 1e-3);
    }
  });

  it('GRU: output and parameter gradients match cpu', async () => {
    const run = () => {
      const m = new GRU({ inputSize: 5, hiddenSize: 8, numLayers: 2 }, { rng: new Rng(1) });
      const x = new Rng(2).normalTensor([3, 6, 5], 0, 1);
      const { output, hidden } = m.forward(x);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(m.forward(x).output)) as tf.Scalar, m.parameters());
      value.dispose();
      const out = [output, hidden, ...m.parameters().map((p) => grads[p.name])];
      m.dispose();
      return out;
    };
    expectSame(await onBackend('cpu', run), await onBackend('wasm', run), 1e-4);
  });
});
