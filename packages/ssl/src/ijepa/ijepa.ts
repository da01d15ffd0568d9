/**
 * I-JEPA (Assran et al. 2023; `facebookresearch/ijepa` names): predict, from one context block of
 * an image, the representations of several target blocks of the same image, in the feature space of
 * an EMA target encoder.
 *
 * ```text
 * target:    h = layer_norm(target_encoder(images))          full image, no affine, no gradient
 *            h_m = h at target block m                       [B, Lt, D] for m = 1 … M
 * context:   z = encoder.blocks(embed(images) at the context patches)    [B, Lc, D]
 * predictor: x = predictor_embed(z) + pos[context]  ‖  mask_token + pos[target m]    (pos: fixed sin-cos)
 *            p_m = predictor_proj(predictor_norm(predictor_blocks(x)))[the Lt mask positions]
 * loss = mean over m of smooth_l1(p_m, h_m)    (β = 1, as the code's F.smooth_l1_loss)
 * target ← m·target + (1 − m)·online after each step, m from 0.996 linearly to 1 ({@link ijepaMomentum})
 * ```
 * Masks come from {@link sampleIJepaMasks}. Token selection is a one-hot product (differentiable on
 * every backend, no gather gradient needed).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError, LayerNorm, Linear, Module, ShapeError, buffer, formatShape, globalRng, matmul, parameter, parseConfig, registerBrick, schemas,
  type BrickOptions, type Parameter,
} from '@brickml/core';
import { TransformerBlock, sinCosTable } from '@brickml/attention';
import { ViTEncoder } from '../encoders/vit.js';
import { stopGradient } from '../ops.js';
import { emaUpdate } from '../objectives/byol.js';
import type { IJepaMasks } from './masks.js';

/** I-JEPA's EMA momentum at step k of K: linear from `start` (0.996) to `end` (1.0). */
export function ijepaMomentum(step: number, totalSteps: number, start = 0.996, end = 1): number {
  if (!(Number.isInteger(totalSteps) && totalSteps >= 1)) throw new RangeError(`ijepaMomentum: argument 'totalSteps' expected a positive integer, got ${totalSteps}`);
  if (!(step >= 0)) throw new RangeError(`ijepaMomentum: argument 'step' expected ≥ 0, got ${step}`);
  return start + ((end - start) * Math.min(step, totalSteps)) / totalSteps;
}

/**
 * Tokens of x `[B, L, D]` at per-row indices `[B][n]` → `[B, n, D]`, as a one-hot product.
 */
export function selectTokens(x: tf.Tensor, indices: ArrayLike<number>[]): tf.Tensor {
  if (x.rank !== 3 || indices.length !== x.shape[0]) throw new ShapeError(`selectTokens: expected x [B, L, D] and B index rows, got ${formatShape(x.shape)} and ${indices.length} rows`);
  const [b, l] = x.shape as [number, number, number];
  const n = indices[0]!.length;
  const oh = new Float32Array(b * n * l);
  indices.forEach((row, i) => {
    if (row.length !== n) throw new ShapeError(`selectTokens: index rows must have equal lengths, got ${n} and ${row.length}`);
    for (let j = 0; j < n; j++) {
      const k = row[j]!;
      if (!(k >= 0 && k < l)) throw new ShapeError(`selectTokens: index ${k} out of range [0, ${l})`);
      oh[(i * n + j) * l + k] = 1;
    }
  });
  return tf.tidy(() => matmul(tf.tensor3d(oh, [b, n, l]), x)); // [B, n, D]
}

const IJepaSchema = z
  .object({
    /** Image channels C. */
    channels: schemas.positiveInt.default(3),
    /** Image side (square). */
    imageSize: schemas.positiveInt,
    /** Patch side. */
    patchSize: schemas.positiveInt,
    /** Encoder width D. */
    dim: schemas.positiveInt,
    /** Encoder blocks. */
    depth: schemas.nonNegativeInt.default(2),
    /** Encoder heads. */
    heads: schemas.positiveInt.default(4),
    /** Predictor width (narrower than the encoder: 384 for ViT-H). */
    predictorDim: schemas.positiveInt,
    /** Predictor blocks (12 in the paper). */
    predictorDepth: schemas.nonNegativeInt.default(1),
    /** Predictor heads. */
    predictorHeads: schemas.positiveInt.default(4),
    /** MLP ratio of both transformers. */
    mlpRatio: z.number().positive().default(4),
  })
  .strict();
/** JSON config of {@link IJEPA} (input form: defaults may be omitted). */
export type IJepaConfig = z.input<typeof IJepaSchema>;

/** I-JEPA (see the module comment). Images `[B, C, H, W]`. */
export class IJEPA extends Module {
  static readonly type = 'IJEPA';
  static readonly schema = IJepaSchema;
  readonly config: z.output<typeof IJepaSchema>;
  readonly encoder: ViTEncoder;
  readonly target_encoder: ViTEncoder;
  readonly predictor_embed: Linear;
  readonly mask_token: Parameter;
  readonly predictor_pos_embed: tf.Variable;
  readonly predictor_blocks: TransformerBlock[];
  readonly predictor_norm: LayerNorm;
  readonly predictor_proj: Linear;

