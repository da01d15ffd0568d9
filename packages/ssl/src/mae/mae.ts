import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  LayerNorm,
  Linear,
  Module,
  ShapeError,
  buffer,
  formatShape,
  globalRng,
  matmul,
  parameter,
  parseConfig,
  patchifyImage,
  registerBrick,
  schemas,
  unpatchifyImage,
  type BrickOptions,
  type Parameter,
  type Rng,
} from '@brickml/core';
import { TransformerBlock, sinCosTable } from '@brickml/attention';
import { ViTEncoder } from '../encoders/vit.js';

/** A random masking of `batch` sequences of `length` tokens (MAE `random_masking`). */
export interface RandomMasking {
  /** Tokens kept per sequence, K = ⌊L·(1 − ratio)⌋. */
  keep: number;
  /** `[B, K]` kept positions, in shuffled order (ascending noise). */
  idsKeep: Int32Array;
  /** `[B, L]` position of each token in the shuffled order (argsort of the shuffle). */
  idsRestore: Int32Array;
  /** `[B, L]` 1 = removed (masked), 0 = kept. */
  mask: Float32Array;
}

/**
 * MAE's per-sample random masking: argsort of uniform noise; the first K = ⌊L(1 − ratio)⌋ of the
 * shuffle are kept. Drawn on the host from `rng`.
 */
export function randomMasking(batch: number, length: number, ratio: number, rng: Rng): RandomMasking {
  if (!(ratio >= 0 && ratio < 1)) throw new RangeError(`randomMasking: argument 'ratio' expected a rate in [0, 1), got ${ratio}`);
  const keep = Math.floor(length * (1 - ratio));
  if (keep < 1) throw new RangeError(`randomMasking: ratio ${ratio} keeps no token of ${length}`);
  const idsKeep = new Int32Array(batch * keep);
  const idsRestore = new Int32Array(batch * length);
  const mask = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const noise = rng.uniformArray(length);
    const shuffle = Array.from({ length }, (_, i) => i).sort((i, j) => noise[i] - noise[j] || i - j);
    shuffle.forEach((pos, rank) => {
      idsRestore[b * length + pos] = rank;
      if (rank < keep) idsKeep[b * keep + rank] = pos;
      else mask[b * length + pos] = 1;
    });
  }
  return { keep, idsKeep, idsRestore, mask };
}

/** One-hot selection `[B, K, L]`: row k picks position `ids[b, k]`. */
function selection(ids: Int32Array, batch: number, k: number, length: number): tf.Tensor {
  const v = new Float32Array(batch * k * length);
  for (let b = 0; b < batch; b++) for (let i = 0; i < k; i++) v[(b * k + i) * length + ids[b * k + i]] = 1;
  return tf.tensor3d(v, [batch, k, length]);
}

/**
 * The kept tokens: x `[B, L, D]` → `[B, K, D]` in `idsKeep` order. A one-hot product, so its
 * gradient works on every backend (wasm has no gather gradient).
 */
export function gatherTokens(x: tf.Tensor, masking: RandomMasking): tf.Tensor {
  const [b, l] = x.shape;
  if (masking.idsRestore.length !== b * l) throw new ShapeError(`gatherTokens: masking is for ${masking.idsRestore.length} tokens, x ${formatShape(x.shape)} has ${b * l}`);
  return tf.tidy(() => matmul(selection(masking.idsKeep, b, masking.keep, l), x)); // [B, K, D]
}

/**
 * The restore: kept tokens `[B, K, D]` back at their positions of a length-L sequence, `fill`
 * (`[D]` or `[1, 1, D]`, e.g. the mask token) at the removed ones → `[B, L, D]`.
 */
export function scatterTokens(visible: tf.Tensor, masking: RandomMasking, fill?: tf.Tensor): tf.Tensor {
  const [b, k, d] = visible.shape as [number, number, number];
  const l = masking.idsRestore.length / b;
  if (k !== masking.keep || !Number.isInteger(l)) throw new ShapeError(`scatterTokens: visible ${formatShape(visible.shape)} does not fit a masking that keeps ${masking.keep}`);
  return tf.tidy(() => {
    const placed = matmul(selection(masking.idsKeep, b, k, l), visible, true, false); // [B, L, D]
    if (!fill) return placed;
    const m = tf.tensor3d(masking.mask, [b, l, 1]);
    return tf.add(placed, tf.mul(m, tf.reshape(fill, [1, 1, d])));
  });
}

