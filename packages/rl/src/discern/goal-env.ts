import type { Rng } from '@brickml/core';
import { Box } from '../spaces/box.js';
import type { Space, SpaceValue } from '../spaces/space.js';
import { BaseEnv, type Env, type ResetResult, type StepResult } from '../envs/env.js';
import type { GoalBuffer } from './goal-buffer.js';

/** A goal-achievement reward computed on the host: `reward(s_T, g)` with observations as floats. */
export type GoalRewardFn = (achieved: Float32Array, goal: Float32Array, rng: Rng) => number;

/** A finished goal episode. */
export interface FinishedEpisode {
  /** The final observation s_T. */
  achieved: Float32Array;
  /** The goal g the episode was commanded to reach. */
  goal: Float32Array;
  /** The episode's observations s_0 … s_T. */
  observations: Float32Array[];
}

/** State shared by the copies of a {@link GoalConditionedEnv} and their trainer. */
export interface GoalSharedState {
  /** Where goals come from; every observation the agent sees is offered to it. */
  buffer: GoalBuffer;
  /** The reward of the final observation of an episode (swapped by the trainer as the embedding learns). */
  reward: GoalRewardFn;
  /** `(s_T, g)` and the observations `s_0 … s_T` of every finished episode, drained by the trainer to train the embedding. */
  finished: FinishedEpisode[];
}

/** An observation as floats: uint8 pixels scaled to [0, 1], float vectors as they are. */
export function toFloatObservation(o: SpaceValue): Float32Array {
  if (o instanceof Uint8Array) return Float32Array.from(o, (v) => v / 255);
  if (o instanceof Float32Array) return o;
  return Float32Array.of(o);
}

/**
 * A goal-conditioned wrapper for DISCERN: each episode has a fixed length `episodeLength` (it may
 * end earlier if the wrapped env ends) and a goal observation, drawn from the shared goal buffer
 * (or given as `reset({ options: { goal } })`). The observation is `[s, g, t/T]` (the wrapped
 * env's observation as floats, the goal, the fraction of the episode elapsed). Every step pays 0
 * except the last, which pays `shared.reward(s_T, g)` and terminates (no bootstrap). Every
 * observation is offered to the buffer; `info.base` is the wrapped env's info.
 */
export class GoalConditionedEnv extends BaseEnv<Float32Array, SpaceValue> {
  override readonly id: string;
  override readonly observationSpace: Box;
  override readonly actionSpace: Space<SpaceValue>;
  /** Entries of one wrapped observation. */
  readonly obsDim: number;
  /** The current episode's goal. */
  goal: Float32Array;
  private current: Float32Array;
  private trajectory: Float32Array[] = [];

  constructor(
    readonly base: Env,
    readonly shared: GoalSharedState,
    readonly episodeLength: number,
  ) {
    super(undefined);
    if (!Number.isInteger(episodeLength) || episodeLength < 1) throw new RangeError(`GoalConditionedEnv: argument 'episodeLength' expected a positive integer, got ${episodeLength}`);
    const s = base.observationSpace;
    if (!(s instanceof Box)) throw new TypeError(`GoalConditionedEnv: the wrapped env's observation space must be a Box, got ${s}`);
    if (s.size !== shared.buffer.dim) throw new RangeError(`GoalConditionedEnv: the goal buffer holds ${shared.buffer.dim}-entry observations but ${base.id}'s have ${s.size}`);
    this.id = `GoalConditioned(${base.id})`;
    this.obsDim = s.size;
    this.actionSpace = base.actionSpace;
    this.observationSpace = new Box(-Infinity, Infinity, [2 * s.size + 1]);
    this.goal = new Float32Array(s.size);
    this.current = new Float32Array(s.size);
  }

  private observe(): Float32Array {
    const o = new Float32Array(2 * this.obsDim + 1);
    o.set(this.current, 0);
    o.set(this.goal, this.obsDim);
    o[2 * this.obsDim] = this.elapsedSteps / this.episodeLength;
    return o;
  }

  protected resetState(options: Record<string, unknown> | undefined): ResetResult<Float32Array> {
    const r = this.base.reset({ seed: this.rng.seed() });
    this.current = toFloatObservation(r.observation);
    const given = options?.goal;
    if (given !== undefined) {
      if (!(given instanceof Float32Array) || given.length !== this.obsDim) {
        throw new RangeError(`${this.id}.reset: option 'goal' expected a Float32Array of ${this.obsDim} values, got ${given instanceof Float32Array ? `${given.length} values` : typeof given}`);
      }
      this.goal = given;
    } else {
      this.goal = this.shared.buffer.size > 0 ? this.shared.buffer.sample(this.rng) : this.current;
    }
    this.shared.buffer.add(this.current, this.rng);
    this.trajectory = [this.current];
    return { observation: this.observe(), info: { base: r.info } };
  }

  protected stepState(action: SpaceValue): Omit<StepResult<Float32Array>, 'truncated'> {
    const r = this.base.step(action);
    this.current = toFloatObservation(r.observation);
    this.shared.buffer.add(this.current, this.rng);
    this.trajectory.push(this.current);
    const last = this.elapsedSteps + 1 >= this.episodeLength || r.terminated || r.truncated;
    let reward = 0;
    if (last) {
      reward = this.shared.reward(this.current, this.goal, this.rng);
      this.shared.finished.push({ achieved: this.current, goal: this.goal, observations: this.trajectory });
    }
    // elapsedSteps is incremented by BaseEnv after this returns; observe the post-step time.
    this.elapsedSteps++;
    const observation = this.observe();
    this.elapsedSteps--;
    return { observation, reward, terminated: last, info: { base: r.info } };
  }
}
