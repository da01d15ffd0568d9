import * as tf from '@tensorflow/tfjs-core';

/** Inputs of {@link ppoLoss} (all `[batch]`). */
export interface PpoLossInput {
  /** log π_θ(a|s) under the policy being trained. */
  newLogProb: tf.Tensor;
  /** log π_old(a|s) recorded in the rollout. */
  oldLogProb: tf.Tensor;
  /** Advantages (normalised here when `normalizeAdvantages`). */
  advantages: tf.Tensor;
  /** V_θ(s). */
  newValues: tf.Tensor;
  /** V_old(s) recorded in the rollout (for the clipped value loss). */
  oldValues: tf.Tensor;
  /** Value targets (GAE returns). */
  returns: tf.Tensor;
  /** Policy entropy at each state. */
  entropy: tf.Tensor;
}

/** Coefficients of {@link ppoLoss} (CleanRL names and defaults). */
export interface PpoLossOptions {
  /** Surrogate clipping ε (default 0.2). */
  clipCoef?: number;
  /** Clip the value loss like the policy (default true). */
  clipVloss?: boolean;
  /** Entropy bonus weight (default 0.01). */
  entCoef?: number;
  /** Value loss weight (default 0.5). */
  vfCoef?: number;
  /** Normalise advantages over this minibatch: (A − mean) / (std + 1e-8), std unbiased as torch's (default true). */
  normalizeAdvantages?: boolean;
}

/** What {@link ppoLoss} returns: the scalar to minimise and diagnostics (all scalars). */
export interface PpoLossOutput {
  loss: tf.Scalar;
  pgLoss: tf.Scalar;
  vLoss: tf.Scalar;
  entropy: tf.Scalar;
  /** Low-variance KL estimate mean((r − 1) − log r) (Schulman's k3, CleanRL's `approx_kl`). */
  approxKl: tf.Scalar;
  /** Fraction of samples whose ratio left [1 − ε, 1 + ε]. */
  clipFrac: tf.Scalar;
}

/**
 * PPO's clipped objective as CleanRL's `ppo.py`:
 *
 * ```text
 * ratio = exp(newLogProb − oldLogProb)
 * pgLoss = mean(max(−A·ratio, −A·clip(ratio, 1 − ε, 1 + ε)))
 * vLoss  = 0.5·mean(max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²))   (clipVloss; else 0.5·mean((V − R)²))
 * loss   = pgLoss − entCoef·mean(entropy) + vfCoef·vLoss
 * ```
 */
export function ppoLoss(input: PpoLossInput, options: PpoLossOptions = {}): PpoLossOutput {
  const eps = options.clipCoef ?? 0.2;
  const entCoef = options.entCoef ?? 0.01;
  const vfCoef = options.vfCoef ?? 0.5;
  const n = input.newLogProb.shape[0] ?? 0;
  for (const key of ['oldLogProb', 'advantages', 'newValues', 'oldValues', 'returns', 'entropy'] as const) {
    const s = input[key].shape;
    if (s.length !== 1 || s[0] !== n) {
      throw new RangeError(`ppoLoss: argument '${key}' expected shape [${n}] (like newLogProb), got [${s.join(', ')}]`);
    }
  }
  return tf.tidy(() => {
    const logRatio = tf.sub(input.newLogProb, input.oldLogProb);
    const ratio = tf.exp(logRatio);
    let adv = input.advantages;
    if (options.normalizeAdvantages ?? true) {
      const { mean, variance } = tf.moments(adv);
      const unbiasedStd = tf.sqrt(tf.mul(variance, n / Math.max(n - 1, 1)));
      adv = tf.div(tf.sub(adv, mean), tf.add(unbiasedStd, 1e-8));
    }
    const pg1 = tf.mul(tf.neg(adv), ratio);
    const pg2 = tf.mul(tf.neg(adv), tf.clipByValue(ratio, 1 - eps, 1 + eps));
    const pgLoss = tf.mean(tf.maximum(pg1, pg2)) as tf.Scalar;
    const vUnclipped = tf.square(tf.sub(input.newValues, input.returns));
    let vLoss: tf.Scalar;
    if (options.clipVloss ?? true) {
      const vClipped = tf.add(input.oldValues, tf.clipByValue(tf.sub(input.newValues, input.oldValues), -eps, eps));
      vLoss = tf.mul(0.5, tf.mean(tf.maximum(vUnclipped, tf.square(tf.sub(vClipped, input.returns))))) as tf.Scalar;
    } else {
      vLoss = tf.mul(0.5, tf.mean(vUnclipped)) as tf.Scalar;
    }
    const entropy = tf.mean(input.entropy) as tf.Scalar;
    const loss = tf.add(tf.sub(pgLoss, tf.mul(entCoef, entropy)), tf.mul(vfCoef, vLoss)) as tf.Scalar;
    const approxKl = tf.mean(tf.sub(tf.sub(ratio, 1), logRatio)) as tf.Scalar;
    const clipFrac = tf.mean(tf.cast(tf.greater(tf.abs(tf.sub(ratio, 1)), eps), 'float32')) as tf.Scalar;
    return { loss, pgLoss, vLoss, entropy, approxKl, clipFrac };
  });
}
