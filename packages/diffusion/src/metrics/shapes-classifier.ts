/**
 * `ShapesClassifier`: the small network whose features define `shapesFD`. A fully connected
 * network over 16×16 RGB `shapes` images (32×32 and 64×64 inputs are 2×2 / 4×4 average-pooled first), trained on
 * every factor the data set labels — shape (3 classes), colour (6), and centre x, y and size
 * (regression) — so its feature space registers what a generator gets wrong about any of them.
 *
 * ```text
 * h        = gelu(fc2(gelu(fc1(flatten(x)))))
 * features = gelu(fc3(h))                          [B, featureDim]   ← the shapesFD features
 * heads    = shape_head, colour_head, factor_head  (logits [B,3], [B,6], factors [B,3])
 * ```
 * The shipped weights (assets/shapes-classifier/) come from `scripts/train-shapes-classifier.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Linear, Module, gelu, globalRng, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';

const ShapesClassifierSchema = z
  .object({
    /** Input side the network sees (16); 32×32 inputs are average-pooled to it. */
    size: z.literal(16).default(16),
    /** Widths of the two hidden layers. */
    hidden: z.tuple([schemas.positiveInt, schemas.positiveInt]).default([256, 128]),
    /** Width of the feature layer used by shapesFD. */
    featureDim: schemas.positiveInt.default(32),
    numShapes: schemas.positiveInt.default(3),
    numColours: schemas.positiveInt.default(6),
  })
  .strict();
/** Config of {@link ShapesClassifier}. */
export type ShapesClassifierConfig = z.input<typeof ShapesClassifierSchema>;

/** Outputs of {@link ShapesClassifier.forward}. */
export interface ShapesClassifierOutput {
  features: tf.Tensor;
  shapeLogits: tf.Tensor;
  colourLogits: tf.Tensor;
  /** Predicted (x, y, size) in [0, 1] units `[B, 3]`. */
  factors: tf.Tensor;
}

/** The feature network of shapesFD (see the module comment). */
export class ShapesClassifier extends Module {
  static readonly type = 'ShapesClassifier';
  static readonly schema = ShapesClassifierSchema;
  readonly config: z.output<typeof ShapesClassifierSchema>;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly fc3: Linear;
  readonly shape_head: Linear;
  readonly colour_head: Linear;
  readonly factor_head: Linear;

  constructor(config: ShapesClassifierConfig = {}, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ShapesClassifier, config));
    const inF = 3 * c.size * c.size;
    const lin = (i: number, o: number) => new Linear({ inFeatures: i, outFeatures: o, init: 'kaimingUniform', biasInit: 'zeros' }, { rng });
    this.fc1 = lin(inF, c.hidden[0]);
    this.fc2 = lin(c.hidden[0], c.hidden[1]);
    this.fc3 = lin(c.hidden[1], c.featureDim);
    this.shape_head = lin(c.featureDim, c.numShapes);
    this.colour_head = lin(c.featureDim, c.numColours);
    this.factor_head = lin(c.featureDim, 3);
  }

  /** images `[B, 3, k·16, k·16]` in [−1, 1] (k = 1, 2 or 4) → `[B, 3·16·16]` (larger images are k×k average-pooled). */
  private flatten(x: tf.Tensor): tf.Tensor {
    const s = this.config.size;
    this.checkShape('x', x, [null, 3, null, null]);
    const [b, , h, w] = x.shape;
    if (h === s && w === s) return tf.reshape(x, [b, 3 * s * s]);
    for (const k of [2, 4]) {
      if (h === k * s && w === k * s) return tf.reshape(tf.mean(tf.reshape(x, [b, 3, s, k, s, k]), [3, 5]), [b, 3 * s * s]);
    }
    throw new Error(`ShapesClassifier: argument 'x' must be [B, 3, ${s}, ${s}], [B, 3, ${2 * s}, ${2 * s}] or [B, 3, ${4 * s}, ${4 * s}], got [${x.shape.join(', ')}]`);
  }

  /** Features and head outputs for images in [−1, 1]. */
  forward(x: tf.Tensor): ShapesClassifierOutput {
    return tf.tidy(() => {
      const h = gelu(this.fc2.forward(gelu(this.fc1.forward(this.flatten(x)))));
      const features = gelu(this.fc3.forward(h));
      const out: ShapesClassifierOutput = {
        features,
        shapeLogits: this.shape_head.forward(features),
        colourLogits: this.colour_head.forward(features),
        factors: this.factor_head.forward(features),
      };
      return out as unknown as tf.TensorContainer;
    }) as unknown as ShapesClassifierOutput;
  }

  /** Only the features `[B, featureDim]`. */
  features(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => gelu(this.fc3.forward(gelu(this.fc2.forward(gelu(this.fc1.forward(this.flatten(x))))))));
  }

  /**
   * Training loss on labelled shapes: cross-entropy on shape and colour plus 10 × MSE on
   * (x, y, size). Labels are int32 `[B]` and float `[B]` tensors as `ShapesBatch.labels` holds them.
   */
  loss(x: tf.Tensor, labels: { shape: tf.Tensor; colour: tf.Tensor; x: tf.Tensor; y: tf.Tensor; size: tf.Tensor }): tf.Scalar {
    return tf.tidy(() => {
      const o = this.forward(x);
      const ce = (logits: tf.Tensor, ids: tf.Tensor, k: number) =>
        tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.cast(tf.oneHot(tf.cast(ids, 'int32'), k), 'float32')), 1)));
      const target = tf.stack([labels.x, labels.y, labels.size], 1);
      const reg = tf.mean(tf.square(tf.sub(o.factors, target)));
      return tf.add(tf.add(ce(o.shapeLogits, labels.shape, this.config.numShapes), ce(o.colourLogits, labels.colour, this.config.numColours)), tf.mul(reg, 10)) as tf.Scalar;
    });
  }

  override toConfig() {
    return { type: ShapesClassifier.type, ...this.config };
  }
}
registerBrick(ShapesClassifier);
