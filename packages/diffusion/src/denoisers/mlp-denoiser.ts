/**
 * `MlpDenoiser`: a tiny fully connected denoiser for tests and for checking the diffusion math
 * (it overfits a batch in seconds on the cpu backend). It has the {@link Denoiser} interface of
 * `RinNetwork`: noise-level conditioning on γ (sinusoid of γ·timeScale), an optional class
 * embedding with a null row, and optional self-conditioning on its hidden state (the "latents").
 *
 * ```text
 * h       = gelu(in_proj(flatten(x)) + noise_proj(sin(γ·timeScale)) + class_embed(c) + prev_proj(prev))
 * latents = h + gelu(mid(h))                                   [B, 1, hidden]
 * output  = reshape(out_proj(latents))                         same layout as x
 * ```
 * `prev_proj` is zero-initialised, so at initialisation self-conditioning adds nothing.
 * Initialisation: `in_proj`, `mid`, `out_proj` xavier-uniform, `noise_proj` truncated normal (std
 * 0.02), `class_embed` N(0, 0.02²), all biases zero (pinned, independent of core's defaults).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  Embedding,
  Linear,
  Module,
  ShapeError,
  formatShape,
  gelu,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
} from '@brickml/core';
import { sinusoidalEmbedding } from '@brickml/attention';
import type { DenoiserCallOptions, DenoiserOutput } from '../denoiser.js';

const MlpDenoiserSchema = z
  .object({
    /** Image channels C. */
    channels: schemas.positiveInt.default(3),
    /** `[H, W]` (images) or `[T, H, W]` (video). */
    inputSize: z.array(schemas.positiveInt).min(2).max(3),
    /** Hidden width (also the latent width for self-conditioning). */
    hidden: schemas.positiveInt.default(64),
    /** Width of the sinusoidal noise-level embedding (even). */
    noiseEmbedDim: schemas.positiveInt.default(16),
    /** Multiplier of γ before the sinusoid (RIN: 1000). */
    timeScale: schemas.positive.default(1000),
    /** Classes (0 = unconditional); the embedding has one extra null row (id = numClasses). */
    numClasses: schemas.nonNegativeInt.default(0),
    /** Take previous latents `[B, 1, hidden]` (self-conditioning). */
    selfCondition: z.boolean().default(false),
  })
  .strict();
/** Config of {@link MlpDenoiser}. */
export type MlpDenoiserConfig = z.input<typeof MlpDenoiserSchema>;

/** A tiny MLP denoiser (see the module comment). */
export class MlpDenoiser extends Module {
  static readonly type = 'MlpDenoiser';
  static readonly schema = MlpDenoiserSchema;
  readonly config: z.output<typeof MlpDenoiserSchema>;
  readonly in_proj: Linear;
  readonly noise_proj: Linear;
  readonly class_embed: Embedding | null;
  readonly mid: Linear;
  readonly out_proj: Linear;
  readonly prev_proj: Linear | null;
  private readonly _pixels: number;

  constructor(config: MlpDenoiserConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(MlpDenoiser, config));
    if (c.noiseEmbedDim % 2 !== 0) throw new ShapeError(`MlpDenoiser: config field 'noiseEmbedDim' must be even, got ${c.noiseEmbedDim}`);
    this._pixels = c.channels * c.inputSize.reduce((a, b) => a * b, 1);
    // Initialisation pinned (not core's PyTorch-style defaults): xavier-uniform projections, the noise
    // projection truncated normal (std 0.02), the class embedding N(0, 0.02²), zero biases.
    this.in_proj = new Linear({ inFeatures: this._pixels, outFeatures: c.hidden, init: 'xavierUniform' }, { rng });
    this.noise_proj = new Linear({ inFeatures: c.noiseEmbedDim, outFeatures: c.hidden, init: 'truncNormal' }, { rng });
    this.class_embed = c.numClasses > 0 ? new Embedding({ numEmbeddings: c.numClasses + 1, dim: c.hidden, initStd: 0.02 }, { rng }) : null;
    this.mid = new Linear({ inFeatures: c.hidden, outFeatures: c.hidden, init: 'xavierUniform' }, { rng });
    this.out_proj = new Linear({ inFeatures: c.hidden, outFeatures: this._pixels, init: 'xavierUniform' }, { rng });
    this.prev_proj = c.selfCondition ? new Linear({ inFeatures: c.hidden, outFeatures: c.hidden, init: 'truncNormal', zeroInit: true }, { rng }) : null;
  }

  /** x `[B, C, H, W]` (or `[B, T, C, H, W]`) → output of the same shape and latents `[B, 1, hidden]`. */
  forward(x: tf.Tensor, options: DenoiserCallOptions): DenoiserOutput {
    const c = this.config;
    const where = `MlpDenoiser${this.path ? ` '${this.path}'` : ''}`;
    const expected = c.inputSize.length === 3 ? [null, c.inputSize[0], c.channels, c.inputSize[1], c.inputSize[2]] : [null, c.channels, ...c.inputSize];
    this.checkShape('x', x, expected);
    const b = x.shape[0];
    if (!options?.noiseLevel || options.noiseLevel.size !== b) {
      throw new ShapeError(`${where}: option 'noiseLevel' expected shape [${b}], got ${options?.noiseLevel ? formatShape(options.noiseLevel.shape) : 'nothing'}`);
    }
    if (options.classLabels && !this.class_embed) throw new ShapeError(`${where}: 'classLabels' given but config numClasses is 0`);
    if (options.prevLatents) {
      if (!this.prev_proj) throw new ShapeError(`${where}: 'prevLatents' given but config selfCondition is false`);
      this.checkShape('prevLatents', options.prevLatents, [b, 1, c.hidden]);
    }
    return tf.tidy(() => {
      const flat = tf.reshape(x, [b, this._pixels]);
      const s = sinusoidalEmbedding(tf.mul(tf.reshape(options.noiseLevel, [b]), c.timeScale), c.noiseEmbedDim);
      let h = tf.add(this.in_proj.forward(flat), this.noise_proj.forward(s)); // [B, hidden]
      if (this.class_embed) {
        // int32 labels are used as they are: a copy made here would be freed before the backward pass,
        // which core's embedding gradient reads on backends without UnsortedSegmentSum (wasm).
        const ids = options.classLabels
          ? options.classLabels.dtype === 'int32' ? options.classLabels : tf.cast(options.classLabels, 'int32')
          : tf.fill([b], c.numClasses, 'int32');
        h = tf.add(h, this.class_embed.forward(ids));
      }
      if (this.prev_proj) {
        const prev = options.prevLatents ? tf.reshape(options.prevLatents, [b, c.hidden]) : tf.zeros([b, c.hidden]);
        h = tf.add(h, this.prev_proj.forward(prev));
      }
      h = gelu(h);
      const z = tf.add(h, gelu(this.mid.forward(h)));
      const output = tf.reshape(this.out_proj.forward(z), x.shape);
      const out: DenoiserOutput = { output, latents: tf.reshape(z, [b, 1, c.hidden]) };
      return out as unknown as tf.TensorContainer;
    }) as unknown as DenoiserOutput;
  }

  override toConfig() {
    return { type: MlpDenoiser.type, ...this.config };
  }
}
registerBrick(MlpDenoiser);
