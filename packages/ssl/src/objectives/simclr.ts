import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  Module,
  ShapeError,
  build,
  formatShape,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickConfig,
  type BrickOptions,
} from '@brickml/core';
import { ntXentLoss } from './nt-xent.js';
import { ProjectionHead } from './heads.js';

const SimClrSchema = z
  .object({
    /** The encoder f, any registered brick mapping images to `[B, D]` features or tokens `[B, n, D]` (mean-pooled). */
    encoder: schemas.brick,
    /** Width D of the encoder's (pooled) features: the representation h. */
    encoderDim: schemas.positiveInt,
    /** Hidden width of the projection head g (SimCLR: 2048). */
    hidden: schemas.positiveInt.default(256),
    /** Projection width (SimCLR: 128). */
    projectionDim: schemas.positiveInt.default(64),
    /** BatchNorm1d in the projection head after the hidden layer (the paper's head; false: Linear → ReLU → Linear). */
    headBatchNorm: z.boolean().default(true),
    /** NT-Xent temperature τ (SimCLR: 0.1 at batch 4096; 0.5 common for small batches). */
    temperature: schemas.positive.default(0.5),
  })
  .strict();
/** JSON config of {@link SimCLR} (input form: defaults may be omitted). */
export type SimClrConfig = z.input<typeof SimClrSchema>;
type Parsed = z.output<typeof SimClrSchema>;

/**
 * SimCLR (Chen et al. 2020): h = encoder(x), z = projector(h) ({@link ProjectionHead}: Linear → BatchNorm1d → ReLU → Linear), loss =
 * {@link ntXentLoss} over the 2N views of two augmentations of N images. The representation for
 * downstream use is h ({@link SimCLR.represent}), taken before the projection head.
 */
export class SimCLR extends Module {
  static readonly type = 'SimCLR';
  static readonly schema = SimClrSchema;
  readonly config: Parsed;
  readonly encoder: Module & { forward(x: tf.Tensor): tf.Tensor };
  readonly projector: ProjectionHead;

  constructor(config: SimClrConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(SimCLR, config));
    this.encoder = build(c.encoder as BrickConfig, { rng });
    if (typeof this.encoder.forward !== 'function') throw new BrickConfigError(`SimCLR: the encoder (${this.encoder.typeName}) has no forward method`);
    this.projector = new ProjectionHead({ dim: c.encoderDim, hidden: c.hidden, outDim: c.projectionDim, batchNorm: c.headBatchNorm }, { rng });
  }

  /** images → representation h `[B, D]` (mean-pooled when the encoder returns tokens). */
  represent(images: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.encoder.forward(images);
      const h = y.rank === 3 ? tf.mean(y, 1) : y;
      if (h.rank !== 2 || h.shape[1] !== this.config.encoderDim) {
        throw new ShapeError(`SimCLR: the encoder returned ${formatShape(y.shape)}; expected [B, ${this.config.encoderDim}] or [B, n, ${this.config.encoderDim}] (config 'encoderDim')`);
      }
      return h;
    });
  }

  /** NT-Xent of two views `[B, ...]` of the same B images (row i of each is image i). */
  loss(view1: tf.Tensor, view2: tf.Tensor): tf.Scalar {
    if (!tf.util.arraysEqual(view1.shape, view2.shape)) {
      throw new ShapeError(`SimCLR.loss: views must have equal shapes, got ${formatShape(view1.shape)} and ${formatShape(view2.shape)}`);
    }
    return tf.tidy(() =>
      ntXentLoss(this.projector.forward(this.represent(view1)), this.projector.forward(this.represent(view2)), this.config.temperature),
    );
  }

  override toConfig() {
    return { type: SimCLR.type, ...this.config };
  }
}
registerBrick(SimCLR);
