import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  Linear,
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
import { gatherRows } from '../gather-rows.js';

const PerceiverDecoderSchema = z
  .object({
    /** Width D of the latents it reads. */
    latentDim: schemas.positiveInt,
    /** Width E of the output queries. */
    queryDim: schemas.positiveInt,
    /** Learned output queries `queries` [O, E] (e.g. 1 for classification); omit to pass queries per call. */
    numQueries: schemas.positiveInt.optional(),
    /** Cross-attention heads (deepmind BasicDecoder: 1). */
    heads: schemas.positiveInt.default(1),
    /** Per-head width; default `latentDim / heads` (deepmind: qk_channels = latent channels). */
    dimHead: schemas.positiveInt.optional(),
    /** MLP ratio after the cross-attention (deepmind: 1). */
    mlpRatio: z.number().nonnegative().default(1),
    /** Query residual (deepmind decoder default: false). */
    queryResidual: z.boolean().default(false),
    /** Final Linear `output` to this width (e.g. number of classes); omit for none. */
    outDim: schemas.positiveInt.optional(),
    /** Zero-initialise the final Linear (deepmind's projection decoders start at zero). */
    zeroInitOutput: z.boolean().default(false),
    /** LayerNorm epsilon. */
    eps: schemas.positive.default(1e-5),
    activation: z.enum(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu']).default('gelu'),
    /** Initialiser of every projection (default `xavierUniform`, as the encoder). */
    init: initSchema.default('xavierUniform'),
    /** Std of the truncated-normal query initialisation. */
    queryInitStd: schemas.positive.default(0.02),
  })
  .strict();
/** JSON config of {@link PerceiverDecoder} (input form: defaults may be omitted). */
export type PerceiverDecoderConfig = z.input<typeof PerceiverDecoderSchema>;

/** Options of a decoder call. */
export interface PerceiverDecoderCallOptions {
  /** Output queries [B, O, E] or [O, E] (required when the decoder has no learned queries). */
  queries?: tf.Tensor | null;
  /**
   * A subset of the learned queries (row indices, e.g. a random sample of output points during
   * training): int32 tensor [O'] or a number array. Outputs come in this order.
   */
  queryIndices?: tf.Tensor | readonly number[] | null;
  rng?: Rng;
}

/**
 * Perceiver IO decoder (deepmind `BasicDecoder`): output queries cross-attend to the latents
 * (`cross_attend`: pre-LN on both streams, no query residual by default, MLP ratio 1), then an
 * optional Linear `output`. Works for any number of queries, so training can decode a random
 * subset of them (`queryIndices`) and evaluation all of them.
 */
export class PerceiverDecoder extends Module {
  static readonly type = 'PerceiverDecoder';
  static readonly schema = PerceiverDecoderSchema;
  readonly config: z.output<typeof PerceiverDecoderSchema>;
  readonly queries: Parameter | null;
  readonly cross_attend: TransformerBlock;
  readonly output: Linear | null;

  constructor(config: PerceiverDecoderConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(PerceiverDecoder, config));
    this.queries = c.numQueries ? parameter(rng.truncatedNormalTensor([c.numQueries, c.queryDim], c.queryInitStd)) : null;
    this.cross_attend = new TransformerBlock(
      {
        kind: 'cross',
        dim: c.queryDim,
        contextDim: c.latentDim,
        heads: c.heads,
        dimHead: c.dimHead ?? Math.max(1, Math.floor(c.latentDim / c.heads)),
        mlpRatio: c.mlpRatio,
        normContext: true,
        queryResidual: c.queryResidual,
        eps: c.eps,
        activation: c.activation,
        init: c.init,
      },
      { rng },
    );
    this.output = c.outDim
      ? new Linear({ inFeatures: c.queryDim, outFeatures: c.outDim, zeroInit: c.zeroInitOutput, init: c.init }, { rng })
      : null;
  }

  /** latents [B, N, latentDim] → [B, O (or O'), outDim ?? queryDim]. */
  forward(latents: tf.Tensor, { queries = null, queryIndices = null, rng }: PerceiverDecoderCallOptions = {}): tf.Tensor {
    const c = this.config;
    this.checkShape('latents', latents, [null, null, c.latentDim]);
    const b = latents.shape[0];
    return tf.tidy(() => {
      let q: tf.Tensor;
      if (queries) {
        if (queries.rank === 2) this.checkShape('queries', queries, [null, c.queryDim]);
        else this.checkShape('queries', queries, [b, null, c.queryDim]);
        q = queries.rank === 2 ? tf.broadcastTo(tf.expandDims(queries, 0), [b, queries.shape[0], c.queryDim]) : queries;
      } else {
        if (!this.queries) {
          throw new Error(`PerceiverDecoder${this.path ? ` '${this.path}'` : ''}: no learned queries (numQueries unset), pass 'queries'`);
        }
        let table: tf.Tensor = this.queries; // [O, E]
        if (queryIndices) {
          const ids = queryIndices instanceof tf.Tensor ? queryIndices : tf.tensor1d(Array.from(queryIndices), 'int32');
          const n = c.numQueries as number;
          if (!(queryIndices instanceof tf.Tensor) && queryIndices.some((i) => !Number.isInteger(i) || i < 0 || i >= n)) {
            throw new ShapeError(
              `PerceiverDecoder${this.path ? ` '${this.path}'` : ''}: argument 'queryIndices' must be integers in [0, ${n}), got [${queryIndices.slice(0, 8).join(', ')}${queryIndices.length > 8 ? ', …' : ''}] for queries ${formatShape(this.queries.shape)}`,
            );
          }
          table = gatherRows(this.queries, tf.cast(ids, 'int32')); // [O', E], gradient safe on wasm
        }
        q = tf.broadcastTo(tf.expandDims(table, 0), [b, table.shape[0], c.queryDim]);
      }
      const y = this.cross_attend.forward(q, latents, { rng });
      return this.output ? this.output.forward(y) : y;
    });
  }

  override toConfig() {
    return { type: PerceiverDecoder.type, ...this.config };
  }
}
registerBrick(PerceiverDecoder);
