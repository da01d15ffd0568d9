import type { RgbaImage } from '@brickml/core';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { BaseEnv, type ResetResult, type StepResult } from './env.js';
import { canvas, fillCircle, fillConvex, fillRect } from './raster.js';

/** Options of {@link CartPole}. */
export interface CartPoleOptions {
  /** Time limit (Gymnasium's registration of CartPole-v1: 500; v0: 200). */
  maxEpisodeSteps?: number;
  /** Width of rendered frames in pixels (default 150; Gymnasium draws 600×400, this keeps its 3:2 aspect). */
  renderWidth?: number;
}

/**
 * CartPole-v1 with Gymnasium's classic-control dynamics exactly (`gymnasium/envs/classic_control/cartpole.py`):
 * gravity 9.8, cart mass 1.0, pole mass 0.1, pole half-length 0.5, force ±10, explicit Euler with
 * τ = 0.02; terminated when |x| > 2.4 or |θ| > 12°; reward 1 per step, including the step that
 * terminates; truncated at 500 steps; initial state U(−0.05, 0.05)⁴ from the env's generator. The
 * state is kept in float64 like Gymnasium's and observed as float32 `[x, ẋ, θ, θ̇]`.
 * Actions: 0 pushes left, 1 pushes right.
 */
export class CartPole extends BaseEnv<Float32Array, number> {
  override readonly id = 'CartPole-v1';
  static readonly gravity = 9.8;
  static readonly massCart = 1.0;
  static readonly massPole = 0.1;
  static readonly totalMass = 1.1;
  /** Half the pole's length (Gymnasium's `length`). */
  static readonly halfLength = 0.5;
  static readonly poleMassLength = 0.05;
  static readonly forceMag = 10.0;
  static readonly tau = 0.02;
  static readonly thetaThreshold = (12 * 2 * Math.PI) / 360;
  static readonly xThreshold = 2.4;

  override readonly actionSpace = new Discrete(2);
  override readonly observationSpace = new Box(
    [-CartPole.xThreshold * 2, -3.4028234663852886e38, -CartPole.thetaThreshold * 2, -3.4028234663852886e38],
    [CartPole.xThreshold * 2, 3.4028234663852886e38, CartPole.thetaThreshold * 2, 3.4028234663852886e38],
    [4],
  );
  /** Current state `[x, ẋ, θ, θ̇]` in float64. */
  state = new Float64Array(4);
  private readonly renderWidth: number;

  constructor(options: CartPoleOptions = {}) {
    super(options.maxEpisodeSteps ?? 500);
    this.renderWidth = options.renderWidth ?? 150;
    if (!Number.isInteger(this.renderWidth) || this.renderWidth < 12) {
      throw new RangeError(`CartPole: option 'renderWidth' expected an integer ≥ 12, got ${options.renderWidth}`);
    }
  }

  protected resetState(): ResetResult<Float32Array> {
    for (let i = 0; i < 4; i++) this.state[i] = -0.05 + 0.1 * this.rng.float();
    return { observation: Float32Array.from(this.state), info: {} };
  }

  protected stepState(action: number): Omit<StepResult<Float32Array>, 'truncated'> {
    const C = CartPole;
    const [x, xDot, theta, thetaDot] = this.state;
    const force = action === 1 ? C.forceMag : -C.forceMag;
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    const temp = (force + C.poleMassLength * thetaDot ** 2 * sin) / C.totalMass;
    const thetaAcc = (C.gravity * sin - cos * temp) / (C.halfLength * (4 / 3 - (C.massPole * cos ** 2) / C.totalMass));
    const xAcc = temp - (C.poleMassLength * thetaAcc * cos) / C.totalMass;
    // Explicit Euler: positions advance with the old velocities.
    this.state[0] = x + C.tau * xDot;
    this.state[1] = xDot + C.tau * xAcc;
    this.state[2] = theta + C.tau * thetaDot;
    this.state[3] = thetaDot + C.tau * thetaAcc;
    const [nx, , nt] = this.state;
    const terminated = nx < -C.xThreshold || nx > C.xThreshold || nt < -C.thetaThreshold || nt > C.thetaThreshold;
    return { observation: Float32Array.from(this.state), reward: 1, terminated, info: {} };
  }

  /** The cart (black), pole (tan) and axle (blue) on the track, drawn as Gymnasium does, scaled to `renderWidth`. */
  render(): RgbaImage {
    const W = this.renderWidth;
    const H = Math.round((W * 2) / 3);
    const s = W / 600; // Gymnasium's 600-pixel screen
    const img = canvas(W, H);
    const scale = W / (CartPole.xThreshold * 2);
    const cartX = this.state[0] * scale + W / 2;
    const top = H - 100 * s; // Gymnasium's y = 100 from the bottom (the image is flipped)
    fillRect(img, 0, top, W, top + Math.max(1, s), [0, 0, 0]);
    fillRect(img, cartX - 25 * s, top - 15 * s, cartX + 25 * s, top + 15 * s, [0, 0, 0]);
    const axleY = top - 7.5 * s;
    const poleLen = scale * 2 * CartPole.halfLength;
    const pw = Math.max(10 * s, 1.5);
    const th = this.state[2];
    const corner = (u: number, v: number): [number, number] => [cartX + u * Math.cos(th) + v * Math.sin(th), axleY + u * Math.sin(th) - v * Math.cos(th)];
    fillConvex(img, [corner(-pw / 2, -pw / 2), corner(-pw / 2, poleLen - pw / 2), corner(pw / 2, poleLen - pw / 2), corner(pw / 2, -pw / 2)], [202, 152, 101]);
    fillCircle(img, cartX, axleY, Math.max(pw / 2, 1), [129, 132, 203]);
    return img;
  }
}
