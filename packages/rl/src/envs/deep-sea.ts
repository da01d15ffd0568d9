import { Rng } from '@brickml/core';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { BaseEnv, type ResetResult, type StepResult } from './env.js';

/** Options of {@link DeepSea}. */
export interface DeepSeaOptions {
  /** N: the grid is N × N and an episode is N steps (default 10). */
  size?: number;
  /** Cost of a move right, before division by N (bsuite: 0.01, so the optimal return is 0.99). */
  unscaledMoveCost?: number;
  /** Map actions to left/right per cell with a random mask (bsuite: true). False: 1 = right everywhere (debug). */
  randomizeActions?: boolean;
  /** Seed of the action mask (fixed for the env's life; default 0). */
  mappingSeed?: number;
}

/**
 * bsuite's DeepSea (deterministic version): an N × N grid, starting top-left; every step moves one
 * row down and one column left or right (clipped to the grid). Which action means "right" is
 * fixed per cell by a seeded random mask. Moving right costs 0.01/N; pressing right in the last
 * column pays +1, so only the one policy that goes right N times reaches the treasure (return
 * 0.99); everything else earns ≤ 0. The observation is the one-hot N × N grid (all zeros after
 * the last step); the episode terminates after N steps. `info.state` is the cell index
 * `row·N + column` of the new observation (N² at the end), for tabular agents.
 */
export class DeepSea extends BaseEnv<Float32Array, number> {
  override readonly id = 'DeepSea';
  override readonly actionSpace = new Discrete(2);
  override readonly observationSpace: Box;
  readonly size: number;
  readonly moveCost: number;
  /** `actionMapping[row·N + col]`: the action that moves right in that cell. */
  readonly actionMapping: Uint8Array;
  /** Return of the optimal policy (1 − unscaledMoveCost). */
  readonly optimalReturn: number;
  row = 0;
  column = 0;

  constructor(options: DeepSeaOptions = {}) {
    super(undefined);
    const N = (this.size = options.size ?? 10);
    if (!Number.isInteger(N) || N < 1) throw new RangeError(`DeepSea: option 'size' expected a positive integer, got ${options.size}`);
    const cost = options.unscaledMoveCost ?? 0.01;
    if (!(cost >= 0)) throw new RangeError(`DeepSea: option 'unscaledMoveCost' expected a number ≥ 0, got ${cost}`);
    this.moveCost = cost / N;
    this.optimalReturn = 1 - cost;
    this.observationSpace = new Box(0, 1, [N, N]);
    this.actionMapping = new Uint8Array(N * N).fill(1);
    if (options.randomizeActions ?? true) {
      const rng = new Rng(options.mappingSeed ?? 0);
      for (let i = 0; i < N * N; i++) this.actionMapping[i] = rng.float() < 0.5 ? 1 : 0;
    }
  }

  /** Number of non-terminal states (N²); the terminal state has index N². */
  get numStates(): number {
    return this.size * this.size;
  }

  /** Cell index of the current state (N² once the episode is over). */
  get stateIndex(): number {
    return this.row >= this.size ? this.size * this.size : this.row * this.size + this.column;
  }

  private observation(): Float32Array {
    const o = new Float32Array(this.size * this.size);
    if (this.row < this.size) o[this.row * this.size + this.column] = 1;
    return o;
  }

  protected resetState(): ResetResult<Float32Array> {
    this.row = 0;
    this.column = 0;
    return { observation: this.observation(), info: { state: this.stateIndex } };
  }

  protected stepState(action: number): Omit<StepResult<Float32Array>, 'truncated'> {
    const N = this.size;
    const right = action === this.actionMapping[this.row * N + this.column];
    let reward = 0;
    if (this.column === N - 1 && right) reward += 1;
    if (right) {
      this.column = Math.min(this.column + 1, N - 1);
      reward -= this.moveCost;
    } else {
      this.column = Math.max(this.column - 1, 0);
    }
    this.row++;
    return { observation: this.observation(), reward, terminated: this.row === N, info: { state: this.stateIndex } };
  }
}
