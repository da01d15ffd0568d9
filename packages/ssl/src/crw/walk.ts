/**
 * The contrastive random walk on a space-time graph (Jabri, Owens, Efros 2020; videowalk `model.py`):
 * affinities between the nodes of consecutive frames, row-softmax transition matrices forward and
 * backward in time with edge dropout, palindrome walks and their cycle-consistency loss.
 *
 * These functions work on node embeddings that are already computed (`[B, T, N, D]`, each node
 * L2-normalised); {@link ContrastiveRandomWalk} builds them from video.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape, matmul, type Rng } from '@brickml/core';
import { batchDiagonal } from '../ops.js';

/** Options of {@link transitionMatrices}. */
export interface TransitionOptions {
  /** Softmax temperature τ: P = softmax(A / τ) (videowalk default 0.07; 0.05 in its README run). */
  temperature?: number;
  /**
   * Edge dropout rate: each logit of each matrix is set to −1e20 with this probability before the
   * softmax, independently for the forward and the backward matrices (videowalk `--dropout`, 0.1).
   * 0 (the default here) disables it; it needs `rng` when > 0.
   */
  edgeDropout?: number;
  /** Generator for the dropout masks. */
  rng?: Rng;
}

/** Transition matrices of a clip: `forward[:, t]` is P_{t→t+1}, `backward[:, t]` is P_{t+1→t}. */
export type Transitions = {
  /** `[B, T−1, N, N]`, rows sum to 1: row i holds the probabilities of stepping from node i of frame t to each node of frame t+1. */
  forward: tf.Tensor;
  /** `[B, T−1, N, N]`, rows sum to 1: from node i of frame t+1 to each node of frame t (a separate softmax of Aᵀ/τ, not P_{t→t+1}ᵀ). */
  backward: tf.Tensor;
};

const MASKED_LOGIT = -1e20;

function checkNodes(fn: string, nodes: tf.Tensor, minFrames: number): [number, number, number, number] {
  if (nodes.rank !== 4) {
    throw new ShapeError(`${fn}: argument 'nodes' expected shape [batch, frames, nodes, dim], got ${formatShape(nodes.shape)} (wrong rank)`);
  }
  const [b, t, n, d] = nodes.shape as [number, number, number, number];
  if (t < minFrames) {
    throw new ShapeError(`${fn}: argument 'nodes' needs at least ${minFrames} frames, got ${t} (shape ${formatShape(nodes.shape)})`);
  }
  return [b, t, n, d];
}

function checkTemperature(fn: string, temperature: number): number {
  if (!(typeof temperature === 'number' && temperature > 0 && Number.isFinite(temperature))) {
    throw new RangeError(`${fn}: option 'temperature' expected a positive number, got ${String(temperature)}`);
  }
  return temperature;
}

/**
 * Affinities between consecutive frames, `A_t = q_t · q_{t+1}ᵀ`.
 * @param nodes `[B, T, N, D]` node embeddings (L2-normalised for cosine affinities)
 * @returns `[B, T−1, N, N]`
 */
export function frameAffinities(nodes: tf.Tensor): tf.Tensor {
  const [b, t, n, d] = checkNodes('frameAffinities', nodes, 2);
  return tf.tidy(() => {
    const from = tf.reshape(tf.slice(nodes, [0, 0, 0, 0], [b, t - 1, n, d]), [b * (t - 1), n, d]); // [B·(T−1), N, D]
    const to = tf.reshape(tf.slice(nodes, [0, 1, 0, 0], [b, t - 1, n, d]), [b * (t - 1), n, d]); // [B·(T−1), N, D]
    return tf.reshape(matmul(from, to, false, true), [b, t - 1, n, n]); // [B, T−1, N, N]
  });
}

/** Row-softmax of `logits / τ`, with logits dropped to −1e20 at rate `p` first. */
function stochastic(logits: tf.Tensor, temperature: number, p: number, rng: Rng | undefined): tf.Tensor {
  return tf.tidy(() => {
    let z = tf.div(logits, temperature);
    if (p > 0) {
      const keep = rng!.bernoulliTensor(logits.shape, 1 - p); // 1 = edge kept
      z = tf.add(z, tf.mul(tf.sub(1, keep), MASKED_LOGIT));
    }
    return tf.softmax(z, -1);
  });
}

/**
 * Forward and backward transition matrices of a clip from its node embeddings.
 * @param nodes `[B, T, N, D]`
 */
export function transitionMatrices(nodes: tf.Tensor, { temperature = 0.07, edgeDropout = 0, rng }: TransitionOptions = {}): Transitions {
  const fn = 'transitionMatrices';
  checkNodes(fn, nodes, 2);
  checkTemperature(fn, temperature);
  if (!(edgeDropout >= 0 && edgeDropout < 1)) throw new RangeError(`${fn}: option 'edgeDropout' expected a rate in [0, 1), got ${edgeDropout}`);
  if (edgeDropout > 0 && rng === undefined) throw new Error(`${fn}: option 'edgeDropout' > 0 needs option 'rng' for the dropout masks`);
  return tf.tidy(() => {
    const a = frameAffinities(nodes); // [B, T−1, N, N]
    const forward = stochastic(a, temperature, edgeDropout, rng);
    const backward = stochastic(tf.transpose(a, [0, 1, 3, 2]), temperature, edgeDropout, rng);
    return { forward, backward };
  });
}

