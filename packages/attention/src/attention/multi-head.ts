import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  LayerNorm,
  Linear,
  Module,
  RMSNorm,
  ShapeError,
  formatShape,
  globalRng,
  initSchema,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Rng,
} from '@brickml/core';
import { RotaryEmbedding } from '../position/rotary.js';
import { combineMasks, scaledDotProductAttention } from './sdpa.js';

const MultiHeadAttentionSchema = z
  .object({
    /** Query stream width (last axis of `x`). */
    dim: schemas.positiveInt,
    /** Key/value stream width (last axis of `context`); default `dim`. */
    contextDim: schemas.positiveInt.optional(),
    /** Number of heads. */
    heads: schemas.positiveInt.default(8),
    /** Per-head width of q, k and v; default `dim / heads` (must divide then). */
    dimHead: schemas.positiveInt.optional(),
    /** Output width; default `dim`. */
    outDim: schemas.positiveInt.optional(),
    /** Biases on the q/k/v projections (default off). */
    qkvBias: z.boolean().default(false),
    /** Bias on the output projection (default on). */
    outBias: z.boolean().default(true),
    /** Per-head normalisation of q and k over `dimHead`, after projection (`none`, `layernorm`, `rmsnorm`). */
    qkNorm: z.enum(['none', 'layernorm', 'rmsnorm']).default('none'),
    /** Epsilon of the qk-norm. */
    qkNormEps: schemas.positive.default(1e-5),
    /** Rotary position embedding on the first `rotaryDim` features of each q/k head (0 = off). */
    rotaryDim: schemas.nonNegativeInt.default(0),
    /** Frequency base of the rotary embedding. */
    rotaryBase: schemas.positive.default(10000),
    /** Dropout on the attention weights (training only). */
    dropout: schemas.probability.default(0),
    /** Initialiser of the projections. */
    init: initSchema.default('truncNormal'),
    /** Zero-initialise the output projection (weight and bias), so the branch starts at zero. */
    zeroInitOutput: z.boolean().default(false),
  })
  .strict();
/** JSON config of {@link MultiHeadAttention} (input form: defaults may be omitted). */
export type MultiHeadAttentionConfig = z.input<typeof MultiHeadAttentionSchema>;
type Parsed = z.output<typeof MultiHeadAttentionSchema>;

/** Options of a {@link MultiHeadAttention} call. */
export interface MultiHeadAttentionCallOptions {
  /** [B, Tk], `true` (or non-zero) = a real key that may be attended to. */
  keyPaddingMask?: tf.Tensor | null;
  /** [B|1, Tq, Tk], `true` = query i may attend to key j. ANDed with `keyPaddingMask`. */
  attnMask?: tf.Tensor | null;
  /** Generator for the weight dropout (default: the global one). */
  rng?: Rng;
}

/** Output of {@link MultiHeadAttention.forwardWithWeights}. */
export interface AttentionWithWeights {
  /** [B, Tq, outDim] */
  output: tf.Tensor;
  /** Per-head attention weights [B, H, Tq, Tk] (masked entries exactly 0; before dropout). */
  weights: tf.Tensor;
}

/**
 * Multi-head attention, self (`forward(x)`) or cross (`forward(x, context)`), with separate query
 * and key/value widths.
 *
 * Parameters (PyTorch-style names): `q` [H·dh, dim], `k` [H·dh, contextDim], `v` [H·dh, contextDim]
 * (Linear, no bias by default), `out` [outDim, H·dh] (Linear with bias), and with qk-norm
 * `q_norm`/`k_norm` (over dh). Features are **head-major**: feature j of a projection belongs to
 * head `floor(j / dh)`.
 *
 * Masks: `true` = may attend; key padding and attention masks combine with AND. A fully masked
 * query row gets zero weights, so its output equals the `out` bias (see `scaledDotProductAttention`).
 * Heads are batched in one [B, H, T, dh] contraction; asking for the weights
 * (`forwardWithWeights`) costs nothing extra, and `forward` never materialises a copy of them.
 */
export class MultiHeadAttention extends Module {
  static readonly type = 'MultiHeadAttention';
  static readonly schema = MultiHeadAttentionSchema;
  readonly config: Parsed;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly q_norm: LayerNorm | RMSNorm | null;
  readonly k_norm: LayerNorm | RMSNorm | null;
  readonly rotary: RotaryEmbedding | null;
  readonly out: Linear;
  /** Per-head width. */
  readonly dimHead: number;

