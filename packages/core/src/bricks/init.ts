import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../rng.js';

/**
 * Weight initialisers, following the usual reference choices:
 * - `truncNormal`: N(0, std²) truncated to ±2·std (timm / ViT / pix2seq; std 0.02 by default);
 * - `xavierUniform`: U(±√(6 / (fanIn + fanOut))) (Perceiver, original Transformer);
 * - `kaimingUniform`: U(±1/√fanIn), PyTorch's `nn.Linear` default (kaiming_uniform with a = √5);
 * - `normal`: N(0, std²);
 * - `zeros`: all zeros (output layers that should start as the identity of a residual).
 */
export const initSchema = z.enum(['truncNormal', 'xavierUniform', 'kaimingUniform', 'normal', 'zeros']);
export type InitName = z.infer<typeof initSchema>;

/** Initial values for a weight of `shape` with the given fan-in/fan-out. */
export function initTensor(name: InitName, shape: number[], fanIn: number, fanOut: number, rng: Rng, std = 0.02): tf.Tensor {
  switch (name) {
    case 'truncNormal':
      return rng.truncatedNormalTensor(shape, std);
    case 'normal':
      return rng.normalTensor(shape, 0, std);
    case 'xavierUniform': {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      return rng.uniformTensor(shape, -bound, bound);
    }
    case 'kaimingUniform': {
      const bound = 1 / Math.sqrt(fanIn);
      return rng.uniformTensor(shape, -bound, bound);
    }
    case 'zeros':
      return rng.uniformTensor(shape, 0, 0);
  }
}
