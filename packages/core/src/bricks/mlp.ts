import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module } from '../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../module/registry.js';
import { globalRng } from '../rng.js';
import { activation, silu } from '../ops/activations.js';
import { split2 } from '../ops/split.js';
import { Linear } from './linear.js';
import { Dropout } from './dropout.js';
import { biasInitSchema, defaultBiasInit, initSchema, type BiasInitName } from './init.js';

const MLPSchema = z
  .object({
    /** Input (and default output) width. */
    dim: schemas.positiveInt,
    /** Hidden width (4·dim in most transformers). */
    hidden: schemas.positiveInt,
    /** Output width (default: dim). */
    outDim: schemas.positiveInt.optional(),
    /** `gelu` (exact), `gelu_tanh`, `silu`, `relu`, or `swiglu` (gated: fc1 is 2·hidden wide, value ‖ gate). */
    activation: z.enum(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu']).default('gelu'),
    bias: z.boolean().default(true),
    /** Dropout after the activation and after the output projection. */
    dropout: schemas.probability.default(0),
    /**
     * Weight initialiser of both Linears (see `Linear`'s `init`). Default `kaimingUniform`, with
     * U(±1/√fanIn) biases: PyTorch's `nn.Linear`. Any other init (`truncNormal` std 0.02 as timm's
     * `Mlp` under a ViT, `xavierUniform`, …) starts the biases at zero unless `biasInit` is given.
     */
    init: initSchema.default('kaimingUniform'),
    /** Bias initialiser of both Linears; left out, it follows `init` (see `Linear`'s `biasInit`; `toConfig()` writes the resolved choice). */
    biasInit: biasInitSchema.optional(),
    /** Zero-initialise the output projection (residual branch starts as identity). */
    zeroInitOutput: z.boolean().default(false),
  })
  .strict();
export type MLPConfig = z.input<typeof MLPSchema>;

/**
 * Two-layer perceptron `fc2(act(fc1(x)))` (timm naming), or its SwiGLU form
 * `fc2(value · silu(gate))` with `[value, gate] = fc1(x)` split in halves.
 */
export class MLP extends Module {
  static readonly type = 'MLP';
  static readonly schema = MLPSchema;
  readonly config: z.output<typeof MLPSchema> & { biasInit: BiasInitName };
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly drop: Dropout;

  constructor(config: MLPConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const parsed = parseConfig(MLP, config);
    const c = (this.config = { ...parsed, biasInit: parsed.biasInit ?? defaultBiasInit(parsed.init) });
    const gated = c.activation === 'swiglu';
    this.fc1 = new Linear({ inFeatures: c.dim, outFeatures: (gated ? 2 : 1) * c.hidden, bias: c.bias, init: c.init, biasInit: c.biasInit }, { rng });
    this.fc2 = new Linear(
      { inFeatures: c.hidden, outFeatures: c.outDim ?? c.dim, bias: c.bias, init: c.init, biasInit: c.biasInit, zeroInit: c.zeroInitOutput },
      { rng },
    );
    this.drop = new Dropout({ p: c.dropout });
  }

  /** x [..., dim] → [..., outDim] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, ['...', this.config.dim]);
    let h = this.fc1.forward(x); // [..., hidden (×2 if gated)]
    if (this.config.activation === 'swiglu') {
      const [value, gate] = split2(h);
      h = tf.mul(value, silu(gate));
    } else {
      h = activation(this.config.activation, h);
    }
    return this.drop.forward(this.fc2.forward(this.drop.forward(h)));
  }

  override toConfig() {
    return { type: MLP.type, ...this.config };
  }
}
registerBrick(MLP);
