import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';
import { ActorCritic, RunningMeanStd, computeGae, orthogonalArray, ppoLoss } from '../src/index.js';

describe('computeGae', () => {
  const base = { numSteps: 3, numEnvs: 1, rewards: [1, 1, 1], values: [0.5, 0.6, 0.7], gamma: 0.9, lambda: 0.8 };

  it('matches hand-computed advantages without episode ends', () => {
    // δ = [1 + 0.9·0.6 − 0.5, 1 + 0.9·0.7 − 0.6, 1 + 0.9·0.8 − 0.7] = [1.04, 1.03, 1.02]; γλ = 0.72
    const r = computeGae({ ...base, nextValues: [0.6, 0.7, 0.8], terminated: [0, 0, 0], truncated: [0, 0, 0] });
    const a2 = 1.02;
    const a1 = 1.03 + 0.72 * a2;
    const a0 = 1.04 + 0.72 * a1;
    expect(Array.from(r.advantages)).toEqual([a0, a1, a2].map(Math.fround));
    expect(r.returns[0]).toBeCloseTo(a0 + 0.5, 6);
  });

  it('termination does not bootstrap; truncation bootstraps from the final observation value; neither propagates back', () => {
    const term = computeGae({ ...base, nextValues: [0.6, 5.0, 0.8], terminated: [0, 1, 0], truncated: [0, 0, 0] });
    // δ1 = 1 − 0.6 = 0.4 (V(final) ignored), A1 = 0.4, A0 = 1.04 + 0.72·0.4
    expect(term.advantages[2]).toBeCloseTo(1.02, 6);
    expect(term.advantages[1]).toBeCloseTo(0.4, 6);
    expect(term.advantages[0]).toBeCloseTo(1.04 + 0.72 * 0.4, 6);
    const trunc = computeGae({ ...base, nextValues: [0.6, 5.0, 0.8], terminated: [0, 0, 0], truncated: [0, 1, 0] });
    // δ1 = 1 + 0.9·5 − 0.6 = 4.9, A1 = 4.9 (A2 does not leak back), A0 = 1.04 + 0.72·4.9
    expect(trunc.advantages[1]).toBeCloseTo(4.9, 5);
    expect(trunc.advantages[0]).toBeCloseTo(1.04 + 0.72 * 4.9, 5);
    expect(trunc.advantages[2]).toBeCloseTo(1.02, 6);
  });

  it('keeps envs apart (time-major layout) and rejects wrong lengths', () => {
    const two = computeGae({
      numSteps: 2, numEnvs: 2, rewards: [1, 0, 1, 0], values: [0, 0, 0, 0], nextValues: [0, 0, 0, 0],
      terminated: [0, 0, 0, 0], truncated: [0, 0, 0, 0], gamma: 0.5, lambda: 1,
    });
    expect(Array.from(two.advantages)).toEqual([1.5, 0, 1, 0]);
    expect(() => computeGae({ ...base, nextValues: [0, 0], terminated: [0, 0, 0], truncated: [0, 0, 0] })).toThrow(
      "computeGae: argument 'nextValues' expected 3 entries (numSteps 3 × numEnvs 1), got 2",
    );
  });
});

describe('ppoLoss', () => {
  it('clipped surrogate, clipped value loss, entropy, KL and clip fraction on hand values', async () => {
    const out = ppoLoss(
      {
        newLogProb: tf.tensor1d([Math.log(1.5), Math.log(0.5)]),
        oldLogProb: tf.tensor1d([0, 0]),
        advantages: tf.tensor1d([1, -1]),
        newValues: tf.tensor1d([1, 0]),
        oldValues: tf.tensor1d([0.5, 0.5]),
        returns: tf.tensor1d([2, 0]),
        entropy: tf.tensor1d([0.6, 0.4]),
      },
      { normalizeAdvantages: false },
    );
    // pg: max(−1.5, −1.2) = −1.2 and max(0.5, 0.8) = 0.8 → −0.2
    expect(await out.pgLoss.array()).toBeCloseTo(-0.2, 6);
    // v: max(1, (0.7 − 2)²) = 1.69 and max(0, 0.3²) = 0.09 → 0.5·0.89
    expect(await out.vLoss.array()).toBeCloseTo(0.445, 6);
    expect(await out.entropy.array()).toBeCloseTo(0.5, 6);
    expect(await out.loss.array()).toBeCloseTo(-0.2 - 0.01 * 0.5 + 0.5 * 0.445, 6);
    expect(await out.approxKl.array()).toBeCloseTo((0.5 - Math.log(1.5) + (-0.5 - Math.log(0.5))) / 2, 6);
    expect(await out.clipFrac.array()).toBe(1);
  });

  it('normalises advantages per minibatch with the unbiased std, and the unclipped value loss is plain MSE', async () => {
    const out = ppoLoss(
      {
        newLogProb: tf.tensor1d([Math.log(1.1), 0]),
        oldLogProb: tf.tensor1d([0, 0]),
        advantages: tf.tensor1d([1, 3]), // → [−1/√2, 1/√2]
        newValues: tf.tensor1d([1, 0]),
        oldValues: tf.tensor1d([0.5, 0.5]),
        returns: tf.tensor1d([2, 0]),
        entropy: tf.tensor1d([0, 0]),
      },
      { clipVloss: false },
    );
    const h = 1 / Math.SQRT2;
    expect(await out.pgLoss.array()).toBeCloseTo((h * 1.1 - h) / 2, 5);
    expect(await out.vLoss.array()).toBeCloseTo(0.25, 6);
    expect(await out.clipFrac.array()).toBe(0);
    expect(() =>
      ppoLoss({
        newLogProb: tf.zeros([2]), oldLogProb: tf.zeros([3]), advantages: tf.zeros([2]), newValues: tf.zeros([2]),
        oldValues: tf.zeros([2]), returns: tf.zeros([2]), entropy: tf.zeros([2]),
      }),
    ).toThrow("ppoLoss: argument 'oldLogProb' expected shape [2] (like newLogProb), got [3]");
  });
});

