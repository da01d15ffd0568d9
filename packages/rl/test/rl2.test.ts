import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';
import { MultiArmedBandit, RL2Trainer } from '../src/index.js';

const task = (rng: Rng) => {
  const good = rng.int(0, 3);
  return new MultiArmedBandit({ means: [0, 1, 2].map((k) => (k === good ? 0.9 : 0.1)), horizon: 2 });
};

describe('RL2Trainer', () => {
  it('carries the GRU state across the episodes of a trial and resets it between trials', async () => {
    const rl2 = new RL2Trainer(task, { episodeLength: 2, episodesPerTrial: 3, trialsPerIteration: 4, hiddenSize: 8, seed: 1 });
    const I = rl2.policy.inputSize;
    const H = 8;
    const n = 4;
    const b = await rl2.rollout(n, new Rng(3), { keepStates: true });
    const states = b.states as Float32Array;
    const fromZero = async (t: number) => {
      const out = tf.tidy(() => rl2.policy.step(tf.tensor2d(b.inputs.subarray(t * n * I, (t + 1) * n * I), [n, I]), rl2.policy.initialState(n)).h);
      const v = (await out.data()) as Float32Array;
      out.dispose();
      return v;
    };
    // Trial start: every trial's first state comes from the zero state.
    const s0 = await fromZero(0);
    for (let i = 0; i < n * H; i++) expect(states[i]).toBeCloseTo(s0[i], 5);
    // First step of episode 2 (t = 2): the input carries done = 1, and the state is NOT recomputed from zero.
    const t = 2;
    for (let i = 0; i < n; i++) expect(b.inputs[(t * n + i) * I + I - 1]).toBe(1);
    for (let i = 0; i < n; i++) expect(b.inputs[(1 * n + i) * I + I - 1]).toBe(0);
    const z2 = await fromZero(t);
    let diff = 0;
    for (let i = 0; i < n * H; i++) diff += Math.abs(states[t * n * H + i] - z2[i]);
    expect(diff).toBeGreaterThan(1e-3);
    // Previous action one-hot and previous reward are in the input.
    const a0 = b.actions[0];
    expect(b.inputs[(1 * n + 0) * I + 1 + a0]).toBe(1);
    expect(b.inputs[(1 * n + 0) * I + 1 + 3]).toBe(b.rewards[0]);
    // A second rollout starts from zero again (no state leaks between calls or trials).
    const b2 = await rl2.rollout(n, new Rng(3), { keepStates: true });
    expect(b2.states).toEqual(states);
    rl2.dispose();
  });

  it('trains without leaking tensors and is deterministic under a seed', async () => {
    const run = async () => {
      const rl2 = new RL2Trainer(task, { episodeLength: 2, episodesPerTrial: 2, trialsPerIteration: 4, numMinibatches: 2, updateEpochs: 2, hiddenSize: 8, iterations: 4, seed: 5 });
      await rl2.train({ untilIteration: 1 });
      const n = tf.memory().numTensors;
      const m = await rl2.train();
      expect(tf.memory().numTensors).toBe(n);
      const w = Array.from(await rl2.policy.gru.weight_hh.data());
      rl2.dispose();
      return { m, w };
    };
    const a = await run();
    expect(a.m.map((x) => x.iteration)).toEqual([2, 3, 4]);
    expect(a.m[0].episodeReturns).toHaveLength(2);
    expect(await run()).toEqual(a);
  });

  it('refuses episodes of the wrong length', async () => {
    const rl2 = new RL2Trainer(task, { episodeLength: 3, episodesPerTrial: 2, trialsPerIteration: 2, numMinibatches: 1, hiddenSize: 4 });
    await expect(rl2.rollout(2, new Rng(0))).rejects.toThrow(/episodes must last exactly episodeLength = 3 steps; env 'MultiArmedBandit' ended at step 2/);
    rl2.dispose();
  });
});
