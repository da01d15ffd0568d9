// The layer-equivalence suite on the wasm backend, where the dropless layer reads the group sizes
// synchronously and runs the `grouped` reference (plain 2-D products), and where tfjs has no
// gradient for `gather` (no UnsortedSegmentSum): every permutation here must train without it.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@brickml/core';
import { CONTIGUOUS_ROWS_KERNEL, MoE, contiguousRows } from '../src/index.js';
import { defineEquivalenceTests } from './equivalence.js';

await import('@tensorflow/tfjs-backend-wasm');
await tf.setBackend('wasm');

describe('wasm backend', () => {
  it('is active, and a dropless MoE trains a step with the grouped implementation', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const m = new MoE(
      { kind: 'dropless', dim: 8, ffnHidden: 16, numExperts: 4, topK: 2, blockSize: 8 },
      { rng: new Rng(1) },
    );
    const x = new Rng(2).normalTensor([32, 8]);
    const out = m.forward(x);
    expect(out.info.sparseImpl).toBe('grouped');
    const { value, grads } = tf.variableGrads(
      () => tf.add(tf.mean(tf.square(m.forward(x).y)), m.forward(x).auxLoss) as tf.Scalar,
      m.parameters(),
    );
    expect(Number.isFinite((await value.data())[0])).toBe(true);
    expect(Object.keys(grads)).toHaveLength(3);
  });

  it('copies contiguous rows with its own kernel (tfjs-wasm Slice copies the whole input)', async () => {
    expect(tf.getKernel(CONTIGUOUS_ROWS_KERNEL, 'wasm')).toBeDefined();
    const x = tf.tensor2d(
      Array.from({ length: 12 }, (_, i) => i),
      [6, 2],
    );
    expect(await contiguousRows(x, 2, 3).array()).toEqual([
      [4, 5],
      [6, 7],
      [8, 9],
    ]);
    expect(await contiguousRows(x, 5, 1).array()).toEqual([[10, 11]]);
  });
});

defineEquivalenceTests(['auto', 'batched']);
