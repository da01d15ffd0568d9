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
  parameter,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Parameter,
  type PatchGrid,
  type Rng,
} from '@brickml/core';
import { LearnedPositionEncoding } from '../position/learned.js';
import { SinCosPositionEncoding } from '../position/sincos.js';
import { RinBlock, rinBlockFields } from './rin-block.js';
import { gatherRows } from '../gather-rows.js';

const RinNetworkSchema = z
  .object({
    /** Image channels C. */
    channels: schemas.positiveInt.default(3),
    /** Input size: `[H, W]` for images [B, C, H, W], `[T, H, W]` for video [B, T, C, H, W]. */
    inputSize: z.array(schemas.positiveInt).min(2).max(3),
    /** Patch size (pix2seq `patch_size`). */
    patchSize: z.union([schemas.positiveInt, z.tuple([schemas.positiveInt, schemas.positiveInt])]).default(2),
    /** Frames per video patch. */
    tubelet: schemas.positiveInt.default(1),
    /** Learned latents (not counting the conditioning tokens) [latent_slots]. */
    numLatents: schemas.positiveInt.default(32),
    /** Number of RIN blocks B, weights untied. */
    numBlocks: schemas.positiveInt.default(2),
    /** Latent self-attention layers per block: one number for all, or one per block (pix2seq '2,2,2'). */
    computeLayers: z.union([schemas.nonNegativeInt, z.array(schemas.nonNegativeInt)]).default(2),
    /** Interface position encoding: `learned` (pix2seq default; truncated normal 0.02) or `sincos` (fixed). */
    position: z.enum(['learned', 'sincos']).default('learned'),
    /** Add the noise-level token (sinusoid of γ·timeScale → Linear–SiLU–Linear) to the latents. */
    noiseCondition: z.boolean().default(true),
    /** Multiplier of the noise level before the sinusoid (docs/design.md: γ·1000). */
    timeScale: schemas.positive.default(1000),
    /** Width of the sinusoidal noise-level embedding; default latentDim / 4 (pix2seq), rounded to even. */
    noiseEmbedDim: schemas.positiveInt.optional(),
    /** Classes for the class token (0 = unconditional). The embedding has one extra null row (id = numClasses) for classifier-free guidance. */
    numClasses: schemas.nonNegativeInt.default(0),
    /** Latent self-conditioning (pix2seq `self_cond='latent'`). */
    selfCondition: z.boolean().default(false),
    /** Std of the truncated-normal latent initialisation. */
    latentInitStd: schemas.positive.default(0.02),
    ...rinBlockFields,
  })
  .strict();
/** JSON config of {@link RinNetwork} (input form: defaults may be omitted). */
export type RinNetworkConfig = z.input<typeof RinNetworkSchema>;
type Parsed = z.output<typeof RinNetworkSchema>;

/** Options of a RinNetwork call. */
export interface RinNetworkCallOptions {
  /** Noise level γ (signal variance, not t) [B], required with `noiseCondition`. */
  noiseLevel?: tf.Tensor | null;
  /** Class ids [B] int32 in [0, numClasses]; numClasses = the null class. Default: all null. */
  classLabels?: tf.Tensor | null;
  /** Latents of the previous pass/step [B, L, D] for self-conditioning (default zeros). */
  prevLatents?: tf.Tensor | null;
  /** Return the read maps (one per block). */
  returnReadMaps?: boolean;
  rng?: Rng;
}

/** Output of a RinNetwork call. */
export interface RinNetworkOutput {
  /** Same layout as the input: [B, C, H, W] or [B, T, C, H, W]. */
  output: tf.Tensor;
  /** Final latents [B, L, D] (L = numLatents + conditioning tokens), for self-conditioning. */
  latents: tf.Tensor;
  /** Final interface [B, N, interfaceDim]. */
  interface: tf.Tensor;
  /**
   * With `returnReadMaps`: per block, read-attention weights summed over heads and all latent-side
   * queries (conditioning tokens included), unnormalised, on the patch grid: [B, gh, gw] (images)
   * or [B, gt, gh, gw] (video). Each map sums to (heads · L) over the grid.
   */
  readMaps?: tf.Tensor[];
}

