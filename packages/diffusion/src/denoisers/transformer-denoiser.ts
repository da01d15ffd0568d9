/**
 * `TransformerDenoiser`: the plain transformer baseline for RIN (a DiT/U-ViT-style denoiser with
 * in-context conditioning). Same {@link Denoiser} interface and the same conditioning tokens as
 * `RinNetwork`, but every layer is self-attention over all patch tokens:
 *
 * ```text
 * tokens = [noise token, class token, interface_pos(stem_ln(stem(x)))]
 * tokens = blocks(tokens)                                       depth × pre-LN TransformerBlock
 * output = readout(output_ln(tokens[patches]))                  PatchUnembed
 * ```
 * Its cost is O(depth · N² · d): with N = 64 patch tokens of a 16×16 image at patch 2 it can be
 * matched to a RIN's FLOPs per step by choosing `dim` and `depth` (see `denoiserFlops`).
 * No self-conditioning (RIN's latents have no counterpart here). Initialisation as RIN's: truncated
 * normal (std 0.02) weights, zero biases, class embedding N(0, 0.02²) (blocks: `TransformerBlock`'s default).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  Embedding,
  LayerNorm,
  MLP,
  Module,
  PatchEmbed,
  PatchUnembed,
  ShapeError,
  formatShape,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type PatchGrid,
} from '@brickml/core';
import { LearnedPositionEncoding, TransformerBlock, sinusoidalEmbedding } from '@brickml/attention';
import type { DenoiserCallOptions, DenoiserOutput } from '../denoiser.js';

const TransformerDenoiserSchema = z
  .object({
    channels: schemas.positiveInt.default(3),
    /** `[H, W]` (images) or `[T, H, W]` (video). */
    inputSize: z.array(schemas.positiveInt).min(2).max(3),
    patchSize: z.union([schemas.positiveInt, z.tuple([schemas.positiveInt, schemas.positiveInt])]).default(2),
    tubelet: schemas.positiveInt.default(1),
    /** Token width. */
    dim: schemas.positiveInt.default(64),
    /** Transformer blocks. */
    depth: schemas.positiveInt.default(4),
    heads: schemas.positiveInt.default(4),
    mlpRatio: z.number().nonnegative().default(4),
    /** Multiplier of γ before the sinusoid (RIN: 1000). */
    timeScale: schemas.positive.default(1000),
    /** Width of the sinusoidal noise embedding; default dim / 4 rounded to even (as RinNetwork). */
    noiseEmbedDim: schemas.positiveInt.optional(),
    /** Classes (0 = unconditional); one extra null row (id = numClasses). */
    numClasses: schemas.nonNegativeInt.default(0),
    /** LayerNorm epsilon (RIN presets: 1e-6). */
    eps: schemas.positive.default(1e-6),
    dropout: schemas.probability.default(0),
  })
  .strict();
/** Config of {@link TransformerDenoiser}. */
export type TransformerDenoiserConfig = z.input<typeof TransformerDenoiserSchema>;
type Parsed = z.output<typeof TransformerDenoiserSchema>;

/** A plain transformer denoiser (see the module comment). */
export class TransformerDenoiser extends Module {
  static readonly type = 'TransformerDenoiser';
  static readonly schema = TransformerDenoiserSchema;
  readonly config: Parsed & { selfCondition: false };
  readonly stem: PatchEmbed;
  readonly stem_ln: LayerNorm;
  readonly interface_pos: LearnedPositionEncoding;
  readonly noise_embed: MLP;
  readonly class_embed: Embedding | null;
  readonly blocks: TransformerBlock[];
  readonly output_ln: LayerNorm;
  readonly readout: PatchUnembed;
  /** Patch grid of the configured input size. */
  readonly grid: PatchGrid;
  /** Patch tokens N. */
  readonly numPatchTokens: number;
  private readonly _noiseDim: number;

