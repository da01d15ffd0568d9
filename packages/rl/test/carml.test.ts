import { Rng } from '@brickml/core';
import { describe, expect, it } from 'vitest';
import { TrajectoryMixture } from '../src/index.js';

/** Trajectories of 2-D states around one of two centres, each trajectory wholly from one centre. */
function data(rng: Rng, n: number, T: number): { trajs: Float32Array[][]; labels: number[] } {
  const centres = [[-2, 0], [2, 1]];
  const labels: number[] = [];
  const trajs = Array.from({ length: n }, (_, i) => {
    const c = centres[i % 2];
    labels.push(i % 2);
    return Array.from({ length: T }, () => Float32Array.of(c[0] + 0.5 * rng.normal(), c[1] + 0.5 * rng.normal()));
  });
  return { trajs, labels };
}

describe('TrajectoryMixture (CARML task model)', () => {
  it('responsibilities sum to one and are shared by every state of a trajectory', () => {
    const rng = new Rng(0);
    const { trajs } = data(rng, 20, 6);
    const m = new TrajectoryMixture({ components: 3, dim: 2 });
    m.fit(trajs, { rng: new Rng(1), iterations: 10 });
    for (const t of trajs) {
      const r = m.responsibilities(t);
      expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const per = m.stateResponsibilities(t);
      expect(per).toHaveLength(t.length);
      for (const row of per) expect(Array.from(row)).toEqual(Array.from(r));
    }
    // Trajectory-level: the posterior of a trajectory is p(z) Π_t q(s_t|z), normalised — by hand.
    const t = trajs[0];
    const logp = Array.from(m.logPrior);
    for (const s of t) m.logLikelihoods(s).forEach((l, z) => (logp[z] += l));
    const mx = Math.max(...logp);
    const z = logp.reduce((a, l) => a + Math.exp(l - mx), 0);
    m.responsibilities(t).forEach((r, k) => expect(r).toBeCloseTo(Math.exp(logp[k] - mx) / z, 12));
  });

  it('EM increases the likelihood and recovers the trajectory clusters; rewards follow the formula', () => {
    const { trajs, labels } = data(new Rng(2), 30, 5);
    const m = new TrajectoryMixture({ components: 2, dim: 2 });
    const hist = m.fit(trajs, { rng: new Rng(3), iterations: 20 });
    for (let i = 1; i < hist.length; i++) expect(hist[i]).toBeGreaterThanOrEqual(hist[i - 1] - 1e-9);
    const assign = trajs.map((t) => (m.responsibilities(t)[0] > 0.5 ? 0 : 1));
    const agree = assign.filter((a, i) => a === labels[i]).length;
    expect(Math.max(agree, trajs.length - agree)).toBe(trajs.length);
    const s = Float32Array.of(-2, 0);
    const ll = m.logLikelihoods(s);
    const logq = Math.log(Math.exp(ll[0] + m.logPrior[0]) + Math.exp(ll[1] + m.logPrior[1]));
    expect(m.logMarginal(s)).toBeCloseTo(logq, 10);
    expect(m.reward(s, 1, 0.5)).toBeCloseTo(0.5 * ll[1] - logq, 10);
    // λ = 1: log q(z|s) − log p(z).
    expect(m.reward(s, 0, 1)).toBeCloseTo(ll[0] + m.logPrior[0] - logq - m.logPrior[0], 10);
    expect(() => m.reward(s, 2)).toThrow(/TrajectoryMixture\.reward: argument 'z' expected an integer in \[0, 1\], got 2/);
    expect(() => m.fit(trajs.slice(0, 1))).toThrow(/expected at least 2/);
    expect(() => m.responsibilities([Float32Array.of(1)])).toThrow(/states expected 2 entries, got 1/);
  });

  it("fit with init 'current' warm-starts from the present parameters (CARML's refits)", () => {
    const { trajs } = data(new Rng(4), 20, 5);
    const m = new TrajectoryMixture({ components: 2, dim: 2 });
    const first = m.fit(trajs, { rng: new Rng(1), iterations: 10 });
    const means = Array.from(m.means);
    const prior = Array.from(m.logPrior);
    m.fit(trajs, { rng: new Rng(9), iterations: 0, init: 'current' });
    expect(Array.from(m.means)).toEqual(means);
    expect(Array.from(m.logPrior)).toEqual(prior);
    const hist = m.fit(trajs, { rng: new Rng(9), iterations: 3, init: 'current' });
    m.fit(trajs, { rng: new Rng(9), iterations: 0 }); // from data: means jump to sampled states
    expect(Array.from(m.means)).not.toEqual(means);
    // EM never lowers the likelihood, so the warm start begins at least where the first fit ended.
    expect(hist[0]).toBeGreaterThanOrEqual((first.at(-1) as number) - 1e-9);
  });

  it('k-means++ seeding does not start duplicate components on repeated states', () => {
    // Every trajectory starts at the same state (a fixed start cell), then stays near one of two places.
    const rng = new Rng(6);
    const trajs = Array.from({ length: 30 }, (_, i) => [Float32Array.of(0, 0), ...Array.from({ length: 3 }, () => Float32Array.of((i % 2 ? 3 : -3) + 0.1 * rng.normal(), 2 + 0.1 * rng.normal()))]);
    for (let seed = 0; seed < 5; seed++) {
      const m = new TrajectoryMixture({ components: 3, dim: 2 });
      m.fit(trajs, { rng: new Rng(seed), iterations: 0 });
      const means = [0, 1, 2].map((z) => `${m.means[2 * z]},${m.means[2 * z + 1]}`);
      expect(new Set(means).size).toBe(3);
    }
  });
});
