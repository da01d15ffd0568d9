import type { Rng } from '@brickml/core';
import type { Space } from './space.js';

/** Element types of a {@link Box}. */
export type BoxDtype = 'float32' | 'uint8';

/** The array type of a Box's elements. */
export type BoxArray<D extends BoxDtype> = D extends 'uint8' ? Uint8Array : Float32Array;

function boundArray(name: string, v: number | ArrayLike<number>, size: number): Float64Array {
  if (typeof v === 'number') return new Float64Array(size).fill(v);
  if (v.length !== size) throw new RangeError(`Box: argument '${name}' expected ${size} values (one per element), got ${v.length}`);
  return Float64Array.from(v);
}

/**
 * A box `[low, high]` of real (float32) or byte (uint8) arrays of a fixed shape (Gymnasium's
 * `Box`). Elements are flat typed arrays, row-major in `shape`. Bounds may be ±Infinity; `sample`
 * draws as Gymnasium does: uniform on bounded axes, a standard normal on unbounded ones, and
 * `low + Exp(1)` / `high − Exp(1)` on half-bounded ones.
 */
export class Box<D extends BoxDtype = 'float32'> implements Space<BoxArray<D>> {
  readonly kind = 'box' as const;
  readonly low: Float64Array;
  readonly high: Float64Array;
  /** Number of scalars in one element. */
  readonly size: number;

  constructor(
    low: number | ArrayLike<number>,
    high: number | ArrayLike<number>,
    readonly shape: readonly number[],
    readonly dtype: D = 'float32' as D,
  ) {
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new RangeError(`Box: argument 'shape' expected an array of positive integers, got ${JSON.stringify(shape)}`);
    }
    if (dtype !== 'float32' && dtype !== 'uint8') throw new RangeError(`Box: argument 'dtype' expected 'float32' or 'uint8', got ${String(dtype)}`);
    this.size = shape.reduce((a, b) => a * b, 1);
    this.low = boundArray('low', low, this.size);
    this.high = boundArray('high', high, this.size);
    for (let i = 0; i < this.size; i++) {
      if (!(this.low[i] <= this.high[i])) throw new RangeError(`Box: argument 'low' must be ≤ 'high' everywhere, got low[${i}]=${this.low[i]} > high[${i}]=${this.high[i]}`);
    }
  }

  /** A new (zeroed) array of this box's dtype and size. */
  zeros(): BoxArray<D> {
    return (this.dtype === 'uint8' ? new Uint8Array(this.size) : new Float32Array(this.size)) as BoxArray<D>;
  }

  sample(rng: Rng): BoxArray<D> {
    const out = this.zeros();
    for (let i = 0; i < this.size; i++) {
      const lo = this.low[i];
      const hi = this.high[i];
      let v: number;
      if (Number.isFinite(lo) && Number.isFinite(hi)) {
        v = this.dtype === 'uint8' ? lo + Math.floor(rng.float() * (hi - lo + 1)) : lo + (hi - lo) * rng.float();
      } else if (Number.isFinite(lo)) v = lo - Math.log(1 - rng.float());
      else if (Number.isFinite(hi)) v = hi + Math.log(1 - rng.float());
      else v = rng.normal();
      out[i] = v;
    }
    return out;
  }

  whyNot(x: unknown): string | undefined {
    const want = this.dtype === 'uint8' ? Uint8Array : Float32Array;
    if (!(x instanceof want)) return `a ${want.name} of ${this.size} values (shape [${this.shape.join(', ')}])`;
    if (x.length !== this.size) return `${this.size} values (shape [${this.shape.join(', ')}])`;
    for (let i = 0; i < this.size; i++) {
      const v = x[i];
      if (Number.isNaN(v) || v < this.low[i] || v > this.high[i]) return `value ${i} within [${this.low[i]}, ${this.high[i]}]`;
    }
    return undefined;
  }

  contains(x: unknown): x is BoxArray<D> {
    return this.whyNot(x) === undefined;
  }

  /** Clips a float array into the box (new array; CleanRL's `ClipAction`). */
  clip(x: ArrayLike<number>): BoxArray<D> {
    const out = this.zeros();
    for (let i = 0; i < this.size; i++) out[i] = Math.min(this.high[i], Math.max(this.low[i], x[i]));
    return out;
  }

  toString(): string {
    const uniform = (a: Float64Array) => a.every((v) => v === a[0]);
    const b = (a: Float64Array) => (uniform(a) ? String(a[0]) : `[${Array.from(a.slice(0, 4)).join(', ')}${a.length > 4 ? ', …' : ''}]`);
    return `Box(${b(this.low)}, ${b(this.high)}, [${this.shape.join(', ')}], ${this.dtype})`;
  }
}

/** An image space: `uint8` pixels in [0, 255] of shape `[height, width, channels]` (HWC, as Gymnasium's pixel observations). */
export function imageBox(height: number, width: number, channels = 3): Box<'uint8'> {
  return new Box(0, 255, [height, width, channels], 'uint8');
}
