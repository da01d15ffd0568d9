import { Rng, globalRng, type RgbaImage } from '@brickml/core';
import { checkInSpace, type Space, type SpaceValue } from '../spaces/space.js';

/** Extra information an environment returns (Gymnasium's `info` dict). */
export type Info = Record<string, unknown>;

/** Options of {@link Env.reset}. */
export interface ResetOptions {
  /** Re-seeds the environment's generator (as Gymnasium's `reset(seed=…)`); without it the generator continues. */
  seed?: number;
  /** Environment-specific options. */
  options?: Record<string, unknown>;
}

/** What {@link Env.reset} returns. */
export interface ResetResult<O> {
  observation: O;
  info: Info;
}

/** What {@link Env.step} returns (Gymnasium ≥ 0.26 semantics). */
export interface StepResult<O> {
  observation: O;
  reward: number;
  /** The MDP ended (a terminal state): do not bootstrap from the next observation. */
  terminated: boolean;
  /** The episode was cut (time limit): bootstrap from the value of `observation`. */
  truncated: boolean;
  info: Info;
}

/**
 * An environment with Gymnasium's API: `reset({ seed }) → { observation, info }` and
 * `step(action) → { observation, reward, terminated, truncated, info }`.
 */
export interface Env<O extends SpaceValue = SpaceValue, A extends SpaceValue = SpaceValue> {
  /** Registered id, e.g. `CartPole-v1`. */
  readonly id: string;
  readonly observationSpace: Space<O>;
  readonly actionSpace: Space<A>;
  /** Steps after which an episode is truncated (undefined: never). */
  readonly maxEpisodeSteps: number | undefined;
  reset(options?: ResetOptions): ResetResult<O>;
  step(action: A): StepResult<O>;
  /** An RGBA picture of the current state (for recorders), where the env can draw itself. */
  render?(): RgbaImage;
}

/**
 * Base class of BrickML's environments. It owns the seeded generator (`this.rng`, re-seeded by
 * `reset({ seed })`; the first reset without a seed draws one from core's global generator), the
 * step counter and time-limit truncation (Gymnasium's `TimeLimit` wrapper, built in), and checks
 * every action against the action space with a clear error. Subclasses implement `resetState`
 * and `stepState`.
 */
export abstract class BaseEnv<O extends SpaceValue, A extends SpaceValue> implements Env<O, A> {
  abstract readonly id: string;
  abstract readonly observationSpace: Space<O>;
  abstract readonly actionSpace: Space<A>;
  /** The environment's generator (initial states, random dynamics). */
  protected rng: Rng = new Rng(0);
  private seeded = false;
  private needsReset = true;
  /** Steps taken in the current episode. */
  elapsedSteps = 0;

  constructor(readonly maxEpisodeSteps: number | undefined) {
    if (maxEpisodeSteps !== undefined && (!Number.isInteger(maxEpisodeSteps) || maxEpisodeSteps < 1)) {
      throw new RangeError(`${new.target.name}: option 'maxEpisodeSteps' expected a positive integer or undefined, got ${maxEpisodeSteps}`);
    }
  }

  protected abstract resetState(options: Record<string, unknown> | undefined): ResetResult<O>;
  protected abstract stepState(action: A): Omit<StepResult<O>, 'truncated'>;

  reset(options: ResetOptions = {}): ResetResult<O> {
    if (options.seed !== undefined) {
      if (!Number.isFinite(options.seed)) throw new RangeError(`${this.id}.reset: option 'seed' expected a finite number, got ${options.seed}`);
      this.rng = new Rng(options.seed);
      this.seeded = true;
    } else if (!this.seeded) {
      this.rng = new Rng(globalRng().seed());
      this.seeded = true;
    }
    this.elapsedSteps = 0;
    this.needsReset = false;
    return this.resetState(options.options);
  }

  step(action: A): StepResult<O> {
    if (this.needsReset) {
      throw new Error(`${this.id}.step: the episode has ended (or never started); call reset() before step()`);
    }
    checkInSpace(this.actionSpace, action, `${this.id}.step`, 'action');
    const r = this.stepState(action);
    this.elapsedSteps++;
    const truncated = !r.terminated && this.maxEpisodeSteps !== undefined && this.elapsedSteps >= this.maxEpisodeSteps;
    if (r.terminated || truncated) this.needsReset = true;
    return { ...r, truncated };
  }
}
