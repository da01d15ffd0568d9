import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Linear, Module, globalRng, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';

const DiscernEmbeddingSchema = z
  .object({
    /** Entries of one (flat, float) observation. */
    inDim: schemas.positiveInt,
    /** Hidden widths of the MLP (default [64]). */
    hidden: z.array(schemas.positiveInt).default([64]),
    /** Width of the embedding ξ(s) (default 32). */
    embedDim: schemas.positiveInt.default(32),
  })
  .strict();
export type DiscernEmbeddingConfig = z.input<typeof DiscernEmbeddingSchema>;

/** A host copy of an embedding's weights: `embed(x)` on one flat observation, no tensors. */
export type HostEmbedding = (x: Float32Array) => Float32Array;

/** Divides `v` by its L2 norm (with ε = 1e-12 so a zero vector stays zero). */
function l2NormalizeHost(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  const s = 1 / Math.max(Math.sqrt(n), 1e-12);
  return v.map((x) => x * s);
}

/**
 * DISCERN's goal embedding ξ (Warde-Farley et al. 2019): an MLP (`layers.0..k`, ReLU between)
 * whose output is L2-normalised, so ξ(s)·ξ(g) is a cosine similarity in [−1, 1].
 */
export class DiscernEmbedding extends Module {
  static readonly type = 'DiscernEmbedding';
  static readonly schema = DiscernEmbeddingSchema;
  readonly config: z.output<typeof DiscernEmbeddingSchema>;
  readonly layers: Linear[];

  constructor(config: DiscernEmbeddingConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(DiscernEmbedding, config));
    const widths = [c.inDim, ...c.hidden, c.embedDim];
    this.layers = widths.slice(1).map((w, i) => new Linear({ inFeatures: widths[i], outFeatures: w }, { rng }));
  }

  /** x [batch, inDim] → ξ [batch, embedDim], each row of unit L2 norm */
  forward(x: tf.Tensor): tf.Tensor2D {
    this.checkShape('x', x, [null, this.config.inDim]);
    let h = x;
    this.layers.forEach((l, i) => {
      h = l.forward(h);
      if (i < this.layers.length - 1) h = tf.relu(h);
    });
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(h), -1, true), 1e-24)); // [batch, 1]
    return tf.div(h, norm) as tf.Tensor2D;
  }

  /**
   * A host copy of the current weights (read with `await data()`), for rewards computed inside
   * `env.step` without tensors; it does not follow later updates.
   */
  async snapshot(): Promise<HostEmbedding> {
    const ws = await Promise.all(this.layers.map(async (l) => ({ w: (await l.weight.data()) as Float32Array, b: l.bias ? ((await l.bias.data()) as Float32Array) : null, out: l.config.outFeatures, inp: l.config.inFeatures })));
    return (x: Float32Array) => {
      if (x.length !== this.config.inDim) throw new RangeError(`DiscernEmbedding.snapshot: argument 'x' expected ${this.config.inDim} values, got ${x.length}`);
      let h: Float32Array = x;
      ws.forEach(({ w, b, out, inp }, k) => {
        const y = new Float32Array(out);
        for (let o = 0; o < out; o++) {
          let s = b ? b[o] : 0;
          const row = o * inp;
          for (let i = 0; i < inp; i++) s += w[row + i] * h[i];
          y[o] = k < ws.length - 1 ? Math.max(0, s) : s;
        }
        h = y;
      });
      return l2NormalizeHost(h);
    };
  }

  override toConfig() {
    return { type: DiscernEmbedding.type, ...this.config };
  }
}
registerBrick(DiscernEmbedding);

/** What {@link discernLoss} returns (scalars). */
export interface DiscernLossResult {
  /** Mean cross-entropy of picking the true goal among goal + decoys. */
  loss: tf.Scalar;
  /** Fraction of rows whose true goal has the largest logit (a tie with m decoys counts 1/(m + 1), an argmax with random tie-breaking). */
  accuracy: tf.Scalar;
  /** The logits β·[ξ(s_T)·ξ(g), ξ(s_T)·ξ(d_1), …] `[batch, 1 + K]` (true goal first). */
  logits: tf.Tensor2D;
}

