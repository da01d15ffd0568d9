/**
 * Validation of optimizer options, with errors that name the optimizer, the option, what was
 * expected and what came (`AdamW: option 'eps' expected a finite number ≥ 0, got string "1e-8"`).
 * Internal (not exported from the package).
 */
import { BrickConfigError } from '../errors.js';
import { describeValue } from '../io/describe.js';

/**
 * Throws unless `options` is an object and, when `known` is given, every key is in `known` (so a
 * typo such as `learningRate` is not silently ignored).
 */
export function checkOptionsObject(owner: string, options: unknown, known?: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new BrickConfigError(`${owner}: options must be an object such as {lr: 1e-3}, got ${describeValue(options)}`);
  }
  if (!known) return;
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new BrickConfigError(
      `${owner}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (expected ${known.map((k) => `'${k}'`).join(', ')})`,
    );
  }
}

/** Range of {@link checkNumberOption}: `min ≤ v`, and `v ≤ max` or `v < below` when given. */
export interface NumberRange {
  min: number;
  max?: number;
  below?: number;
}

/** Returns `v` if it is a finite number in range; else throws naming the option and what came. */
export function checkNumberOption(owner: string, name: string, v: unknown, range: NumberRange): number {
  const { min, max, below } = range;
  const ok = typeof v === 'number' && Number.isFinite(v) && v >= min && (max === undefined || v <= max) && (below === undefined || v < below);
  if (!ok) {
    const want =
      below !== undefined ? `a number in [${min}, ${below})` : max !== undefined ? `a number in [${min}, ${max}]` : `a finite number ≥ ${min}`;
    throw new BrickConfigError(`${owner}: option '${name}' expected ${want}, got ${describeValue(v)}`);
  }
  return v;
}

/** Returns `v` if it is a boolean (or `fallback` when undefined); else throws naming the option. */
export function checkBooleanOption(owner: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new BrickConfigError(`${owner}: option '${name}' expected true or false, got ${describeValue(v)}`);
  return v;
}
