/**
 * Noise schedules γ(t): the signal variance (ᾱ) of the forward process at continuous time
 * t ∈ [0, 1], decreasing from γ(0) ≈ 1 (clean) to γ(1) ≈ 0 (pure noise). Values are clipped to
 * [{@link GAMMA_MIN}, 1] as pix2seq's `diffusion_utils.py` does.
 *
 * - `cosine`: pix2seq's simple cosine, `cos(((t + 2e-4) / (1 + 2.5e-4)) · π/2)²`.
 * - `sigmoid`: RIN's schedule `(σ(e/τ) − σ((t(e − s) + s)/τ)) / (σ(e/τ) − σ(s/τ))`, default
 *   start −3, end 3, τ 0.9 (pix2seq `sigmoid@-3,3,0.9`, the CIFAR-10 training schedule).
 * - `linear`: `1 − t` (pix2seq `simple_linear`, the ImageNet-64 schedule).
 *
 * γ is evaluated on the host in float64 (t is drawn on the host too), so every backend sees the
 * same noise levels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError } from '@brickml/core';

/** Lower clip of γ (pix2seq). */
export const GAMMA_MIN = 1e-9;

/** Zod schema of a γ schedule config (`{kind: 'sigmoid', start: -3, end: 3, tau: 0.9}`). */
export const gammaScheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cosine') }).strict(),
  z.object({ kind: z.literal('linear') }).strict(),
  z
    .object({
      kind: z.literal('sigmoid'),
      /** Start of the sigmoid's argument range (default −3). */
      start: z.number().default(-3),
      /** End of the sigmoid's argument range (default 3); must exceed start. */
      end: z.number().default(3),
      /** Temperature τ (default 0.9). */
      tau: z.number().positive().default(0.9),
    })
    .strict(),
]);

/** A γ schedule as JSON (input form: sigmoid fields may be left out). */
export type GammaScheduleConfig = z.input<typeof gammaScheduleSchema>;
/** A γ schedule with every field filled. */
export type ResolvedGammaSchedule = z.output<typeof gammaScheduleSchema>;
/** Names of the schedules. */
export type GammaScheduleKind = ResolvedGammaSchedule['kind'];

/** RIN's default training schedule: `sigmoid@-3,3,0.9`. */
export const DEFAULT_SCHEDULE: ResolvedGammaSchedule = { kind: 'sigmoid', start: -3, end: 3, tau: 0.9 };

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Validates a schedule config and fills its defaults; errors name the field. */
export function resolveSchedule(config: GammaScheduleConfig | GammaScheduleKind, where = 'schedule'): ResolvedGammaSchedule {
  const input = typeof config === 'string' ? { kind: config } : config;
  const r = gammaScheduleSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new BrickConfigError(
      `${where}: ${issue.path.length ? `field '${issue.path.join('.')}' ` : ''}${issue.message} (got ${JSON.stringify(input)}); ` +
        `expected {kind: 'cosine'} | {kind: 'linear'} | {kind: 'sigmoid', start?, end?, tau?}`,
    );
  }
  if (r.data.kind === 'sigmoid' && !(r.data.end > r.data.start)) {
    throw new BrickConfigError(`${where}: sigmoid 'end' (${r.data.end}) must be greater than 'start' (${r.data.start})`);
  }
  return r.data;
}

/** Unclipped γ(t) of a resolved schedule. */
function rawGamma(s: ResolvedGammaSchedule, t: number): number {
  switch (s.kind) {
    case 'cosine':
      return Math.cos(((t + 2e-4) / (1 + 2.5e-4)) * (Math.PI / 2)) ** 2;
    case 'linear':
      return 1 - t;
    case 'sigmoid': {
      const v0 = sigmoid(s.start / s.tau);
      const v1 = sigmoid(s.end / s.tau);
      return (v1 - sigmoid((t * (s.end - s.start) + s.start) / s.tau)) / (v1 - v0);
    }
  }
}

/**
 * γ(t) for t ∈ [0, 1], clipped to [{@link GAMMA_MIN}, 1].
 * @example gamma({ kind: 'linear' }, 0.25) // 0.75
 */
export function gamma(schedule: GammaScheduleConfig | GammaScheduleKind, t: number): number {
  if (!(t >= 0 && t <= 1)) throw new RangeError(`gamma: t must be in [0, 1], got ${t}`);
  return Math.min(1, Math.max(GAMMA_MIN, rawGamma(resolveSchedule(schedule, 'gamma'), t)));
}

/** A schedule as a function `t → γ(t)` (resolved once). */
export function gammaFn(schedule: GammaScheduleConfig | GammaScheduleKind): (t: number) => number {
  const s = resolveSchedule(schedule, 'gammaFn');
  return (t: number) => {
    if (!(t >= 0 && t <= 1)) throw new RangeError(`gammaFn(${s.kind}): t must be in [0, 1], got ${t}`);
    return Math.min(1, Math.max(GAMMA_MIN, rawGamma(s, t)));
  };
}

/** γ of each time in `t` as a float32 tensor `[n]` (computed on the host in float64). */
export function gammaTensor(schedule: GammaScheduleConfig | GammaScheduleKind, t: ArrayLike<number>): tf.Tensor1D {
  const f = gammaFn(schedule);
  const out = new Float32Array(t.length);
  for (let i = 0; i < t.length; i++) out[i] = f(t[i]);
  return tf.tensor1d(out, 'float32');
}

/** Log signal-to-noise ratio `log(γ / (1 − γ))` (handy for plots of a schedule). */
export function logSnr(g: number): number {
  return Math.log(g) - Math.log1p(-Math.min(g, 1 - 1e-12));
}
