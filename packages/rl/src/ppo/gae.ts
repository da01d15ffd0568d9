/** Inputs of {@link computeGae}: time-major arrays of `numSteps × numEnvs` (index `t·numEnvs + e`). */
export interface GaeInput {
  numSteps: number;
  numEnvs: number;
  /** r_t: reward of step t. */
  rewards: ArrayLike<number>;
  /** V(s_t): value of the observation acted on at step t. */
  values: ArrayLike<number>;
  /**
   * V(s_{t+1}): value of the observation that step t led to — for a step that ended an episode,
   * the value of its **final** observation (from `info.finalObservation`), not of the next
   * episode's first one. Ignored where `terminated`.
   */
  nextValues: ArrayLike<number>;
  /** The step ended the MDP: nothing to bootstrap from. */
  terminated: ArrayLike<boolean | number>;
  /** The step hit a time limit: bootstrap from `nextValues`, but the advantage recursion stops there. */
  truncated: ArrayLike<boolean | number>;
  /** Discount γ. */
  gamma: number;
  /** GAE λ. */
  lambda: number;
}

/**
 * Generalised advantage estimation (Schulman et al. 2016) with Gymnasium's terminated/truncated split:
 *
 * ```text
 * δ_t = r_t + γ·(1 − terminated_t)·V(s_{t+1}) − V(s_t)
 * A_t = δ_t + γλ·(1 − done_t)·A_{t+1},   done_t = terminated_t ∨ truncated_t
 * R_t = A_t + V(s_t)                       (the value targets)
 * ```
 *
 * So a truncated step bootstraps from the value of its final observation, a terminated one does
 * not, and neither lets the next episode's advantages leak back. After the last step of the
 * rollout, `nextValues` is the value of the current observation (CleanRL's `next_value`).
 */
export function computeGae(input: GaeInput): { advantages: Float32Array; returns: Float32Array } {
  const { numSteps: T, numEnvs: N, gamma, lambda } = input;
  const size = T * N;
  for (const key of ['rewards', 'values', 'nextValues', 'terminated', 'truncated'] as const) {
    if (input[key]?.length !== size) {
      throw new RangeError(`computeGae: argument '${key}' expected ${size} entries (numSteps ${T} × numEnvs ${N}), got ${input[key]?.length}`);
    }
  }
  if (!(gamma >= 0 && gamma <= 1)) throw new RangeError(`computeGae: argument 'gamma' expected a number in [0, 1], got ${gamma}`);
  if (!(lambda >= 0 && lambda <= 1)) throw new RangeError(`computeGae: argument 'lambda' expected a number in [0, 1], got ${lambda}`);
  const advantages = new Float32Array(size);
  const returns = new Float32Array(size);
  for (let e = 0; e < N; e++) {
    let next = 0;
    for (let t = T - 1; t >= 0; t--) {
      const i = t * N + e;
      const term = input.terminated[i] ? 1 : 0;
      const done = term || input.truncated[i] ? 1 : 0;
      const delta = input.rewards[i] + gamma * (1 - term) * input.nextValues[i] - input.values[i];
      next = delta + gamma * lambda * (1 - done) * next;
      advantages[i] = next;
      returns[i] = next + input.values[i];
    }
  }
  return { advantages, returns };
}
