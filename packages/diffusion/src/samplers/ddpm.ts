/**
 * DDPM ancestral sampling (Ho et al. 2020) in γ notation, as pix2seq's `ddpm_step`:
 *
 * ```text
 * α      = γ / γ_next
 * mean   = (x_t − (1 − α)/√(1 − γ) · ε̂) / √α
 * var    = 1 − α                              ('large', pix2seq's default)
 *        | (1 − γ_next)/(1 − γ) · (1 − α)     ('small', the posterior variance)
 * x_next = mean + √var · z
 * ```
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GaussianDiffusion } from '../gaussian-diffusion.js';
import { sampleLoop, type SampleOptions, type SampleResult, type TransitionArgs } from './common.js';

/** Variance choice of {@link ddpmSample}. */
export type DdpmVariance = 'large' | 'small';

/** Options of {@link ddpmSample}. */
export interface DdpmOptions extends SampleOptions {
  /** `large` (1 − α, default) or `small` (posterior variance). */
  variance?: DdpmVariance;
}

/** One DDPM transition (see the module comment). */
export function ddpmStep(args: TransitionArgs, variance: DdpmVariance): tf.Tensor {
  const { xt, eps, gamma, gammaNext } = args;
  const alpha = gamma / gammaNext;
  const v = variance === 'large' ? 1 - alpha : ((1 - gammaNext) / Math.max(1 - gamma, 1e-12)) * (1 - alpha);
  const sd = Math.sqrt(Math.max(0, v));
  return tf.tidy(() => {
    const mean = tf.div(tf.sub(xt, tf.mul(eps, (1 - alpha) / Math.sqrt(Math.max(1 - gamma, 1e-12)))), Math.sqrt(alpha));
    return sd > 0 ? tf.add(mean, tf.mul(args.noise(), sd)) : mean;
  });
}

/** Samples with DDPM (default 100 steps, large variance). */
export async function ddpmSample(model: GaussianDiffusion, options: DdpmOptions = {}): Promise<SampleResult> {
  const variance = options.variance ?? 'large';
  if (variance !== 'large' && variance !== 'small') throw new RangeError(`ddpmSample: variance must be 'large' or 'small', got ${String(variance)}`);
  return sampleLoop(model, options, (a) => ddpmStep(a, variance), 'ddpmSample', 100);
}
