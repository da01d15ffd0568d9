/**
 * The projection and prediction heads of SimCLR and BYOL: Linear → BatchNorm1d → ReLU → Linear.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Linear, Module, build, globalRng, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';

const ProjectionHeadSchema = z
  .object({
    /** Input width. */
    dim: schemas.positiveInt,
    /** Hidden width (SimCLR: 2048, BYOL: 4096). */
    hidden: schemas.positiveInt,
    /** Output width (SimCLR: 128, BYOL: 256). */
    outDim: schemas.positiveInt,
    /**
     * BatchNorm1d after the hidden Linear, as both papers' heads have (BYOL's ablation: without it the
     * method can collapse). False gives core's two-layer ReLU `MLP` (same parameter names).
     */
    batchNorm: z.boolean().default(true),
  })
  .strict();
/** JSON config of {@link ProjectionHead} (input form: defaults may be omitted). */
export type ProjectionHeadConfig = z.input<typeof ProjectionHeadSchema>;

/** A `BatchNorm1d` from core, built through the registry. */
type BatchNorm1dLike = Module & { forward(x: tf.Tensor): tf.Tensor };

/**
 * SimCLR's projection head g and BYOL's projector / predictor: `fc2(relu(bn(fc1(x))))`, x `[N, dim]`
 * → `[N, outDim]`. The BatchNorm1d normalises over the batch in training mode and keeps running
 * statistics (buffers, averaged by BYOL's EMA like the parameters) for evaluation mode. Linears are
 * initialised as PyTorch's `nn.Linear`.
 */
export class ProjectionHead extends Module {
  static readonly type = 'ProjectionHead';
  static readonly schema = ProjectionHeadSchema;
  readonly config: z.output<typeof ProjectionHeadSchema>;
  readonly fc1: Linear;
  readonly bn: BatchNorm1dLike | null;
  readonly fc2: Linear;

  constructor(config: ProjectionHeadConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ProjectionHead, config));
    this.fc1 = new Linear({ inFeatures: c.dim, outFeatures: c.hidden }, { rng });
    this.bn = c.batchNorm ? build<BatchNorm1dLike>({ type: 'BatchNorm1d', numFeatures: c.hidden }) : null;
    this.fc2 = new Linear({ inFeatures: c.hidden, outFeatures: c.outDim }, { rng });
  }

  /** x [N, dim] → [N, outDim] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, this.config.dim]);
    return tf.tidy(() => {
      let h = this.fc1.forward(x); // [N, hidden]
      if (this.bn) h = this.bn.forward(h);
      return this.fc2.forward(tf.relu(h)); // [N, outDim]
    });
  }

  override toConfig() {
    return { type: ProjectionHead.type, ...this.config };
  }
}
registerBrick(ProjectionHead);
