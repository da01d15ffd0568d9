import { describe, expect, it } from 'vitest';
import { Rng } from '@brickml/core';
import {
  ContextualBandit, DeepSea, KLearningAgent, MultiArmedBandit, TabularPosterior, runDeepSea, sampleGamma, softBellman, type TabularModel,
} from '../src/index.js';

/** Two states, two actions, horizon 2: from 0, action 0 stays and action 1 goes to 1; state 1 is absorbing and pays 1 for action 0. */
function chain(): TabularModel {
  const det = (s: number) => ({ states: Int32Array.of(s), probs: Float64Array.of(1), uniformMass: 0 });
  return { numStates: 2, numActions: 2, reward: Float64Array.of(0, 0, 1, 0), successors: [det(0), det(1), det(1), det(1)] };
}

describe('soft Bellman / K-values', () => {
  it('match a hand-solved 2-state chain (τ = 1, no bonus)', () => {
    const { q, values } = softBellman(chain(), { horizon: 2, tau: 1 });
    // h = 1: K(0,·) = [0, 0] → V = log 2; K(1,·) = [1, 0] → V = log(e + 1)
    expect(Array.from(q[1])).toEqual([0, 0, 1, 0]);
    expect(values[1][0]).toBeCloseTo(Math.log(2), 12);
    expect(values[1][1]).toBeCloseTo(Math.log(Math.E + 1), 12);
    // h = 0: K(0,0) = V1(0), K(0,1) = V1(1), K(1,0) = 1 + V1(1), K(1,1) = V1(1)
    const v1 = Math.log(Math.E + 1);
    [Math.log(2), v1, 1 + v1, v1].forEach((x, i) => expect(q[0][i]).toBeCloseTo(x, 12));
    expect(values[0][0]).toBeCloseTo(Math.log(2 + Math.exp(v1)), 12);
  });

  it('add the uncertainty bonus σ²/(2τ) at every step, and reduce to value iteration at τ = 0', () => {
    const variance = Float64Array.of(0, 0.5, 0, 0);
    const tau = 0.5;
    const { q, values } = softBellman(chain(), { horizon: 2, tau, variance });
    const bonus = 0.5 / (2 * tau);
    expect(q[1][1]).toBeCloseTo(bonus, 12);
    expect(values[1][0]).toBeCloseTo(tau * Math.log(1 + Math.exp(bonus / tau)), 12);
    const v11 = tau * Math.log(Math.exp(1 / tau) + 1);
    expect(q[0][1]).toBeCloseTo(bonus + v11, 12);
    const vi = softBellman(chain(), { horizon: 2, tau: 0 });
    expect(Array.from(vi.q[0])).toEqual([0, 1, 2, 1]);
    expect(() => softBellman(chain(), { horizon: 2, tau: 0, variance })).toThrow(/needs tau > 0/);
  });

  it('optimal temperature: for two arms with μ = 0 and σ² = s, τ* = √(s / (2 log 2))', () => {
    // One state, horizon 1: V(τ) = τ log 2 + s / (2τ) (+ mean 0), minimised at τ* = √(s / (2 log 2)).
    const agent = new KLearningAgent({ numStates: 1, numActions: 2, horizon: 1, returnBound: 0, rewardNoise: 1, priorCount: 1 });
    // σ² = (σ_r² + 0) / (0 + 1) = 1 for both arms
    expect(agent.optimalTau()).toBeCloseTo(Math.sqrt(1 / (2 * Math.log(2))), 4);
    agent.observe(0, 0, 0, 1);
    agent.observe(0, 1, 0, 1);
    agent.observe(0, 1, 0, 1);
    // σ² = [1/2, 1/3]: τ* minimises τ·log(e^{1/(4τ²)} + e^{1/(6τ²)}); compare with a fine grid.
    let best = Infinity;
    let bestTau = 0;
    for (let t = 0.05; t < 3; t += 1e-4) {
      const v = t * Math.log(Math.exp(0.5 / (2 * t * t)) + Math.exp(1 / 3 / (2 * t * t)));
      if (v < best) [best, bestTau] = [v, t];
    }
    expect(agent.optimalTau()).toBeCloseTo(bestTau, 3);
  });
});

describe('TabularPosterior', () => {
  it('count-based posterior: Gaussian reward means and Dirichlet transitions', () => {
    const p = new TabularPosterior({ numStates: 3, numActions: 2, rewardNoise: 1, priorCount: 1, transitionPrior: 1 });
    p.observe(0, 1, 1, 2);
    p.observe(0, 1, 0, 2);
    p.observe(0, 1, 1, 3); // terminal
    expect(p.meanReward()[1]).toBeCloseTo(2 / 4, 12);
    expect(p.rewardVariance()[1]).toBeCloseTo(1 / 4, 12);
    const row = p.meanModel().successors[1];
    expect(Array.from(row.states)).toEqual([2]);
    expect(row.probs[0]).toBeCloseTo(2 / 4, 12);
    expect(row.uniformMass).toBeCloseTo(1 / 4, 12); // the remaining 1/4 goes to the terminal state
    expect(p.meanModel().successors[0].uniformMass).toBe(1);
    expect(() => p.observe(3, 0, 0, 0)).toThrow("TabularPosterior.observe: argument 'state' expected an integer in [0, 2], got 3");
    // Gamma sampler: mean ≈ shape
    const rng = new Rng(1);
    const xs = Array.from({ length: 4000 }, () => sampleGamma(2.5, rng));
    expect(xs.reduce((a, b) => a + b, 0) / xs.length).toBeCloseTo(2.5, 1);
  });
});

