import type { Env, Info } from '../envs/env.js';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { describe, type SpaceValue } from '../spaces/space.js';

/** Statistics of a finished episode (Gymnasium's `RecordEpisodeStatistics`: `r` return, `l` length). */
export interface EpisodeStats {
  r: number;
  l: number;
}

/** `info` of a {@link SyncVectorEnv} step: per-env entries (null where that env did not end this step). */
export interface VectorInfo {
  /** The last observation of each episode that ended at this step (before the automatic reset). */
  finalObservation: Array<SpaceValue | null>;
  /** The `info` of each episode's last step. */
  finalInfo: Array<Info | null>;
  /** Return and length of each episode that ended at this step. */
  episode: Array<EpisodeStats | null>;
  /** The per-env infos of this step (for an env that reset: the info of the reset). */
  envInfos: Info[];
}

/** What {@link SyncVectorEnv.step} returns: batched arrays, env-major. */
export interface VectorStepResult {
  /** `[numEnvs × obsSize]` observations (after any automatic reset). */
  observations: Float32Array;
  rewards: Float64Array;
  terminated: boolean[];
  truncated: boolean[];
  info: VectorInfo;
}

/** Converts an element of a Box or Discrete space into its float entries. */
function writeFloat(out: Float32Array, offset: number, value: SpaceValue): void {
  if (typeof value === 'number') out[offset] = value;
  else out.set(value, offset);
}

/**
 * N copies of an environment stepped together (Gymnasium's `SyncVectorEnv`), in **same-step
 * autoreset** mode (Gymnasium's `AutoresetMode.SAME_STEP`, the 0.29 behaviour CleanRL's PPO is
 * written for): when a copy's episode ends at a step, that copy is reset in the same call; the
 * returned observation is the first of the new episode, and the episode's last observation and
 * info are in `info.finalObservation[i]` / `info.finalInfo[i]`. `reward`, `terminated` and
 * `truncated` belong to the step that ended the episode.
 *
 * Observations are batched into one float32 array (a Discrete observation becomes its index), and
 * actions are given as one array: `numEnvs` integers for Discrete action spaces, or
 * `numEnvs × actionSize` floats for Box action spaces.
 */
export class SyncVectorEnv {
  readonly envs: Env[];
  readonly numEnvs: number;
  /** Entries of one observation. */
  readonly obsSize: number;
  /** Entries of one action (1 for Discrete). */
  readonly actionSize: number;
  private readonly returns: Float64Array;
  private readonly lengths: Int32Array;
  private started = false;

  constructor(envFns: Array<() => Env>) {
    if (!Array.isArray(envFns) || envFns.length === 0) {
      throw new RangeError(`SyncVectorEnv: argument 'envFns' expected a non-empty array of env factories, got ${describe(envFns)}`);
    }
    this.envs = envFns.map((f) => f());
    this.numEnvs = this.envs.length;
    const first = this.envs[0];
    const obs = first.observationSpace;
    this.obsSize = obs instanceof Box ? obs.size : 1;
    const act = first.actionSpace;
    this.actionSize = act instanceof Box ? act.size : 1;
    for (const [i, e] of this.envs.entries()) {
      if (e.observationSpace.toString() !== obs.toString() || e.actionSpace.toString() !== act.toString()) {
        throw new RangeError(
          `SyncVectorEnv: env ${i} has spaces ${e.observationSpace} / ${e.actionSpace}, expected those of env 0 (${obs} / ${act})`,
        );
      }
    }
    this.returns = new Float64Array(this.numEnvs);
    this.lengths = new Int32Array(this.numEnvs);
  }

  get observationSpace() {
    return this.envs[0].observationSpace;
  }

  get actionSpace() {
    return this.envs[0].actionSpace;
  }

  /** Resets every copy; with a seed, copy i gets `seed + i` (as Gymnasium). */
  reset(options: { seed?: number } = {}): { observations: Float32Array; infos: Info[] } {
    const out = new Float32Array(this.numEnvs * this.obsSize);
    const infos: Info[] = [];
    this.envs.forEach((e, i) => {
      const r = e.reset(options.seed === undefined ? {} : { seed: options.seed + i });
      writeFloat(out, i * this.obsSize, r.observation);
      infos.push(r.info);
    });
    this.returns.fill(0);
    this.lengths.fill(0);
    this.started = true;
    return { observations: out, infos };
  }

  /** Steps every copy with its action; copies whose episode ended are reset at once (see the class doc). */
  step(actions: ArrayLike<number>): VectorStepResult {
    if (!this.started) throw new Error('SyncVectorEnv.step: call reset() before step()');
    const expected = this.numEnvs * this.actionSize;
    if (actions === null || typeof actions !== 'object' || typeof (actions as ArrayLike<number>).length !== 'number' || actions.length !== expected) {
      throw new RangeError(
        `SyncVectorEnv.step: argument 'actions' expected an array of ${expected} numbers (${this.numEnvs} envs × ${this.actionSize}), got ${describe(actions)}`,
      );
    }
    const observations = new Float32Array(this.numEnvs * this.obsSize);
    const rewards = new Float64Array(this.numEnvs);
    const terminated: boolean[] = [];
    const truncated: boolean[] = [];
    const info: VectorInfo = { finalObservation: [], finalInfo: [], episode: [], envInfos: [] };
    const discrete = this.actionSpace instanceof Discrete;
    this.envs.forEach((e, i) => {
      const a = discrete ? actions[i] : Float32Array.from({ length: this.actionSize }, (_, k) => actions[i * this.actionSize + k]);
      let r;
      try {
        r = e.step(a as never);
      } catch (err) {
        throw new RangeError(`SyncVectorEnv.step (env ${i}): ${(err as Error).message}`, { cause: err });
      }
      rewards[i] = r.reward;
      terminated.push(r.terminated);
      truncated.push(r.truncated);
      this.returns[i] += r.reward;
      this.lengths[i]++;
      if (r.terminated || r.truncated) {
        info.finalObservation.push(r.observation);
        info.finalInfo.push(r.info);
        info.episode.push({ r: this.returns[i], l: this.lengths[i] });
        this.returns[i] = 0;
        this.lengths[i] = 0;
        const reset = e.reset();
        writeFloat(observations, i * this.obsSize, reset.observation);
        info.envInfos.push(reset.info);
      } else {
        info.finalObservation.push(null);
        info.finalInfo.push(null);
        info.episode.push(null);
        writeFloat(observations, i * this.obsSize, r.observation);
        info.envInfos.push(r.info);
      }
    });
    return { observations, rewards, terminated, truncated, info };
  }
}