/**
 * MAE's loss: per-patch mean squared error, averaged over the removed patches only,
 * Σ(loss·mask)/Σmask. With `normPix` the target patch is normalised by its own mean and variance,
 * (x − μ)/√(σ² + 1e-6).
 * @param pred `[B, L, P]` predicted patches
 * @param target `[B, L, P]` true patches
 * @param mask `[B, L]` 1 = removed
 */
export function maeLoss(pred: tf.Tensor, target: tf.Tensor, mask: tf.Tensor, normPix = false): tf.Scalar {
  if (!tf.util.arraysEqual(pred.shape, target.shape) || pred.rank !== 3 || !tf.util.arraysEqual(mask.shape, pred.shape.slice(0, 2))) {
    throw new ShapeError(`maeLoss: expected pred and target [B, L, P] and mask [B, L], got ${formatShape(pred.shape)}, ${formatShape(target.shape)}, ${formatShape(mask.shape)}`);
  }
  return tf.tidy(() => {
    let t = target;
    if (normPix) {
      const { mean, variance } = tf.moments(t, -1, true);
      t = tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-6)));
    }
    const perPatch = tf.mean(tf.square(tf.sub(pred, t)), -1); // [B, L]
    return tf.div(tf.sum(tf.mul(perPatch, mask)), tf.sum(mask)) as tf.Scalar;
  });
}

const MaeSchema = z
  .object({
    /** Image channels C. */
    channels: schemas.positiveInt.default(3),
    /** Image side H = W. */
    imageSize: schemas.positiveInt,
    /** Patch side p. */
    patchSize: schemas.positiveInt,
    /** Encoder width [embed_dim]. */
    dim: schemas.positiveInt,
    /** Encoder blocks [depth]. */
    depth: schemas.nonNegativeInt.default(2),
    /** Encoder heads [num_heads]. */
    heads: schemas.positiveInt.default(4),
    /** Decoder width [decoder_embed_dim] (MAE: 512). */
    decoderDim: schemas.positiveInt,
    /** Decoder blocks [decoder_depth] (MAE: 8). */
    decoderDepth: schemas.nonNegativeInt.default(1),
    /** Decoder heads [decoder_num_heads] (MAE: 16). */
    decoderHeads: schemas.positiveInt.default(4),
    /** MLP ratio of every block. */
    mlpRatio: z.number().positive().default(4),
    /** Fraction of patches removed (MAE: 0.75). */
    maskRatio: z.number().min(0).lt(1).default(0.75),
    /** Normalise each target patch by its mean and variance [norm_pix_loss] (default false). */
    normPixLoss: z.boolean().default(false),
    /** LayerNorm epsilon (MAE: 1e-6). */
    eps: schemas.positive.default(1e-6),
  })
  .strict();
/** JSON config of {@link MaskedAutoencoder} (input form: defaults may be omitted). */
export type MaskedAutoencoderConfig = z.input<typeof MaeSchema>;
type Parsed = z.output<typeof MaeSchema>;

/** Output of {@link MaskedAutoencoder.forward}. */
export interface MaeOutput {
  /** Scalar loss on the removed patches. */
  loss: tf.Scalar;
  /** `[B, L, p²·C]` predicted patches (normalised-pixel units with `normPixLoss`). */
  pred: tf.Tensor;
  /** `[B, L]` 1 = removed. */
  mask: tf.Tensor;
}

/**
 * Masked autoencoder (He et al. 2022; `models_mae.py` names, no class token):
 *
 * ```text
 * x       = patch_embed(images) + pos_embed                      [B, L, dim]
 * visible = gather(x, ids_keep)                                  [B, K, dim]   K = ⌊L(1 − r)⌋
 * latent  = norm(blocks(visible))                                (encoder on visible tokens only)
 * y       = restore(decoder_embed(latent), mask_token) + decoder_pos_embed   [B, L, decoderDim]
 * pred    = decoder_pred(decoder_norm(decoder_blocks(y)))       [B, L, p²·C]
 * loss    = Σ mse(pred, patchify(images))·mask / Σ mask
 * ```
 * Patches are in core's (C, ph, pw) order. Gathers and restores are one-hot products (gradients
 * on every backend). Position tables are fixed 2-D sin-cos buffers, as MAE's.
 */
