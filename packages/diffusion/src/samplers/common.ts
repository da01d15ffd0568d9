/**
 * The sampling loop shared by DDPM and DDIM (pix2seq `Scheduler.generate`): T iterations from
 * t = 1 to t = 0 with `t_k = 1 − k/T` and `t_next = max(1 − (k + 1 + td)/T, 0)` (td: the "time
 * difference" of Analog Bits, default 0). Each step predicts x̂0 (clipped to [−b, b]) and ε̂
 * (recomputed from the clipped x̂0), carries the self-conditioning latents, and moves x_t with the
 * sampler's transition. The result is the last step's x̂0, mapped back to the data range
 * (`model.toDataRange`: for a video model with `residualFrom`, the frames last context frame + 2·r̂).
 *
 * All noise is drawn on the host from a seeded {@link Rng}: the same seed gives the same samples.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, Rng, ShapeError, formatShape, globalRng } from '@brickml/core';
import type { GaussianDiffusion } from '../gaussian-diffusion.js';
import { gammaFn, type GammaScheduleConfig } from '../schedules.js';

/** What a progress callback receives after each step (tensors are valid during the call only). */
export interface SamplerStepInfo {
  /** 1-based step index. */
  step: number;
  totalSteps: number;
  t: number;
  tNext: number;
  gamma: number;
  gammaNext: number;
  /** The step's x̂0 in the data range `sampleShape(n)`. */
  x0: tf.Tensor;
  /** The noisy state the step started from (network scale). */
  xt: tf.Tensor;
}

/** Options every sampler takes. */
export interface SampleOptions {
  /** Number of samples (default: the length of `classes`, else the context's batch, else 1). */
  n?: number;
  /** Sampling steps T (default 25 for DDIM, 100 for DDPM). */
  steps?: number;
  /** Class id per sample (the null class id = numClasses is allowed); class-conditional models only. */
  classes?: ArrayLike<number> | null;
  /** Classifier-free guidance weight w (default 0). */
  guidance?: number;
  /** Seed of the sampling noise (ignored when `rng` is given; default: drawn from the global generator). */
  seed?: number;
  /** Generator of the sampling noise (advanced by the call). */
  rng?: Rng;
  /** Inference schedule (default: the model's training schedule). */
  schedule?: GammaScheduleConfig;
  /** Time difference td ≥ 0 (Analog Bits; default 0). */
  timeDifference?: number;
  /** Clean context frames `[n, k, C, H, W]` in the data range (video frame prediction). */
  context?: tf.Tensor | null;
  /** Starting noise x_1 `sampleShape(n)` (default: drawn from the generator). Not disposed. */
  noise?: tf.Tensor | null;
  /** Called after every step. */
  onStep?: (info: SamplerStepInfo) => void | Promise<void>;
  /** Keep a host copy of every step's x̂0 (data range) and x_t (network scale). */
  trajectory?: boolean;
  /** Keep host copies of every step's read maps (RIN; conditional half under guidance). */
  readMaps?: boolean;
}

/** Host copies of the denoising trajectory. */
export interface Trajectory {
  /** t at the start of each step. */
  t: number[];
  /** x̂0 per step, data range, `shape`. */
  x0: Float32Array[];
  /** x_t per step (the state the step started from), network scale, `shape`. */
  xt: Float32Array[];
  shape: number[];
}

/** Host copies of the read maps per step and block. */
export interface ReadMapTrace {
  t: number[];
  /** `maps[step][block]`, each of `shape`. */
  maps: Float32Array[][];
  /** `[n, gh, gw]` (images) or `[n, gt, gh, gw]` (video). */
  shape: number[];
}

/** What a sampler returns (the caller disposes `samples`). */
export interface SampleResult {
  /** The final x̂0 in the data range: `sampleShape(n)`. */
  samples: tf.Tensor;
  trajectory?: Trajectory;
  readMaps?: ReadMapTrace;
  /** Steps taken and wall time. */
  steps: number;
  ms: number;
}

/** Arguments of one transition x_t → x_next. */
export interface TransitionArgs {
  xt: tf.Tensor;
  /** Clipped x̂0 (network scale). */
  x0: tf.Tensor;
  /** ε̂ recomputed from the clipped x̂0. */
  eps: tf.Tensor;
  gamma: number;
  gammaNext: number;
  /** Draws standard normal noise of x_t's shape (only call it when the transition needs noise). */
  noise: () => tf.Tensor;
}

/** A sampler's transition (runs inside `tf.tidy`). */
export type Transition = (args: TransitionArgs) => tf.Tensor;

/** The (t, t_next) pairs of a T-step run with time difference td. */
export function samplingTimes(steps: number, timeDifference = 0): Array<[number, number]> {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`samplingTimes: steps must be an integer ≥ 1, got ${steps}`);
  if (!(timeDifference >= 0)) throw new RangeError(`samplingTimes: timeDifference must be ≥ 0, got ${timeDifference}`);
  return Array.from({ length: steps }, (_, k) => [1 - k / steps, Math.max(1 - (k + 1 + timeDifference) / steps, 0)]);
}

