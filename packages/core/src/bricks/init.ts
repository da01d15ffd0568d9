import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { Rng } from '../rng.js';

/**
 * Weight initialisers, following the usual reference choices:
 * - `kaimingUniform`: U(±1/√fanIn), PyTorch's `nn.Linear` / `nn.Conv*d` default (kaiming_uniform
 *   with a = √5). The default of core's bricks (`Linear`, `MLP`, `PatchEmbed`, `PatchUnembed`),
 *   whose bias then follows PyTorch too: U(±1/√fanIn) (see {@link defaultBiasInit});
 * - `truncNormal`: N(0, std²) truncated to ±2·std (timm / ViT / pix2seq; std 0.02 by default);
 * - `xavierUniform`: U(±√(6 / (fanIn + fanOut))) (Perceiver, original Transformer);
 * - `normal`: N(0, std²);
 * - `zeros`: all zeros (output layers that should start as the identity of a residual).
 */
export const initSchema = z.enum(['truncNormal', 'xavierUniform', 'kaimingUniform', 'normal', 'zeros']);
export type InitName = z.infer<typeof initSchema>;

/**
 * Bias initialisers: `uniform` is U(±1/√fanIn), PyTorch's `nn.Linear` / `nn.Conv*d` bias; `zeros`
 * is what timm / ViT / Perceiver-style initialisations use.
 */
export const biasInitSchema = z.enum(['uniform', 'zeros']);
export type BiasInitName = z.infer<typeof biasInitSchema>;

/**
 * The bias initialiser that goes with a weight initialiser when none is given: `uniform`
 * (PyTorch's `nn.Linear` as a whole) for `kaimingUniform`, `zeros` for every other choice, so a
 * brick that picks `truncNormal`, `xavierUniform`, `normal` or `zeros` gets zero biases (and draws
 * nothing from the generator for them).
 */
export function defaultBiasInit(init: InitName): BiasInitName {
  return init === 'kaimingUniform' ? 'uniform' : 'zeros';
}

/** Initial values of a bias of `size` for a layer with this fan-in. `zeros` draws nothing from `rng`. */
export function initBias(name: BiasInitName, size: number, fanIn: number, rng: Rng): tf.Tensor {
  if (name === 'zeros') return tf.zeros([size]);
  const bound = 1 / Math.sqrt(fanIn);
  return rng.uniformTensor([size], -bound, bound);
}

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
