/**
 * The `MoE` brick: a router, stacked expert MLPs, and one of three layer implementations chosen by
 * the `kind` config field, behind one interface.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  Module,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Rng,
} from '@brickml/core';
import { Router, type Routing } from './router.js';
import { ExpertMLP } from './experts.js';
import { loadBalancingLoss, routerZLoss } from './aux-losses.js';
import { denseMoE } from './layers/dense.js';
import { capacityMoE, expertCapacity } from './layers/capacity.js';
import { droplessMoE } from './layers/dropless.js';
import type { LayerResult } from './layers/result.js';
import { isPowerOfTwo, type BlockSparseImpl } from './ops/block-sparse-matmul.js';

/** The three MoE layer implementations. */
export type MoEKind = 'dense' | 'capacity' | 'dropless';

const MoESchema = z
  .object({
    /**
     * `dense`: every expert on every token, masked (the reference); `capacity`: Switch/GShard
     * token dropping at `capacityFactor`; `dropless`: MegaBlocks' block-sparse dMoE.
     */
    kind: z.enum(['dense', 'capacity', 'dropless']).default('dropless'),
    /** Token width d. */
    dim: schemas.positiveInt,
    /** Hidden width F of each expert (a multiple of `blockSize` for `dropless`). */
    ffnHidden: schemas.positiveInt,
    /** Number of experts E. */
    numExperts: schemas.positiveInt,
    /** Experts per token k (1 ≤ k ≤ E). */
    topK: schemas.positiveInt.default(1),
    /** Expert activation; `swiglu` adds the value projection `v1`. */
    activation: z.enum(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu']).default('gelu'),
    /** Router scores: `softmax` over experts, or `sigmoid` per expert. */
    score: z.enum(['softmax', 'sigmoid']).default('softmax'),
    /** Divide each token's k router weights by their sum. */
    normalizeWeights: z.boolean().default(false),
    /** Multiplicative router-input jitter ε in training (0 = off). */
    jitterEps: z.number().min(0).max(1).default(0),
    /** α of the load-balancing loss (MegaBlocks default 0.1). */
    loadBalanceCoef: z.number().min(0).default(0.1),
    /** c_z of the router z-loss (ST-MoE: 1e-3). */
    zLossCoef: z.number().min(0).default(1e-3),
    /** `capacity`: C in `floor(C · k · T / E)` slots per expert. */
    capacityFactor: schemas.positive.default(1.25),
    /** `dropless`: block edge b, a power of two; groups are padded to multiples of it (MegaBlocks: 128). */
    blockSize: schemas.positiveInt.default(128),
    /** `dropless`: block-sparse implementation (`auto` picks the kernel, else grouped on host-memory backends, else batched). */
    sparseImpl: z.enum(['auto', 'kernel', 'grouped', 'batched']).default('auto'),
    /** Std of the expert weights' truncated-normal initialisation. */
    initStd: schemas.positive.default(0.02),
    /** Std of the router weight's normal initialisation. */
    routerInitStd: schemas.positive.default(0.02),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.topK > c.numExperts) {
      ctx.addIssue({
        code: 'custom',
        path: ['topK'],
        message: `must be ≤ numExperts (${c.numExperts})`,
      });
    }
    if (!isPowerOfTwo(c.blockSize)) {
      ctx.addIssue({
        code: 'custom',
        path: ['blockSize'],
        message: 'must be a power of two (1, 2, 4, …, 128, …)',
      });
    } else if (c.kind === 'dropless' && c.ffnHidden % c.blockSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['ffnHidden'],
        message: `must be a multiple of blockSize (${c.blockSize}) for kind 'dropless'`,
      });
    }
  });
/** JSON config of {@link MoE} (fields with defaults optional). */
export type MoEConfig = z.input<typeof MoESchema>;

/** Options of {@link MoE.forward}. */
export interface MoEForwardOptions {
  /** Generator for the router jitter (default: the global one). */
  rng?: Rng;
}

/** Static facts about one MoE call, for statistics. */
export interface MoEInfo {
  kind: MoEKind;
  numTokens: number;
  topK: number;
  numExperts: number;
  /** Multiply-adds of one expert on one row (d·F·2, or d·F·3 gated). */
  macsPerRow: number;
  /** `capacity`: slots per expert. */
  capacity?: number;
  /** `dropless`: block size and the block-sparse implementation that ran. */
  blockSize?: number;
  sparseImpl?: Exclude<BlockSparseImpl, 'auto'>;
}

