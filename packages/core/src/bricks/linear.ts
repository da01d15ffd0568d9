import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, parameter, type Parameter } from '../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../module/registry.js';
import { globalRng } from '../rng.js';
import { linear } from '../ops/linear.js';
import { biasInitSchema, defaultBiasInit, initBias, initSchema, initTensor, type BiasInitName } from './init.js';

const LinearSchema = z
  .object({
    /** Input features (last axis of x). */
    inFeatures: schemas.positiveInt,
    /** Output features. */
    outFeatures: schemas.positiveInt,
    /** Learn an additive bias (initialised as `biasInit` says). */
    bias: z.boolean().default(true),
    /**
     * Weight initialiser (see `initTensor`). Default `kaimingUniform`: U(±1/√inFeatures), PyTorch's
     * `nn.Linear`. Pick `truncNormal` (with `initStd`), `xavierUniform`, `normal` or `zeros` for
     * the transformer-style initialisations; their bias starts at zero unless `biasInit` says otherwise.
     */
    init: initSchema.default('kaimingUniform'),
    /** Standard deviation for `truncNormal` / `normal`. */
    initStd: schemas.positive.default(0.02),
    /**
     * Bias initialiser: `uniform` U(±1/√inFeatures) (PyTorch's `nn.Linear`) or `zeros`. Left out,
     * it follows `init`: `uniform` with `kaimingUniform` (so the defaults are exactly PyTorch's
     * `nn.Linear`), `zeros` with any other init (so `init: 'truncNormal'` gives the same parameters
     * for the same seed as before this field existed). `toConfig()` writes the resolved choice.
     */
    biasInit: biasInitSchema.optional(),
    /** Start with weight and bias at zero (for output projections of residual branches). */
    zeroInit: z.boolean().default(false),
  })
  .strict();

export type LinearConfig = z.input<typeof LinearSchema>;

/**
 * Affine layer `y = x · Wᵀ + b` over the last axis. Parameters as PyTorch's `nn.Linear`:
 * `weight` [out, in], `bias` [out]; by default initialised as PyTorch does too (weight and bias
 * U(±1/√in)). The generator draws the weight, then the bias (a zero bias draws nothing; `zeroInit`
 * draws as the init it replaces would, so the parameters made after it do not change).
 */
export class Linear extends Module {
  static readonly type = 'Linear';
  static readonly schema = LinearSchema;
  readonly config: z.output<typeof LinearSchema> & { biasInit: BiasInitName };
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(config: LinearConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const parsed = parseConfig(Linear, config);
    const c = (this.config = { ...parsed, biasInit: parsed.biasInit ?? defaultBiasInit(parsed.init) });
    const init = c.zeroInit ? 'zeros' : c.init;
    this.weight = parameter(initTensor(init, [c.outFeatures, c.inFeatures], c.inFeatures, c.outFeatures, rng, c.initStd));
    this.bias = !c.bias
      ? null
      : parameter(c.zeroInit && c.biasInit === 'uniform' ? rng.uniformTensor([c.outFeatures], 0, 0) : initBias(c.biasInit, c.outFeatures, c.inFeatures, rng));
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
