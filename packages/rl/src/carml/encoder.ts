import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Conv2d, Linear, Module, globalRng, matmul, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';
import type { TrajectoryMixture } from './task-model.js';

const CarmlEncoderSchema = z
  .object({
    /** Shape of one image observation `[height, width, channels]` (channels last; flat inputs are reshaped to it). */
    imageShape: z.tuple([schemas.positiveInt, schemas.positiveInt, schemas.positiveInt]),
    /** Output channels of each 3 × 3 convolution (stride 1, "same" padding, ReLU after each). */
    channels: z.array(schemas.positiveInt).min(1).default([16, 16]),
    /** Entries of the state embedding e(s) the mixture is fitted over. */
    embedDim: schemas.positiveInt.default(8),
    /** Multiplies the input before the first convolution (1 for images already in [0, 1], 1/255 for uint8). */
    inputScale: z.number().positive().default(1),
  })
  .strict();
export type CarmlEncoderConfig = z.input<typeof CarmlEncoderSchema>;

/**
 * CARML's visual encoder: 3 × 3 convolutions `conv.0..k` (core's `Conv2d`, ReLU) over the image, then a
 * linear map `proj` of the flattened feature map to an embedding squashed by tanh into [−1, 1]^D (a
 * bounded space keeps the mixture's variances and the rewards log q(s | z) finite while the encoder
 * and the mixture chase each other). Trained by discriminative clustering: see
 * {@link discriminativeClusteringLoss}.
 */
export class CarmlEncoder extends Module {
  static readonly type = 'CarmlEncoder';
  static readonly schema = CarmlEncoderSchema;
  readonly config: z.output<typeof CarmlEncoderSchema>;
  readonly conv: Conv2d[];
  readonly proj: Linear;

  constructor(config: CarmlEncoderConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(CarmlEncoder, config));
    const [h, w, ch] = c.imageShape;
    let cin = ch;
    this.conv = c.channels.map((cout) => {
      const conv = new Conv2d({ inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1 }, { rng });
      cin = cout;
      return conv;
    });
    this.proj = new Linear({ inFeatures: h * w * cin, outFeatures: c.embedDim }, { rng });
  }

  /** Entries of one flat input image. */
  get inputSize(): number {
    const [h, w, ch] = this.config.imageShape;
    return h * w * ch;
  }

  /** x [batch, H·W·C] → embeddings [batch, embedDim] in [−1, 1] */
  forward(x: tf.Tensor): tf.Tensor2D {
    this.checkShape('x', x, [null, this.inputSize]);
    let h: tf.Tensor = tf.mul(tf.reshape(x, [-1, ...this.config.imageShape]), this.config.inputScale); // [batch, H, W, C]
    for (const conv of this.conv) h = tf.relu(conv.forward(h)); // [batch, H, W, c]
    return tf.tanh(this.proj.forward(tf.reshape(h, [h.shape[0], -1]))) as tf.Tensor2D; // [batch, embedDim]
  }

  override toConfig() {
    return { type: CarmlEncoder.type, ...this.config };
  }
}
registerBrick(CarmlEncoder);

/**
 * The mixture's per-state log posterior logits log p(z) + log q(e | z) of embeddings `e` `[batch, D]`
 * under the (frozen) diagonal-Gaussian components of `mixture`: `[batch, K]`, differentiable in `e`.
 * log softmax of them is log q(z | s). Uses Σ_j (e_j − μ_zj)²/σ²_zj = e²·(1/σ²)ᵀ − 2e·(μ/σ²)ᵀ + Σ_j μ²/σ²
 * (core's `matmul`, no [batch, K, D] tensor).
 */
export function mixtureLogits(e: tf.Tensor, mixture: TrajectoryMixture): tf.Tensor2D {
  const { components: K, dim: D } = mixture;
  if (e.rank !== 2 || e.shape[1] !== D) throw new RangeError(`mixtureLogits: argument 'e' expected shape [batch, ${D}], got [${e.shape.join(', ')}]`);
  return tf.tidy(() => {
    const inv = new Float32Array(K * D);
    const muInv = new Float32Array(K * D);
    const constant = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      let c = mixture.logPrior[k] - 0.5 * D * Math.log(2 * Math.PI);
      for (let j = 0; j < D; j++) {
        const v = mixture.variances[k * D + j];
        const mu = mixture.means[k * D + j];
        inv[k * D + j] = 1 / v;
        muInv[k * D + j] = mu / v;
        c -= 0.5 * (Math.log(v) + (mu * mu) / v);
      }
      constant[k] = c;
    }
    const quad = tf.sub(matmul(tf.square(e), tf.tensor2d(inv, [K, D]), false, true), tf.mul(2, matmul(e, tf.tensor2d(muInv, [K, D]), false, true))); // [batch, K]
    return tf.add(tf.mul(-0.5, quad), tf.tensor1d(constant)) as tf.Tensor2D;
  });
}

/**
 * Discriminative clustering (CARML's encoder objective, DeepCluster-style): the cross-entropy between
 * the trajectory-level responsibilities `targets` `[batch, K]` (each state labelled with its
 * trajectory's q(z | τ)) and the mixture's per-state posterior log q(z | s) from `logits` `[batch, K]`
 * ({@link mixtureLogits}), each state weighted by `weights` `[batch]` (class balancing), averaged.
 */
export function discriminativeClusteringLoss(logits: tf.Tensor, targets: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  if (logits.rank !== 2 || targets.shape.join() !== logits.shape.join()) {
    throw new RangeError(`discriminativeClusteringLoss: arguments 'logits' and 'targets' expected the same [batch, K] shape, got [${logits.shape.join(', ')}] and [${targets.shape.join(', ')}]`);
  }
  if (weights && (weights.rank !== 1 || weights.shape[0] !== logits.shape[0])) {
    throw new RangeError(`discriminativeClusteringLoss: argument 'weights' expected shape [${logits.shape[0]}], got [${weights.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const ce = tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1)); // [batch]
    return tf.mean(weights ? tf.mul(ce, weights) : ce) as tf.Scalar;
  });
}
