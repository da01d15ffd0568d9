/**
 * The experts of an MoE layer: E two-layer MLPs without biases (as MegaBlocks), each projection
 * stored as one stacked weight `[experts, in, out]`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  Module,
  globalRng,
  parameter,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Parameter,
} from '@brickml/core';
import { leanActivation, swiglu } from './ops/activation.js';

/** Expert activations: plain ones act on `x·w1`; `swiglu` is `silu(x·w1) ⊙ (x·v1)` (MegaBlocks GLU). */
export type ExpertActivation = 'gelu' | 'gelu_tanh' | 'silu' | 'relu' | 'swiglu';

const ExpertMLPSchema = z
  .object({
    /** Number of experts E. */
    numExperts: schemas.positiveInt,
    /** Token width d. */
    dim: schemas.positiveInt,
    /** Hidden width F of each expert. */
    ffnHidden: schemas.positiveInt,
    /** Activation (every choice maps 0 to 0, so zero padding rows stay zero). */
    activation: z.enum(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu']).default('gelu'),
    /** Std of the truncated-normal weight initialisation. */
    initStd: schemas.positive.default(0.02),
  })
  .strict();
/** JSON config of {@link ExpertMLP} (fields with defaults optional). */
export type ExpertMLPConfig = z.input<typeof ExpertMLPSchema>;

/**
 * Stacked expert weights. Parameters (PyTorch-style names under the MoE: `experts.w1`, …):
 * - `w1` [E, dim, ffnHidden]: first projection (the gate with `swiglu`);
 * - `v1` [E, dim, ffnHidden]: the linear (value) projection, `swiglu` only;
 * - `w2` [E, ffnHidden, dim]: second projection.
 *
 * The MoE layers (`layers/*.ts`) run the products; this brick owns the weights and the activation.
 */
export class ExpertMLP extends Module {
  static readonly type = 'ExpertMLP';
  static readonly schema = ExpertMLPSchema;
  /** The parsed config (defaults filled). */
  readonly config: z.output<typeof ExpertMLPSchema>;
  /** First projection (the gate with swiglu), [E, dim, F]. */
  readonly w1: Parameter;
  /** Value projection, [E, dim, F] (swiglu only). */
  readonly v1: Parameter | null;
  /** Second projection, [E, F, dim]. */
  readonly w2: Parameter;

  constructor(config: ExpertMLPConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ExpertMLP, config));
    const std = c.initStd;
    this.w1 = parameter(rng.truncatedNormalTensor([c.numExperts, c.dim, c.ffnHidden], std));
    this.v1 =
      c.activation === 'swiglu'
        ? parameter(rng.truncatedNormalTensor([c.numExperts, c.dim, c.ffnHidden], std))
        : null;
    this.w2 = parameter(rng.truncatedNormalTensor([c.numExperts, c.ffnHidden, c.dim], std));
  }

  /** Whether the activation is gated (`swiglu`, with `v1`). */
  get gated(): boolean {
    return this.v1 !== null;
  }

  /**
   * The hidden activation from the first projection(s): `act(h)`, or `silu(h) ⊙ v` when gated; one
   * op each whose gradient keeps only its inputs (see `ops/activation.ts`).
   * @param h [..., F] = x·w1
   * @param v [..., F] = x·v1 (gated only)
   */
  activate(h: tf.Tensor, v?: tf.Tensor): tf.Tensor {
    const act = this.config.activation;
    if (act === 'swiglu') {
      if (!v)
        throw new Error(
          `ExpertMLP${this.path ? ` '${this.path}'` : ''}.activate: swiglu needs the value projection v`,
        );
      return swiglu(h, v);
    }
    return leanActivation(act, h);
  }

  /** Multiply-adds per token copy of one expert's forward pass: d·F (·2 when gated) + F·d. */
  get macsPerRow(): number {
    const { dim, ffnHidden } = this.config;
    return dim * ffnHidden * (this.gated ? 3 : 2);
  }

  override toConfig() {
    return { type: ExpertMLP.type, ...this.config };
  }
}
registerBrick(ExpertMLP);
