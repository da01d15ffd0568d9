import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, parameter, type Parameter } from '../module/module.js';
import { parseConfig, registerBrick, schemas } from '../module/registry.js';
import { matmul } from '../ops/matmul.js';
import { eigh } from './eigh.js';

const NormalizedCutSchema = z
  .object({
    /** Feature channels C of the input tokens [batch, tokens, C]. */
    dim: schemas.positiveInt,
    /** Segment embedding width k: how many leading eigenvectors are returned. */
    segments: schemas.positiveInt,
    /**
     * Affinity between tokens: `gaussian` W_ij = exp(−‖x_i − x_j‖² / (2σ²)), or `cosine`
     * W_ij = exp((cos(x_i, x_j) − 1) / σ). Both are positive with W_ii = 1.
     */
    affinity: z.enum(['gaussian', 'cosine']).default('gaussian'),
    /** Bandwidth σ of the affinity (initial value when `learnSigma`). */
    sigma: schemas.positive.default(1),
    /** Learn σ (as the parameter `log_sigma`, so it stays positive). */
    learnSigma: z.boolean().default(false),
    /**
     * Skip the leading eigenvector of D^-½ W D^-½ (eigenvalue 1, ∝ D^½·1: it carries token degree,
     * not grouping). When the graph is (nearly) disconnected into g groups, the top g eigenvalues
     * are all ≈ 1 and which eigenvector comes first is arbitrary: then keep it (`false`) and ask
     * for `segments` ≥ g, as Ng, Jordan & Weiss do.
     */
    dropTrivial: z.boolean().default(true),
    /**
     * `normalized`: rows of the eigenvector matrix scaled to unit length (Ng, Jordan & Weiss);
     * `generalized`: D^-½ v, the relaxed Ncut indicators of Shi & Malik (generalised eigenvectors of
     * (D − W) y = λ D y); `raw`: the eigenvectors v themselves.
     */
    embedding: z.enum(['normalized', 'generalized', 'raw']).default('normalized'),
    /** Jacobi sweeps of the eigendecomposition's tensor path (default: `eigh`'s, by size; the cpu/wasm host path runs to convergence). */
    sweeps: schemas.positiveInt.optional(),
  })
  .strict();
/** JSON config of {@link NormalizedCut} (input form: defaults may be omitted). */
export type NormalizedCutConfig = z.input<typeof NormalizedCutSchema>;

/** Output of {@link NormalizedCut.decompose}. */
export interface NormalizedCutOutput {
  /** Soft segment embedding of every token [batch, tokens, segments]. */
  embedding: tf.Tensor;
  /** Eigenvalues of D^-½ W D^-½ that go with the embedding's columns, descending [batch, segments]. */
  values: tf.Tensor;
  /** The affinity W [batch, tokens, tokens]. */
  affinity: tf.Tensor;
}

/**
 * Normalised-cuts layer (spectral grouping; Shi & Malik 2000, as a trainable layer with matrix
 * backpropagation, Ionescu et al. 2015):
 *
 * ```text
 * W = affinity(x)                          x [batch, N, C] → W [batch, N, N]
 * D = diag(W·1),  M = D^-½ W D^-½
 * M = V diag(λ) Vᵀ   (eigh, λ descending here)
 * embedding = V[:, 1 : k+1]  (dropTrivial)  → rows normalised (NJW) | D^-½ V (Shi–Malik) | V
 * ```
 * The leading eigenvectors of M are the relaxed solutions of the normalised cut, so tokens of
 * the same group get similar embeddings. Gradients flow through `eigh` (matrix backpropagation);
 * where eigenvalues coincide (e.g. several disconnected groups all give λ = 1) `eigh`'s safeguard
 * applies, and losses that depend only on the spanned subspace get their exact gradient.
 * Eigenvector signs follow `eigh`'s convention (largest-magnitude entry positive).
 */
