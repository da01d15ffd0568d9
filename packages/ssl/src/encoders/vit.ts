import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  LayerNorm,
  Module,
  PatchEmbed,
  buffer,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Parameter,
} from '@brickml/core';
import { TransformerBlock, sinCosTable } from '@brickml/attention';

const ViTEncoderSchema = z
  .object({
    /** Image channels C. */
    channels: schemas.positiveInt.default(3),
    /** Image side H = W in pixels (fixes the position table). */
    imageSize: schemas.positiveInt,
    /** Patch side p (tokens are the (H/p)·(W/p) patches, row-major). */
    patchSize: schemas.positiveInt,
    /** Token width [embed_dim]. */
    dim: schemas.positiveInt,
    /** Transformer blocks [depth]. */
    depth: schemas.nonNegativeInt.default(2),
    /** Attention heads [num_heads]. */
    heads: schemas.positiveInt.default(4),
    /** MLP hidden width as a multiple of `dim` [mlp_ratio]. */
    mlpRatio: z.number().positive().default(4),
    /** LayerNorm epsilon (MAE uses 1e-6). */
    eps: schemas.positive.default(1e-6),
  })
  .strict();
/** JSON config of {@link ViTEncoder} (input form: defaults may be omitted). */
export type ViTEncoderConfig = z.input<typeof ViTEncoderSchema>;
type Parsed = z.output<typeof ViTEncoderSchema>;

/**
 * A small Vision Transformer encoder without class token (MAE `models_mae.py` names):
 *
 * ```text
 * tokens = patch_embed(images) + pos_embed        (fixed 2-D sin-cos table, a buffer)
 * tokens = blocks[0..depth)(tokens)               (pre-LN TransformerBlocks)
 * out    = norm(tokens)                            [B, N, dim]
 * ```
 * `forward` returns the tokens; `embed` and `encodeTokens` are the two halves, so MAE can drop
 * tokens in between. Pool the tokens (mean) for one vector per image.
 */
export class ViTEncoder extends Module {
  static readonly type = 'ViTEncoder';
  static readonly schema = ViTEncoderSchema;
  readonly config: Parsed;
  readonly patch_embed: PatchEmbed;
  /** `[1, N, dim]` fixed sin-cos position embedding (non-trainable, as MAE). */
  readonly pos_embed: Parameter;
  readonly blocks: TransformerBlock[];
  readonly norm: LayerNorm;

  constructor(config: ViTEncoderConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ViTEncoder, config));
    if (c.imageSize % c.patchSize !== 0) {
      throw new BrickConfigError(`ViTEncoder: config field 'imageSize' (${c.imageSize}) must be divisible by 'patchSize' (${c.patchSize})`);
    }
    if (c.dim % c.heads !== 0) {
      throw new BrickConfigError(`ViTEncoder: config field 'dim' (${c.dim}) must be divisible by 'heads' (${c.heads})`);
    }
    const g = c.imageSize / c.patchSize;
    this.patch_embed = new PatchEmbed({ channels: c.channels, patchSize: c.patchSize, dim: c.dim }, { rng });
    this.pos_embed = buffer(tf.tensor(sinCosTable([g, g], c.dim), [1, g * g, c.dim]));
    this.blocks = Array.from(
      { length: c.depth },
      () => new TransformerBlock({ kind: 'self', dim: c.dim, heads: c.heads, mlpRatio: c.mlpRatio, eps: c.eps }, { rng }),
    );
    this.norm = new LayerNorm({ dim: c.dim, eps: c.eps });
  }

  /** Tokens per image, (H/p)·(W/p). */
  get numTokens(): number {
    const g = this.config.imageSize / this.config.patchSize;
    return g * g;
  }

  /** images [B, C, H, W] → position-embedded patch tokens [B, N, dim] (before the blocks). */
  embed(images: tf.Tensor): tf.Tensor {
    const c = this.config;
    this.checkShape('images', images, [null, c.channels, c.imageSize, c.imageSize]);
    return tf.tidy(() => tf.add(this.patch_embed.forward(images), this.pos_embed)); // [B, N, dim]
  }

  /** tokens [B, n, dim] (any subset of positions, already position-embedded) → blocks → norm → [B, n, dim]. */
  encodeTokens(tokens: tf.Tensor): tf.Tensor {
    this.checkShape('tokens', tokens, [null, null, this.config.dim]);
    return tf.tidy(() => {
      let x = tokens;
      for (const block of this.blocks) x = block.forward(x);
      return this.norm.forward(x);
    });
  }

  /** images [B, C, H, W] → tokens [B, N, dim]. */
  forward(images: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.encodeTokens(this.embed(images)));
  }

  override toConfig() {
    return { type: ViTEncoder.type, ...this.config };
  }
}
registerBrick(ViTEncoder);
