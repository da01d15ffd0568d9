import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  Module,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type PatchGrid,
  type Rng,
} from '@brickml/core';
import { TransformerBlock } from '../transformer-block.js';
import { DepthwiseConvResidual } from './depthwise-conv.js';

/** Fields shared by RinBlock and RinNetwork configs (pix2seq `TapeDenoiser` names in brackets). */
export const rinBlockFields = {
  /** Latent width D [latent_dim]. */
  latentDim: schemas.positiveInt,
  /** Interface (tape) width C [tape_dim]. */
  interfaceDim: schemas.positiveInt,
  /** Heads of the read and write cross-attention [rw_num_heads]. */
  readHeads: schemas.positiveInt.default(4),
  /** Per-head width of read/write; default min(interfaceDim, latentDim) / readHeads (pix2seq `dim_x_att`). */
  rwDimHead: schemas.positiveInt.optional(),
  /** Heads of the latent self-attention [latent_num_heads]. */
  latentHeads: schemas.positiveInt.default(4),
  /** MLP ratio of read and compute layers [latent_mlp_ratio]. */
  latentMlpRatio: z.number().nonnegative().default(4),
  /** MLP ratio of the write layer; 0 = no MLP [tape_mlp_ratio]. */
  interfaceMlpRatio: z.number().nonnegative().default(2),
  /** LayerNorm epsilon (pix2seq: 1e-6). */
  eps: schemas.positive.default(1e-6),
  /** LayerNorm the key/value stream of read and write (pix2seq `use_enc_ln=False`: default false). */
  normContext: z.boolean().default(false),
  /** Dropout in the compute MLPs [drop_units]. */
  dropout: schemas.probability.default(0),
  /** Dropout on attention weights [drop_att]. */
  attnDropout: schemas.probability.default(0),
  /** A block with 0 compute layers skips its write, as pix2seq (default true). */
  skipEmptyWrite: z.boolean().default(true),
  /** Zero-initialise the write's attention output projection and MLP output (the write starts as the identity). */
  zeroInitWrite: z.boolean().default(false),
  /** Add `x + dwconv3×3(LN(x))` on the interface after the write (an addition to RIN; see DepthwiseConvResidual). */
  writeDepthwiseConv: z.boolean().default(false),
};

const RinBlockSchema = z
  .object({
    ...rinBlockFields,
    /** Latent self-attention layers K in this block (pix2seq `num_layers` entry). */
    computeLayers: schemas.nonNegativeInt.default(2),
  })
  .strict();
/** JSON config of {@link RinBlock} (input form: defaults may be omitted). */
export type RinBlockConfig = z.input<typeof RinBlockSchema>;
type Parsed = z.output<typeof RinBlockSchema>;

/** Options of a RinBlock call. */
export interface RinBlockCallOptions {
  /** Patch grid of the interface (needed with `writeDepthwiseConv`). */
  grid?: PatchGrid;
  /** Also return the read map [B, N]: read-attention weights summed over heads and latent queries. */
  returnReadMap?: boolean;
  rng?: Rng;
}

/** Output of a RinBlock call. */
export interface RinBlockOutput {
  /** [B, L, D] */
  latents: tf.Tensor;
  /** [B, N, C] */
  interface: tf.Tensor;
  /** [B, N] (with `returnReadMap`). */
  readMap?: tf.Tensor;
}

/**
 * One RIN block (Jabri et al. 2023; pix2seq `TapeDenoiser.compute`, one iteration):
 *
 * ```text
 * read:    latents   ← latents + CrossAttn(LN(latents), interface) ; + MLP        (`read`)
 * compute: latents   ← K pre-LN self-attention layers on the latents only        (`compute.k`)
 * write:   interface ← interface + CrossAttn(LN(interface), latents) ; + MLP     (`write`)
 * [conv:   interface ← interface + dwconv3×3(LN(interface))]                      (`conv`, optional)
 * ```
 * Names read like the paper: `read`, `compute`, `write`. There is no interface self-attention, so
 * the cost is O(N·L·d) for read/write plus O(K·L²·d) for compute. With K = 0 and
 * `skipEmptyWrite` (default) the block has no write and the interface passes through unchanged.
 */
export class RinBlock extends Module {
  static readonly type = 'RinBlock';
  static readonly schema = RinBlockSchema;
  readonly config: Parsed;
  readonly read: TransformerBlock;
  readonly compute: TransformerBlock[];
  readonly write: TransformerBlock | null;
  readonly conv: DepthwiseConvResidual | null;

  constructor(config: RinBlockConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(RinBlock, config));
    const rwDimHead = c.rwDimHead ?? Math.max(1, Math.floor(Math.min(c.interfaceDim, c.latentDim) / c.readHeads));
    const common = { eps: c.eps, attnDropout: c.attnDropout };
    this.read = new TransformerBlock(
      {
        kind: 'cross',
        dim: c.latentDim,
        contextDim: c.interfaceDim,
        heads: c.readHeads,
        dimHead: rwDimHead,
        mlpRatio: c.latentMlpRatio,
        normContext: c.normContext,
        ...common,
      },
      { rng },
    );
    this.compute = Array.from(
      { length: c.computeLayers },
      () =>
        new TransformerBlock(
          { kind: 'self', dim: c.latentDim, heads: c.latentHeads, mlpRatio: c.latentMlpRatio, dropout: c.dropout, ...common },
          { rng },
        ),
    );
    const hasWrite = !(c.skipEmptyWrite && c.computeLayers === 0);
    this.write = hasWrite
      ? new TransformerBlock(
          {
            kind: 'cross',
            dim: c.interfaceDim,
            contextDim: c.latentDim,
            heads: c.readHeads,
            dimHead: rwDimHead,
            mlpRatio: c.interfaceMlpRatio,
            normContext: c.normContext,
            zeroInitOutput: c.zeroInitWrite,
            ...common,
          },
          { rng },
        )
      : null;
    this.conv = hasWrite && c.writeDepthwiseConv ? new DepthwiseConvResidual(c.interfaceDim, c.eps, rng) : null;
  }

  /** latents [B, L, D], interface [B, N, C] → updated latents and interface (and the read map). */
  forward(latents: tf.Tensor, iface: tf.Tensor, { grid, returnReadMap = false, rng }: RinBlockCallOptions = {}): RinBlockOutput {
    const c = this.config;
    const bound = this.checkShape('latents', latents, ['batch', null, c.latentDim]);
    this.checkShape('interface', iface, ['batch', null, c.interfaceDim], bound);
    if (this.conv && !grid) {
      throw new Error(`RinBlock${this.path ? ` '${this.path}'` : ''}: 'writeDepthwiseConv' needs the interface 'grid' option`);
    }
    return tf.tidy(() => {
      let z: tf.Tensor, readMap: tf.Tensor | undefined;
      if (returnReadMap) {
        const r = this.read.forwardWithWeights(latents, iface, { rng });
        z = r.output;
        readMap = tf.sum(r.weights, [1, 2]); // [B, H, L, N] → [B, N]
      } else {
        z = this.read.forward(latents, iface, { rng });
      }
      for (const layer of this.compute) z = layer.forward(z, null, { rng });
      let x = iface;
      if (this.write) x = this.write.forward(x, z, { rng });
      if (this.conv && grid) x = this.conv.forward(x, grid);
      const out: RinBlockOutput = { latents: z, interface: x };
      if (readMap) out.readMap = readMap;
      return out as unknown as tf.TensorContainer;
    }) as unknown as RinBlockOutput;
  }

  override toConfig() {
    return { type: RinBlock.type, ...this.config };
  }
}
registerBrick(RinBlock);
