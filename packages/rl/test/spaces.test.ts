import { describe, expect, it } from 'vitest';
import { Rng } from '@brickml/core';
import { Box, Discrete, checkInSpace, imageBox } from '../src/index.js';

describe('spaces', () => {
  it('Discrete samples in range, seeded, and contains only its integers', () => {
    const d = new Discrete(3, 1);
    const a = Array.from({ length: 200 }, (_, i) => d.sample(new Rng(i)));
    const b = Array.from({ length: 200 }, (_, i) => d.sample(new Rng(i)));
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([1, 2, 3]));
    expect(d.contains(1)).toBe(true);
    expect(d.contains(3)).toBe(true);
    expect(d.contains(0)).toBe(false);
    expect(d.contains(4)).toBe(false);
    expect(d.contains(1.5)).toBe(false);
    expect(d.contains('1')).toBe(false);
    expect(d.toString()).toBe('Discrete(3, start=1)');
  });

  it('Box samples within bounds (uniform, half-bounded, unbounded) and is seeded', () => {
    const box = new Box([-1, 0, -Infinity, -Infinity], [1, Infinity, 5, Infinity], [4]);
    const r1 = new Rng(7);
    const r2 = new Rng(7);
    for (let i = 0; i < 100; i++) {
      const x = box.sample(r1);
      expect(x).toEqual(box.sample(r2));
      expect(box.contains(x)).toBe(true);
      expect(x[0]).toBeGreaterThanOrEqual(-1);
      expect(x[0]).toBeLessThan(1);
      expect(x[1]).toBeGreaterThanOrEqual(0);
      expect(x[2]).toBeLessThanOrEqual(5);
    }
    expect(box.contains(new Float32Array([2, 0, 0, 0]))).toBe(false);
    expect(box.contains(new Float32Array([0, 0, 0]))).toBe(false);
    expect(box.contains([0, 0, 0, 0])).toBe(false);
    expect(box.contains(new Float32Array([NaN, 0, 0, 0]))).toBe(false);
    expect(box.clip([5, -3, 9, 1])).toEqual(new Float32Array([1, 0, 5, 1]));
  });

  it('image Box holds uint8 HWC pixels', () => {
    const img = imageBox(4, 5, 3);
    expect(img.shape).toEqual([4, 5, 3]);
    const x = img.sample(new Rng(1));
    expect(x).toBeInstanceOf(Uint8Array);
    expect(x.length).toBe(60);
    expect(img.contains(x)).toBe(true);
    expect(img.contains(new Float32Array(60))).toBe(false);
    // Uniform over all 256 levels, including both ends.
    const many = imageBox(64, 64, 1).sample(new Rng(2));
    expect(Math.max(...many)).toBe(255);
    expect(Math.min(...many)).toBe(0);
  });

  it('bad arguments and non-members give clear errors', () => {
    expect(() => new Discrete(0)).toThrow(/Discrete: argument 'n' expected a positive integer, got 0/);
    expect(() => new Box(1, 0, [2])).toThrow(/low.*≤ 'high'/);
    expect(() => new Box([0], [1, 2], [2])).toThrow(/argument 'low' expected 2 values/);
    expect(() => checkInSpace(new Discrete(2), 5, 'Foo.step', 'action')).toThrow(
      "Foo.step: argument 'action' expected an element of Discrete(2) (an integer in [0, 1]), got 5",
    );
    expect(() => checkInSpace(new Box(-1, 1, [2]), new Float32Array(3), 'Foo.step', 'action')).toThrow(
      /Foo.step: argument 'action' expected an element of Box\(-1, 1, \[2\], float32\) \(2 values \(shape \[2\]\)\), got Float32Array\(3\)/,
    );
  });
});