export class NormalizedCut extends Module {
  static readonly type = 'NormalizedCut';
  static readonly schema = NormalizedCutSchema;
  readonly config: z.output<typeof NormalizedCutSchema>;
  /** log σ [1], with `learnSigma`. */
  readonly log_sigma: Parameter | null;

  constructor(config: NormalizedCutConfig) {
    super();
    this.config = parseConfig(NormalizedCut, config);
    this.log_sigma = this.config.learnSigma ? parameter(tf.tensor1d([Math.log(this.config.sigma)])) : null;
  }

  /** The affinity W [batch, N, N] of tokens x [batch, N, C]. */
  affinity(x: tf.Tensor): tf.Tensor {
    const c = this.config;
    this.checkShape('x', x, ['batch', 'tokens', c.dim]);
    return tf.tidy(() => {
      const sigma = this.log_sigma ? tf.exp(this.log_sigma) : tf.scalar(c.sigma); // [1] or []
      if (c.affinity === 'cosine') {
        const xn = tf.div(x, tf.add(tf.norm(x, 2, -1, true), 1e-8)); // [batch, N, C]
        const cos = matmul(xn, xn, false, true); // [batch, N, N]
        return tf.exp(tf.div(tf.sub(cos, 1), sigma));
      }
      const sq = tf.sum(tf.square(x), -1); // [batch, N]
      const gram = matmul(x, x, false, true); // [batch, N, N]
      const d2 = tf.relu(tf.sub(tf.add(tf.expandDims(sq, 2), tf.expandDims(sq, 1)), tf.mul(gram, 2)));
      return tf.exp(tf.div(tf.neg(d2), tf.mul(tf.square(sigma), 2)));
    });
  }

  /** x [batch, N, C] → { embedding [batch, N, segments], values [batch, segments], affinity [batch, N, N] } */
  decompose(x: tf.Tensor): NormalizedCutOutput {
    const c = this.config;
    const { batch, tokens } = this.checkShape('x', x, ['batch', 'tokens', c.dim]);
    const skip = c.dropTrivial ? 1 : 0;
    if (c.segments + skip > tokens) {
      throw new Error(
        `NormalizedCut${this.path ? ` '${this.path}'` : ''}: segments ${c.segments}${skip ? ' + 1 (dropTrivial)' : ''} ` +
          `must not exceed the number of tokens, got ${tokens} tokens`,
      );
    }
    return tf.tidy(() => {
      const W = this.affinity(x); // [batch, N, N]
      const dInvSqrt = tf.rsqrt(tf.sum(W, -1)); // [batch, N]
      const M = tf.mul(tf.mul(W, tf.expandDims(dInvSqrt, 2)), tf.expandDims(dInvSqrt, 1)); // D^-½ W D^-½
      const eig = eigh(M, c.sweeps === undefined ? {} : { sweeps: c.sweeps }); // ascending
      // The k eigenvectors after the (dropped) largest, largest first: columns N−1−skip … N−skip−k.
      const pick = new Float32Array(c.segments * tokens);
      for (let i = 0; i < c.segments; i++) pick[i * tokens + tokens - 1 - skip - i] = 1;
      const select = tf.tensor2d(pick, [c.segments, tokens]); // [k, N] one-hot rows
      let v = matmul(eig.vectors, select, false, true); // [batch, N, k]
      const values = matmul(eig.values.reshape([batch, 1, tokens]), select, false, true).reshape([batch, c.segments]);
      if (c.embedding === 'normalized') v = tf.div(v, tf.add(tf.norm(v, 2, -1, true), 1e-8));
      else if (c.embedding === 'generalized') v = tf.mul(v, tf.expandDims(dInvSqrt, 2));
      return { embedding: v, values, affinity: W };
    });
  }

  /** x [batch, N, C] → segment embedding [batch, N, segments] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.decompose(x).embedding);
  }

  override toConfig() {
    return { type: NormalizedCut.type, ...this.config };
  }
}
registerBrick(NormalizedCut);
