// I-JEPA multi-block masks: target blocks are rectangles of the configured area, the context avoids
// every target of its image, lengths are rectangular over the batch, and a seed fixes everything.
import { describe, expect, it } from 'vitest';
import { Rng } from '@brickml/core';
import { sampleIJepaMasks } from '../src/index.js';

describe('sampleIJepaMasks', () => {
  it('draws 4 target rectangles of 15–20 % of a 14×14 grid and a context block minus the targets', () => {
    const H = 14, W = 14, B = 6;
    for (const seed of [0, 1, 2, 3]) {
      const m = sampleIJepaMasks(H, W, B, new Rng(seed));
      const [th, tw] = m.targetSize;
      expect(th * tw).toBeGreaterThanOrEqual(Math.floor(0.15 * H * W) - Math.max(th, tw)); // rounding of h and w
      expect(th * tw).toBeLessThanOrEqual(Math.ceil(0.2 * H * W) + Math.max(th, tw));
      expect(th / tw).toBeGreaterThanOrEqual(0.5);
      expect(th / tw).toBeLessThanOrEqual(2);
      expect(m.targets).toHaveLength(4);
      const lc = m.context[0]!.length;
      expect(lc).toBeGreaterThanOrEqual(10);
      for (let b = 0; b < B; b++) {
        const covered = new Set<number>();
        for (const t of m.targets) {
          const idx = Array.from(t[b]!);
          expect(idx).toHaveLength(th * tw);
          const rows = idx.map((i) => Math.floor(i / W));
          const cols = idx.map((i) => i % W);
          // a contiguous th × tw rectangle
          expect(Math.max(...rows) - Math.min(...rows) + 1).toBe(th);
          expect(Math.max(...cols) - Math.min(...cols) + 1).toBe(tw);
          expect(new Set(idx).size).toBe(th * tw);
          idx.forEach((i) => covered.add(i));
        }
        const ctx = Array.from(m.context[b]!);
        expect(ctx).toHaveLength(lc); // truncated to the batch's shortest
        expect(ctx.filter((i) => covered.has(i))).toEqual([]); // no target patch in the context (14×14: never relaxed)
        const [ch, cw] = m.contextSize;
        const rows = ctx.map((i) => Math.floor(i / W));
        const cols = ctx.map((i) => i % W);
        expect(Math.max(...rows) - Math.min(...rows) + 1).toBeLessThanOrEqual(ch);
        expect(Math.max(...cols) - Math.min(...cols) + 1).toBeLessThanOrEqual(cw);
        expect(ch * cw).toBeGreaterThanOrEqual(Math.floor(0.85 * H * W) - 2 * ch);
      }
    }
  });

  it('is deterministic under a seed and validates its arguments', () => {
    const a = sampleIJepaMasks(8, 8, 3, new Rng(5), { numTargets: 2, minKeep: 4 });
    const b = sampleIJepaMasks(8, 8, 3, new Rng(5), { numTargets: 2, minKeep: 4 });
    expect(a).toEqual(b);
    const c = sampleIJepaMasks(8, 8, 3, new Rng(6), { numTargets: 2, minKeep: 4 });
    expect(c).not.toEqual(a);
    expect(() => sampleIJepaMasks(0, 8, 1, new Rng(0))).toThrow(/sampleIJepaMasks: argument 'height' expected a positive integer, got 0/);
    expect(() => sampleIJepaMasks(8, 8, 1, new Rng(0), { targetScale: [0.3, 0.2] })).toThrow(/option 'targetScale' expected \[min, max\]/);
    expect(() => sampleIJepaMasks(4, 4, 1, new Rng(0), { contextScale: [0.5, 0.5], minKeep: 12 })).toThrow(/even without excluding targets/);
    // a 4×4 grid that four 2×2 targets can cover: the sampler relaxes instead of failing, and every
    // context still keeps minKeep distinct in-grid patches outside at least its first target
    let relaxed = 0;
    for (let seed = 0; seed < 20; seed++) {
      const m = sampleIJepaMasks(4, 4, 8, new Rng(seed), { minKeep: 2, targetScale: [0.25, 0.25] });
      for (let b = 0; b < 8; b++) {
        const ctx = Array.from(m.context[b]!);
        expect(ctx.length).toBeGreaterThanOrEqual(2);
        expect(new Set(ctx).size).toBe(ctx.length);
        expect(ctx.every((i) => i >= 0 && i < 16)).toBe(true);
        const all = new Set(m.targets.flatMap((t) => Array.from(t[b]!)));
        if (ctx.some((i) => all.has(i))) relaxed++;
      }
    }
    expect(relaxed).toBeGreaterThan(0); // the relaxation did happen on this grid
  });
});