function sampleCount(model: GaussianDiffusion, o: SampleOptions, where: string): number {
  const candidates: Array<[string, number]> = [];
  if (o.n !== undefined) candidates.push(['n', o.n]);
  if (o.classes) candidates.push(['classes.length', o.classes.length]);
  if (o.context) candidates.push(['context.shape[0]', o.context.shape[0]]);
  if (o.noise) candidates.push(['noise.shape[0]', o.noise.shape[0]]);
  const n = candidates.length ? candidates[0][1] : 1;
  for (const [name, v] of candidates) {
    if (v !== n) throw new BrickConfigError(`${where}: ${candidates[0][0]} (${n}) and ${name} (${v}) disagree on the number of samples`);
  }
  if (!Number.isInteger(n) || n < 1) throw new BrickConfigError(`${where}: the number of samples must be an integer ≥ 1, got ${n}`);
  if (o.classes && model.numClasses === 0) throw new BrickConfigError(`${where}: 'classes' given but the model is unconditional (numClasses 0)`);
  return n;
}

/** Runs the loop with a transition; see the module comment. */
export async function sampleLoop(
  model: GaussianDiffusion,
  options: SampleOptions,
  transition: Transition,
  where: string,
  defaultSteps: number,
): Promise<SampleResult> {
  const start = performance.now();
  const n = sampleCount(model, options, where);
  const steps = options.steps ?? defaultSteps;
  const times = samplingTimes(steps, options.timeDifference ?? 0);
  const gammaOf = gammaFn(options.schedule ?? model.config.schedule);
  const rng = options.rng ?? new Rng(options.seed ?? globalRng().seed());
  const shape = model.sampleShape(n);
  if (options.noise && (options.noise.rank !== shape.length || options.noise.shape.some((d, i) => d !== shape[i]))) {
    throw new ShapeError(`${where}: 'noise' expected shape ${formatShape(shape)}, got ${formatShape(options.noise.shape)}`);
  }
  const classes = options.classes ? model.classTensor(options.classes) : null;
  let xt: tf.Tensor = options.noise ? tf.clone(options.noise) : rng.normalTensor(shape);
  let latents: tf.Tensor | null = null;
  let samples: tf.Tensor | null = null;
  const trajectory: Trajectory | undefined = options.trajectory ? { t: [], x0: [], xt: [], shape } : undefined;
  const readMaps: ReadMapTrace | undefined = options.readMaps ? { t: [], maps: [], shape: [] } : undefined;
  try {
    for (let k = 0; k < steps; k++) {
      const [t, tNext] = times[k];
      const g = gammaOf(t);
      const gNext = gammaOf(tNext);
      const last = k === steps - 1;
      const d = model.denoise(xt, g, {
        classes,
        prevLatents: latents,
        guidance: options.guidance ?? 0,
        context: options.context ?? null,
        returnReadMaps: options.readMaps,
      });
      try {
        // data range `sampleShape(n)`: x̂0 / b, or the frames x_{k−1} + 2·r̂ with residualFrom
        const x0Data = model.toDataRange(d.x0, options.context ?? null);
        try {
          await options.onStep?.({ step: k + 1, totalSteps: steps, t, tNext, gamma: g, gammaNext: gNext, x0: x0Data, xt });
          if (trajectory) {
            trajectory.t.push(t);
            trajectory.x0.push(Float32Array.from(await x0Data.data()));
            trajectory.xt.push(Float32Array.from(await xt.data()));
          }
          if (readMaps && d.readMaps) {
            readMaps.t.push(t);
            readMaps.shape = d.readMaps[0]?.shape ?? [];
            readMaps.maps.push(await Promise.all(d.readMaps.map(async (m) => Float32Array.from(await m.data()))));
          }
        } catch (e) {
          x0Data.dispose();
          throw e;
        }
        if (last) {
          samples = x0Data;
        } else {
          x0Data.dispose();
          const next = tf.tidy(() =>
            transition({ xt, x0: d.x0, eps: d.eps, gamma: g, gammaNext: gNext, noise: () => rng.normalTensor(shape) }),
          );
          xt.dispose();
          xt = next;
          latents?.dispose();
          latents = d.latents;
          d.latents = null;
        }
      } finally {
        tf.dispose([d.x0, d.eps, ...(d.latents ? [d.latents] : []), ...(d.readMaps ?? [])]);
      }
    }
  } finally {
    xt.dispose();
    latents?.dispose();
    classes?.dispose();
  }
  const result: SampleResult = { samples: samples as unknown as tf.Tensor, steps, ms: performance.now() - start };
  if (trajectory) result.trajectory = trajectory;
  if (readMaps) result.readMaps = readMaps;
  return result;
}
