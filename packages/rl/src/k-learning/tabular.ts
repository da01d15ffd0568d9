import type { Rng } from '@brickml/core';

/**
 * A tabular model for planning: S states, A actions, mean rewards and sparse transitions. A
 * transition row is a list of successors with probabilities plus `uniformMass`, spread evenly over
 * all S states (a Dirichlet prior's share); the probability missing from 1 goes to the terminal
 * state (value 0).
 */
export interface TabularModel {
  numStates: number;
  numActions: number;
  /** `[S·A]` mean reward r̂(s, a). */
  reward: Float64Array;
  /** Per `s·A + a`: successor states and their probabilities. */
  successors: Array<{ states: Int32Array; probs: Float64Array; uniformMass: number }>;
}

/** What {@link softBellman} returns: `values[h][s]` and `q[h][s·A + a]` for h = 0 … H−1 (`values[H]` is 0). */
export interface SoftBellmanResult {
  q: Float64Array[];
  values: Float64Array[];
}

/** τ·log Σ_a exp(x_a/τ), stable; τ = 0 gives max. */
export function softMax(xs: ArrayLike<number>, tau: number, offset = 0, count = xs.length): number {
  let m = -Infinity;
  for (let i = 0; i < count; i++) m = Math.max(m, xs[offset + i]);
  if (tau === 0 || !Number.isFinite(m)) return m;
  let s = 0;
  for (let i = 0; i < count; i++) s += Math.exp((xs[offset + i] - m) / tau);
  return m + tau * Math.log(s);
}

/**
 * Finite-horizon soft Bellman recursion (backward induction over h = H−1 … 0):
 *
 * ```text
 * Q_h(s, a) = r̂(s, a) + σ²(s, a) / (2τ) + Σ_s' P̂(s'|s, a) · V_{h+1}(s')
 * V_h(s)    = τ · log Σ_a exp(Q_h(s, a) / τ)          (max_a Q_h(s, a) when τ = 0)
 * V_H = 0
 * ```
 *
 * With `variance` σ² from the posterior these are K-learning's K-values (O'Donoghue 2018); with
 * no variance, soft-Q values of the mean model ("RL as inference"); with τ = 0 and no variance,
 * plain value iteration.
 */
export function softBellman(model: TabularModel, options: { horizon: number; tau: number; variance?: Float64Array }): SoftBellmanResult {
  const { numStates: S, numActions: A } = model;
  const { horizon: H, tau, variance } = options;
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`softBellman: option 'horizon' expected a positive integer, got ${H}`);
  if (!(tau >= 0)) throw new RangeError(`softBellman: option 'tau' expected a number ≥ 0, got ${tau}`);
  if (variance && variance.length !== S * A) throw new RangeError(`softBellman: option 'variance' expected ${S * A} values (S·A), got ${variance.length}`);
  if (variance && tau === 0) throw new RangeError(`softBellman: the uncertainty bonus σ²/(2τ) needs tau > 0, got tau = 0 with a variance`);
  const values: Float64Array[] = new Array(H + 1);
  const q: Float64Array[] = new Array(H);
  values[H] = new Float64Array(S);
  for (let h = H - 1; h >= 0; h--) {
    const next = values[h + 1];
    let meanNext = 0;
    for (let s = 0; s < S; s++) meanNext += next[s] / S;
    const qh = new Float64Array(S * A);
    const vh = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      for (let a = 0; a < A; a++) {
        const i = s * A + a;
        const row = model.successors[i];
        let ev = row.uniformMass * meanNext;
        for (let k = 0; k < row.states.length; k++) ev += row.probs[k] * next[row.states[k]];
        qh[i] = model.reward[i] + (variance ? variance[i] / (2 * tau) : 0) + ev;
      }
      vh[s] = softMax(qh, tau, s * A, A);
    }
    q[h] = qh;
    values[h] = vh;
  }
  return { q, values };
}

/** Options of {@link TabularPosterior}. */
export interface TabularPosteriorOptions {
  numStates: number;
  numActions: number;
  /** Known reward noise variance σ_r² of the Gaussian reward model (default 1). */
  rewardNoise?: number;
  /** Prior strength κ: the reward prior is N(0, σ_r²/κ) (default 1, i.e. one pseudo-observation of 0). */
  priorCount?: number;
  /** Total Dirichlet prior mass α₀ over next states, spread uniformly (default 1). */
  transitionPrior?: number;
}

/**
 * Count-based posterior of a tabular MDP: a Gaussian posterior over each mean reward (known noise
 * σ_r², prior N(0, σ_r²/κ): mean Σr / (n + κ), variance σ_r² / (n + κ)) and a Dirichlet posterior
 * over each transition row (prior α₀ spread uniformly over the S states, plus observed counts;
 * transitions into the terminal state are counted like any other successor).
 */
