import { BaseEnv, Box, Discrete, type ResetResult, type StepResult } from '../../src/index.js';

/** A corridor of `n` cells seen as a one-hot vector; action 1 moves right, 0 left; reward 1 on reaching the right end. */
export class Corridor extends BaseEnv<Float32Array, number> {
  override readonly id = 'Corridor';
  override readonly actionSpace = new Discrete(2);
  override readonly observationSpace: Box;
  pos = 0;
  constructor(readonly n = 4, maxEpisodeSteps = 12) {
    super(maxEpisodeSteps);
    this.observationSpace = new Box(0, 1, [n]);
  }
  private obs(): Float32Array {
    const o = new Float32Array(this.n);
    o[this.pos] = 1;
    return o;
  }
  protected resetState(): ResetResult<Float32Array> {
    this.pos = 0;
    return { observation: this.obs(), info: {} };
  }
  protected stepState(action: number): Omit<StepResult<Float32Array>, 'truncated'> {
    this.pos = Math.max(0, Math.min(this.n - 1, this.pos + (action === 1 ? 1 : -1)));
    const done = this.pos === this.n - 1;
    return { observation: this.obs(), reward: done ? 1 : 0, terminated: done, info: {} };
  }
}

/** One-step continuous task: observe a target t ~ U(−1, 1), act a ∈ [−2, 2], reward −(a − t)². */
export class ReachTarget extends BaseEnv<Float32Array, Float32Array> {
  override readonly id = 'ReachTarget';
  override readonly actionSpace = new Box(-2, 2, [1]);
  override readonly observationSpace = new Box(-1, 1, [1]);
  target = 0;
  constructor() {
    super(undefined);
  }
  protected resetState(): ResetResult<Float32Array> {
    this.target = 2 * this.rng.float() - 1;
    return { observation: new Float32Array([this.target]), info: {} };
  }
  protected stepState(action: Float32Array): Omit<StepResult<Float32Array>, 'truncated'> {
    return { observation: new Float32Array([this.target]), reward: -((action[0] - this.target) ** 2), terminated: true, info: {} };
  }
}
