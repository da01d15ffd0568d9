import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, parameter, type Parameter } from '../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../module/registry.js';
import { globalRng } from '../rng.js';
import { linear } from '../ops/linear.js';
import { initSchema, initTensor } from './init.js';

const LinearSchema = z
  .object({
    /** Input features (last axis of x). */
    inFeatures: schemas.positiveInt,
    /** Output features. */
    outFeatures: schemas.positiveInt,
    /** Learn an additive bias (initialised to zero). */
    bias: z.boolean().default(true),
    /** Weight initialiser (see `initTensor`). */
    init: initSchema.default('truncNormal'),
    /** Standard deviation for `truncNormal` / `normal`. */
    initStd: schemas.positive.default(0.02),
    /** Start with weight and bias at zero (for output projections of residual branches). */
    zeroInit: z.boolean().default(false),
  })
  .strict();

export type LinearConfig = z.input<typeof LinearSchema>;

/**
 * Affine layer `y = x · Wᵀ + b` over the last axis. Parameters as PyTorch's `nn.Linear`:
 * `weight` [out, in], `bias` [out].
 */
export class Linear extends Module {
  static readonly type = 'Linear';
  static readonly schema = LinearSchema;
  readonly config: z.output<typeof LinearSchema>;
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(config: LinearConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(Linear, config));
    const init = c.zeroInit ? 'zeros' : c.init;
    this.weight = parameter(initTensor(init, [c.outFeatures, c.inFeatures], c.inFeatures, c.outFeatures, rng, c.initStd));
    this.bias = c.bias ? parameter(tf.zeros([c.outFeatures])) : null;
  }

  /** x [..., in] → [..., out] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, ['...', this.config.inFeatures]);
    return linear(x, this.weight, this.bias);
  }

  override toConfig() {
    return { type: Linear.type, ...this.config };
  }
}
registerBrick(Linear);
