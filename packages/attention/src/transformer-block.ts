import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  LayerNorm,
  MLP,
  Module,
  globalRng,
  initSchema,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
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

/**
 * Pre-norm transformer block, the shared unit of Perceiver and RIN:
 *
 * ```text
 * self:  x = x + attn(norm1(x))
 * cross: x = [x +] attn(norm1(x), norm_context(context))     (norm_context only with normContext)
 * then:  x = x + mlp(norm2(x))                               (skipped when mlpRatio = 0)
 * ```
 * Parameter names follow timm: `norm1`, `attn`, `norm2`, `mlp` (`fc1`, `fc2`), plus `norm_context`.
 */
export class TransformerBlock extends Module {
  static readonly type = 'TransformerBlock';
  static readonly schema = TransformerBlockSchema;
  readonly config: Parsed;
  readonly norm1: LayerNorm;
  readonly norm_context: LayerNorm | null;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm | null;
  readonly mlp: MLP | null;

  constructor(config: TransformerBlockConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(TransformerBlock, config));
    if (c.kind === 'self' && c.contextDim !== undefined && c.contextDim !== c.dim) {
      throw new BrickConfigError(`TransformerBlock: config field 'contextDim' (${c.contextDim}) only applies to kind 'cross'`);
    }
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

  /** x [B, T, dim] (and context [B, S, contextDim] for `cross`) → [B, T, dim]. */
  forward(x: tf.Tensor, context?: tf.Tensor | null, options: MultiHeadAttentionCallOptions = {}): tf.Tensor {
    return tf.tidy(() => this.run(x, context ?? null, options, false).output);
  }

  /** As {@link forward}, also returning the attention weights [B, H, T, S]. */
  forwardWithWeights(
    x: tf.Tensor,
    context?: tf.Tensor | null,
    options: MultiHeadAttentionCallOptions = {},
  ): { output: tf.Tensor; weights: tf.Tensor } {
    return tf.tidy(() => this.run(x, context ?? null, options, true) as unknown as tf.TensorContainer) as unknown as {
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
    if (this.mlp && this.norm2) y = tf.add(y, this.mlp.forward(this.norm2.forward(y)));
    return { output: y, weights };
  }

  override toConfig() {
    return { type: TransformerBlock.type, ...this.config };
  }
}
registerBrick(TransformerBlock);