  constructor(config: TransformerDenoiserConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = parseConfig(TransformerDenoiser, config);
    this.config = { ...c, selfCondition: false };
    const [ph, pw] = typeof c.patchSize === 'number' ? [c.patchSize, c.patchSize] : c.patchSize;
    const video = c.inputSize.length === 3;
    const [h, w] = c.inputSize.slice(-2);
    const t = video ? c.inputSize[0] : 1;
    if (h % ph !== 0 || w % pw !== 0 || (video && t % c.tubelet !== 0)) {
      throw new BrickConfigError(`TransformerDenoiser: config field 'inputSize' [${c.inputSize.join(', ')}] must be divisible by patchSize ${ph}×${pw}${video ? ` and tubelet ${c.tubelet}` : ''}`);
    }
    this.grid = { frames: video ? t / c.tubelet : 1, rows: h / ph, cols: w / pw };
    this.numPatchTokens = this.grid.frames * this.grid.rows * this.grid.cols;
    this._noiseDim = c.noiseEmbedDim ?? Math.max(2, 2 * Math.floor(c.dim / 8));
    if (this._noiseDim % 2 !== 0) throw new BrickConfigError(`TransformerDenoiser: config field 'noiseEmbedDim' must be even, got ${this._noiseDim}`);
    // RIN's initialisation (truncated normal, std 0.02, zero biases; embeddings N(0, 0.02²)), pinned
    // rather than inherited from core's defaults (which follow PyTorch's nn.Linear / nn.Embedding), so
    // the baseline starts as its RIN counterpart does and the README's comparison stays reproducible.
    const patch = { channels: c.channels, patchSize: c.patchSize, tubelet: c.tubelet, dim: c.dim, init: 'truncNormal' as const };
    this.stem = new PatchEmbed(patch, { rng });
    this.stem_ln = new LayerNorm({ dim: c.dim, eps: c.eps });
    this.interface_pos = new LearnedPositionEncoding({ numPositions: this.numPatchTokens, dim: c.dim }, { rng });
    this.noise_embed = new MLP({ dim: this._noiseDim, hidden: c.dim, outDim: c.dim, activation: 'silu', init: 'truncNormal' }, { rng });
    this.class_embed = c.numClasses > 0 ? new Embedding({ numEmbeddings: c.numClasses + 1, dim: c.dim, initStd: 0.02 }, { rng }) : null;
    this.blocks = Array.from(
      { length: c.depth },
      () => new TransformerBlock({ kind: 'self', dim: c.dim, heads: c.heads, mlpRatio: c.mlpRatio, eps: c.eps, dropout: c.dropout }, { rng }),
    );
    this.output_ln = new LayerNorm({ dim: c.dim, eps: c.eps });
    this.readout = new PatchUnembed(patch, { rng });
  }

  /** Conditioning tokens in front of the patch tokens (noise, then class). */
  get numConditionTokens(): number {
    return 1 + (this.class_embed ? 1 : 0);
  }

  /** x `[B, C, H, W]` (or `[B, T, C, H, W]`) → output of the same layout (no latents). */
  forward(x: tf.Tensor, options: DenoiserCallOptions): DenoiserOutput {
    const c = this.config;
    const video = c.inputSize.length === 3;
    const where = `TransformerDenoiser${this.path ? ` '${this.path}'` : ''}`;
    if (video) this.checkShape('x', x, [null, c.inputSize[0], c.channels, c.inputSize[1], c.inputSize[2]]);
    else this.checkShape('x', x, [null, c.channels, c.inputSize[0], c.inputSize[1]]);
    const b = x.shape[0];
    if (!options?.noiseLevel || options.noiseLevel.size !== b) {
      throw new ShapeError(`${where}: option 'noiseLevel' expected shape [${b}], got ${options?.noiseLevel ? formatShape(options.noiseLevel.shape) : 'nothing'}`);
    }
    if (options.classLabels && !this.class_embed) throw new ShapeError(`${where}: 'classLabels' given but config numClasses is 0`);
    if (options.prevLatents) throw new ShapeError(`${where}: 'prevLatents' given but a TransformerDenoiser does not self-condition`);
    return tf.tidy(() => {
      const patches = this.interface_pos.forward(this.stem_ln.forward(this.stem.forward(x))); // [B, N, dim]
      const s = sinusoidalEmbedding(tf.mul(tf.reshape(options.noiseLevel, [b]), c.timeScale), this._noiseDim);
      const parts = [tf.reshape(this.noise_embed.forward(s), [b, 1, c.dim])];
      if (this.class_embed) {
        // int32 labels are used as they are: a copy made here would be freed before the backward pass,
        // which core's embedding gradient reads on backends without UnsortedSegmentSum (wasm).
        const ids = options.classLabels
          ? options.classLabels.dtype === 'int32' ? options.classLabels : tf.cast(options.classLabels, 'int32')
          : tf.fill([b], c.numClasses, 'int32');
        parts.push(tf.reshape(this.class_embed.forward(ids), [b, 1, c.dim]));
      }
      let tokens = tf.concat([...parts, patches], 1); // [B, k + N, dim]
      for (const block of this.blocks) tokens = block.forward(tokens, null, { rng: options.rng });
      const k = this.numConditionTokens;
      const patchOut = tf.slice(tokens, [0, k, 0], [b, this.numPatchTokens, c.dim]);
      const output = this.readout.forward(this.output_ln.forward(patchOut), this.grid, video);
      const out: DenoiserOutput = { output };
      return out as unknown as tf.TensorContainer;
    }) as unknown as DenoiserOutput;
  }

  override toConfig() {
    const { selfCondition: _s, ...c } = this.config;
    return { type: TransformerDenoiser.type, ...c };
  }
}
registerBrick(TransformerDenoiser);