  constructor(config: MultiHeadAttentionConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(MultiHeadAttention, config));
    if (c.dimHead === undefined && c.dim % c.heads !== 0) {
      throw new BrickConfigError(
        `MultiHeadAttention: config field 'heads' (${c.heads}) must divide 'dim' (${c.dim}) when 'dimHead' is not given`,
      );
    }
    const dh = (this.dimHead = c.dimHead ?? c.dim / c.heads);
    if (c.rotaryDim > dh || c.rotaryDim % 2 !== 0) {
      throw new BrickConfigError(
        `MultiHeadAttention: config field 'rotaryDim' must be even and ≤ dimHead (${dh}), got ${c.rotaryDim}`,
      );
    }
    const inner = c.heads * dh;
    const ctx = c.contextDim ?? c.dim;
    this.q = new Linear({ inFeatures: c.dim, outFeatures: inner, bias: c.qkvBias, init: c.init }, { rng });
    this.k = new Linear({ inFeatures: ctx, outFeatures: inner, bias: c.qkvBias, init: c.init }, { rng });
    this.v = new Linear({ inFeatures: ctx, outFeatures: inner, bias: c.qkvBias, init: c.init }, { rng });
    const norm = () =>
      c.qkNorm === 'layernorm'
        ? new LayerNorm({ dim: dh, eps: c.qkNormEps })
        : c.qkNorm === 'rmsnorm'
          ? new RMSNorm({ dim: dh, eps: c.qkNormEps })
          : null;
    this.q_norm = norm();
    this.k_norm = norm();
    this.rotary = c.rotaryDim > 0 ? new RotaryEmbedding({ dim: c.rotaryDim, base: c.rotaryBase }) : null;
    this.out = new Linear(
      { inFeatures: inner, outFeatures: c.outDim ?? c.dim, bias: c.outBias, init: c.init, zeroInit: c.zeroInitOutput },
      { rng },
    );
  }

  /** x [B, Tq, dim], context [B, Tk, contextDim] (default x) → [B, Tq, outDim]. */
  forward(x: tf.Tensor, context?: tf.Tensor | null, options: MultiHeadAttentionCallOptions = {}): tf.Tensor {
    return tf.tidy(() => this.attend(x, context ?? null, options, false).output);
  }

  /** As {@link forward}, also returning the per-head weights [B, H, Tq, Tk] (the capture hook). */
  forwardWithWeights(x: tf.Tensor, context?: tf.Tensor | null, options: MultiHeadAttentionCallOptions = {}): AttentionWithWeights {
    return tf.tidy(() => this.attend(x, context ?? null, options, true) as unknown as tf.TensorContainer) as unknown as AttentionWithWeights;
  }

  private where(): string {
    return `MultiHeadAttention${this.path ? ` '${this.path}'` : ''}`;
  }

  private attend(
    x: tf.Tensor,
    context: tf.Tensor | null,
    { keyPaddingMask = null, attnMask = null, rng }: MultiHeadAttentionCallOptions,
    returnWeights: boolean,
  ): { output: tf.Tensor; weights?: tf.Tensor } {
    const c = this.config;
    this.checkShape('x', x, [null, null, c.dim]);
    const kvIn = context ?? x;
    if (context) {
      this.checkShape('context', context, [null, null, c.contextDim ?? c.dim]);
      if (context.shape[0] !== x.shape[0]) {
        throw new ShapeError(
          `${this.where()}: argument 'context' ${formatShape(context.shape)} must have the batch size of 'x' ${formatShape(x.shape)}`,
        );
      }
    }
    const [b, tq] = x.shape as number[];
    const tk = kvIn.shape[1] as number;
    if (keyPaddingMask && (keyPaddingMask.rank !== 2 || keyPaddingMask.shape[0] !== b || keyPaddingMask.shape[1] !== tk)) {
      throw new ShapeError(
        `${this.where()}: argument 'keyPaddingMask' expected shape [${b}, ${tk}] (batch and keys of ` +
          `${context ? "'context'" : "'x'"} ${formatShape(kvIn.shape)}), got ${formatShape(keyPaddingMask.shape)}`,
      );
    }
    if (
      attnMask &&
      (attnMask.rank !== 3 || (attnMask.shape[0] !== 1 && attnMask.shape[0] !== b) || attnMask.shape[1] !== tq || attnMask.shape[2] !== tk)
    ) {
      throw new ShapeError(
        `${this.where()}: argument 'attnMask' expected shape [${b} or 1, ${tq}, ${tk}] (queries of 'x' ${formatShape(x.shape)}, ` +
          `keys ${formatShape(kvIn.shape)}), got ${formatShape(attnMask.shape)}`,
      );
    }
    const h = c.heads, dh = this.dimHead;
    // [B, T, H·dh] → [B, H, T, dh]  (head-major features; one head needs no transpose, so no copy)
    const split = (t: tf.Tensor, len: number) =>
      h === 1 ? tf.reshape(t, [b, 1, len, dh]) : tf.transpose(tf.reshape(t, [b, len, h, dh]), [0, 2, 1, 3]);
    let q = split(this.q.forward(x), tq);
    let k = split(this.k.forward(kvIn), tk);
    const v = split(this.v.forward(kvIn), tk);
    if (this.q_norm && this.k_norm) {
      q = this.q_norm.forward(q);
      k = this.k_norm.forward(k);
    }
    if (this.rotary) {
      q = this.rotary.forward(q);
      k = this.rotary.forward(k);
    }
    const mask = combineMasks(keyPaddingMask, attnMask);
    const dropout = this.training ? c.dropout : 0;
    const r = scaledDotProductAttention(q, k, v, { mask, dropout, rng, returnWeights });
    // [B, H, Tq, dh] → [B, Tq, H·dh]
    const merged = h === 1 ? tf.reshape(r.output, [b, tq, dh]) : tf.reshape(tf.transpose(r.output, [0, 2, 1, 3]), [b, tq, h * dh]);
    const output = this.out.forward(merged);
    return returnWeights ? { output, weights: r.weights } : { output };
  }

  override toConfig() {
    return { type: MultiHeadAttention.type, ...this.config };
  }
}
registerBrick(MultiHeadAttention);