describe('DeepSea', () => {
  it('follows bsuite semantics: N steps, move cost 0.01/N, +1 only for N rights', () => {
    const N = 5;
    const env = new DeepSea({ size: N, mappingSeed: 3 });
    const rightAt = (e: DeepSea) => e.actionMapping[e.row * N + e.column];
    env.reset();
    let total = 0;
    for (let t = 0; t < N; t++) {
      const r = env.step(rightAt(env));
      total += r.reward;
      expect(r.terminated).toBe(t === N - 1);
    }
    expect(total).toBeCloseTo(1 - 0.01, 12);
    expect(env.stateIndex).toBe(N * N);
    // One left anywhere: no treasure; the mask differs between cells.
    env.reset();
    env.step(1 - rightAt(env));
    let rest = 0;
    for (let t = 1; t < N; t++) rest += env.step(rightAt(env)).reward;
    expect(rest).toBeLessThan(0);
    const mask = new DeepSea({ size: 8, mappingSeed: 3 }).actionMapping;
    expect(new Set(mask).size).toBe(2);
    expect(new DeepSea({ size: 8, mappingSeed: 3 }).actionMapping).toEqual(mask);
    // Observation: one-hot of (row, column)
    env.reset();
    env.step(rightAt(env));
    const obs = env.step(rightAt(env)).observation;
    expect(obs[2 * N + 2]).toBe(1);
    expect(obs.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('K-learning finds the treasure of a size where soft-Q does not (deterministic under a seed)', () => {
    const k = runDeepSea({ size: 10, agent: 'k-learning', episodes: 200, seed: 0 });
    const s = runDeepSea({ size: 10, agent: 'soft-q', episodes: 200, seed: 0 });
    const t = runDeepSea({ size: 10, agent: 'thompson', episodes: 200, seed: 0 });
    // Solved: after finding the treasure, K-learning goes there in (nearly) every episode.
    expect(k.firstSuccess).toBeLessThan(100);
    const lateK = k.returns.slice(150).filter((r) => r > 0.5).length;
    expect(lateK).toBeGreaterThanOrEqual(45);
    expect(t.successes).toBeGreaterThan(0);
    expect(s.successes).toBe(0);
    expect(k.cumulativeRegret.at(-1)).toBeLessThan(0.5 * s.cumulativeRegret.at(-1)!);
    expect(runDeepSea({ size: 10, agent: 'k-learning', episodes: 200, seed: 0 })).toEqual(k);
  });
});

describe('bandits', () => {
  it('multi-armed: fixed or per-reset means, Bernoulli rewards with the right rates, regret in info', () => {
    const env = new MultiArmedBandit({ means: [0.2, 0.9], horizon: 1000 });
    env.reset({ seed: 1 });
    let hits = 0;
    for (let t = 0; t < 999; t++) {
      const r = env.step(1);
      hits += r.reward;
      expect(r.info.regret).toBe(0);
    }
    expect(hits / 999).toBeCloseTo(0.9, 1);
    expect(env.step(0).truncated).toBe(true);
    const fresh = new MultiArmedBandit({ arms: 3 });
    const m1 = fresh.reset({ seed: 1 }).info.means;
    const m2 = fresh.reset().info.means;
    expect(m1).not.toEqual(m2);
    expect(() => env.step(2)).toThrow(/call reset\(\)/);
    env.reset();
    expect(() => env.step(2)).toThrow("MultiArmedBandit.step: argument 'action' expected an element of Discrete(2) (an integer in [0, 1]), got 2");
  });

  it('contextual: the best arm depends on the context and pays θᵀx', () => {
    const env = new ContextualBandit({ arms: 3, contextDim: 4, noise: 0 });
    const o = env.reset({ seed: 2 }).observation;
    const exp = env.expectedRewards();
    const best = exp.indexOf(Math.max(...exp));
    const r = env.step(best);
    expect(r.reward).toBeCloseTo(exp[best], 6);
    expect(r.info.regret).toBe(0);
    expect(o.length).toBe(4);
    const bests = new Set<number>();
    for (let i = 0; i < 30; i++) {
      env.reset();
      const e = env.expectedRewards();
      bests.add(e.indexOf(Math.max(...e)));
    }
    expect(bests.size).toBeGreaterThan(1);
  });
});