/**
 * Sinusoidal embedding of scalars [B] → [B, dim]: `[sin(s·f_0…f_{h−1}), cos(same)]` with
 * h = dim/2 and f_i = 10000^(−i/(h−1)) (DDPM / lucidrains layout).
 */
export function sinusoidalEmbedding(values: tf.Tensor, dim: number): tf.Tensor {
  if (dim % 2 !== 0 || dim < 2) throw new Error(`sinusoidalEmbedding: dim must be even and ≥ 2, got ${dim}`);
  return tf.tidy(() => {
    const half = dim / 2;
    const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / Math.max(half - 1, 1)));
    const args = tf.mul(tf.reshape(tf.cast(values, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half])); // [B, h]
    return tf.concat([tf.sin(args), tf.cos(args)], 1);
  });
}

/**
 * Recurrent Interface Network (Jabri, Fleet, Chen, ICML 2023; pix2seq `ImageTapeDenoiser` /
 * `VideoTapeDenoiser`) for images [B, C, H, W] and video [B, T, C, H, W].
 *
 * ```text
 * interface = interface_pos(stem_ln(stem(x)))                 stem: core PatchEmbed
 * latents   = [latents (learned), noise token, class token]   conditioning as extra latent tokens
 * latents  += latent_prev_ln(prev + latent_prev_mlp(latent_prev_norm(prev)))   (selfCondition)
 * for b: latents, interface = blocks.b(latents, interface)    untied RinBlocks (read, compute, write)
 * output    = readout(output_ln(interface))                   readout: core PatchUnembed
 * ```
 * - noise token: `noise_embed` (MLP `fc1`–SiLU–`fc2`) of sinusoidalEmbedding(γ · timeScale); the
 *   network is conditioned on the noise level γ, not on t (pix2seq passes γ).
 * - class token: `class_embed` (Embedding with numClasses + 1 rows; the last is the null class).
 * - self-conditioning: `latent_prev_ln` starts with zero scale and bias, so at initialisation the
 *   path adds nothing; no previous latents means zeros.
 * Parameter names read like the paper/pix2seq: `stem`, `stem_ln`, `interface_pos`, `latents`,
 * `noise_embed`, `class_embed`, `latent_prev_*`, `blocks.i.read` / `.compute.k` / `.write`,
 * `output_ln`, `readout`.
 */
export class RinNetwork extends Module {
  static readonly type = 'RinNetwork';
  static readonly schema = RinNetworkSchema;
  readonly config: Parsed;
  readonly stem: PatchEmbed;
  readonly stem_ln: LayerNorm;
  readonly interface_pos: LearnedPositionEncoding | SinCosPositionEncoding;
  readonly latents: Parameter;
  readonly noise_embed: MLP | null;
  readonly class_embed: Embedding | null;
  readonly latent_prev_norm: LayerNorm | null;
  readonly latent_prev_mlp: MLP | null;
  readonly latent_prev_ln: LayerNorm | null;
  readonly blocks: RinBlock[];
  readonly output_ln: LayerNorm;
  readonly readout: PatchUnembed;
  /** Patch grid of the configured input size. */
  readonly grid: PatchGrid;
  /** Interface tokens N. */
  readonly numInterfaceTokens: number;
  /** Latent tokens L = numLatents + noise token + class token. */
  readonly numLatentTokens: number;
  private readonly _noiseDim: number;