  constructor(config: IJepaConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(IJEPA, config));
    if (c.predictorDim % c.predictorHeads !== 0) throw new BrickConfigError(`IJEPA: config field 'predictorDim' (${c.predictorDim}) must be divisible by 'predictorHeads' (${c.predictorHeads})`);
    const vit = { channels: c.channels, imageSize: c.imageSize, patchSize: c.patchSize, dim: c.dim, depth: c.depth, heads: c.heads, mlpRatio: c.mlpRatio };
    this.encoder = new ViTEncoder(vit, { rng });
    this.target_encoder = new ViTEncoder(vit, { rng });
    for (const [, v] of this.target_encoder.namedState()) v.trainable = false;
    const g = c.imageSize / c.patchSize;
    this.predictor_embed = new Linear({ inFeatures: c.dim, outFeatures: c.predictorDim }, { rng });
    this.mask_token = parameter(tf.zeros([1, 1, c.predictorDim]));
    this.predictor_pos_embed = buffer(tf.tensor(sinCosTable([g, g], c.predictorDim), [1, g * g, c.predictorDim]));
    this.predictor_blocks = Array.from({ length: c.predictorDepth }, () => new TransformerBlock({ kind: 'self', dim: c.predictorDim, heads: c.predictorHeads, mlpRatio: c.mlpRatio, eps: 1e-6 }, { rng }));
    this.predictor_norm = new LayerNorm({ dim: c.predictorDim, eps: 1e-6 });
    this.predictor_proj = new Linear({ inFeatures: c.predictorDim, outFeatures: c.dim }, { rng });
    this.updateTarget(0); // the target starts as a copy of the context encoder
  }

  /** Patches per image. */
  get numTokens(): number {
    return this.encoder.numTokens;
  }

  /** Targets: LayerNorm'd (no affine) target-encoder features of the full image, `[B, L, D]`, no gradient. */
  targets(images: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.target_encoder.forward(images);
      const { mean, variance } = tf.moments(h, -1, true);
      return stopGradient(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))));
    });
  }

  /** Context features: the encoder on the context patches only, `[B, Lc, D]`. */
  encodeContext(images: tf.Tensor, context: ArrayLike<number>[]): tf.Tensor {
    return tf.tidy(() => this.encoder.encodeTokens(selectTokens(this.encoder.embed(images), context)));
  }

  /** Predictions of target block positions `[B][Lt]` from context features z `[B, Lc, D]` at `context` positions → `[B, Lt, D]`. */
  predict(z: tf.Tensor, context: ArrayLike<number>[], target: ArrayLike<number>[]): tf.Tensor {
    return tf.tidy(() => {
      const b = z.shape[0]!;
      const pos = tf.tile(this.predictor_pos_embed, [b, 1, 1]); // [B, L, pd]
      const ctx = tf.add(this.predictor_embed.forward(z), selectTokens(pos, context)); // [B, Lc, pd]
      const lt = target[0]!.length;
      const masks = tf.add(tf.tile(this.mask_token, [b, lt, 1]), selectTokens(pos, target)); // [B, Lt, pd]
      let x = tf.concat([ctx, masks], 1);
      for (const block of this.predictor_blocks) x = block.forward(x);
      x = this.predictor_norm.forward(x);
      const lc = ctx.shape[1]!;
      return this.predictor_proj.forward(tf.slice(x, [0, lc, 0], [b, lt, -1])); // [B, Lt, D]
    });
  }

  /** The I-JEPA loss of a batch `[B, C, H, W]` with masks from `sampleIJepaMasks` (for this grid and B). */
  loss(images: tf.Tensor, masks: IJepaMasks): tf.Scalar {
    const b = images.shape[0]!;
    if (masks.context.length !== b || masks.targets.some((t) => t.length !== b)) {
      throw new ShapeError(`IJEPA.loss: masks are for ${masks.context.length} images, images ${formatShape(images.shape)} has ${b}`);
    }
    return tf.tidy(() => {
      const h = this.targets(images); // [B, L, D]
      const z = this.encodeContext(images, masks.context); // [B, Lc, D]
      const terms = masks.targets.map((t) => {
        const d = tf.abs(tf.sub(this.predict(z, masks.context, t), selectTokens(h, t)));
        // smooth L1 with β 1: 0.5·d² for d < 1, d − 0.5 beyond = 0.5·min(d, 1)² + max(d − 1, 0)
        return tf.mean(tf.add(tf.mul(0.5, tf.square(tf.minimum(d, 1))), tf.relu(tf.sub(d, 1))));
      });
      return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
    });
  }

  /** target ← m·target + (1 − m)·encoder (parameters and buffers). */
  updateTarget(momentum: number): void {
    emaUpdate(this.target_encoder, this.encoder, momentum);
  }

  /** Representation for probes: mean-pooled target-encoder tokens `[B, D]` (the paper evaluates the target encoder). */
  represent(images: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mean(this.target_encoder.forward(images), 1));
  }

  override toConfig() {
    return { type: IJEPA.type, ...this.config };
  }
}
registerBrick(IJEPA);
