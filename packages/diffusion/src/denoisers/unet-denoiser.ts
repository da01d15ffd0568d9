/**
 * `UNetDenoiser`: a small class-conditional convolutional U-Net (DDPM/ADM style, much reduced), the
 * strong baseline beside RIN and the plain transformer (docs/design.md: in PyTorch such a net reached
 * shapesFD 42 / 21 after 1,000 / 2,000 steps on 16×16 `shapes`). Same {@link Denoiser} interface.
 *
 * ```text
 * emb  = noise_embed(sinusoid(1000·γ)) + class_embed(label)          [B, E]   (label numClasses = null)
 * h    = stem(x)                                                     [B, H, W, w0]   3×3 conv, channels last
 * down: level i = 0 … L−1: h = blocks_i(h, emb); skip_i = h; h = avgpool2(h) (not after the last)
 * up:   level i = L−2 … 0: h = blocks_i(concat(upsampleNearest(h, 2), skip_i), emb)  nearest-neighbour ×2
 * out  = out_conv(silu(out_norm(h)))                                 [B, C, H, W]    zero-initialised
 * ResBlock(x, emb) = skip(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + emb_proj(silu(emb)))))
 * ```
 * GroupNorm over channels, SiLU, 3×3 convs (zero padding 1); the conditioning is added to the
 * channels of every residual block; `conv2` of each block and `out_conv` start at zero, so every
 * block starts as its skip path and the output starts at exactly 0. `skip` is a 1×1 conv (a
 * `Linear` over channels) where the width changes, else the identity. No self-conditioning.
 *
 * Convolutions, group norm, pooling and upsampling are core's (`Conv2d` with kernel 3 and padding 1,
 * which trains on tfjs-backend-wasm through its `hybrid` gradient; `GroupNorm`; `avgPool2d`;
 * `upsampleNearest`).
 *
 * Parameters: conv weights `[3, 3, Cin, Cout]` (tfjs HWIO layout, *not* PyTorch's OIHW; init
 * U(±1/√(9·Cin)) as PyTorch's conv default), biases `[Cout]`; GroupNorm `weight`/`bias` `[C]`.
 * Initialisation (pinned, independent of core's defaults, so the README's results stay
 * reproducible): conv and 1×1 / `emb_proj` weights U(±1/√fanIn), every bias zero, `noise_embed`
 * truncated normal (std 0.02), `class_embed` N(0, 0.02²).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  Conv2d,
  Embedding,
  GroupNorm,
  Linear,
  MLP,
  Module,
  Rng,
  ShapeError,
  avgPool2d,
  formatShape,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  silu,
  upsampleNearest,
  type BrickOptions,
  type ConvImpl,
} from '@brickml/core';
import { sinusoidalEmbedding } from '@brickml/attention';
import type { DenoiserCallOptions, DenoiserOutput } from '../denoiser.js';

/**
 * A 3×3 conv (zero padding 1, bias initialised at zero) as the U-Net has always made it: the weight
 * U(±1/√(9·Cin)) drawn from `rng`, or, with `zeroInit`, zeros that draw nothing from `rng` (a
 * throwaway generator takes core's draw), so a seed gives the same parameters as before the move to
 * core's `Conv2d`.
 */
function conv3x3(inChannels: number, outChannels: number, rng: Rng, zeroInit: boolean, impl: ConvImpl | 'auto'): Conv2d {
  const config = { inChannels, outChannels, kernelSize: 3, padding: 1, biasInit: 'zeros', zeroInit, impl } as const;
  return new Conv2d(config, { rng: zeroInit ? new Rng(0) : rng });
}

function groupNorm(channels: number, groups: number, eps: number): GroupNorm {
  return new GroupNorm({ numGroups: groups, numChannels: channels, eps });
}

/** Residual block with the conditioning added to its channels (see the module comment). */
export class UNetResBlock extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly emb_proj: Linear;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly skip: Linear | null;
  constructor(readonly inChannels: number, readonly outChannels: number, embedDim: number, groups: number, eps: number, impl: ConvImpl | 'auto', rng: Rng) {
    super();
    this.norm1 = groupNorm(inChannels, groups, eps);
    this.conv1 = conv3x3(inChannels, outChannels, rng, false, impl);
    this.emb_proj = new Linear({ inFeatures: embedDim, outFeatures: outChannels, init: 'kaimingUniform', biasInit: 'zeros' }, { rng });
    this.norm2 = groupNorm(outChannels, groups, eps);
    this.conv2 = conv3x3(outChannels, outChannels, rng, true, impl);
    this.skip = inChannels === outChannels ? null : new Linear({ inFeatures: inChannels, outFeatures: outChannels, init: 'kaimingUniform', biasInit: 'zeros' }, { rng });
  }

  /** x [B, H, W, Cin], embAct = silu(emb) [B, E] → [B, H, W, Cout] */
  forward(x: tf.Tensor, embAct: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const b = x.shape[0];
      let h = this.conv1.forward(silu(this.norm1.forward(x)));
      h = tf.add(h, tf.reshape(this.emb_proj.forward(embAct), [b, 1, 1, this.outChannels]));
      h = this.conv2.forward(silu(this.norm2.forward(h)));
      return tf.add(this.skip ? this.skip.forward(x) : x, h);
    });
  }
}