  constructor(config: RinNetworkConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(RinNetwork, config));
    const where = 'RinNetwork';
    const [ph, pw] = typeof c.patchSize === 'number' ? [c.patchSize, c.patchSize] : c.patchSize;
    const video = c.inputSize.length === 3;
    const [h, w] = c.inputSize.slice(-2);
    const t = video ? c.inputSize[0] : 1;
    if (h % ph !== 0 || w % pw !== 0 || (video && t % c.tubelet !== 0)) {
      throw new BrickConfigError(
        `${where}: config field 'inputSize' [${c.inputSize.join(', ')}] must be divisible by patchSize ${ph}×${pw}${video ? ` and tubelet ${c.tubelet}` : ''}`,
      );
    }
    const layers = typeof c.computeLayers === 'number' ? Array(c.numBlocks).fill(c.computeLayers) : c.computeLayers;
    if (layers.length !== c.numBlocks) {
      throw new BrickConfigError(
        `${where}: config field 'computeLayers' has ${layers.length} entries, expected one per block (numBlocks = ${c.numBlocks})`,
      );
    }
    this.grid = { frames: video ? t / c.tubelet : 1, rows: h / ph, cols: w / pw };
    this.numInterfaceTokens = this.grid.frames * this.grid.rows * this.grid.cols;
    this.numLatentTokens = c.numLatents + (c.noiseCondition ? 1 : 0) + (c.numClasses > 0 ? 1 : 0);
    const D = c.latentDim, C = c.interfaceDim;
    this._noiseDim = c.noiseEmbedDim ?? Math.max(2, 2 * Math.floor(D / 8));
    if (this._noiseDim % 2 !== 0) {
      throw new BrickConfigError(`${where}: config field 'noiseEmbedDim' must be even, got ${this._noiseDim}`);
    }

