/**
 * Latent self-conditioning as RIN uses it (pix2seq `self_cond='latent'`, `self_cond_by_masking`):
 *
 * - Training: run the network once on the same noisy input with no previous latents, stop the
 *   gradient of its output latents, and keep them for each example with probability `rate` (0.9
 *   in the released configs; zeros otherwise). The loss is computed on a second pass that receives
 *   these latents. There is no backpropagation through the first pass.
 * - Sampling: the latents of step k are the previous latents of step k + 1 (they start at zeros).
 *
 * BrickML runs the first pass while preparing the batch, outside the gradient tape (see
 * `GaussianDiffusion.prepareBatch` and `diffusionBatches`), so it costs one forward pass. Inside
 * a tape, {@link stopGradient} still cuts the gradient, but tfjs then back-propagates zeros through
 * the first pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@brickml/core';
import type { Denoiser, DenoiserCallOptions } from './denoiser.js';

const stop = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([]);
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as any) as (x: tf.Tensor) => tf.Tensor;

/** Identity whose gradient is zero (tfjs has no `stopGradient`). */
export function stopGradient(x: tf.Tensor): tf.Tensor {
  return stop(x);
}

/**
 * The previous latents for a training pass: one pass of `denoiser` on `input` without previous
 * latents, gradient stopped, and each example's latents kept with probability `rate` (a host draw
 * per example from `rng`, in order), zeros otherwise.
 * @returns `[B, L, D]`
 */
export function selfConditionLatents(
  denoiser: Denoiser,
  input: tf.Tensor,
  options: Omit<DenoiserCallOptions, 'prevLatents' | 'returnReadMaps'>,
  rate: number,
  rng: Rng,
): tf.Tensor {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`selfConditionLatents: rate must be in [0, 1], got ${rate}`);
  const b = input.shape[0];
  const keep = new Float32Array(b);
  for (let i = 0; i < b; i++) keep[i] = rng.float() < rate ? 1 : 0;
  return tf.tidy(() => {
    const out = denoiser.forward(input, { ...options, prevLatents: null });
    if (!out.latents) {
      throw new Error(`selfConditionLatents: the denoiser (${denoiser.typeName}) returned no latents; it cannot self-condition`);
    }
    const mask = tf.tensor3d(keep, [b, 1, 1]);
    return stopGradient(tf.mul(out.latents, mask));
  });
}