/** Options of {@link palindromeWalkLoss}. */
export interface WalkLossOptions {
  /**
   * Shortest walk, in forward steps (default 2, as videowalk: its loop starts at i = 1, so the
   * 1-step round trip t → t+1 → t is *not* included). 1 adds that round trip.
   */
  shortestWalk?: number;
  /** ε in log(W + ε) (default 1e-20, videowalk's; needs float32). */
  eps?: number;
}

/** Result of {@link palindromeWalkLoss}. */
export interface WalkLoss {
  /** Scalar: cross-entropy against the identity, averaged over rows, batch and walk lengths. */
  loss: tf.Scalar;
  /** Scalar: fraction of rows whose walk returns to its own start node (argmax_j W_ij = i), averaged over walks. Not differentiable. */
  accuracy: tf.Scalar;
  /** `[numWalks]`: the loss of each walk length, shortest first. */
  lossPerWalk: tf.Tensor1D;
  /** `[numWalks]`: the accuracy of each walk length, shortest first. */
  accuracyPerWalk: tf.Tensor1D;
  /** Forward steps of each walk, shortest first (e.g. [2, 3] for T = 4). */
  walkLengths: number[];
}

/**
 * The palindrome walks and their loss. For k = shortestWalk … T−1 forward steps the walk is
 *
 * ```text
 * W_k = P_{1→2} P_{2→3} … P_{k→k+1} · P_{k+1→k} … P_{2→1}
 * ```
 *
 * (right-multiplied, videowalk's `aar`), and its loss is the cross-entropy of row i of
 * log(W_k + ε) against target i (the identity), averaged over rows and batch; the loss is the mean
 * over walk lengths (`sum(xents) / len(walks)`).
 */
export function palindromeWalkLoss(transitions: Transitions, { shortestWalk = 2, eps = 1e-20 }: WalkLossOptions = {}): WalkLoss {
  const fn = 'palindromeWalkLoss';
  const { forward, backward } = transitions;
  if (forward.rank !== 4 || !tf.util.arraysEqual(forward.shape, backward.shape) || forward.shape[2] !== forward.shape[3]) {
    throw new ShapeError(
      `${fn}: transitions.forward and .backward expected equal shapes [batch, frames-1, nodes, nodes], got ${formatShape(forward.shape)} and ${formatShape(backward.shape)}`,
    );
  }
  const [b, steps, n] = forward.shape as [number, number, number, number];
  if (!Number.isInteger(shortestWalk) || shortestWalk < 1) {
    throw new RangeError(`${fn}: option 'shortestWalk' expected an integer ≥ 1, got ${shortestWalk}`);
  }
  if (steps < shortestWalk) {
    throw new ShapeError(
      `${fn}: walks of ${shortestWalk}..T−1 steps need at least ${shortestWalk + 1} frames, got ${steps + 1} (transitions ${formatShape(forward.shape)})`,
    );
  }
  const walkLengths: number[] = [];
  const result = tf.tidy(() => {
    const fwd = tf.unstack(forward, 1); // T−1 × [B, N, N]
    const bwd = tf.unstack(backward, 1);
    const targets = tf.range(0, n, 1, 'int32');
    const losses: tf.Tensor[] = [];
    const accs: tf.Tensor[] = [];
    let out = fwd[0]; // P_{1→2}…P_{k→k+1}
    let back = bwd[0]; // P_{k+1→k}…P_{2→1}
    for (let k = 1; k <= steps; k++) {
      if (k > 1) {
        out = matmul(out, fwd[k - 1]);
        back = matmul(bwd[k - 1], back);
      }
      if (k < shortestWalk) continue;
      const walk = matmul(out, back); // [B, N, N]
      const logDiag = batchDiagonal(tf.log(tf.add(walk, eps))); // [B, N]
      losses.push(tf.neg(tf.mean(logDiag)));
      const hit = tf.cast(tf.equal(tf.argMax(walk, -1), targets), 'float32'); // [B, N]
      accs.push(tf.mean(hit));
      walkLengths.push(k);
    }
    const lossPerWalk = tf.stack(losses) as tf.Tensor1D;
    const accuracyPerWalk = tf.stack(accs) as tf.Tensor1D;
    return { loss: tf.mean(lossPerWalk) as tf.Scalar, accuracy: tf.mean(accuracyPerWalk) as tf.Scalar, lossPerWalk, accuracyPerWalk };
  });
  void b;
  return { ...result, walkLengths };
}
