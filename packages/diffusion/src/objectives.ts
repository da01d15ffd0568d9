/**
 * Prediction targets of a diffusion network and the conversions between them (pix2seq
 * `diffusion_utils.py`), for the forward process `x_t = √γ·x0 + √(1−γ)·ε`:
 *
 * ```text
 * eps: network predicts ε;  x0 = (x_t − √(1−γ)·ε) / √γ
 * x0:  network predicts x0; ε  = (x_t − √γ·x0) / √(1−γ)
 * v:   network predicts v = √γ·ε − √(1−γ)·x0;  x0 = √γ·x_t − √(1−γ)·v,  ε = √(1−γ)·x_t + √γ·v
 * ```
 * γ is a per-example tensor `[B]` (broadcast over the other axes) or a number.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What the network predicts. */
export type Objective = 'eps' | 'x0' | 'v';
/** The objectives, in documentation order. */
export const OBJECTIVES: readonly Objective[] = ['eps', 'x0', 'v'];

/** Smallest 1 − γ used in a denominator (γ = 1 exactly happens for `linear` at t = 0). */
const MIN_NOISE_VAR = 1e-12;

/** γ as a tensor that broadcasts against a tensor of rank `rank` (`[B]` → `[B, 1, …, 1]`). */
export function perExample(g: tf.Tensor | number, rank: number): tf.Tensor {
  if (typeof g === 'number') return tf.scalar(g);
  if (g.rank !== 1) throw new Error(`perExample: γ must have shape [B], got [${g.shape.join(', ')}]`);
  return tf.reshape(g, [g.shape[0], ...Array(rank - 1).fill(1)]);
}

function roots(g: tf.Tensor | number, rank: number): { sg: tf.Tensor; sn: tf.Tensor } {
  const gb = perExample(g, rank);
  return { sg: tf.sqrt(gb), sn: tf.sqrt(tf.maximum(tf.sub(1, gb), MIN_NOISE_VAR)) };
}

/** The forward process: `x_t = √γ·x0 + √(1−γ)·ε`. */
export function qSample(x0: tf.Tensor, eps: tf.Tensor, g: tf.Tensor | number): tf.Tensor {
  return tf.tidy(() => {
    const gb = perExample(g, x0.rank);
    return tf.add(tf.mul(tf.sqrt(gb), x0), tf.mul(tf.sqrt(tf.sub(1, gb)), eps));
  });
}

/** The regression target of an objective for a clean `x0` and its noise `ε`. */
export function objectiveTarget(objective: Objective, x0: tf.Tensor, eps: tf.Tensor, g: tf.Tensor | number): tf.Tensor {
  switch (objective) {
    case 'eps':
      return tf.clone(eps);
    case 'x0':
      return tf.clone(x0);
    case 'v':
      return tf.tidy(() => {
        const gb = perExample(g, x0.rank);
        return tf.sub(tf.mul(tf.sqrt(gb), eps), tf.mul(tf.sqrt(tf.sub(1, gb)), x0));
      });
  }
}

/** x0 implied by a prediction of `objective` at `x_t` and γ. */
export function predictionToX0(objective: Objective, pred: tf.Tensor, xt: tf.Tensor, g: tf.Tensor | number): tf.Tensor {
  return tf.tidy(() => {
    const { sg, sn } = roots(g, xt.rank);
    switch (objective) {
      case 'eps':
        return tf.div(tf.sub(xt, tf.mul(sn, pred)), sg);
      case 'x0':
        return tf.clone(pred);
      case 'v':
        return tf.sub(tf.mul(sg, xt), tf.mul(sn, pred));
    }
  });
}

/** ε implied by a prediction of `objective` at `x_t` and γ. */
export function predictionToEps(objective: Objective, pred: tf.Tensor, xt: tf.Tensor, g: tf.Tensor | number): tf.Tensor {
  return tf.tidy(() => {
    const { sg, sn } = roots(g, xt.rank);
    switch (objective) {
      case 'eps':
        return tf.clone(pred);
      case 'x0':
        return tf.div(tf.sub(xt, tf.mul(sg, pred)), sn);
      case 'v':
        return tf.add(tf.mul(sn, xt), tf.mul(sg, pred));
    }
  });
}

/** ε implied by an x0 estimate: `(x_t − √γ·x0) / √(1−γ)` (used after clipping x0). */
export function epsFromX0(x0: tf.Tensor, xt: tf.Tensor, g: tf.Tensor | number): tf.Tensor {
  return predictionToEps('x0', x0, xt, g);
}

/** x0 implied by an ε estimate: `(x_t − √(1−γ)·ε) / √γ`. */
export function x0FromEps(eps: tf.Tensor, xt: tf.Tensor, g: tf.Tensor | number): tf.Tensor {
  return predictionToX0('eps', eps, xt, g);
}
