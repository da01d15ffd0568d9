import type { Rng } from '@brickml/core';

/**
 * DISCERN's goal buffer: a fixed-capacity store of observations the agent has achieved, filled by
 * reservoir sampling (Vitter's algorithm R), so it holds a uniform sample of everything offered so
 * far; goals and decoys are drawn from it uniformly.
 */
export class GoalBuffer {
  private readonly items: Float32Array[] = [];
  /** Observations offered so far. */
  seen = 0;

  constructor(
    /** Most observations kept. */
    readonly capacity: number,
    /** Entries of one observation. */
    readonly dim: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`GoalBuffer: argument 'capacity' expected a positive integer, got ${capacity}`);
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`GoalBuffer: argument 'dim' expected a positive integer, got ${dim}`);
  }

  get size(): number {
    return this.items.length;
  }

  /** Offers an observation (copied); kept with probability capacity / seen once the buffer is full. */
  add(obs: Float32Array, rng: Rng): void {
    if (obs.length !== this.dim) throw new RangeError(`GoalBuffer.add: argument 'obs' expected ${this.dim} values, got ${obs.length}`);
    this.seen++;
    if (this.items.length < this.capacity) this.items.push(Float32Array.from(obs));
    else {
      const j = Math.floor(rng.float() * this.seen);
      if (j < this.capacity) this.items[j] = Float32Array.from(obs);
    }
  }

  /** One stored observation, uniformly (shared, do not modify). */
  sample(rng: Rng): Float32Array {
    if (this.items.length === 0) throw new Error('GoalBuffer.sample: the buffer is empty; add observations first');
    return this.items[rng.int(0, this.items.length)];
  }

  /** `k` observations drawn uniformly with replacement. */
  sampleMany(k: number, rng: Rng): Float32Array[] {
    return Array.from({ length: k }, () => this.sample(rng));
  }
}

/** One relabelled transition of {@link hindsightRelabel}. */
export interface RelabelledStep {
  /** Index of the step in the episode (the transition s_t → s_{t+1}). */
  t: number;
  /** The new goal: an observation achieved at step `goalIndex` (≥ t + 1). */
  goal: Float32Array;
  goalIndex: number;
  /** Reward of the transition under the new goal: `reward(s_{t+1}, goal)` at the episode's last step, 0 before (DISCERN's end-of-episode reward). */
  reward: number;
}

/**
 * Hindsight goal relabelling (Andrychowicz et al. 2017, as DISCERN uses it): for an episode of
 * observations `s_0 … s_T`, replace the goal by an observation the agent achieved.
 * `'final'`: every step gets goal s_T; `'future'`: step t gets s_j with j uniform in [t + 1, T].
 * Only the last transition is rewarded (fixed-length episodes, reward at the end), by
 * `reward(s_T, goal)`: for `'final'` that is the reward of reaching the goal exactly.
 * The relabelled steps are for learners that can train off-policy (their actions were chosen for
 * the original goal); BrickML's on-policy PPO agent does not consume them.
 */
export function hindsightRelabel(
  observations: readonly Float32Array[],
  options: { strategy?: 'final' | 'future'; rng?: Rng; reward: (achieved: Float32Array, goal: Float32Array) => number },
): RelabelledStep[] {
  const T = observations.length - 1;
  if (T < 1) throw new RangeError(`hindsightRelabel: argument 'observations' expected at least 2 (s_0 and s_1), got ${observations.length}`);
  const strategy = options.strategy ?? 'final';
  if (strategy === 'future' && !options.rng) throw new RangeError(`hindsightRelabel: strategy 'future' expected option 'rng'`);
  const out: RelabelledStep[] = [];
  for (let t = 0; t < T; t++) {
    const goalIndex = strategy === 'final' ? T : (options.rng as Rng).int(t + 1, T + 1);
    const goal = observations[goalIndex];
    out.push({ t, goal, goalIndex, reward: t === T - 1 ? options.reward(observations[T], goal) : 0 });
  }
  return out;
}
