/**
 * DDIM (Song et al. 2021) with stochasticity η, in γ notation (docs/design.md, Conventions):
 *
 * ```text
 * σ      = η · √((1 − γ_next)/(1 − γ)) · √(1 − γ/γ_next)
 * x_next = √γ_next · x̂0 + √(1 − γ_next − σ²) · ε̂ + σ · z
 * ```
 * η = 0 is the deterministic DDIM of pix2seq; η = 1 equals DDPM with the small (posterior)
 * variance. Any number of steps; the result is the last step's x̂0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GaussianDiffusion } from '../gaussian-diffusion.js';
import { sampleLoop, type SampleOptions, type SampleResult, type TransitionArgs } from './common.js';

/** Options of {@link ddimSample}. */
export interface DdimOptions extends SampleOptions {
  /** Stochasticity η ≥ 0 (default 0: deterministic). */
  eta?: number;
}

/** σ of a DDIM step. */
export function ddimSigma(gamma: number, gammaNext: number, eta: number): number {
  if (eta === 0) return 0;
  const ratio = Math.max(0, (1 - gammaNext) / Math.max(1 - gamma, 1e-12));
  return eta * Math.sqrt(ratio) * Math.sqrt(Math.max(0, 1 - gamma / gammaNext));
}

/** One DDIM transition (see the module comment). */
export function ddimStep(args: TransitionArgs, eta: number): tf.Tensor {
  const { x0, eps, gamma, gammaNext } = args;
  const sigma = ddimSigma(gamma, gammaNext, eta);
  const dirScale = Math.sqrt(Math.max(0, 1 - gammaNext - sigma * sigma));
  return tf.tidy(() => {
    const mean = tf.add(tf.mul(x0, Math.sqrt(gammaNext)), tf.mul(eps, dirScale));
    return sigma > 0 ? tf.add(mean, tf.mul(args.noise(), sigma)) : mean;
  });
}

/**
 * Samples with DDIM.
 * @example
 * const { samples } = await ddimSample(model, { classes: [0, 1, 2], steps: 25, guidance: 3, seed: 0 });
 */
export async function ddimSample(model: GaussianDiffusion, options: DdimOptions = {}): Promise<SampleResult> {
  const eta = options.eta ?? 0;
  if (!(eta >= 0) || !Number.isFinite(eta)) throw new RangeError(`ddimSample: eta must be a finite number ≥ 0, got ${eta}`);
  return sampleLoop(model, options, (a) => ddimStep(a, eta), 'ddimSample', 25);
}