const UNetDenoiserSchema = z
  .object({
    channels: schemas.positiveInt.default(3),
    /** `[H, W]` (images only); H and W divisible by 2^(levels − 1). */
    inputSize: z.array(schemas.positiveInt).length(2),
    /** Channel width per resolution, highest first (default 32 at H×W, 64 at H/2×W/2). */
    widths: z.array(schemas.positiveInt).min(1).default([32, 64]),
    /** Residual blocks per resolution on the way down and on the way up. */
    blocksPerLevel: schemas.positiveInt.default(1),
    /** GroupNorm groups (must divide every width and every concat width). */
    groups: schemas.positiveInt.default(8),
    /** Width of the conditioning vector (noise MLP output, class embedding). */
    embedDim: schemas.positiveInt.default(128),
    /** Width of the sinusoidal noise embedding (even). */
    noiseEmbedDim: schemas.positiveInt.default(32),
    /** Multiplier of γ before the sinusoid (RIN: 1000). */
    timeScale: schemas.positive.default(1000),
    /** Classes (0 = unconditional); one extra null row (id = numClasses). */
    numClasses: schemas.nonNegativeInt.default(0),
    /** GroupNorm epsilon. */
    eps: schemas.positive.default(1e-5),
    /** Convolution implementation (`auto`: see core's `defaultConvImpl`). */
    convImpl: z.enum(['auto', 'native', 'hybrid', 'conv3d', 'im2col']).default('auto'),
  })
  .strict();
/** Config of {@link UNetDenoiser}. */
export type UNetDenoiserConfig = z.input<typeof UNetDenoiserSchema>;
type Parsed = z.output<typeof UNetDenoiserSchema>;

/** A small class-conditional conv U-Net denoiser for images (see the module comment). */
export class UNetDenoiser extends Module {
  static readonly type = 'UNetDenoiser';
  static readonly schema = UNetDenoiserSchema;
  readonly config: Parsed & { selfCondition: false };
  readonly noise_embed: MLP;
  readonly class_embed: Embedding | null;
  readonly stem: Conv2d;
  /** `down[i]`: the blocks of resolution i on the way down. */
  readonly down: UNetResBlock[][];
  /** `up[i]`: the blocks of resolution i on the way up (i < levels − 1). */
  readonly up: UNetResBlock[][];
  readonly out_norm: GroupNorm;
  readonly out_conv: Conv2d;

  constructor(config: UNetDenoiserConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = parseConfig(UNetDenoiser, config);
    this.config = { ...c, selfCondition: false };
    const w = c.widths;
    const levels = w.length;
    const f = 2 ** (levels - 1);
    const [h, wd] = c.inputSize;
    if (h % f !== 0 || wd % f !== 0) {
      throw new BrickConfigError(`UNetDenoiser: config field 'inputSize' [${c.inputSize.join(', ')}] must be divisible by ${f} (2^(levels − 1) for ${levels} widths)`);
    }
    if (c.noiseEmbedDim % 2 !== 0) throw new BrickConfigError(`UNetDenoiser: config field 'noiseEmbedDim' must be even, got ${c.noiseEmbedDim}`);
    for (let i = 0; i < levels; i++) {
      const concat = i < levels - 1 ? w[i] + w[i + 1] : w[i];
      if (w[i] % c.groups !== 0 || concat % c.groups !== 0) {
        throw new BrickConfigError(`UNetDenoiser: config field 'groups' ${c.groups} must divide every width and every skip-concat width, got widths [${w.join(', ')}] (level ${i}: ${w[i]}, concat ${concat})`);
      }
    }
    // Initialisation pinned (see the module comment), not inherited from core's defaults.
    this.noise_embed = new MLP({ dim: c.noiseEmbedDim, hidden: c.embedDim, outDim: c.embedDim, activation: 'silu', init: 'truncNormal' }, { rng });
    this.class_embed = c.numClasses > 0 ? new Embedding({ numEmbeddings: c.numClasses + 1, dim: c.embedDim, initStd: 0.02 }, { rng }) : null;
    this.stem = conv3x3(c.channels, w[0], rng, false, c.convImpl);
    const block = (cin: number, cout: number) => new UNetResBlock(cin, cout, c.embedDim, c.groups, c.eps, c.convImpl, rng);
    this.down = w.map((wi, i) => Array.from({ length: c.blocksPerLevel }, (_, j) => block(j === 0 ? w[Math.max(0, i - 1)] : wi, wi)));
    this.up = w.slice(0, -1).map((wi, i) => Array.from({ length: c.blocksPerLevel }, (_, j) => block(j === 0 ? wi + w[i + 1] : wi, wi)));
    this.out_norm = groupNorm(w[0], c.groups, c.eps);
    this.out_conv = conv3x3(w[0], c.channels, rng, true, c.convImpl);
  }

