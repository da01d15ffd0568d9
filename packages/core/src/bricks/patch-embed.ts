import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module } from '../module/module.js';
import { ShapeError, formatShape } from '../errors.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../module/registry.js';
import { globalRng } from '../rng.js';
import { patchifyImage, patchifyVideo, unpatchifyImage, unpatchifyVideo, type PatchGrid } from '../ops/patches.js';
import { Linear } from './linear.js';
import { biasInitSchema, defaultBiasInit, initSchema, type BiasInitName } from './init.js';

const patchSize = z.union([schemas.positiveInt, z.tuple([schemas.positiveInt, schemas.positiveInt])]);
const PatchSchema = z
  .object({
    /** Image channels C. */
    channels: schemas.positiveInt,
    /** Patch height and width (a number for square patches). */
    patchSize,
    /** Frames per patch for video input ([B, T, C, H, W]); 1 = per-frame patches. */
    tubelet: schemas.positiveInt.default(1),
    /** Token width. */
    dim: schemas.positiveInt,
    /**
     * Weight initialiser of `proj` (see `Linear`'s `init`). Default `kaimingUniform` with a
     * U(±1/√fanIn) bias, fanIn = C·tubelet·ph·pw for PatchEmbed: PyTorch's default for the
     * equivalent strided `nn.Conv2d`/`nn.Conv3d` (and `nn.Linear` for PatchUnembed, fanIn = dim).
     * Any other init (`truncNormal` as ViT/RIN, …) starts the bias at zero unless `biasInit` is given.
     */
    init: initSchema.default('kaimingUniform'),
    /** Bias initialiser of `proj`; left out, it follows `init` (see `Linear`'s `biasInit`; `toConfig()` writes the resolved choice). */
    biasInit: biasInitSchema.optional(),
  })
  .strict();
export type PatchEmbedConfig = z.input<typeof PatchSchema>;
type Parsed = z.output<typeof PatchSchema> & { biasInit: BiasInitName };

function hw(c: Parsed): [number, number] {
  return typeof c.patchSize === 'number' ? [c.patchSize, c.patchSize] : c.patchSize;
}

/**
 * Patch embedding for images [B, C, H, W] and videos [B, T, C, H, W]: non-overlapping patches
 * flattened in (C, t, ph, pw) order and projected by `proj` (a Linear, i.e. a strided conv whose
 * weight is PyTorch's conv weight flattened). Tokens are row-major over (t, h, w).
 */
export class PatchEmbed extends Module {
  static readonly type = 'PatchEmbed';
  static readonly schema = PatchSchema;
  readonly config: Parsed;
  readonly proj: Linear;

  constructor(config: PatchEmbedConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const parsed = parseConfig(PatchEmbed, config);
    const c = (this.config = { ...parsed, biasInit: parsed.biasInit ?? defaultBiasInit(parsed.init) });
    const [ph, pw] = hw(c);
    this.proj = new Linear({ inFeatures: c.channels * c.tubelet * ph * pw, outFeatures: c.dim, init: c.init, biasInit: c.biasInit }, { rng });
  }

  /** The patch grid an input of this shape produces. */
  grid(shape: readonly number[]): PatchGrid {
    const [ph, pw] = hw(this.config);
    const video = shape.length === 5;
    const [h, w] = shape.slice(-2);
    return { frames: video ? shape[1] / this.config.tubelet : 1, rows: h / ph, cols: w / pw };
  }

  /** images [B, C, H, W] or video [B, T, C, H, W] → tokens [B, N, dim]. */
  forward(x: tf.Tensor): tf.Tensor {
    const c = this.config;
    const [ph, pw] = hw(c);
    if (x.rank === 4) {
      this.checkShape('x', x, [null, c.channels, null, null]);
    } else {
      this.checkShape('x', x, [null, null, c.channels, null, null]);
    }
    const [h, w] = x.shape.slice(-2) as [number, number];
    if (h % ph !== 0 || w % pw !== 0 || (x.rank === 5 && (x.shape[1] as number) % c.tubelet !== 0)) {
      throw new ShapeError(
        `PatchEmbed${this.path ? ` '${this.path}'` : ''}: argument 'x' of shape ${formatShape(x.shape)} must have ` +
          `H divisible by ${ph}, W by ${pw}${x.rank === 5 ? ` and T by tubelet ${c.tubelet}` : ''}`,
      );
    }
    return tf.tidy(() => {
      const patches = x.rank === 4 ? patchifyImage(x, ph, pw) : patchifyVideo(x, c.tubelet, ph, pw);
      return this.proj.forward(patches);
    });
  }

  override toConfig() {
    return { type: PatchEmbed.type, ...this.config };
  }
}
registerBrick(PatchEmbed);

/**
 * Inverse of {@link PatchEmbed}: a learned Linear from tokens to patch pixels (`proj`), then an
 * exact un-patchify to images [B, C, H, W] (grid.frames = 1, `video` false) or video [B, T, C, H, W].
 */
export class PatchUnembed extends Module {
  static readonly type = 'PatchUnembed';
  static readonly schema = PatchSchema;
  readonly config: Parsed;
  readonly proj: Linear;

  constructor(config: PatchEmbedConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const parsed = parseConfig(PatchUnembed, config);
    const c = (this.config = { ...parsed, biasInit: parsed.biasInit ?? defaultBiasInit(parsed.init) });
    const [ph, pw] = hw(c);
    this.proj = new Linear({ inFeatures: c.dim, outFeatures: c.channels * c.tubelet * ph * pw, init: c.init, biasInit: c.biasInit }, { rng });
  }

  /** tokens [B, N, dim] → images or video on `grid`; `video` forces the 5-D layout. */
  forward(tokens: tf.Tensor, grid: PatchGrid, video = grid.frames > 1): tf.Tensor {
    const c = this.config;
    const [ph, pw] = hw(c);
    this.checkShape('tokens', tokens, [null, grid.frames * grid.rows * grid.cols, c.dim]);
    return tf.tidy(() => {
      const patches = this.proj.forward(tokens);
      return video
        ? unpatchifyVideo(patches, c.channels, c.tubelet, ph, pw, grid)
        : unpatchifyImage(patches, c.channels, ph, pw, grid);
    });
  }

  override toConfig() {
    return { type: PatchUnembed.type, ...this.config };
  }
}
registerBrick(PatchUnembed);