    // RIN's own initialisation (pix2seq / ViT): truncated normal, std 0.02, zero biases — pinned here, not
    // inherited from core's defaults (which follow PyTorch's nn.Linear).
    const patch = { channels: c.channels, patchSize: c.patchSize, tubelet: c.tubelet, dim: C, init: 'truncNormal' as const };
    this.stem = new PatchEmbed(patch, { rng });
    this.stem_ln = new LayerNorm({ dim: C, eps: c.eps });
    const gridDims = video ? [this.grid.frames, this.grid.rows, this.grid.cols] : [this.grid.rows, this.grid.cols];
    this.interface_pos =
      c.position === 'learned'
        ? new LearnedPositionEncoding({ numPositions: this.numInterfaceTokens, dim: C }, { rng })
        : new SinCosPositionEncoding({ dim: C, grid: gridDims });
    this.latents = parameter(rng.truncatedNormalTensor([c.numLatents, D], c.latentInitStd));
    this.noise_embed = c.noiseCondition
      ? new MLP({ dim: this._noiseDim, hidden: D, outDim: D, activation: 'silu', init: 'truncNormal' }, { rng })
      : null;
    this.class_embed = c.numClasses > 0 ? new Embedding({ numEmbeddings: c.numClasses + 1, dim: D, initStd: 0.02 }, { rng }) : null;
    const { numLatents: _n, numBlocks: _b, computeLayers: _k, inputSize: _s, channels: _c, patchSize: _p, tubelet: _t,
      position: _pos, noiseCondition: _nc, timeScale: _ts, noiseEmbedDim: _nd, numClasses: _cl, selfCondition: _sc,
      latentInitStd: _li, ...blockFields } = c;
    this.blocks = layers.map((k) => new RinBlock({ ...blockFields, computeLayers: k }, { rng }));
    this.output_ln = new LayerNorm({ dim: C, eps: c.eps });
    this.readout = new PatchUnembed(patch, { rng });
    // Self-conditioning parts are drawn last, so the same seed gives the same other parameters with it on or off.
    this.latent_prev_norm = c.selfCondition ? new LayerNorm({ dim: D, eps: c.eps }) : null;
    this.latent_prev_mlp = c.selfCondition
      ? new MLP({ dim: D, hidden: Math.max(1, Math.round(c.latentMlpRatio * D)), init: 'truncNormal' }, { rng })
      : null;
    this.latent_prev_ln = c.selfCondition ? new LayerNorm({ dim: D, eps: c.eps, zeroInit: true }) : null;
    this.namedModules();
  }

  private fail(message: string): never {
    throw new ShapeError(`RinNetwork${this.path ? ` '${this.path}'` : ''}: ${message}`);
  }

  /** The initial latents [B, L, D]: learned latents, noise token, class token (+ self-conditioning). */
  initialLatents(batch: number, { noiseLevel = null, classLabels = null, prevLatents = null }: RinNetworkCallOptions = {}): tf.Tensor {
    const c = this.config;
    const D = c.latentDim;
    if (this.noise_embed) {
      if (!noiseLevel) this.fail(`argument 'noiseLevel' [${batch}] is required (config noiseCondition is true)`);
      if (noiseLevel.size !== batch) this.fail(`argument 'noiseLevel' expected shape [${batch}], got ${formatShape(noiseLevel.shape)}`);
    }
    if (classLabels && (classLabels.rank !== 1 || classLabels.shape[0] !== batch)) {
      this.fail(`argument 'classLabels' expected shape [${batch}], got ${formatShape(classLabels.shape)}`);
    }
    if (classLabels && !this.class_embed) this.fail(`argument 'classLabels' given but config numClasses is 0`);
    if (prevLatents) {
      this.checkShape('prevLatents', prevLatents, [batch, this.numLatentTokens, D]);
      if (!this.latent_prev_mlp) this.fail(`argument 'prevLatents' given but config selfCondition is false`);
    }
    return tf.tidy(() => {
      const parts: tf.Tensor[] = [tf.broadcastTo(tf.expandDims(this.latents, 0), [batch, c.numLatents, D])];
      if (this.noise_embed && noiseLevel) {
        const s = sinusoidalEmbedding(tf.mul(tf.reshape(noiseLevel, [batch]), c.timeScale), this._noiseDim);
        parts.push(tf.reshape(this.noise_embed.forward(s), [batch, 1, D]));
      }
      if (this.class_embed) {
        const ids = classLabels ? tf.cast(classLabels, 'int32') : tf.fill([batch], c.numClasses, 'int32');
        parts.push(tf.reshape(gatherRows(this.class_embed.weight, ids), [batch, 1, D]));
      }
      let z = parts.length > 1 ? tf.concat(parts, 1) : parts[0];
      if (this.latent_prev_norm && this.latent_prev_mlp && this.latent_prev_ln) {
        const prev = prevLatents ?? tf.zeros([batch, this.numLatentTokens, D]);
        const h = tf.add(prev, this.latent_prev_mlp.forward(this.latent_prev_norm.forward(prev)));
        z = tf.add(z, this.latent_prev_ln.forward(h));
      }
      return z;
    });
  }

  /** x [B, C, H, W] (or [B, T, C, H, W]) → output of the same layout, final latents and interface (and read maps). */
  forward(x: tf.Tensor, options: RinNetworkCallOptions = {}): RinNetworkOutput {
    const c = this.config;
    const video = c.inputSize.length === 3;
    if (video) this.checkShape('x', x, [null, c.inputSize[0], c.channels, c.inputSize[1], c.inputSize[2]]);
    else this.checkShape('x', x, [null, c.channels, c.inputSize[0], c.inputSize[1]]);
    const b = x.shape[0];
    return tf.tidy(() => {
      let iface = this.interface_pos.forward(this.stem_ln.forward(this.stem.forward(x))); // [B, N, C]
      let z = this.initialLatents(b, options); // [B, L, D]
      const readMaps: tf.Tensor[] = [];
      const gridShape = video ? [b, this.grid.frames, this.grid.rows, this.grid.cols] : [b, this.grid.rows, this.grid.cols];
      for (const block of this.blocks) {
        const r = block.forward(z, iface, { grid: this.grid, returnReadMap: options.returnReadMaps, rng: options.rng });
        z = r.latents;
        iface = r.interface;
        if (r.readMap) readMaps.push(tf.reshape(r.readMap, gridShape));
      }
      const output = this.readout.forward(this.output_ln.forward(iface), this.grid, video);
      const out: RinNetworkOutput = { output, latents: z, interface: iface };
      if (options.returnReadMaps) out.readMaps = readMaps;
      return out as unknown as tf.TensorContainer;
    }) as unknown as RinNetworkOutput;
  }

  override toConfig() {
    return { type: RinNetwork.type, ...this.config };
  }
}
registerBrick(RinNetwork);
