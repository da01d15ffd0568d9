import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  Module,
  ShapeError,
  formatShape,
  globalRng,
  initSchema,
  parameter,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Parameter,
  type Rng,
} from '@brickml/core';
import { TransformerBlock } from '../transformer-block.js';

const activation = z.enum(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu']);

const HipLevelSchema = z
  .object({
    /** Groups at this level; must divide the previous level's group count (neighbouring groups merge). */
    groups: schemas.positiveInt,
    /** Latents per group. */
    numLatents: schemas.positiveInt,
    /** Latent width at this level. */
    latentDim: schemas.positiveInt,
    /** Self-attention heads. */
    heads: schemas.positiveInt.default(8),
    /** Cross-attention heads (HiP: 1). */
    crossHeads: schemas.positiveInt.default(1),
    /** Self-attention layers within each group. */
    selfAttends: schemas.nonNegativeInt.default(2),
    /** MLP ratio of the self-attention layers (the cross-attention uses 1, as HiP). */
    mlpRatio: z.number().nonnegative().default(4),
  })
  .strict();
/** One HiP level of a `PerceiverEncoder` config (`hipLevels` entry). */
export type HipLevelConfig = z.input<typeof HipLevelSchema>;

const PerceiverEncoderSchema = z
  .object({
    /** Channels C of the inputs [B, M, C] (including any position features). */
    inputDim: schemas.positiveInt,
    /** Latents N (per group when `groups` > 1). */
    numLatents: schemas.positiveInt,
    /** Latent width D. */
    latentDim: schemas.positiveInt,
    /** Heads of the cross-attend (Perceiver IO: 1). */
    crossHeads: schemas.positiveInt.default(1),
    /** Per-head width of the cross-attend; default `inputDim / crossHeads` (deepmind: qk_channels = input channels). */
    crossDimHead: schemas.positiveInt.optional(),
    /** MLP ratio of the cross-attend (Perceiver IO: 1). */
    crossMlpRatio: z.number().nonnegative().default(1),
    /** Heads of the latent self-attention (Perceiver IO: 8). */
    selfHeads: schemas.positiveInt.default(8),
    /** Per-head width of the self-attention; default `latentDim / selfHeads`. */
    selfDimHead: schemas.positiveInt.optional(),
    /** MLP ratio of the self-attention layers (Perceiver IO ImageNet: 1). */
    selfMlpRatio: z.number().nonnegative().default(1),
    /** Self-attention layers per block. */
    selfAttendsPerBlock: schemas.nonNegativeInt.default(2),
    /** Repetitions of the block of self-attention layers. */
    numBlocks: schemas.positiveInt.default(1),
    /** Share the self-attention weights across the `numBlocks` repeats (Perceiver IO: true). */
    shareWeights: z.boolean().default(true),
    /** Query residual of the cross-attend (Perceiver IO encoder: true). */
    queryResidual: z.boolean().default(true),
    /** LayerNorm epsilon. */
    eps: schemas.positive.default(1e-5),
    activation: activation.default('gelu'),
    qkNorm: z.enum(['none', 'layernorm', 'rmsnorm']).default('none'),
    /** MLP dropout. */
    dropout: schemas.probability.default(0),
    /** Attention-weight dropout. */
    attnDropout: schemas.probability.default(0),
    /**
     * Initialiser of every projection. Default `xavierUniform` (variance ≈ 1/fan-in, as deepmind's
     * `VarianceScaling(1.0)`); `truncNormal` (std 0.02) is the ViT/pix2seq choice.
     */
    init: initSchema.default('xavierUniform'),
    /** Std of the truncated-normal latent initialisation (deepmind: 0.02). */
    latentInitStd: schemas.positive.default(0.02),
    /**
     * HiP grouping of the first level: the inputs are split into `groups` contiguous groups
     * (zero-padded and masked when M is not divisible), each read by its own `numLatents` latents;
     * self-attention stays within a group. 1 = plain Perceiver.
     */
    groups: schemas.positiveInt.default(1),
    /** Further HiP levels: the previous level's latents are regrouped by reshape and read by new per-group latents. */
    hipLevels: z.array(HipLevelSchema).default([]),
  })
  .strict();
/** JSON config of {@link PerceiverEncoder} (input form: defaults may be omitted). */
export type PerceiverEncoderConfig = z.input<typeof PerceiverEncoderSchema>;
type Parsed = z.output<typeof PerceiverEncoderSchema>;

/** Options of a Perceiver encoder call. */
export interface PerceiverEncoderCallOptions {
  /** [B, M], `true` = a real input element (padding masked out of the cross-attention). */
  inputMask?: tf.Tensor | null;
  /** Generator for dropout. */
  rng?: Rng;
}

/** One level of latents: per-group latents, a cross-attend reading the grouped inputs, self-attention layers. */
class PerceiverLevel extends Module {
  readonly latents: Parameter;
  readonly cross_attend: TransformerBlock;
  readonly self_attends: TransformerBlock[];

  constructor(
    readonly _spec: {
      groups: number;
      numLatents: number;
      latentDim: number;
      inputDim: number;
      crossHeads: number;
      crossDimHead?: number;
      crossMlpRatio: number;
      selfHeads: number;
      selfDimHead?: number;
      selfMlpRatio: number;
      selfLayers: number;
      repeats: number;
      queryResidual: boolean;
      eps: number;
      activation: z.output<typeof activation>;
      qkNorm: 'none' | 'layernorm' | 'rmsnorm';
      dropout: number;
      attnDropout: number;
      latentInitStd: number;
      init: z.output<typeof initSchema>;
    },
    rng: Rng,
  ) {
    super();
    const s = _spec;
    const shape = s.groups > 1 ? [s.groups, s.numLatents, s.latentDim] : [s.numLatents, s.latentDim];
    this.latents = parameter(rng.truncatedNormalTensor(shape, s.latentInitStd));
    const common = { eps: s.eps, activation: s.activation, qkNorm: s.qkNorm, dropout: s.dropout, attnDropout: s.attnDropout, init: s.init };
    this.cross_attend = new TransformerBlock(
      {
        kind: 'cross',
        dim: s.latentDim,
        contextDim: s.inputDim,
        heads: s.crossHeads,
        dimHead: s.crossDimHead ?? Math.max(1, Math.floor(s.inputDim / s.crossHeads)),
        mlpRatio: s.crossMlpRatio,
        normContext: true,
        queryResidual: s.queryResidual,
        ...common,
      },
      { rng },
    );
    this.self_attends = Array.from(
      { length: s.selfLayers },
      () =>
        new TransformerBlock(
          {
            kind: 'self',
            dim: s.latentDim,
            heads: s.selfHeads,
            ...(s.selfDimHead !== undefined ? { dimHead: s.selfDimHead } : {}),
            mlpRatio: s.selfMlpRatio,
            ...common,
          },
          { rng },
        ),
    );
  }

  /** inputs [B·G, m, C], mask [B·G, m] | null → latents [B·G, N, D]. */
  forward(grouped: tf.Tensor, mask: tf.Tensor | null, batch: number, rng?: Rng): tf.Tensor {
    const s = this._spec;
    const lat = s.groups > 1 ? this.latents : tf.expandDims(this.latents, 0); // [G, N, D]
    let z = tf.reshape(tf.broadcastTo(tf.expandDims(lat, 0), [batch, s.groups, s.numLatents, s.latentDim]), [
      batch * s.groups,
      s.numLatents,
      s.latentDim,
    ]);
    z = this.cross_attend.forward(z, grouped, { keyPaddingMask: mask, rng });
    return this.runSelf(z, rng);
  }

  /** Set by the encoder: whether the self-attention layers are shared across repeats. */
  _shared = true;

  private runSelf(z: tf.Tensor, rng?: Rng): tf.Tensor {
    const s = this._spec;
    const layers = this.self_attends;
    if (this._shared) {
      for (let r = 0; r < s.repeats; r++) for (const l of layers) z = l.forward(z, null, { rng });
    } else {
      for (const l of layers) z = l.forward(z, null, { rng });
    }
    return z;
  }
}

/**
 * Perceiver IO encoder (deepmind `PerceiverEncoder`): a learned latent array `latents` [N, D]
 * cross-attends once to the inputs (`cross_attend`: pre-LN on both streams, query residual, MLP
 * ratio 1), then `numBlocks` repeats of `selfAttendsPerBlock` latent self-attention layers
 * (`self_attends.i`), their weights shared across repeats unless `shareWeights` is false.
 * Cost O(M·N) + O(L·N²), independent of M beyond the read.
 *
 * Without position features the latents are invariant to permutations of the inputs.
 *
 * HiP option: with `groups` > 1 the inputs split into contiguous groups, each read by its own
 * latents (`latents` [G, N, D]); `hipLevels` add levels (`levels.i`) that regroup the previous
 * latents by reshape (neighbouring groups merge) and read them with new per-group latents.
 * Output [B, G_last · N_last, D_last].
 */
export class PerceiverEncoder extends Module {
  static readonly type = 'PerceiverEncoder';
  static readonly schema = PerceiverEncoderSchema;
  readonly config: Parsed;
  readonly latents: Parameter;
  readonly cross_attend: TransformerBlock;
  readonly self_attends: TransformerBlock[];
  readonly levels: PerceiverLevel[];
  private readonly _first: PerceiverLevel;

  constructor(config: PerceiverEncoderConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(PerceiverEncoder, config));
    let prevGroups = c.groups;
    for (const [i, l] of c.hipLevels.entries()) {
      if (prevGroups % l.groups !== 0) {
        throw new BrickConfigError(
          `PerceiverEncoder: config field 'hipLevels.${i}.groups' (${l.groups}) must divide the previous level's groups (${prevGroups})`,
        );
      }
      prevGroups = l.groups;
    }
    const common = {
      queryResidual: c.queryResidual,
      eps: c.eps,
      activation: c.activation,
      qkNorm: c.qkNorm,
      dropout: c.dropout,
      attnDropout: c.attnDropout,
      latentInitStd: c.latentInitStd,
      init: c.init,
    };
    const first = new PerceiverLevel(
      {
        groups: c.groups,
        numLatents: c.numLatents,
        latentDim: c.latentDim,
        inputDim: c.inputDim,
        crossHeads: c.crossHeads,
        crossDimHead: c.crossDimHead,
        crossMlpRatio: c.crossMlpRatio,
        selfHeads: c.selfHeads,
        selfDimHead: c.selfDimHead,
        selfMlpRatio: c.selfMlpRatio,
        selfLayers: c.shareWeights ? c.selfAttendsPerBlock : c.selfAttendsPerBlock * c.numBlocks,
        repeats: c.numBlocks,
        ...common,
      },
      rng,
    );
    first._shared = c.shareWeights;
    this._first = first;
    // The first level's parts live directly on the encoder (deepmind names: latents, cross_attend, self_attends).
    this.latents = first.latents;
    this.cross_attend = first.cross_attend;
    this.self_attends = first.self_attends;
    let prevDim = c.latentDim;
    this.levels = c.hipLevels.map((l) => {
      const level = new PerceiverLevel(
        {
          groups: l.groups,
          numLatents: l.numLatents,
          latentDim: l.latentDim,
          inputDim: prevDim,
          crossHeads: l.crossHeads,
          crossMlpRatio: 1,
          selfHeads: l.heads,
          selfMlpRatio: l.mlpRatio,
          selfLayers: l.selfAttends,
          repeats: 1,
          ...common,
        },
        rng,
      );
      prevDim = l.latentDim;
      return level;
    });
    this.namedModules();
  }

  /** Latent count of the output (all groups of the last level). */
  get outputLatents(): number {
    const last = this.config.hipLevels.at(-1);
    return last ? last.groups * last.numLatents : this.config.groups * this.config.numLatents;
  }

  /** Latent width of the output. */
  get outputDim(): number {
    return this.config.hipLevels.at(-1)?.latentDim ?? this.config.latentDim;
  }

  /** inputs [B, M, inputDim] → latents [B, outputLatents, outputDim]. */
  forward(inputs: tf.Tensor, { inputMask = null, rng }: PerceiverEncoderCallOptions = {}): tf.Tensor {
    const c = this.config;
    this.checkShape('inputs', inputs, [null, null, c.inputDim]);
    const [b, m] = inputs.shape;
    if (inputMask && (inputMask.rank !== 2 || inputMask.shape[0] !== b || inputMask.shape[1] !== m)) {
      throw new ShapeError(
        `PerceiverEncoder${this.path ? ` '${this.path}'` : ''}: argument 'inputMask' expected shape [${b}, ${m}] ` +
          `(batch and elements of 'inputs' ${formatShape(inputs.shape)}), got ${formatShape(inputMask.shape)}`,
      );
    }
    return tf.tidy(() => {
      const g = c.groups;
      let x = inputs;
      let mask: tf.Tensor | null = inputMask ? (inputMask.dtype === 'bool' ? inputMask : tf.notEqual(inputMask, 0)) : null;
      const per = Math.ceil(m / g);
      const pad = per * g - m;
      if (pad > 0) {
        x = tf.pad(x, [[0, 0], [0, pad], [0, 0]]);
        const real = mask ?? tf.ones([b, m], 'bool');
        mask = tf.concat([real, tf.zeros([b, pad], 'bool')], 1);
      }
      const grouped = g > 1 ? tf.reshape(x, [b * g, per, c.inputDim]) : x;
      const gmask = mask && g > 1 ? tf.reshape(mask, [b * g, per]) : mask;
      let z = this._first.forward(grouped, gmask, b, rng); // [B·G, N, D]
      let prevGroups = g, prevN = c.numLatents, prevD = c.latentDim;
      for (const level of this.levels) {
        const s = level._spec;
        const merged = tf.reshape(z, [b * s.groups, (prevGroups / s.groups) * prevN, prevD]);
        z = level.forward(merged, null, b, rng);
        prevGroups = s.groups;
        prevN = s.numLatents;
        prevD = s.latentDim;
      }
      return tf.reshape(z, [b, prevGroups * prevN, prevD]);
    });
  }

  override toConfig() {
    return { type: PerceiverEncoder.type, ...this.config };
  }
}
registerBrick(PerceiverEncoder);
