import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, parameter, type Parameter } from '../module/module.js';
import { parseConfig, registerBrick, schemas } from '../module/registry.js';
import { layerNorm, rmsNorm } from '../ops/norm.js';

const LayerNormSchema = z
  .object({
    /** Size of the normalised (last) axis. */
    dim: schemas.positiveInt,
    /** Added to the variance (PyTorch default 1e-5; RIN presets use 1e-6). */
    eps: schemas.positive.default(1e-5),
    /** Learn a per-feature scale (`weight`, init 1). */
    affine: z.boolean().default(true),
    /** Learn a per-feature shift (`bias`, init 0); only with `affine`. */
    bias: z.boolean().default(true),
    /** Initialise the scale (and shift) at zero, e.g. RIN's self-conditioning output norm. */
    zeroInit: z.boolean().default(false),
  })
  .strict();
export type LayerNormConfig = z.input<typeof LayerNormSchema>;

/** Layer normalisation over the last axis (`weight`, `bias` as PyTorch's `nn.LayerNorm`). */
export class LayerNorm extends Module {
  static readonly type = 'LayerNorm';
  static readonly schema = LayerNormSchema;
  readonly config: z.output<typeof LayerNormSchema>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(config: LayerNormConfig) {
    super();
    const c = (this.config = parseConfig(LayerNorm, config));
    this.weight = c.affine ? parameter(c.zeroInit ? tf.zeros([c.dim]) : tf.ones([c.dim])) : null;
    this.bias = c.affine && c.bias ? parameter(tf.zeros([c.dim])) : null;
  }

  /** x [..., dim] → [..., dim] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, ['...', this.config.dim]);
    return layerNorm(x, this.weight, this.bias, this.config.eps);
  }

  override toConfig() {
    return { type: LayerNorm.type, ...this.config };
  }
}
registerBrick(LayerNorm);

const RMSNormSchema = z
  .object({
    dim: schemas.positiveInt,
    eps: schemas.positive.default(1e-6),
    affine: z.boolean().default(true),
  })
  .strict();
export type RMSNormConfig = z.input<typeof RMSNormSchema>;

/** Root-mean-square normalisation over the last axis (`weight` init 1). */
export class RMSNorm extends Module {
  static readonly type = 'RMSNorm';
  static readonly schema = RMSNormSchema;
  readonly config: z.output<typeof RMSNormSchema>;
  readonly weight: Parameter | null;

  constructor(config: RMSNormConfig) {
    super();
    const c = (this.config = parseConfig(RMSNorm, config));
    this.weight = c.affine ? parameter(tf.ones([c.dim])) : null;
  }

  /** x [..., dim] → [..., dim] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, ['...', this.config.dim]);
    return rmsNorm(x, this.weight, this.config.eps);
  }

  override toConfig() {
    return { type: RMSNorm.type, ...this.config };
  }
}
registerBrick(RMSNorm);
