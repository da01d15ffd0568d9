/** Option validation shared by the procedural data sets (internal; not exported from the package). */
import { BrickConfigError } from '../errors.js';
import type { ImageValueRange } from './raster.js';

/** Throws unless `value` is one of `allowed`. */
export function checkChoice<T>(fn: string, arg: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value)) {
    throw new BrickConfigError(`${fn}: ${arg} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws unless `value` is an integer in [min, max]. */
export function checkInt(fn: string, arg: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const bound = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new BrickConfigError(`${fn}: ${arg} must be an integer ${bound}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Throws unless `value` is a finite number in [min, max]. */
export function checkNumber(fn: string, arg: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new BrickConfigError(`${fn}: ${arg} must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates a `[lo, hi]` pair with `min <= lo <= hi <= max`. */
export function checkInterval(fn: string, arg: string, value: unknown, min: number, max: number): [number, number] {
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number' && Number.isFinite(v))
    || value[0] > value[1] || value[0] < min || value[1] > max) {
    throw new BrickConfigError(`${fn}: ${arg} must be [lo, hi] with ${min} <= lo <= hi <= ${max}, got ${JSON.stringify(value)}`);
  }
  return [value[0], value[1]];
}

/** Validates a non-empty list of distinct integer labels in [0, count). */
export function checkLabelSubset(fn: string, arg: string, value: unknown, count: number): number[] {
  if (!Array.isArray(value) || value.length === 0 || new Set(value).size !== value.length
    || !value.every((v) => Number.isInteger(v) && v >= 0 && v < count)) {
    throw new BrickConfigError(`${fn}: ${arg} must be a non-empty list of distinct integers in [0, ${count - 1}], got ${JSON.stringify(value)}`);
  }
  return [...value];
}

/** Validates a value range option. */
export function checkRange(fn: string, value: unknown): ImageValueRange {
  if (Array.isArray(value) && value.length === 2 && (value[0] === -1 || value[0] === 0) && value[1] === 1) {
    return value as unknown as ImageValueRange;
  }
  throw new BrickConfigError(`${fn}: range must be [-1, 1] or [0, 1], got ${JSON.stringify(value)}`);
}
