import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  LayerNorm,
  MLP,
  Module,
  ShapeError,
  build,
  formatShape,
  globalRng,
  initSchema,
  isLayer,
  parseConfig,
  registerBrick,
  schemas,
  validateBrickConfig,
  type BrickConfig,
  type BrickOptions,
  type Layer,
  type Rng,
} from '@brickml/core';
import { MultiHeadAttention, type MultiHeadAttentionCallOptions } from './attention/multi-head.js';

const TransformerBlockSchema = z
  .object({
    /** Width of the (query) stream x. */
    dim: schemas.positiveInt,
    /** `self`: x attends to x; `cross`: x attends to a context stream. */
    kind: z.enum(['self', 'cross']).default('self'),
    /** Width of the context stream (cross only); default `dim`. */
    contextDim: schemas.positiveInt.optional(),
    /** Attention heads. */
    heads: schemas.positiveInt.default(8),
    /** Per-head width; default `dim / heads`. */
    dimHead: schemas.positiveInt.optional(),
    /**
     * A brick config replacing the default MLP of the feed-forward sub-layer, e.g. a MoE of
     * @brickml/moe (`{ type: 'MoE', dim, ffnHidden, numExperts, … }`): any registered brick with a
     * single-input `forward` that maps [B, N, dim] to [B, N, dim], returning the tensor or
     * `{ y, auxLoss? }` (the MoE convention; see {@link TransformerBlock.forwardWithAux}). Its
     * package must be imported before the block is built. Its parameters are named
     * `feed_forward.*`; `mlpRatio`, `mlpHidden`, `activation` and `dropout` configure the default MLP
     * only and must stay at their defaults. Default: the MLP (`mlp.*`).
     */
    feedForward: schemas.brick.optional(),
    /** MLP hidden width as a multiple of `dim` (0 = no MLP sub-layer). */
    mlpRatio: z.number().nonnegative().default(4),
    /** MLP hidden width (overrides `mlpRatio`). */
    mlpHidden: schemas.positiveInt.optional(),
    /** MLP activation; `swiglu` makes the gated (SwiGLU) MLP. */
    activation: z.enum(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu']).default('gelu'),
    /**
     * Cross only: LayerNorm the context stream too (`norm_context`). Default true (Perceiver);
     * RIN presets set false (pix2seq `use_enc_ln=False`).
     */
    normContext: z.boolean().default(true),
    /** Add the attention output to x (true) or replace x by it (Perceiver decoder: false). */
    queryResidual: z.boolean().default(true),
    /** LayerNorm epsilon (PyTorch default 1e-5; RIN presets 1e-6). */
    eps: schemas.positive.default(1e-5),
    /** Per-head qk-norm (see MultiHeadAttention). */
    qkNorm: z.enum(['none', 'layernorm', 'rmsnorm']).default('none'),
    /** Rotary dims per head (self attention; 0 = off). */
    rotaryDim: schemas.nonNegativeInt.default(0),
    /** Biases on q/k/v (default off); the output projection always has one. */
    qkvBias: z.boolean().default(false),
    /** Dropout inside the MLP (after the activation and the output projection). */
    dropout: schemas.probability.default(0),
    /** Dropout on the attention weights. */
    attnDropout: schemas.probability.default(0),
    /** Initialiser of every projection. */
    init: initSchema.default('truncNormal'),
    /** Zero-initialise the attention output projection and the MLP output (the block starts as the identity when residual). */
    zeroInitOutput: z.boolean().default(false),
  })
  .strict();
/** JSON config of {@link TransformerBlock} (input form: defaults may be omitted). */
export type TransformerBlockConfig = z.input<typeof TransformerBlockSchema>;
type Parsed = z.output<typeof TransformerBlockSchema>;

/** Config fields that only configure the default MLP (they must keep their defaults with `feedForward`). */
const MLP_FIELDS = ['mlpRatio', 'mlpHidden', 'activation', 'dropout'] as const;

/** Output of {@link TransformerBlock.forwardWithAux}. */
export interface TransformerBlockAuxOutput {
  /** [B, T, dim] */
  output: tf.Tensor;
  /**
   * The feed-forward brick's auxiliary loss (a MoE's load-balancing + router z-loss, coefficients
   * applied), a float32 scalar; exactly 0 when the feed-forward reports none (the default MLP).
   * Add it to the training loss.
   */
  auxLoss: tf.Scalar;
}

/** What a feed-forward brick's forward may return: the tensor, or `{ y, auxLoss? }` (MoE). */
type FeedForwardResult = tf.Tensor | { y: tf.Tensor; auxLoss?: tf.Tensor };

/**
 * Pre-norm transformer block, the shared unit of Perceiver and RIN:
 *
 * ```text
 * self:  x = x + attn(norm1(x))
 * cross: x = [x +] attn(norm1(x), norm_context(context))     (norm_context only with normContext)
 * then:  x = x + mlp(norm2(x))                               (skipped when mlpRatio = 0)
 * ```
 * Parameter names follow timm: `norm1`, `attn`, `norm2`, `mlp` (`fc1`, `fc2`), plus `norm_context`.
 *
 * The MLP can be replaced by another feed-forward brick through the `feedForward` config field
 * (e.g. a mixture of experts from @brickml/moe), built from the registry; its parameters are then
 * named `feed_forward.*`. When that brick returns an auxiliary loss (MoE), {@link forwardWithAux}
 * returns it next to the output; {@link forward} drops it.
 *
 * @example
 * import '@brickml/moe'; // registers the MoE brick
 * const block = build<TransformerBlock>({
 *   type: 'TransformerBlock', dim: 64, heads: 4,
 *   feedForward: { type: 'MoE', dim: 64, ffnHidden: 128, numExperts: 8, topK: 2, blockSize: 16 },
 * });
 * const { output, auxLoss } = block.forwardWithAux(x); // loss = task(output) + auxLoss
 */
export class TransformerBlock extends Module {
  static readonly type = 'TransformerBlock';
  static readonly schema = TransformerBlockSchema;
  readonly config: Parsed;
  readonly norm1: LayerNorm;
  readonly norm_context: LayerNorm | null;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm | null;
  /** The default MLP (null with `feedForward`, or when `mlpRatio` is 0). */
  readonly mlp: MLP | null;
  /** The feed-forward brick built from the `feedForward` config (null without it). */
  readonly feed_forward: Layer | null;

  constructor(config: TransformerBlockConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(TransformerBlock, config));
    if (c.kind === 'self' && c.contextDim !== undefined && c.contextDim !== c.dim) {
      throw new BrickConfigError(`TransformerBlock: config field 'contextDim' (${c.contextDim}) only applies to kind 'cross'`);
    }
    if (c.feedForward) checkFeedForwardConfig(c); // before any tensor is allocated
    const ctx = c.contextDim ?? c.dim;
    this.norm1 = new LayerNorm({ dim: c.dim, eps: c.eps });
    this.norm_context = c.kind === 'cross' && c.normContext ? new LayerNorm({ dim: ctx, eps: c.eps }) : null;
    this.attn = new MultiHeadAttention(
      {
        dim: c.dim,
        contextDim: ctx,
        heads: c.heads,
        ...(c.dimHead !== undefined ? { dimHead: c.dimHead } : {}),
        qkNorm: c.qkNorm,
        rotaryDim: c.rotaryDim,
        qkvBias: c.qkvBias,
        dropout: c.attnDropout,
        init: c.init,
        zeroInitOutput: c.zeroInitOutput,
      },
      { rng },
    );
    if (c.feedForward) {
      this.norm2 = new LayerNorm({ dim: c.dim, eps: c.eps });
      this.mlp = null;
      this.feed_forward = null;
      try {
        this.feed_forward = buildFeedForward(c.feedForward as BrickConfig, rng);
      } catch (e) {
        this.dispose(); // what was allocated so far
        throw e;
      }
      return;
    }
    this.feed_forward = null;
    const hidden = c.mlpHidden ?? Math.round(c.mlpRatio * c.dim);
    const withMlp = c.mlpHidden !== undefined || c.mlpRatio > 0;
    this.norm2 = withMlp ? new LayerNorm({ dim: c.dim, eps: c.eps }) : null;
    this.mlp = withMlp
      ? new MLP(
          { dim: c.dim, hidden: Math.max(1, hidden), activation: c.activation, dropout: c.dropout, init: c.init, zeroInitOutput: c.zeroInitOutput },
          { rng },
        )
      : null;
  }

  /**
   * x [B, T, dim] (and context [B, S, contextDim] for `cross`) → [B, T, dim]. An auxiliary loss of
   * the `feedForward` brick is dropped: train with {@link forwardWithAux} to use it.
   */
  forward(x: tf.Tensor, context?: tf.Tensor | null, options: MultiHeadAttentionCallOptions = {}): tf.Tensor {
    return tf.tidy(() => this.run(x, context ?? null, options, false).output);
  }

  /**
   * As {@link forward}, also returning the feed-forward brick's auxiliary loss (a scalar, 0 when it
   * has none), for the training loss: `loss = task(output) + auxLoss` (summed over blocks).
   */
  forwardWithAux(x: tf.Tensor, context?: tf.Tensor | null, options: MultiHeadAttentionCallOptions = {}): TransformerBlockAuxOutput {
    return tf.tidy(() => {
      const { output, auxLoss } = this.run(x, context ?? null, options, false);
      return { output, auxLoss: auxLoss ?? tf.scalar(0) } as unknown as tf.TensorContainer;
    }) as unknown as TransformerBlockAuxOutput;
  }

  /** As {@link forward}, also returning the attention weights [B, H, T, S]. */
  forwardWithWeights(
    x: tf.Tensor,
    context?: tf.Tensor | null,
    options: MultiHeadAttentionCallOptions = {},
  ): { output: tf.Tensor; weights: tf.Tensor } {
    return tf.tidy(() => {
      const { output, weights } = this.run(x, context ?? null, options, true);
      return { output, weights } as unknown as tf.TensorContainer;
    }) as unknown as {
      output: tf.Tensor;
      weights: tf.Tensor;
    };
  }

  private run(x: tf.Tensor, context: tf.Tensor | null, options: MultiHeadAttentionCallOptions, withWeights: boolean) {
    const c = this.config;
    if (c.kind === 'cross' && !context) {
      throw new Error(`TransformerBlock${this.path ? ` '${this.path}'` : ''}: kind 'cross' needs a 'context' argument`);
    }
    if (c.kind === 'self' && context) {
      throw new Error(`TransformerBlock${this.path ? ` '${this.path}'` : ''}: kind 'self' takes no 'context' argument`);
    }
    this.checkShape('x', x, [null, null, c.dim]);
    const xn = this.norm1.forward(x);
    const ctx = context ? (this.norm_context ? this.norm_context.forward(context) : context) : null;
    let out: tf.Tensor, weights: tf.Tensor | undefined;
    if (withWeights) {
      ({ output: out, weights } = this.attn.forwardWithWeights(xn, ctx, options));
    } else {
      out = this.attn.forward(xn, ctx, options);
    }
    let y = c.queryResidual ? tf.add(x, out) : out;
    let auxLoss: tf.Scalar | undefined;
    if (this.mlp && this.norm2) y = tf.add(y, this.mlp.forward(this.norm2.forward(y)));
    if (this.feed_forward && this.norm2) {
      const ff = this.runFeedForward(this.norm2.forward(y));
      y = tf.add(y, ff.y);
      auxLoss = ff.auxLoss;
    }
    return { output: y, weights, auxLoss };
  }

  /** Runs the `feedForward` brick on h [B, T, dim], checking what it returns. */
  private runFeedForward(h: tf.Tensor): { y: tf.Tensor; auxLoss?: tf.Scalar } {
    const ff = this.feed_forward!;
    const where = () => `TransformerBlock${this.path ? ` '${this.path}'` : ''}: feedForward brick ${ff.typeName}`;
    const r = ff.forward(h) as unknown as FeedForwardResult;
    let y: unknown, aux: unknown;
    if (r instanceof tf.Tensor) y = r;
    else if (r && typeof r === 'object' && 'y' in r) ({ y, auxLoss: aux } = r);
    if (!(y instanceof tf.Tensor)) {
      throw new Error(`${where()} returned ${describeResult(r)}; expected a tensor [B, N, dim] or an object { y, auxLoss? }`);
    }
    if (y.rank !== h.rank || y.shape.some((n: number, i: number) => n !== h.shape[i])) {
      throw new ShapeError(
        `${where()} must map [B, N, dim] to [B, N, dim] (dim ${this.config.dim}): input ${formatShape(h.shape)} gave ${formatShape(y.shape)}`,
      );
    }
    if (aux === undefined || aux === null) return { y };
    if (!(aux instanceof tf.Tensor) || aux.rank !== 0) {
      throw new Error(`${where()} returned an auxLoss that is not a scalar tensor (${aux instanceof tf.Tensor ? formatShape(aux.shape) : typeof aux})`);
    }
    return { y, auxLoss: tf.cast(aux, 'float32') as tf.Scalar };
  }

  override toConfig() {
    const config: BrickConfig = { type: TransformerBlock.type, ...this.config };
    if (this.feed_forward) config.feedForward = this.feed_forward.toConfig();
    return config;
  }
}
registerBrick(TransformerBlock);

