/**
 * Learning-rate schedules as plain data ({@link ScheduleConfig}) turned into functions
 * (`step → lr`) by {@link makeSchedule}.
 *
 * Convention for every schedule: `step` is **0-based** and counts optimizer steps already taken, so
 * the first `optimizer.step()` uses `schedule(0)`, the second `schedule(1)`, and so on. Warm-up is
 * `lr = peakLr · (step + 1) / warmupSteps` for `step < warmupSteps`: the first step already uses a
 * nonzero rate (`peakLr / warmupSteps`) and the last warm-up step (`warmupSteps − 1`) uses `peakLr`.
 */
import { BrickConfigError } from '../errors.js';
import { describeValue } from '../io/describe.js';

/** A learning-rate schedule: 0-based optimizer step → learning rate. */
export type Schedule = (step: number) => number;

/** Constant learning rate. */
export interface ConstantScheduleConfig {
  kind: 'constant';
  lr: number;
}

/**
 * Linear warm-up to `peakLr` over `warmupSteps` steps, then a half cosine from `peakLr` (at step
 * `warmupSteps`) down to `minLr` (at step `totalSteps`), then `minLr` forever.
 */
export interface WarmupCosineScheduleConfig {
  kind: 'warmupCosine';
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/** Linear warm-up to `peakLr` over `warmupSteps` steps, then `peakLr` forever. */
export interface LinearWarmupScheduleConfig {
  kind: 'linearWarmup';
  peakLr: number;
  warmupSteps: number;
}

/**
 * Linear warm-up to `peakLr` over `warmupSteps` steps, then a straight line from `peakLr` (at step
 * `warmupSteps`) down to `minLr` (at step `totalSteps`), then `minLr` forever.
 */
export interface WarmupLinearDecayScheduleConfig {
  kind: 'warmupLinearDecay';
  peakLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

/** A learning-rate schedule as JSON-able data; see {@link makeSchedule}. */
export type ScheduleConfig =
  | ConstantScheduleConfig
  | WarmupCosineScheduleConfig
  | LinearWarmupScheduleConfig
  | WarmupLinearDecayScheduleConfig;

/** The `kind`s {@link makeSchedule} understands. */
export const scheduleKinds = ['constant', 'warmupCosine', 'linearWarmup', 'warmupLinearDecay'] as const;

function fail(kind: string, msg: string): never {
  throw new BrickConfigError(`makeSchedule(${kind}): ${msg}`);
}

function checkRate(kind: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    fail(kind, `'${field}' must be a finite number ≥ 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkSteps(kind: string, field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    fail(kind, `'${field}' must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Warm-up factor: `(step + 1) / warmupSteps` while `step < warmupSteps`, else 1. */
function warmup(step: number, warmupSteps: number): number {
  return step < warmupSteps ? (step + 1) / warmupSteps : 1;
}

function checkStep(kind: string, step: number): void {
  if (!(step >= 0)) throw new RangeError(`schedule(${kind}): step must be ≥ 0, got ${step}`);
}

/**
 * Validates a schedule config and returns its function `step → lr` (see the module docs for the
 * 0-based step convention). Invalid configs (negative or non-integer step counts, negative rates,
 * `warmupSteps > totalSteps`, `minLr > peakLr`, unknown `kind`) throw a `BrickConfigError` naming
 * the field; calling the schedule with a negative step throws a `RangeError`.
 *
 * - `constant`: `lr`.
 * - `linearWarmup`: `peakLr·(step+1)/warmupSteps` for `step < warmupSteps`, then `peakLr`.
 * - `warmupCosine`: warm-up as above, then for `warmupSteps ≤ step ≤ totalSteps`
 *   `minLr + (peakLr − minLr)·½(1 + cos(π·(step − warmupSteps)/(totalSteps − warmupSteps)))`,
 *   then `minLr`.
 * - `warmupLinearDecay`: warm-up as above, then
 *   `peakLr + (minLr − peakLr)·(step − warmupSteps)/(totalSteps − warmupSteps)`, then `minLr`.
 */
export function makeSchedule(config: ScheduleConfig): Schedule {
  if (config === null || typeof config !== 'object') {
    throw new BrickConfigError(`makeSchedule: config must be an object with a 'kind', got ${JSON.stringify(config)}`);
  }
  const kind = (config as { kind?: unknown }).kind;
  switch (kind) {
    case 'constant': {
      const lr = checkRate(kind, 'lr', (config as ConstantScheduleConfig).lr);
      return (step) => {
        checkStep(kind, step);
        return lr;
      };
    }
    case 'linearWarmup': {
      const c = config as LinearWarmupScheduleConfig;
      const peak = checkRate(kind, 'peakLr', c.peakLr);
      const warm = checkSteps(kind, 'warmupSteps', c.warmupSteps, 0);
      return (step) => {
        checkStep(kind, step);
        return peak * warmup(step, warm);
      };
    }
    case 'warmupCosine':
    case 'warmupLinearDecay': {
      const c = config as WarmupCosineScheduleConfig | WarmupLinearDecayScheduleConfig;
      const peak = checkRate(kind, 'peakLr', c.peakLr);
      const minLr = checkRate(kind, 'minLr', c.minLr ?? 0);
      const warm = checkSteps(kind, 'warmupSteps', c.warmupSteps, 0);
      const total = checkSteps(kind, 'totalSteps', c.totalSteps, 1);
      if (warm > total) fail(kind, `'warmupSteps' (${warm}) must be ≤ 'totalSteps' (${total})`);
      if (minLr > peak) fail(kind, `'minLr' (${minLr}) must be ≤ 'peakLr' (${peak})`);
      const decaySteps = total - warm;
      const cosine = kind === 'warmupCosine';
      return (step) => {
        checkStep(kind, step);
        if (step < warm) return peak * warmup(step, warm);
        if (step >= total) return minLr;
        const progress = (step - warm) / decaySteps; // in [0, 1)
        const shape = cosine ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
        return minLr + (peak - minLr) * shape;
      };
    }
    default:
      throw new BrickConfigError(
        `makeSchedule: unknown 'kind' ${JSON.stringify(kind)} (expected one of ${scheduleKinds.join(', ')})`,
      );
  }
}

/** What an optimizer's `lr` option accepts: a constant, a schedule function, or a schedule config. */
export type LrOption = number | Schedule | ScheduleConfig;

/**
 * Turns an {@link LrOption} into a {@link Schedule} (validating numbers and configs). `where` names
 * the option in errors (e.g. `AdamW: option 'lr'`): anything but a number, a function or a schedule
 * config is rejected with what came, and a config's own errors are prefixed with `where`.
 */
export function resolveLr(lr: LrOption, where = 'lr'): Schedule {
  if (typeof lr === 'function') return lr;
  if (typeof lr === 'number') {
    if (!Number.isFinite(lr) || lr < 0) {
      throw new BrickConfigError(`${where}: learning rate must be a finite number ≥ 0, got ${lr}`);
    }
    return () => lr;
  }
  if (lr === null || typeof lr !== 'object' || Array.isArray(lr)) {
    throw new BrickConfigError(
      `${where} expected a number or a schedule (a function step → lr, or a config such as {kind: 'warmupCosine', ...}), got ${describeValue(lr)}`,
    );
  }
  try {
    return makeSchedule(lr);
  } catch (e) {
    if (e instanceof BrickConfigError) throw new BrickConfigError(`${where}: ${e.message}`, { cause: e });
    throw e;
  }
}