describe('ActorCritic', () => {
  it('orthogonal init gives W·Wᵀ = gain²·I (wide) and Wᵀ·W = gain²·I (tall)', () => {
    for (const [rows, cols] of [[3, 7], [7, 3]]) {
      const w = orthogonalArray(rows, cols, 2, new Rng(1));
      const k = Math.min(rows, cols);
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          let dot = 0;
          for (let t = 0; t < Math.max(rows, cols); t++) dot += rows < cols ? w[i * cols + t] * w[j * cols + t] : w[t * cols + i] * w[t * cols + j];
          expect(dot).toBeCloseTo(i === j ? 4 : 0, 5);
        }
      }
    }
  });

  it('host sampling log-probabilities equal evaluate() (discrete and continuous), same seed same parameters', async () => {
    for (const action of [{ kind: 'discrete' as const, n: 3 }, { kind: 'continuous' as const, dim: 2 }]) {
      const pol = new ActorCritic({ obsDim: 4, action, actorHeadGain: 1 }, { rng: new Rng(3) });
      const same = new ActorCritic({ obsDim: 4, action, actorHeadGain: 1 }, { rng: new Rng(3) });
      expect(await pol.critic[0].weight.data()).toEqual(await same.critic[0].weight.data());
      const obs = new Rng(5).normalArray(6 * 4);
      const act = await pol.act(obs, 6, new Rng(9));
      const ev = pol.evaluate(tf.tensor2d(obs, [6, 4]), action.kind === 'discrete' ? tf.tensor1d(act.actions) : tf.tensor2d(act.actions, [6, 2]));
      const lp = await ev.logProb.data();
      for (let i = 0; i < 6; i++) expect(lp[i]).toBeCloseTo(act.logProbs[i], 5);
      const v = await ev.value.data();
      for (let i = 0; i < 6; i++) expect(v[i]).toBeCloseTo(act.values[i], 6);
      if (action.kind === 'continuous') {
        // Entropy of N(μ, 1) per dimension: 0.5 + 0.5·log 2π
        expect((await ev.entropy.data())[0]).toBeCloseTo(2 * (0.5 + 0.5 * Math.log(2 * Math.PI)), 5);
      }
      pol.dispose();
      same.dispose();
    }
  });

  it('round-trips its config and checks shapes', () => {
    const pol = new ActorCritic({ obsDim: 4, action: { kind: 'discrete', n: 2 } });
    expect(pol.toConfig()).toMatchObject({ type: 'ActorCritic', obsDim: 4, hidden: [64, 64], activation: 'tanh' });
    expect(pol.namedParameters().map(([n]) => n).sort()).toEqual(
      ['actor', 'critic'].flatMap((m) => [0, 1, 2].flatMap((i) => [`${m}.${i}.bias`, `${m}.${i}.weight`])).sort(),
    );
    expect(() => pol.value(tf.zeros([2, 5]))).toThrow(/ActorCritic: argument 'obs' expected shape .*4\], got \[2, 5\]/);
    pol.dispose();
  });
});

describe('RunningMeanStd', () => {
  it('matches the batch mean and variance and normalises', () => {
    const rms = new RunningMeanStd(2);
    const data = new Rng(1).normalArray(200, 3, 2);
    rms.update(data.subarray(0, 100), 50);
    rms.update(data.subarray(100), 50);
    let m0 = 0;
    for (let i = 0; i < 200; i += 2) m0 += data[i] / 100;
    let v0 = 0;
    for (let i = 0; i < 200; i += 2) v0 += (data[i] - m0) ** 2 / 100;
    expect(rms.mean[0]).toBeCloseTo(m0, 4);
    expect(rms.var[0]).toBeCloseTo(v0, 3);
    const z = rms.normalize(new Float32Array([m0, 0]));
    expect(z[0]).toBeCloseTo(0, 4);
  });
});