/** Checks the `feedForward` part of a block config without building anything. */
function checkFeedForwardConfig(c: Parsed): void {
  const ffc = c.feedForward as BrickConfig;
  const defaults = TransformerBlockSchema.parse({ dim: c.dim });
  for (const field of MLP_FIELDS) {
    if (c[field] !== defaults[field]) {
      throw new BrickConfigError(
        `TransformerBlock: config field '${field}' (${JSON.stringify(c[field])}) configures the default MLP and does not apply with 'feedForward' (${ffc.type}); leave it out and configure the feed-forward brick itself`,
      );
    }
  }
  if (typeof ffc.dim === 'number' && ffc.dim !== c.dim) {
    throw new BrickConfigError(
      `TransformerBlock: config field 'feedForward.dim' (${ffc.dim}) must equal 'dim' (${c.dim}): the feed-forward maps [B, N, dim] to [B, N, dim]`,
    );
  }
  validateBrickConfig(ffc, 'feedForward');
}

/** Builds the `feedForward` brick from the registry and checks that it is a single-input layer. */
function buildFeedForward(ffc: BrickConfig, rng: Rng): Layer {
  const m = build(ffc, { rng });
  if (!isLayer(m)) {
    m.dispose();
    throw new BrickConfigError(
      `TransformerBlock: config field 'feedForward' (${ffc.type}) is not a feed-forward brick: it has no single-input forward(x)`,
    );
  }
  return m;
}

function describeResult(r: unknown): string {
  if (r === null || r === undefined) return String(r);
  if (Array.isArray(r)) return 'an array';
  if (typeof r === 'object') return `an object with keys ${Object.keys(r).join(', ') || '(none)'}`;
  return typeof r;
}
