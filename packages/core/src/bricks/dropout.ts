import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module } from '../module/module.js';
import { parseConfig, registerBrick, schemas } from '../module/registry.js';
import { globalRng, type Rng } from '../rng.js';

const DropoutSchema = z.object({ /** Probability of zeroing an element. */ p: schemas.probability.default(0.1) }).strict();
export type DropoutConfig = z.input<typeof DropoutSchema>;

/**
 * Inverted dropout: in training, zeroes each element with probability `p` and scales the rest by
 * 1/(1−p); the identity in eval mode or when p = 0. The mask comes from the global {@link Rng}
 * (or the one passed to `forward`), so runs are reproducible and resumable.
 */
export class Dropout extends Module {
  static readonly type = 'Dropout';
  static readonly schema = DropoutSchema;
  readonly config: z.output<typeof DropoutSchema>;

  constructor(config: DropoutConfig = {}) {
    super();
    this.config = parseConfig(Dropout, config);
  }

  forward(x: tf.Tensor, rng: Rng = globalRng()): tf.Tensor {
    const p = this.config.p;
    if (!this.training || p === 0) return x;
    if (p === 1) return tf.zerosLike(x);
    return tf.tidy(() => tf.mul(x, tf.mul(rng.bernoulliTensor(x.shape, 1 - p), 1 / (1 - p))));
  }

  override toConfig() {
    return { type: Dropout.type, ...this.config };
  }
}
registerBrick(Dropout);