  /** x `[B, C, H, W]` → output `[B, C, H, W]` (no latents). */
  forward(x: tf.Tensor, options: DenoiserCallOptions): DenoiserOutput {
    const c = this.config;
    const where = `UNetDenoiser${this.path ? ` '${this.path}'` : ''}`;
    this.checkShape('x', x, [null, c.channels, c.inputSize[0], c.inputSize[1]]);
    const b = x.shape[0];
    if (!options?.noiseLevel || options.noiseLevel.size !== b) {
      throw new ShapeError(`${where}: option 'noiseLevel' expected shape [${b}], got ${options?.noiseLevel ? formatShape(options.noiseLevel.shape) : 'nothing'}`);
    }
    if (options.classLabels && !this.class_embed) throw new ShapeError(`${where}: 'classLabels' given but config numClasses is 0`);
    if (options.classLabels && options.classLabels.size !== b) {
      throw new ShapeError(`${where}: option 'classLabels' expected shape [${b}], got ${formatShape(options.classLabels.shape)}`);
    }
    if (options.prevLatents) throw new ShapeError(`${where}: 'prevLatents' given but a UNetDenoiser does not self-condition`);
    return tf.tidy(() => {
      const s = sinusoidalEmbedding(tf.mul(tf.reshape(options.noiseLevel, [b]), c.timeScale), c.noiseEmbedDim);
      let emb = this.noise_embed.forward(s); // [B, E]
      if (this.class_embed) {
        // int32 labels are used as they are (a copy made here would be freed before the backward
        // pass, which core's embedding gradient reads on wasm; see TransformerDenoiser).
        const ids = options.classLabels
          ? options.classLabels.dtype === 'int32' ? options.classLabels : tf.cast(options.classLabels, 'int32')
          : tf.fill([b], c.numClasses, 'int32');
        emb = tf.add(emb, this.class_embed.forward(ids));
      }
      const embAct = silu(emb);
      let h = this.stem.forward(tf.transpose(x, [0, 2, 3, 1])); // [B, H, W, w0]
      const skips: tf.Tensor[] = [];
      const levels = c.widths.length;
      for (let i = 0; i < levels; i++) {
        for (const blk of this.down[i]) h = blk.forward(h, embAct);
        if (i < levels - 1) {
          skips.push(h);
          h = avgPool2d(h, 2); // [B, H/2, W/2, w_i]
        }
      }
      for (let i = levels - 2; i >= 0; i--) {
        h = tf.concat([upsampleNearest(h, 2), skips[i]], 3); // [B, ·, ·, w_{i+1} + w_i]
        for (const blk of this.up[i]) h = blk.forward(h, embAct);
      }
      const y = this.out_conv.forward(silu(this.out_norm.forward(h))); // [B, H, W, C]
      const out: DenoiserOutput = { output: tf.transpose(y, [0, 3, 1, 2]) };
      return out as unknown as tf.TensorContainer;
    }) as unknown as DenoiserOutput;
  }

  /** Forward FLOPs on `batch` images (convolutions, 1×1 skips, the conditioning MLPs; a multiply-add = 2). */
  flops(batch: number): number {
    const c = this.config;
    const [h, w] = c.inputSize;
    const px = (i: number) => (h * w) / 4 ** i;
    const conv = (i: number, cin: number, cout: number) => 2 * px(i) * 9 * cin * cout;
    let total = conv(0, c.channels, c.widths[0]) + conv(0, c.widths[0], c.channels);
    const blockFlops = (i: number, blk: UNetResBlock) =>
      conv(i, blk.inChannels, blk.outChannels) + conv(i, blk.outChannels, blk.outChannels) + (blk.skip ? 2 * px(i) * blk.inChannels * blk.outChannels : 0) + 2 * c.embedDim * blk.outChannels;
    this.down.forEach((blocks, i) => blocks.forEach((blk) => (total += blockFlops(i, blk))));
    this.up.forEach((blocks, i) => blocks.forEach((blk) => (total += blockFlops(i, blk))));
    total += 2 * (c.noiseEmbedDim * c.embedDim + c.embedDim * c.embedDim);
    return batch * total;
  }

  override toConfig() {
    const { selfCondition: _s, ...c } = this.config;
    return { type: UNetDenoiser.type, ...c };
  }
}
registerBrick(UNetDenoiser);
