import { Rng } from '@brickml/core';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { BaseEnv, type ResetResult, type StepResult } from '../envs/env.js';

/** Options of {@link MultiArmedBandit}. */
export interface MultiArmedBanditOptions {
  /** Number of arms (default 5). */
  arms?: number;
  /** `bernoulli`: reward 1 with probability p_k; `gaussian`: reward N(μ_k, 1) (default `bernoulli`). */
  rewards?: 'bernoulli' | 'gaussian';
  /** Fixed arm means; default: drawn at every reset from the env's generator (U(0, 1) for Bernoulli, N(0, 1) for Gaussian), a new task per episode as in RL². */
  means?: number[];
  /** Pulls per episode (default 10): the episode is truncated after them. */
  horizon?: number;
}

/**
 * A K-armed bandit as an environment: the observation is a constant `[1]` (there is no state), the
 * action picks an arm, the reward is drawn from that arm. An episode is `horizon` pulls (truncated).
 * With `means` left out, each reset draws new arm means (a new task), which is the RL² setting
 * ("Learning to reinforcement learn", Wang et al. 2016; Duan et al. 2016).
 */
export class MultiArmedBandit extends BaseEnv<Float32Array, number> {
  override readonly id = 'MultiArmedBandit';
  override readonly actionSpace: Discrete;
  override readonly observationSpace = new Box(1, 1, [1]);
  readonly arms: number;
  readonly rewards: 'bernoulli' | 'gaussian';
  /** Arm means of the current episode. */
  means: Float64Array;
  private readonly fixed: number[] | undefined;

  constructor(options: MultiArmedBanditOptions = {}) {
    super(options.horizon ?? 10);
    this.arms = options.arms ?? options.means?.length ?? 5;
    if (!Number.isInteger(this.arms) || this.arms < 1) throw new RangeError(`MultiArmedBandit: option 'arms' expected a positive integer, got ${options.arms}`);
    if (options.means && options.means.length !== this.arms) {
      throw new RangeError(`MultiArmedBandit: option 'means' expected ${this.arms} values (one per arm), got ${options.means.length}`);
    }
    this.rewards = options.rewards ?? 'bernoulli';
    if (this.rewards === 'bernoulli' && options.means?.some((p) => !(p >= 0 && p <= 1))) {
      throw new RangeError(`MultiArmedBandit: option 'means' expected probabilities in [0, 1] for Bernoulli arms, got ${JSON.stringify(options.means)}`);
    }
    this.fixed = options.means;
    this.actionSpace = new Discrete(this.arms);
    this.means = new Float64Array(this.arms);
  }

  /** Mean of the best arm (for regret). */
  get bestMean(): number {
    return Math.max(...this.means);
  }

  protected resetState(): ResetResult<Float32Array> {
    for (let k = 0; k < this.arms; k++) {
      this.means[k] = this.fixed ? this.fixed[k] : this.rewards === 'bernoulli' ? this.rng.float() : this.rng.normal();
    }
    return { observation: new Float32Array([1]), info: { means: Array.from(this.means) } };
  }

  protected stepState(action: number): Omit<StepResult<Float32Array>, 'truncated'> {
    const mu = this.means[action];
    const reward = this.rewards === 'bernoulli' ? (this.rng.float() < mu ? 1 : 0) : mu + this.rng.normal();
    return { observation: new Float32Array([1]), reward, terminated: false, info: { regret: this.bestMean - mu } };
  }
}

/** Options of {@link ContextualBandit}. */
export interface ContextualBanditOptions {
  arms?: number;
  /** Context dimension (default 4). */
  contextDim?: number;
  /** Standard deviation of the reward noise (default 0.1). */
  noise?: number;
  /** Pulls per episode (default 1). */
  horizon?: number;
  /** Seed of the arms' weight vectors (fixed for the env's life; default 0). */
  taskSeed?: number;
}

/**
 * A linear contextual bandit: each step shows a context x ~ N(0, I) and arm k pays θ_kᵀx + noise,
 * with θ_k ~ N(0, I/d) fixed by `taskSeed`. An episode is `horizon` steps (truncated).
 */
export class ContextualBandit extends BaseEnv<Float32Array, number> {
  override readonly id = 'ContextualBandit';
  override readonly actionSpace: Discrete;
  override readonly observationSpace: Box;
  readonly theta: Float64Array;
  readonly arms: number;
  readonly contextDim: number;
  private readonly noise: number;
  context: Float32Array;

  constructor(options: ContextualBanditOptions = {}) {
    super(options.horizon ?? 1);
    this.arms = options.arms ?? 3;
    this.contextDim = options.contextDim ?? 4;
    this.noise = options.noise ?? 0.1;
    if (!Number.isInteger(this.arms) || this.arms < 1) throw new RangeError(`ContextualBandit: option 'arms' expected a positive integer, got ${options.arms}`);
    if (!Number.isInteger(this.contextDim) || this.contextDim < 1) {
      throw new RangeError(`ContextualBandit: option 'contextDim' expected a positive integer, got ${options.contextDim}`);
    }
    this.actionSpace = new Discrete(this.arms);
    this.observationSpace = new Box(-Infinity, Infinity, [this.contextDim]);
    const task = new Rng(options.taskSeed ?? 0);
    this.theta = Float64Array.from(task.normalArray(this.arms * this.contextDim, 0, 1 / Math.sqrt(this.contextDim)));
    this.context = new Float32Array(this.contextDim);
  }

  /** Expected reward of each arm in the current context. */
  expectedRewards(): number[] {
    return Array.from({ length: this.arms }, (_, k) => {
      let s = 0;
      for (let j = 0; j < this.contextDim; j++) s += this.theta[k * this.contextDim + j] * this.context[j];
      return s;
    });
  }

  private draw(): Float32Array {
    this.context = this.rng.normalArray(this.contextDim);
    return Float32Array.from(this.context);
  }

  protected resetState(): ResetResult<Float32Array> {
    return { observation: this.draw(), info: {} };
  }

  protected stepState(action: number): Omit<StepResult<Float32Array>, 'truncated'> {
    const exp = this.expectedRewards();
    const reward = exp[action] + this.noise * this.rng.normal();
    const regret = Math.max(...exp) - exp[action];
    return { observation: this.draw(), reward, terminated: false, info: { regret } };
  }
}
