/**
 * Routers: a bias-free linear map from a token to one logit per expert, then top-k over the
 * softmax probabilities (or sigmoid scores), as MegaBlocks' `LearnedRouter`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  Module,
  globalRng,
  linear,
  parameter,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
  type Parameter,
  type Rng,
} from '@brickml/core';
import { withoutGradient } from './ops/no-grad.js';
import { oneHotFloat } from './ops/one-hot.js';

/** How router logits become scores: `softmax` over experts, or an independent `sigmoid` per expert. */
export type RouterScore = 'softmax' | 'sigmoid';

/**
 * A routing decision for T tokens over E experts with k slots each. Tensors marked *constant* are
 * constants of the gradient tape (see `withoutGradient`); the others are differentiable.
 */
export interface Routing {
  /** Router logits `[T, E]`. */
  logits: tf.Tensor2D;
  /** Scores the experts are ranked by: softmax probabilities or sigmoid scores, `[T, E]`. */
  scores: tf.Tensor2D;
  /**
   * Probabilities for the load-balancing loss, `[T, E]`: the softmax itself, or for sigmoid routing
   * the scores normalised to sum to one per token.
   */
  probs: tf.Tensor2D;
  /** Chosen experts in descending score, ties to the lower index: int32 `[T, k]` (constant). */
  indices: tf.Tensor2D;
  /** Combine weights of the chosen experts, `[T, k]`: the raw scores, or divided by their sum. */
  weights: tf.Tensor2D;
  /** `slotMask[t, e, s] = 1` iff `indices[t, s] = e`: float32 `[T, E, k]` (constant). */
  slotMask: tf.Tensor3D;
  /** Token copies routed to each expert (histogram of `indices`): float32 `[E]` (constant). */
  counts: tf.Tensor1D;
}

/** Options of {@link routeTopK}. */
export interface RouteOptions {
  /** Experts per token. */
  k: number;
  /** `softmax` (default) or `sigmoid`. */
  score?: RouterScore;
  /** Divide the k weights of a token by their sum (MegaBlocks' p = 1 normalisation). Default false. */
  normalizeWeights?: boolean;
}

/**
 * Top-k routing of router logits `[T, E]`.
 *
 * The choice is made without tfjs's TopK (which has no gradient and whose tie order differs per
 * backend): the rank of expert e for token t is `#{e' : s[e'] > s[e] or (s[e'] = s[e] and e' < e)}`,
 * computed with exact float comparisons, so ties (float32 near-ties are real) always go to the
 * lower expert index on every backend. The weights are the scores at the chosen experts, read with
 * a product against the constant slot mask so that they carry the gradient of the scores.
 */
export function routeTopK(logits: tf.Tensor2D, options: RouteOptions): Routing {
  const { k, score = 'softmax', normalizeWeights = false } = options;
  if (logits.rank !== 2) throw new Error(`routeTopK: logits must be [T, E], got [${logits.shape}]`);
  const [T, E] = logits.shape;
  if (!Number.isInteger(k) || k < 1 || k > E)
    throw new Error(`routeTopK: k must be an integer in [1, E=${E}], got ${k}`);
  return tf.tidy(
    () =>
      routeTopKInScope(logits, T, E, k, score, normalizeWeights) as unknown as tf.TensorContainer,
  ) as unknown as Routing;
}