export class TabularPosterior {
  readonly numStates: number;
  readonly numActions: number;
  readonly rewardNoise: number;
  readonly priorCount: number;
  readonly transitionPrior: number;
  /** Visits n(s, a). */
  readonly counts: Float64Array;
  readonly rewardSums: Float64Array;
  /** Successor counts per (s, a); the key `numStates` is the terminal state. */
  readonly nextCounts: Array<Map<number, number>>;

  constructor(options: TabularPosteriorOptions) {
    const { numStates: S, numActions: A } = options;
    if (!Number.isInteger(S) || S < 1 || !Number.isInteger(A) || A < 1) {
      throw new RangeError(`TabularPosterior: 'numStates' and 'numActions' expected positive integers, got ${S} and ${A}`);
    }
    this.numStates = S;
    this.numActions = A;
    this.rewardNoise = options.rewardNoise ?? 1;
    this.priorCount = options.priorCount ?? 1;
    this.transitionPrior = options.transitionPrior ?? 1;
    this.counts = new Float64Array(S * A);
    this.rewardSums = new Float64Array(S * A);
    this.nextCounts = Array.from({ length: S * A }, () => new Map());
  }

  /** Records a transition; `next` = `numStates` for the terminal state. */
  observe(state: number, action: number, reward: number, next: number): void {
    const S = this.numStates;
    if (!Number.isInteger(state) || state < 0 || state >= S) throw new RangeError(`TabularPosterior.observe: argument 'state' expected an integer in [0, ${S - 1}], got ${state}`);
    if (!Number.isInteger(action) || action < 0 || action >= this.numActions) {
      throw new RangeError(`TabularPosterior.observe: argument 'action' expected an integer in [0, ${this.numActions - 1}], got ${action}`);
    }
    if (!Number.isInteger(next) || next < 0 || next > S) throw new RangeError(`TabularPosterior.observe: argument 'next' expected an integer in [0, ${S}] (${S} = terminal), got ${next}`);
    const i = state * this.numActions + action;
    this.counts[i]++;
    this.rewardSums[i] += reward;
    const m = this.nextCounts[i];
    m.set(next, (m.get(next) ?? 0) + 1);
  }

  /** Posterior mean reward of each (s, a). */
  meanReward(): Float64Array {
    return this.rewardSums.map((r, i) => r / (this.counts[i] + this.priorCount));
  }

  /** Posterior variance of each mean reward: σ_r² / (n + κ). */
  rewardVariance(): Float64Array {
    return this.counts.map((n) => this.rewardNoise / (n + this.priorCount));
  }

  private row(i: number, weights?: Map<number, number>, priorWeight?: number) {
    const m = this.nextCounts[i];
    const succ = [...m.keys()].filter((s) => s < this.numStates);
    const total = weights ? [...weights.values()].reduce((a, b) => a + b, 0) + (priorWeight as number) : this.counts[i] + this.transitionPrior;
    const w = (s: number) => (weights ? (weights.get(s) as number) : (m.get(s) as number));
    // A sampled row whose Gamma weights all underflowed (tiny shapes) falls back to the uniform prior.
    if (!(total > 0)) return { states: new Int32Array(0), probs: new Float64Array(0), uniformMass: 1 };
    return {
      states: Int32Array.from(succ),
      probs: Float64Array.from(succ, (s) => w(s) / total),
      uniformMass: (weights ? (priorWeight as number) : this.transitionPrior) / total,
    };
  }

  /** The posterior mean model (mean rewards, mean transitions). */
  meanModel(): TabularModel {
    return {
      numStates: this.numStates,
      numActions: this.numActions,
      reward: this.meanReward(),
      successors: this.counts.reduce<TabularModel['successors']>((acc, _n, i) => (acc.push(this.row(i)), acc), []),
    };
  }

  /**
   * One model drawn from the posterior (for Thompson sampling): rewards from their Gaussians, each
   * transition row from its Dirichlet — observed successors get Gamma(count) weights, and the
   * prior's α₀ gets one Gamma(α₀) weight whose mass is spread uniformly (the prior part is lumped
   * rather than drawn per state, which keeps a draw O(visited) instead of O(S²A)).
   */
  sampleModel(rng: Rng): TabularModel {
    const mean = this.meanReward();
    const vr = this.rewardVariance();
    const reward = mean.map((m, i) => m + Math.sqrt(vr[i]) * rng.normal());
    const successors = Array.from({ length: this.numStates * this.numActions }, (_, i) => {
      const weights = new Map<number, number>();
      for (const [s, c] of this.nextCounts[i]) weights.set(s, sampleGamma(c, rng));
      return this.row(i, weights, sampleGamma(this.transitionPrior, rng));
    });
    return { numStates: this.numStates, numActions: this.numActions, reward, successors };
  }
}

/** Gamma(shape, 1) sample (Marsaglia–Tsang; shape < 1 boosted by U^(1/shape)). */
export function sampleGamma(shape: number, rng: Rng): number {
  if (!(shape > 0)) throw new RangeError(`sampleGamma: argument 'shape' expected a number > 0, got ${shape}`);
  if (shape < 1) return sampleGamma(shape + 1, rng) * Math.pow(rng.float() || 1e-300, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.float();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}
