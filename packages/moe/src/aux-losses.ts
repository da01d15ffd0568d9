/**
 * Auxiliary router losses, returned with every MoE layer's output for the caller to add to the
 * model loss.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Load-balancing loss (Switch Transformer, generalised to top-k as in MegaBlocks `moe.py`):
 *
 * ```text
 * L = α · E / (T · k) · Σ_e count_e · mean_t p[t, e]
 * ```
 *
 * `count_e` is the number of token copies routed to expert e (a constant), `p` the full router
 * probabilities. With k = 1 it is Switch's `α·E·Σ_e f_e·P_e`; it equals α when routing is perfectly
 * uniform and grows as load concentrates. The gradient flows through `p` only.
 *
 * @param probs  [T, E] router probabilities
 * @param counts [E] token copies per expert (Σ = T·k)
 * @param k      experts per token
 * @param coef   α (default 0.1)
 */
export function loadBalancingLoss(
  probs: tf.Tensor2D,
  counts: tf.Tensor1D,
  k: number,
  coef = 0.1,
): tf.Scalar {
  return tf.tidy(() => {
    const [T, E] = probs.shape;
    const meanProb = tf.mean(probs, 0); // [E]
    return tf.mul(tf.sum(tf.mul(counts, meanProb)), (coef * E) / (T * k)) as tf.Scalar;
  });
}

/**
 * Router z-loss (ST-MoE): `c_z · mean_t (logsumexp_e logits[t, e])²`, which keeps router logits
 * small for numerical stability.
 *
 * @param logits [T, E]
 * @param coef   c_z (default 1e-3)
 */
export function routerZLoss(logits: tf.Tensor2D, coef = 1e-3): tf.Scalar {
  return tf.tidy(() => tf.mul(tf.mean(tf.square(tf.logSumExp(logits, 1))), coef) as tf.Scalar);
}