function routeTopKInScope(
  logits: tf.Tensor2D,
  T: number,
  E: number,
  k: number,
  score: RouterScore,
  normalizeWeights: boolean,
): Routing {
  const scores = (score === 'softmax' ? tf.softmax(logits) : tf.sigmoid(logits)) as tf.Tensor2D; // [T, E]
  const probs = (
    score === 'softmax' ? scores : tf.div(scores, tf.sum(scores, 1, true))
  ) as tf.Tensor2D;
  const slotMask = withoutGradient(() => {
    const s = scores;
    const other = tf.reshape(s, [T, 1, E]); // s[t, e']
    const self = tf.reshape(s, [T, E, 1]); // s[t, e]
    const lower = tf.less(
      tf.reshape(tf.range(0, E, 1, 'int32'), [1, 1, E]),
      tf.reshape(tf.range(0, E, 1, 'int32'), [1, E, 1]),
    ); // e' < e
    const beats = tf.logicalOr(
      tf.greater(other, self),
      tf.logicalAnd(tf.equal(other, self), lower),
    ); // [T, E, E]
    const rank = tf.sum(tf.cast(beats, 'int32'), 2); // [T, E]
    // One-hot of the rank over the k slots (ranks ≥ k give zeros); see oneHotFloat for why not a cast.
    return oneHotFloat(rank, k);
  }) as tf.Tensor3D; // [T, E, k]
  const indices = withoutGradient(() =>
    tf.cast(
      tf.sum(tf.mul(slotMask, tf.reshape(tf.range(0, E, 1, 'float32'), [1, E, 1])), 1),
      'int32',
    ),
  ) as tf.Tensor2D; // [T, k]
  const counts = withoutGradient(() => tf.sum(slotMask, [0, 2])) as tf.Tensor1D; // [E]
  let weights = tf.sum(tf.mul(tf.reshape(scores, [T, E, 1]), slotMask), 1) as tf.Tensor2D; // [T, k]
  if (normalizeWeights) weights = tf.div(weights, tf.sum(weights, 1, true)) as tf.Tensor2D;
  return { logits, scores, probs, indices, weights, slotMask, counts };
}

const RouterSchema = z
  .object({
    /** Token width. */
    dim: schemas.positiveInt,
    /** Number of experts E. */
    numExperts: schemas.positiveInt,
    /** Experts per token k (1 ≤ k ≤ E). */
    topK: schemas.positiveInt.default(1),
    /** `softmax` (MegaBlocks, Switch) or `sigmoid` scores. */
    score: z.enum(['softmax', 'sigmoid']).default('softmax'),
    /** Divide each token's k weights by their sum. */
    normalizeWeights: z.boolean().default(false),
    /** Multiplicative jitter ε in training: the router sees x ⊙ U(1 − ε, 1 + ε) (Switch used 1e-2). */
    jitterEps: z.number().min(0).max(1).default(0),
    /** Std of the N(0, std²) weight initialisation (MegaBlocks: 0.02). */
    initStd: schemas.positive.default(0.02),
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
  });
/** JSON config of {@link Router} (fields with defaults optional). */
export type RouterConfig = z.input<typeof RouterSchema>;

/** Options of {@link Router.forward}. */
export interface RouterForwardOptions {
  /** Generator for the jitter noise (default: the global one). */
  rng?: Rng;
}

/**
 * The learned router: `logits = x · Wᵀ` with `weight` [E, dim] and no bias (PyTorch `nn.Linear`
 * layout; MegaBlocks' `router.layer.weight`), then {@link routeTopK}.
 */
export class Router extends Module {
  static readonly type = 'Router';
  static readonly schema = RouterSchema;
  /** The parsed config (defaults filled). */
  readonly config: z.output<typeof RouterSchema>;
  /** Router weight [E, dim] (no bias). */
  readonly weight: Parameter;

  constructor(config: RouterConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(Router, config));
    this.weight = parameter(rng.normalTensor([c.numExperts, c.dim], 0, c.initStd));
  }

  /** Logits `[T, E]` of tokens `[T, dim]` (with jitter on the input in training mode). */
  logits(x: tf.Tensor2D, { rng = globalRng() }: RouterForwardOptions = {}): tf.Tensor2D {
    this.checkShape('x', x, [null, this.config.dim]);
    const eps = this.config.jitterEps;
    const input =
      this.training && eps > 0 ? tf.mul(x, rng.uniformTensor(x.shape, 1 - eps, 1 + eps)) : x;
    return linear(input, this.weight) as tf.Tensor2D;
  }

  /** Routes tokens `[T, dim]`: logits, scores, chosen experts `[T, k]` and their weights. */
  forward(x: tf.Tensor2D, options: RouterForwardOptions = {}): Routing {
    const c = this.config;
    return routeTopK(this.logits(x, options), {
      k: c.topK,
      score: c.score,
      normalizeWeights: c.normalizeWeights,
    });
  }

  override toConfig() {
    return { type: Router.type, ...this.config };
  }
}
registerBrick(Router);
