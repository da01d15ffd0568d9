/**
 * Calibration: single float32 products through core's `matmul` — how much of the machine's sgemm
 * peak each backend reaches on the simplest op, next to `torch.mm` / `torch.bmm`: square products,
 * and the batched product of attention scores (64 batch·heads, 128 queries, head width 64).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, matmul } from '@brickml/core';
import type { BenchCase } from '../case.js';

function productCase(id: string, title: string, aShape: number[], bShape: number[]): BenchCase {
  const [m, k] = aShape.slice(-2);
  const n = bShape[bShape.length - 1];
  const batch = aShape.slice(0, -2).reduce((x, y) => x * y, 1);
  return {
    id,
    title,
    flops: 2 * batch * m * k * n,
    reference: { module: 'matmul' },
    meta: { aShape, bShape },
    tolerance: 1e-3,
    async setup() {
      const rng = new Rng(1);
      const a = rng.normalTensor(aShape); // [..., m, k]
      const b = rng.normalTensor(bShape); // [..., k, n]
      return {
        tensors: () => ({ 'in.a': a, 'in.b': b }),
        outputs: async () => ({ c: matmul(a, b) }),
        step: async () => {
          const c = matmul(a, b);
          await c.data();
          c.dispose();
        },
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

export function matmulCases(): BenchCase[] {
  return [
    productCase('matmul-512', 'matmul 512×512 · 512×512', [512, 512], [512, 512]),
    productCase('matmul-1024', 'matmul 1024×1024 · 1024×1024', [1024, 1024], [1024, 1024]),
    productCase('bmm-attention', 'batched matmul [64, 128, 64] · [64, 64, 128] (attention scores)', [64, 128, 64], [64, 64, 128]),
  ];
}
