import { Rng } from '@brickml/core';

/** Element types of spaces: integers for {@link Discrete}, typed arrays for {@link Box}. */
export type SpaceValue = number | Float32Array | Uint8Array;

/**
 * An observation or action space (Gymnasium's `gymnasium.spaces.Space`): it can draw a seeded
 * sample and say whether a value belongs to it.
 */
export interface Space<T extends SpaceValue = SpaceValue> {
  /** `'discrete'` or `'box'`. */
  readonly kind: 'discrete' | 'box';
  /** Shape of one element (`[]` for Discrete). */
  readonly shape: readonly number[];
  /** Draws one element with `rng`. */
  sample(rng: Rng): T;
  /** True when `x` is an element of the space (right type, shape, bounds). */
  contains(x: unknown): x is T;
  /** Why `x` is not an element (a phrase for error messages), or undefined when it is. */
  whyNot(x: unknown): string | undefined;
  /** A short description, e.g. `Discrete(2)` or `Box(-1, 1, [3], float32)`. */
  toString(): string;
}

/** Describes any value briefly for error messages. */
export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'number') return String(x);
  if (ArrayBuffer.isView(x)) {
    const arr = x as unknown as ArrayLike<number>;
    const head = Array.from({ length: Math.min(arr.length, 6) }, (_, i) => arr[i]);
    return `${x.constructor.name}(${arr.length}) [${head.join(', ')}${arr.length > 6 ? ', …' : ''}]`;
  }
  if (Array.isArray(x)) return `array(${x.length}) ${JSON.stringify(x.slice(0, 6))}${x.length > 6 ? '…' : ''}`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

/**
 * Throws a clear error when `x` is not in `space`: `'<owner>: argument '<argument>' expected an
 * element of <space> (…), got <x>'`.
 */
export function checkInSpace(space: Space, x: unknown, owner: string, argument: string): void {
  const why = space.whyNot(x);
  if (why !== undefined) {
    throw new RangeError(`${owner}: argument '${argument}' expected an element of ${space.toString()} (${why}), got ${describe(x)}`);
  }
}
