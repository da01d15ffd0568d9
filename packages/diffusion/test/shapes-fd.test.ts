import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { shapes } from '@brickml/core';
import {
  SHAPES_BACKGROUND, ShapesFD, evaluateShapesFDPerClass, formatShapesFDClassTable, pixelFigures, type ShapesGenerator,
} from '../src/index.js';

/** Real `shapes` images of the class each request asks for (or of `draw(c)` instead of c). */
function stub(draw: (c: number) => number | 'blank' = (c) => c): ShapesGenerator {
  return {
    numClasses: 3,
    async generate({ classes, n, seed }) {
      const cls = classes ?? Array.from({ length: n }, () => 0);
      const size = 16, per = 3 * size * size;
      const out = new Float32Array(cls.length * per);
      for (let c = 0; c < 3; c++) {
        const idx = cls.flatMap((v, i) => (v === c ? [i] : []));
        const what = draw(c);
        if (idx.length === 0) continue;
        if (what === 'blank') {
          for (const i of idx) out.fill(SHAPES_BACKGROUND, i * per, (i + 1) * per);
          continue;
        }
        const s = shapes({ size, batchSize: 1, seed: 0, classes: [what] }).fixedSplit(idx.length, 1000 * seed + 17 * c + 5);
        idx.forEach((i, r) => out.set(s.images.subarray(r * per, (r + 1) * per), i * per));
      }
      return tf.tensor4d(out, [cls.length, 3, size, size]);
    },
  };
}

describe('per-class shapesFD', () => {
  let metric: ShapesFD;
  beforeAll(async () => {
    metric = await ShapesFD.load();
  });
  afterAll(() => metric.classifier.dispose());

  it('a generator of real images of the requested class: high accuracy, per-class FD near its real floor', async () => {
    const rep = await evaluateShapesFDPerClass(stub(), { nPerClass: 64, batch: 96, metric });
    expect(rep.n).toBe(192);
    expect(rep.shapesFD).toBeLessThan(3 * rep.realVsReal + 1);
    expect(rep.perClass.map((r) => r.name)).toEqual(['circle', 'square', 'triangle']);
    for (const r of rep.perClass) {
      expect(r.n).toBe(64);
      expect(r.accuracy).toBeGreaterThan(0.9);
      expect(r.realAccuracy).toBeGreaterThan(0.9);
      expect(r.predicted.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      // per-class FD at 64 samples is noisy (colour is a 6-way factor): near its floor, far below a wrong class (> 150)
      expect(r.shapesFD).toBeLessThan(Math.max(4 * r.realVsReal, 40));
      expect(Math.abs(r.meanPixel - r.realMeanPixel)).toBeLessThan(0.05);
      expect(Math.abs(r.coverage - r.realCoverage)).toBeLessThan(0.05);
      expect(r.realCoverage).toBeGreaterThan(0.1);
    }
    const table = formatShapesFDClassTable(rep.perClass);
    console.log(table);
    expect(table.split('\n')).toHaveLength(4);
    expect(table).not.toMatch(/wrong shape|near-empty/);
  });

  it('circles for every class: square and triangle accuracy ~0 and a large per-class FD', async () => {
    const rep = await evaluateShapesFDPerClass(stub(() => 0), { nPerClass: 64, batch: 192, metric });
    const [circle, square, triangle] = rep.perClass;
    expect(circle.accuracy).toBeGreaterThan(0.9);
    expect(circle.shapesFD).toBeLessThan(Math.max(4 * circle.realVsReal, 40));
    for (const r of [square, triangle]) {
      expect(r.accuracy).toBeLessThan(0.1);
      expect(r.predicted[0]).toBeGreaterThan(0.9);
      expect(r.shapesFD).toBeGreaterThan(150);
      expect(r.shapesFD).toBeGreaterThan(5 * circle.shapesFD);
    }
    const lines = formatShapesFDClassTable(rep.perClass).split('\n');
    expect(lines[1]).not.toMatch(/wrong shape/);
    expect(lines[2]).toMatch(/^ {2}square .*wrong shape/);
    expect(lines[3]).toMatch(/^ {2}triangle .*wrong shape/);
  });

  it('blank frames for one class show in its coverage and brightness, even where accuracy misses it', async () => {
    const rep = await evaluateShapesFDPerClass(stub((c) => (c === 2 ? 'blank' : c)), { nPerClass: 64, metric });
    const triangle = rep.perClass[2];
    expect(triangle.coverage).toBe(0);
    expect(triangle.meanPixel).toBeCloseTo(SHAPES_BACKGROUND, 5);
    expect(triangle.realCoverage).toBeGreaterThan(0.1);
    expect(triangle.realMeanPixel).toBeGreaterThan(triangle.meanPixel + 0.1);
    expect(triangle.shapesFD).toBeGreaterThan(150);
    for (const r of rep.perClass.slice(0, 2)) expect(r.coverage).toBeGreaterThan(0.1);
    expect(formatShapesFDClassTable(rep.perClass).split('\n')[3]).toMatch(/near-empty/);
  });

  it('an unconditional generator is grouped by prediction (accuracy null); the plain evaluate is unchanged', async () => {
    const gen = stub();
    const uncond: ShapesGenerator = { numClasses: 0, generate: (r) => gen.generate({ ...r, classes: Array.from({ length: r.n }, (_, i) => i % 3) }) };
    const rep = await evaluateShapesFDPerClass(uncond, { n: 96, metric });
    expect(rep.perClass.every((r) => r.accuracy === null)).toBe(true);
    expect(rep.perClass.reduce((a, r) => a + r.n, 0)).toBe(96);
    const x = await gen.generate({ classes: Array.from({ length: 96 }, (_, i) => i % 3), n: 96, seed: 12345 });
    const plain = await metric.evaluate(x);
    expect(plain.perClass).toBeUndefined();
    expect(plain.shapesFD).toBeCloseTo(rep.shapesFD, 6);
    x.dispose();
  });

  it('pixelFigures: mean and share of pixels away from the background', () => {
    const bg = SHAPES_BACKGROUND;
    // two 1×2×2 RGB images: one blank, one with one bright pixel
    const data = new Float32Array(2 * 3 * 4).fill(bg);
    for (let ch = 0; ch < 3; ch++) data[12 + ch * 4] = 1;
    const all = pixelFigures(data, [2, 3, 2, 2]);
    expect(all.coverage).toBeCloseTo(1 / 8, 12);
    expect(all.meanPixel).toBeCloseTo((21 * bg + 3) / 24, 6);
    expect(pixelFigures(data, [2, 3, 2, 2], [0]).coverage).toBe(0);
    expect(pixelFigures(data, [2, 3, 2, 2], []).coverage).toBeNaN();
  });
});