/** Output of {@link MoE.forward}. Scalars are float32. */
export interface MoEOutput {
  /** Layer output, the input's shape `[..., dim]`. */
  y: tf.Tensor;
  /** `loadBalanceLoss + zLoss` (coefficients applied): add it to the model loss. */
  auxLoss: tf.Scalar;
  /** α·E/(T·k)·Σ_e count_e·mean_t p[t, e]. */
  loadBalanceLoss: tf.Scalar;
  /** c_z·mean_t logsumexp(logits_t)². */
  zLoss: tf.Scalar;
  /** The routing decision (over the flattened tokens). */
  routing: Routing;
  /** Token copies routed to each expert `[E]`. */
  tokensPerExpert: tf.Tensor1D;
  /** Token copies each expert processed `[E]` (routed minus dropped). */
  keptPerExpert: tf.Tensor1D;
  /** Copies that got zero output (capacity overflow). */
  droppedCopies: tf.Scalar;
  /** Rows the expert products computed (T·E dense, E·C capacity, padded rows dropless). */
  computedRows: tf.Scalar;
  info: MoEInfo;
}

/**
 * Mixture-of-experts feed-forward layer. Parameters: `router.weight` [E, dim], `experts.w1`
 * [E, dim, F], `experts.v1` [E, dim, F] (swiglu), `experts.w2` [E, F, dim]; no biases (MegaBlocks).
 *
 * The forward pass is synchronous and differentiable with every kind; the aux losses come back
 * with the output. See `layers/dropless.ts` for where the dropless path reads group sizes.
 *
 * @example
 * const moe = new MoE({ kind: 'dropless', dim: 64, ffnHidden: 128, numExperts: 8, topK: 2, blockSize: 16 });
 * const { y, auxLoss } = moe.forward(x); // x [batch, tokens, 64]
 */
export class MoE extends Module {
  static readonly type = 'MoE';
  static readonly schema = MoESchema;
  /** The parsed config (defaults filled). */
  readonly config: z.output<typeof MoESchema>;
  /** The learned router (`router.weight` [E, dim]). */
  readonly router: Router;
  /** The stacked expert weights (`experts.w1`, `experts.v1`, `experts.w2`). */
  readonly experts: ExpertMLP;

  constructor(config: MoEConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(MoE, config));
    this.router = new Router(
      {
        dim: c.dim,
        numExperts: c.numExperts,
        topK: c.topK,
        score: c.score,
        normalizeWeights: c.normalizeWeights,
        jitterEps: c.jitterEps,
        initStd: c.routerInitStd,
      },
      { rng },
    );
    this.experts = new ExpertMLP(
      {
        numExperts: c.numExperts,
        dim: c.dim,
        ffnHidden: c.ffnHidden,
        activation: c.activation,
        initStd: c.initStd,
      },
      { rng },
    );
  }

  /**
   * Routes every token of x [..., dim] to its top-k experts and combines their outputs.
   * Runs inside `tf.tidy`: only the returned tensors survive.
   */
  forward(x: tf.Tensor, options: MoEForwardOptions = {}): MoEOutput {
    const c = this.config;
    this.checkShape('x', x, ['...', c.dim]);
    return tf.tidy((): tf.TensorContainer => {
      const lead = x.shape.slice(0, -1);
      const xt = tf.reshape(x, [-1, c.dim]) as tf.Tensor2D; // [T, d]
      const T = xt.shape[0];
      const routing = this.router.forward(xt, options);
      const info: MoEInfo = {
        kind: c.kind,
        numTokens: T,
        topK: c.topK,
        numExperts: c.numExperts,
        macsPerRow: this.experts.macsPerRow,
      };
      let layer: LayerResult;
      if (c.kind === 'dense') {
        layer = denseMoE(xt, routing, this.experts);
      } else if (c.kind === 'capacity') {
        layer = capacityMoE(xt, routing, this.experts, { capacityFactor: c.capacityFactor });
        info.capacity = expertCapacity(c.capacityFactor, c.topK, T, c.numExperts);
      } else {
        const r = droplessMoE(xt, routing, this.experts, {
          blockSize: c.blockSize,
          impl: c.sparseImpl,
        });
        layer = r;
        info.blockSize = c.blockSize;
        info.sparseImpl = r.impl;
      }
      const loadBalanceLoss = loadBalancingLoss(
        routing.probs,
        routing.counts,
        c.topK,
        c.loadBalanceCoef,
      );
      const zLoss = routerZLoss(routing.logits, c.zLossCoef);
      return {
        y: tf.reshape(layer.y, [...lead, c.dim]),
        auxLoss: tf.add(loadBalanceLoss, zLoss) as tf.Scalar,
        loadBalanceLoss,
        zLoss,
        routing,
        tokensPerExpert: routing.counts,
        keptPerExpert: layer.keptPerExpert,
        droppedCopies: layer.droppedCopies,
        computedRows: layer.computedRows,
        info,
      } satisfies MoEOutput as unknown as tf.TensorContainer;
    }) as unknown as MoEOutput;
  }

  override toConfig() {
    return { type: MoE.type, ...this.config };
  }
}
registerBrick(MoE);