export class MaskedAutoencoder extends Module {
  static readonly type = 'MaskedAutoencoder';
  static readonly schema = MaeSchema;
  readonly config: Parsed;
  readonly encoder: ViTEncoder;
  readonly decoder_embed: Linear;
  readonly mask_token: Parameter;
  readonly decoder_pos_embed: Parameter;
  readonly decoder_blocks: TransformerBlock[];
  readonly decoder_norm: LayerNorm;
  readonly decoder_pred: Linear;

  constructor(config: MaskedAutoencoderConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(MaskedAutoencoder, config));
    if (c.decoderDim % c.decoderHeads !== 0) {
      throw new BrickConfigError(`MaskedAutoencoder: config field 'decoderDim' (${c.decoderDim}) must be divisible by 'decoderHeads' (${c.decoderHeads})`);
    }
    this.encoder = new ViTEncoder(
      { channels: c.channels, imageSize: c.imageSize, patchSize: c.patchSize, dim: c.dim, depth: c.depth, heads: c.heads, mlpRatio: c.mlpRatio, eps: c.eps },
      { rng },
    );
    const g = c.imageSize / c.patchSize;
    this.decoder_embed = new Linear({ inFeatures: c.dim, outFeatures: c.decoderDim, init: 'xavierUniform' }, { rng });
    this.mask_token = parameter(rng.normalTensor([1, 1, c.decoderDim], 0, 0.02));
    this.decoder_pos_embed = buffer(tf.tensor(sinCosTable([g, g], c.decoderDim), [1, g * g, c.decoderDim]));
    this.decoder_blocks = Array.from(
      { length: c.decoderDepth },
      () => new TransformerBlock({ kind: 'self', dim: c.decoderDim, heads: c.decoderHeads, mlpRatio: c.mlpRatio, eps: c.eps }, { rng }),
    );
    this.decoder_norm = new LayerNorm({ dim: c.decoderDim, eps: c.eps });
    this.decoder_pred = new Linear({ inFeatures: c.decoderDim, outFeatures: c.patchSize * c.patchSize * c.channels, init: 'xavierUniform' }, { rng });
  }

  /** Patches per image L. */
  get numPatches(): number {
    return this.encoder.numTokens;
  }

  /** images [B, C, H, W] → target patches [B, L, p²·C] (core's (C, ph, pw) order). */
  patchify(images: tf.Tensor): tf.Tensor {
    return patchifyImage(images, this.config.patchSize, this.config.patchSize);
  }

  /** patches [B, L, p²·C] → images [B, C, H, W]. */
  unpatchify(patches: tf.Tensor): tf.Tensor {
    const c = this.config;
    const g = c.imageSize / c.patchSize;
    return unpatchifyImage(patches, c.channels, c.patchSize, c.patchSize, { frames: 1, rows: g, cols: g });
  }

  /**
   * Encodes, decodes and scores a batch with a fresh random masking (from `rng`, or the given
   * `masking`).
   */
  forward(images: tf.Tensor, { rng = globalRng(), masking }: { rng?: Rng; masking?: RandomMasking } = {}): MaeOutput {
    const c = this.config;
    this.checkShape('images', images, [null, c.channels, c.imageSize, c.imageSize]);
    const b = images.shape[0];
    const L = this.numPatches;
    const m = masking ?? randomMasking(b, L, c.maskRatio, rng);
    if (m.idsRestore.length !== b * L) throw new ShapeError(`MaskedAutoencoder: the masking covers ${m.idsRestore.length} tokens, the batch has ${b}×${L}`);
    return tf.tidy(() => {
      const visible = gatherTokens(this.encoder.embed(images), m); // [B, K, dim]
      const latent = this.encoder.encodeTokens(visible); // [B, K, dim]
      let y = tf.add(scatterTokens(this.decoder_embed.forward(latent), m, this.mask_token), this.decoder_pos_embed); // [B, L, dd]
      for (const block of this.decoder_blocks) y = block.forward(y);
      const pred = this.decoder_pred.forward(this.decoder_norm.forward(y)); // [B, L, p²C]
      const mask = tf.tensor2d(m.mask, [b, L]);
      const loss = maeLoss(pred, this.patchify(images), mask, c.normPixLoss);
      return { loss, pred, mask };
    });
  }

  override toConfig() {
    return { type: MaskedAutoencoder.type, ...this.config };
  }
}
registerBrick(MaskedAutoencoder);
