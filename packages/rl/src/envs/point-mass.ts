import type { RgbaImage } from '@brickml/core';
import { Box, imageBox } from '../spaces/box.js';
import { BaseEnv, type ResetResult, type StepResult } from './env.js';
import { canvas, fillCircle } from './raster.js';

/** Options of {@link PointMass}. */
export interface PointMassOptions {
  /** Integration step (default 0.1). */
  dt?: number;
  /** Fraction of velocity lost per step (default 0.1). */
  damping?: number;
  /** Distance to the goal that counts as reaching it (default 0.1). */
  goalRadius?: number;
  /** A fixed goal `[x, y]` in [−1, 1]² (a hand-specified task); default: drawn uniformly at each reset. */
  goal?: readonly [number, number];
  /** A fixed start `[x, y]`; default: drawn uniformly at each reset. */
  start?: readonly [number, number];
  /** `symbolic` (default): `[x, y, vx, vy, gx, gy]` float32; `pixels`: a `size × size × 3` uint8 image. */
  observation?: 'symbolic' | 'pixels';
  /** Side of the pixel observation and of `render()` (default 32). */
  size?: number;
  /** Time limit (default 100). */
  maxEpisodeSteps?: number;
}

const COLORS = { floor: [245, 245, 245], goal: [40, 170, 70], agent: [220, 40, 40] } as const;

/**
 * A 2-D point mass in the arena [−1, 1]² reaching a goal (the seeds' pixel-reaching task). The
 * action is a force `a ∈ [−1, 1]²`; one step of semi-implicit Euler with damping:
 * `v ← (1 − damping)·v + dt·a`, `p ← p + dt·v`, then `p` is clipped to the arena and the velocity
 * component into a wall is zeroed. Reaching within `goalRadius` of the goal pays 1 and terminates;
 * other steps pay 0. `info.position` is `[x, y]` after each step.
 */
export class PointMass extends BaseEnv<Float32Array | Uint8Array, Float32Array> {
  override readonly id = 'PointMass';
  override readonly actionSpace = new Box(-1, 1, [2]);
  override readonly observationSpace: Box<'float32'> | Box<'uint8'>;
  readonly dt: number;
  readonly damping: number;
  readonly goalRadius: number;
  readonly size: number;
  readonly mode: 'symbolic' | 'pixels';
  private readonly options: PointMassOptions;
  /** Position [x, y] (float64). */
  position: [number, number] = [0, 0];
  /** Velocity [vx, vy]. */
  velocity: [number, number] = [0, 0];
  goal: [number, number] = [0, 0];

  constructor(options: PointMassOptions = {}) {
    super(options.maxEpisodeSteps ?? 100);
    this.options = options;
    this.dt = options.dt ?? 0.1;
    this.damping = options.damping ?? 0.1;
    this.goalRadius = options.goalRadius ?? 0.1;
    this.size = options.size ?? 32;
    this.mode = options.observation ?? 'symbolic';
    if (!(this.dt > 0)) throw new RangeError(`PointMass: option 'dt' expected a positive number, got ${this.dt}`);
    if (!(this.damping >= 0 && this.damping <= 1)) throw new RangeError(`PointMass: option 'damping' expected a number in [0, 1], got ${this.damping}`);
    if (!(this.goalRadius > 0)) throw new RangeError(`PointMass: option 'goalRadius' expected a positive number, got ${this.goalRadius}`);
    if (!Number.isInteger(this.size) || this.size < 4) throw new RangeError(`PointMass: option 'size' expected an integer ≥ 4, got ${this.size}`);
    if (this.mode !== 'symbolic' && this.mode !== 'pixels') throw new RangeError(`PointMass: option 'observation' expected 'symbolic' or 'pixels', got ${String(this.mode)}`);
    for (const k of ['goal', 'start'] as const) {
      const p = options[k];
      if (p !== undefined && !(Array.isArray(p) && p.length === 2 && p.every((v) => Number.isFinite(v) && v >= -1 && v <= 1))) {
        throw new RangeError(`PointMass: option '${k}' expected [x, y] within [−1, 1]², got ${JSON.stringify(p)}`);
      }
    }
    const symbolic: Box<'float32'> = new Box([-1, -1, -Infinity, -Infinity, -1, -1], [1, 1, Infinity, Infinity, 1, 1], [6]);
    const pixels: Box<'uint8'> = imageBox(this.size, this.size, 3);
    this.observationSpace = this.mode === 'pixels' ? pixels : symbolic;
  }

  private observe(): Float32Array | Uint8Array {
    if (this.mode === 'symbolic') return Float32Array.from([...this.position, ...this.velocity, ...this.goal]);
    const img = this.render();
    const out = new Uint8Array(this.size * this.size * 3);
    for (let i = 0, j = 0; i < img.rgba.length; i += 4) {
      out[j++] = img.rgba[i];
      out[j++] = img.rgba[i + 1];
      out[j++] = img.rgba[i + 2];
    }
    return out;
  }

  private distance(): number {
    return Math.hypot(this.position[0] - this.goal[0], this.position[1] - this.goal[1]);
  }

  protected resetState(): ResetResult<Float32Array | Uint8Array> {
    const u = () => 2 * this.rng.float() - 1;
    this.goal = this.options.goal ? [this.options.goal[0], this.options.goal[1]] : [u(), u()];
    if (this.options.start) this.position = [this.options.start[0], this.options.start[1]];
    else {
      do this.position = [u(), u()];
      while (this.distance() < this.goalRadius);
    }
    this.velocity = [0, 0];
    return { observation: this.observe(), info: { position: [...this.position] } };
  }

  protected stepState(action: Float32Array): Omit<StepResult<Float32Array | Uint8Array>, 'truncated'> {
    for (let i = 0; i < 2; i++) {
      this.velocity[i] = (1 - this.damping) * this.velocity[i] + this.dt * action[i];
      let p = this.position[i] + this.dt * this.velocity[i];
      if (p > 1 || p < -1) {
        p = Math.max(-1, Math.min(1, p));
        this.velocity[i] = 0;
      }
      this.position[i] = p;
    }
    const reached = this.distance() < this.goalRadius;
    return { observation: this.observe(), reward: reached ? 1 : 0, terminated: reached, info: { position: [...this.position] } };
  }

  /** The arena as an RGBA picture: the goal disc (radius `goalRadius`) and the point. */
  render(): RgbaImage {
    const s = this.size;
    const img = canvas(s, s, COLORS.floor);
    const px = (v: number) => ((v + 1) / 2) * s;
    fillCircle(img, px(this.goal[0]), px(-this.goal[1]), Math.max(1, (this.goalRadius / 2) * s), COLORS.goal);
    fillCircle(img, px(this.position[0]), px(-this.position[1]), Math.max(1, s / 24), COLORS.agent);
    return img;
  }
}
