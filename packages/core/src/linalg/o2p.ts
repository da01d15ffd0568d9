import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module } from '../module/module.js';
import { parseConfig, registerBrick, schemas } from '../module/registry.js';
import { matmul } from '../ops/matmul.js';
import { checkSquare } from './eigh.js';
import { spdLog, spdSqrt } from './spd.js';

/**
 * Upper triangle (diagonal included) of square matrices, row by row: M [..., n, n] →
 * [..., n(n+1)/2], entry order (0,0), (0,1), …, (0,n−1), (1,1), … Off-diagonal entries are
 * multiplied by `offDiagonalScale` (√2 keeps the Euclidean norm of a symmetric matrix:
 * ‖vec‖₂ = ‖M‖_F). Forward and backward are each one gather with a constant index (no scatter,
 * so it runs on backends without `UnsortedSegmentSum`, e.g. wasm).
 */
export function triuVector(m: tf.Tensor, offDiagonalScale = 1): tf.Tensor {
  const n = checkSquare('triuVector', 'm', m);
  const count = (n * (n + 1)) / 2;
  const lead = m.shape.slice(0, -2);
  const pick = new Int32Array(count); // flat index of each kept entry
  const unpick = new Int32Array(n * n).fill(count); // where each entry came from (count: a zero)
  const weights = new Float32Array(count);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      pick[t] = i * n + j;
      unpick[i * n + j] = t;
      weights[t] = i === j ? 1 : offDiagonalScale;
      t++;
    }
  }
  return tf.tidy(() => {
    // Index tensors are made where they are used: the gradient runs after this tidy has ended.
    const select = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.gather(x, tf.tensor1d(pick, 'int32'), 1), // [b, count]
        gradFunc: (dy: tf.Tensor) => tf.gather(tf.concat([dy, tf.zeros([dy.shape[0] as number, 1])], 1), tf.tensor1d(unpick, 'int32'), 1), // [b, n·n]
      };
    }) as any) as (x: tf.Tensor) => tf.Tensor;
    const vec = select(tf.reshape(m, [-1, n * n])); // [b, count]
    const scaled = offDiagonalScale === 1 ? vec : tf.mul(vec, tf.tensor1d(weights));
    return tf.reshape(scaled, [...lead, count]);
  });
}

const O2PSchema = z
  .object({
    /** Feature channels C of the input tokens [batch, tokens, C]. */
    channels: schemas.positiveInt,
    /**
     * Normalisation of the covariance Σ + εI: `log` (log-Euclidean, Carreira et al.'s O2P; Ionescu
     * et al.'s DeepO2P), `sqrt` (matrix square root, "power normalisation"), or `none`.
     */
    normalization: z.enum(['log', 'sqrt', 'none']).default('log'),
    /** ε of the regulariser εI added to the covariance (keeps it positive-definite). */
    eps: schemas.positive.default(1e-3),
    /** Subtract the mean over tokens (covariance); false pools the raw second moment XᵀX / N. */
    center: z.boolean().default(true),
    /** `triu`: the upper triangle [batch, C(C+1)/2]; `matrix`: the full [batch, C, C]. */
    output: z.enum(['triu', 'matrix']).default('triu'),
    /** Multiply off-diagonal entries of the `triu` output by √2 (so ‖vector‖ = ‖matrix‖_F). */
    scaleOffDiagonal: z.boolean().default(true),
    /** Jacobi sweeps of the eigendecomposition's tensor path (default: `eigh`'s, by size; the cpu/wasm host path runs to convergence). */
    sweeps: schemas.positiveInt.optional(),
  })
  .strict();
/** JSON config of {@link O2PPooling} (input form: defaults may be omitted). */
export type O2PPoolingConfig = z.input<typeof O2PSchema>;

/**
 * Second-order (covariance) pooling, O2P (Carreira et al. 2012; as a trainable layer with matrix
 * backpropagation, Ionescu et al. 2015):
 *
 * ```text
 * Σ = (X − μ)ᵀ (X − μ) / N + εI         X [batch, N, C] → Σ [batch, C, C]
 * Y = log(Σ)  |  Σ^½  |  Σ               (normalization)
 * out = triu(Y) [batch, C(C+1)/2]  or  Y [batch, C, C]
 * ```
 * No parameters. The matrix functions are `spdLog` / `spdSqrt`, whose gradients are exact at
 * repeated eigenvalues (see `symFunction`).
 */
export class O2PPooling extends Module {
  static readonly type = 'O2PPooling';
  static readonly schema = O2PSchema;
  readonly config: z.output<typeof O2PSchema>;

  constructor(config: O2PPoolingConfig) {
    super();
    this.config = parseConfig(O2PPooling, config);
  }

  /** Width of the output vector (`triu`) or C·C (`matrix`, as [C, C]). */
  get outFeatures(): number {
    const C = this.config.channels;
    return this.config.output === 'triu' ? (C * (C + 1)) / 2 : C * C;
  }

  /** The regularised covariance Σ + εI [batch, C, C] of x [batch, N, C] (before normalisation). */
  covariance(x: tf.Tensor): tf.Tensor {
    const c = this.config;
    const { tokens } = this.checkShape('x', x, ['batch', 'tokens', c.channels]);
    return tf.tidy(() => {
      const xc = c.center ? tf.sub(x, tf.mean(x, 1, true)) : x; // [batch, N, C]
      const cov = tf.div(matmul(xc, xc, true), tokens); // [batch, C, C]
      return tf.add(cov, tf.mul(tf.eye(c.channels), c.eps));
    });
  }

  /** x [batch, tokens, C] → [batch, C(C+1)/2] (`triu`) or [batch, C, C] (`matrix`) */
  forward(x: tf.Tensor): tf.Tensor {
    const c = this.config;
    return tf.tidy(() => {
      const cov = this.covariance(x); // [batch, C, C]
      const opts = c.sweeps === undefined ? {} : { sweeps: c.sweeps };
      const y = c.normalization === 'log' ? spdLog(cov, opts) : c.normalization === 'sqrt' ? spdSqrt(cov, opts) : cov;
      return c.output === 'triu' ? triuVector(y, c.scaleOffDiagonal ? Math.SQRT2 : 1) : y;
    });
  }

  override toConfig() {
    return { type: O2PPooling.type, ...this.config };
  }
}
registerBrick(O2PPooling);
