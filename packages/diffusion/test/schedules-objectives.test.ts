import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, Rng } from '@brickml/core';
import {
  GAMMA_MIN, OBJECTIVES, gamma, gammaFn, gammaTensor, objectiveTarget, predictionToEps, predictionToX0, qSample, resolveSchedule,
  epsFromX0, x0FromEps,
} from '../src/index.js';
import { maxAbsDiff } from './helpers.js';

describe('γ schedules', () => {
  // Reference values computed in float64 with Python from the formulas in docs/design.md (Conventions).
  it('sigmoid(-3, 3, 0.9) matches hand-computed values and is clipped at 1e-9', () => {
    const s = { kind: 'sigmoid' } as const;
    expect(gamma(s, 0)).toBe(1);
    expect(gamma(s, 0.1)).toBeCloseTo(0.9672176367010832, 12);
    expect(gamma(s, 0.25)).toBeCloseTo(0.866370287604748, 12);
    expect(gamma(s, 0.5)).toBeCloseTo(0.5, 12);
    expect(gamma(s, 0.75)).toBeCloseTo(0.13362971239525176, 12);
    expect(gamma(s, 1)).toBe(GAMMA_MIN);
  });

  it('cosine is pix2seq’s simple cosine', () => {
    expect(gamma('cosine', 0)).toBeCloseTo(0.9999999013532888, 14);
    expect(gamma('cosine', 0.25)).toBeCloseTo(0.8534006716989526, 12);
    expect(gamma('cosine', 0.5)).toBeCloseTo(0.49988221972164953, 12);
    expect(gamma('cosine', 0.9)).toBeCloseTo(0.02448387535430947, 12);
    expect(gamma('cosine', 1)).toBeCloseTo(6.165419642888424e-9, 18);
  });

  it('linear is 1 − t, clipped', () => {
    expect(gamma('linear', 0)).toBe(1);
    expect(gamma('linear', 0.25)).toBe(0.75);
    expect(gamma('linear', 1)).toBe(GAMMA_MIN);
  });

  it('sigmoid honours start, end and τ', () => {
    // start −1, end 1, τ 1 at t = 0.25: (σ(1) − σ(−0.5)) / (σ(1) − σ(−1))
    const sg = (x: number) => 1 / (1 + Math.exp(-x));
    const want = (sg(1) - sg(-0.5)) / (sg(1) - sg(-1));
    expect(gamma({ kind: 'sigmoid', start: -1, end: 1, tau: 1 }, 0.25)).toBeCloseTo(want, 14);
  });

  it('every schedule decreases monotonically from 1 to ~0 and stays in [1e-9, 1]', () => {
    for (const s of ['cosine', 'linear', 'sigmoid'] as const) {
      const f = gammaFn(s);
      let prev = Infinity;
      for (let i = 0; i <= 1000; i++) {
        const g = f(i / 1000);
        expect(g).toBeLessThanOrEqual(prev);
        expect(g).toBeGreaterThanOrEqual(GAMMA_MIN);
        expect(g).toBeLessThanOrEqual(1);
        prev = g;
      }
      expect(f(0)).toBeGreaterThan(0.9999);
      expect(f(1)).toBeLessThan(1e-8);
      // strictly decreasing inside (0, 1)
      expect(f(0.3)).toBeGreaterThan(f(0.31));
    }
  });

  it('gammaTensor evaluates on the host; bad configs and t fail clearly', async () => {
    const g = gammaTensor('linear', [0, 0.5, 1]);
    expect(Array.from(await g.data())).toEqual([1, 0.5, Math.fround(GAMMA_MIN)]);
    g.dispose();
    expect(() => gamma('linear', 1.5)).toThrow(/t must be in \[0, 1\], got 1.5/);
    expect(() => resolveSchedule({ kind: 'sigmoid', start: 3, end: -3 })).toThrow(BrickConfigError);
    expect(() => resolveSchedule({ kind: 'quadratic' } as never)).toThrow(/expected \{kind: 'cosine'\}/);
    expect(resolveSchedule('sigmoid')).toEqual({ kind: 'sigmoid', start: -3, end: 3, tau: 0.9 });
  });
});

describe('objectives', () => {
  const rng = new Rng(1);
  const x0 = tf.clipByValue(rng.normalTensor([3, 2, 4, 4]), -1, 1);
  const eps = rng.normalTensor([3, 2, 4, 4]);
  const g = tf.tensor1d([0.9, 0.5, 0.02]);
  const xt = qSample(x0, eps, g);

  it('q-sample is √γ·x0 + √(1−γ)·ε per example', async () => {
    const e = (await xt.data())[0 * 32 + 5];
    const want = Math.sqrt(0.9) * (await x0.data())[5] + Math.sqrt(0.1) * (await eps.data())[5];
    expect(e).toBeCloseTo(want, 5);
    const last = 2 * 32 + 7;
    expect((await xt.data())[last]).toBeCloseTo(Math.sqrt(0.02) * (await x0.data())[last] + Math.sqrt(0.98) * (await eps.data())[last], 5);
  });

  it('the perfect prediction of each objective reconstructs x0 and ε', async () => {
    for (const obj of OBJECTIVES) {
      const target = objectiveTarget(obj, x0, eps, g);
      const x0Hat = predictionToX0(obj, target, xt, g);
      const epsHat = predictionToEps(obj, target, xt, g);
      expect(await maxAbsDiff(x0Hat, x0)).toBeLessThan(2e-5 / Math.sqrt(0.02));
      expect(await maxAbsDiff(epsHat, eps)).toBeLessThan(1e-4);
      tf.dispose([target, x0Hat, epsHat]);
    }
  });

  it('the three objectives agree on the x0 reconstruction of an arbitrary prediction', async () => {
    // Take any ε-prediction, express the same estimate as an x0- and a v-prediction, and check
    // that all three reconstruct the same x0.
    const epsPred = new Rng(9).normalTensor(x0.shape);
    const x0FromEpsPred = predictionToX0('eps', epsPred, xt, g);
    const vPred = objectiveTarget('v', x0FromEpsPred, epsPred, g);
    const fromX0 = predictionToX0('x0', x0FromEpsPred, xt, g);
    const fromV = predictionToX0('v', vPred, xt, g);
    expect(await maxAbsDiff(fromX0, x0FromEpsPred)).toBe(0);
    expect(await maxAbsDiff(fromV, x0FromEpsPred)).toBeLessThan(1e-4);
    const eFromV = predictionToEps('v', vPred, xt, g);
    expect(await maxAbsDiff(eFromV, epsPred)).toBeLessThan(1e-4);
    // and the helper pair round-trips
    const back = epsFromX0(x0FromEps(epsPred, xt, g), xt, g);
    expect(await maxAbsDiff(back, epsPred)).toBeLessThan(1e-4);
    tf.dispose([epsPred, x0FromEpsPred, vPred, fromX0, fromV, eFromV, back]);
  });

  it('v target is √γ·ε − √(1−γ)·x0 (hand value)', async () => {
    const v = objectiveTarget('v', tf.tensor1d([0.5]), tf.tensor1d([-1]), 0.64);
    expect((await v.data())[0]).toBeCloseTo(0.8 * -1 - 0.6 * 0.5, 6);
    v.dispose();
  });
});
