import type { Rng } from '@brickml/core';
import type { Space } from './space.js';

/** The integers `start, …, start + n − 1` (Gymnasium's `Discrete(n, start)`). */
export class Discrete implements Space<number> {
  readonly kind = 'discrete' as const;
  readonly shape: readonly number[] = [];

  constructor(
    /** Number of elements. */
    readonly n: number,
    /** Smallest element (default 0). */
    readonly start = 0,
  ) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Discrete: argument 'n' expected a positive integer, got ${n}`);
    if (!Number.isInteger(start)) throw new RangeError(`Discrete: argument 'start' expected an integer, got ${start}`);
  }

  sample(rng: Rng): number {
    return this.start + rng.int(0, this.n);
  }

  whyNot(x: unknown): string | undefined {
    if (typeof x !== 'number' || !Number.isInteger(x)) return 'an integer';
    if (x < this.start || x >= this.start + this.n) return `an integer in [${this.start}, ${this.start + this.n - 1}]`;
    return undefined;
  }

  contains(x: unknown): x is number {
    return this.whyNot(x) === undefined;
  }

  toString(): string {
    return this.start === 0 ? `Discrete(${this.n})` : `Discrete(${this.n}, start=${this.start})`;
  }
}