/**
 * DISCERN's embedding objective: for each final state s_T, a softmax over the cosine similarities
 * to its goal g and K decoys d_k (all L2-normalised embeddings), scaled by the inverse temperature β;
 * the loss is the cross-entropy of the true goal (index 0).
 * achieved [batch, E], goals [batch, E], decoys [batch, K, E] → loss, accuracy, logits [batch, 1 + K].
 */
export function discernLoss(achieved: tf.Tensor, goals: tf.Tensor, decoys: tf.Tensor, beta: number): DiscernLossResult {
  if (achieved.rank !== 2) throw new RangeError(`discernLoss: argument 'achieved' expected [batch, embedDim], got [${achieved.shape.join(', ')}]`);
  const [B, E] = achieved.shape;
  if (goals.rank !== 2 || goals.shape[0] !== B || goals.shape[1] !== E) throw new RangeError(`discernLoss: argument 'goals' expected [${B}, ${E}], got [${goals.shape.join(', ')}]`);
  if (decoys.rank !== 3 || decoys.shape[0] !== B || decoys.shape[2] !== E) throw new RangeError(`discernLoss: argument 'decoys' expected [${B}, K, ${E}], got [${decoys.shape.join(', ')}]`);
  if (!(beta > 0)) throw new RangeError(`discernLoss: argument 'beta' expected a positive number, got ${beta}`);
  return tf.tidy(() => {
    const pos = tf.sum(tf.mul(achieved, goals), -1, true); // [batch, 1]
    const neg = tf.sum(tf.mul(tf.expandDims(achieved, 1), decoys), -1); // [batch, K]
    const logits = tf.mul(tf.concat([pos, neg], 1), beta) as tf.Tensor2D; // [batch, 1 + K]
    const logp = tf.logSoftmax(logits); // [batch, 1 + K]
    const loss = tf.neg(tf.mean(tf.slice(logp, [0, 0], [-1, 1]))) as tf.Scalar;
    // Expected accuracy of an argmax with ties broken at random: 1 / (1 + decoys tied with the goal) when the goal's logit is the largest.
    const goalLogit = tf.slice(logits, [0, 0], [-1, 1]); // [batch, 1]
    const decoyLogits = tf.slice(logits, [0, 1], [-1, -1]); // [batch, K]
    const tol = 1e-5 * beta;
    const beaten = tf.any(tf.greater(decoyLogits, tf.add(goalLogit, tol)), -1); // [batch]
    const ties = tf.sum(tf.cast(tf.lessEqual(tf.abs(tf.sub(decoyLogits, goalLogit)), tol), 'float32'), -1); // [batch]
    const accuracy = tf.mean(tf.where(beaten, tf.zerosLike(ties), tf.div(1, tf.add(ties, 1)))) as tf.Scalar;
    return { loss, accuracy, logits };
  });
}

/** How {@link discernRewardHost} turns similarities into a reward. */
export type DiscernRewardKind = 'similarity' | 'probability';

/**
 * The goal-achievement reward from host embeddings (unit vectors): `'similarity'` — the clipped
 * cosine similarity max(0, ξ(s_T)·ξ(g)) (in [0, 1]); `'probability'` — the softmax probability,
 * at inverse temperature β, that s_T picks g among g and the decoys (in [0, 1]; needs decoys).
 */
export function discernRewardHost(achieved: Float32Array, goal: Float32Array, kind: DiscernRewardKind, beta = 1, decoys: readonly Float32Array[] = []): number {
  const dot = (a: Float32Array, b: Float32Array) => {
    if (a.length !== b.length) throw new RangeError(`discernRewardHost: embeddings expected equal lengths, got ${a.length} and ${b.length}`);
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  const sim = dot(achieved, goal);
  if (kind === 'similarity') return Math.max(0, sim);
  if (kind !== 'probability') throw new RangeError(`discernRewardHost: argument 'kind' expected 'similarity' or 'probability', got ${String(kind)}`);
  if (decoys.length === 0) throw new RangeError(`discernRewardHost: kind 'probability' expected at least one decoy, got none`);
  const logits = [sim, ...decoys.map((d) => dot(achieved, d))].map((v) => beta * v);
  const m = Math.max(...logits);
  const z = logits.reduce((s, v) => s + Math.exp(v - m), 0);
  return Math.exp(logits[0] - m) / z;
}
