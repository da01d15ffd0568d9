import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, globalRng, parameter, parseConfig, registerBrick, schemas, type BrickOptions, type Parameter } from '@brickml/core';

const LearnedSchema = z
  .object({
    /** Number of positions N. */
    numPositions: schemas.positiveInt,
    /** Token width. */
    dim: schemas.positiveInt,
    /** Std of the truncated-normal initialisation (pix2seq, Perceiver: 0.02). */
    initStd: schemas.positive.default(0.02),
  })
  .strict();
/** JSON config of {@link LearnedPositionEncoding} (input form: defaults may be omitted). */
export type LearnedPositionEncodingConfig = z.input<typeof LearnedSchema>;

/** A learned position table `weight` [N, dim] added to tokens [B, N, dim]. */
export class LearnedPositionEncoding extends Module {
  static readonly type = 'LearnedPositionEncoding';
  static readonly schema = LearnedSchema;
  readonly config: z.output<typeof LearnedSchema>;
  readonly weight: Parameter;

  constructor(config: LearnedPositionEncodingConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(LearnedPositionEncoding, config));
    this.weight = parameter(rng.truncatedNormalTensor([c.numPositions, c.dim], c.initStd));
  }

  /** The table [N, dim] (the parameter itself). */
  table(): tf.Tensor {
    return this.weight;
  }

  /** x [B, N, dim] → x + weight. */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, this.config.numPositions, this.config.dim]);
    return tf.add(x, this.weight);
  }

  override toConfig() {
    return { type: LearnedPositionEncoding.type, ...this.config };
  }
}
registerBrick(LearnedPositionEncoding);
