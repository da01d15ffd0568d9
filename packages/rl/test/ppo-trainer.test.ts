import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PPOTrainer, type ActorCritic } from '../src/index.js';
import { Corridor, ReachTarget } from './helpers/tiny-envs.js';

const small = { numEnvs: 4, numSteps: 16, numMinibatches: 2, updateEpochs: 4, lr: 3e-3, hidden: [16, 16], totalTimesteps: 64 * 40 };

describe('PPOTrainer', () => {
  it('solves a small corridor (discrete actions) within the test budget', async () => {
    const ppo = new PPOTrainer(() => new Corridor(4, 12), { ...small, seed: 3, gamma: 0.9 });
    const before = await ppo.evaluate({ episodes: 5, seed: 0 });
    await ppo.train();
    const after = await ppo.evaluate({ episodes: 5, seed: 0 });
    expect(before.mean).toBeLessThan(1); // near-uniform initial policy rarely goes straight right greedily
    expect(after.mean).toBe(1);
    expect(Math.max(...after.lengths)).toBe(3); // the shortest path
    ppo.dispose();
  });

  it('learns a continuous action (Gaussian policy, clipped to the Box)', async () => {
    const ppo = new PPOTrainer(() => new ReachTarget(), { ...small, seed: 1, totalTimesteps: 64 * 60, entCoef: 0 });
    const before = await ppo.evaluate({ episodes: 20, seed: 5 });
    await ppo.train();
    const after = await ppo.evaluate({ episodes: 20, seed: 5 });
    expect(after.mean).toBeGreaterThan(-0.05);
    expect(after.mean).toBeGreaterThan(before.mean);
    ppo.dispose();
  });

  it('is deterministic under a seed (metrics and parameters)', async () => {
    const run = async () => {
      const ppo = new PPOTrainer(() => new Corridor(4, 12), { ...small, seed: 7, totalTimesteps: 64 * 3, normalizeObservations: true });
      const m = await ppo.train();
      const w = Array.from(await (ppo.policy as ActorCritic).actor[0].weight.data());
      ppo.dispose();
      return { m: m.map(({ sps: _s, ...rest }) => rest), w };
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
  });

  it('leaks no tensors over many updates', async () => {
    const ppo = new PPOTrainer(() => new Corridor(4, 12), { ...small, seed: 2, totalTimesteps: 64 * 12 });
    await ppo.train({ untilIteration: 2 });
    const n = tf.memory().numTensors;
    await ppo.train({ untilIteration: 12 });
    expect(tf.memory().numTensors).toBe(n);
    await ppo.evaluate({ episodes: 3 });
    expect(tf.memory().numTensors).toBe(n);
    ppo.dispose();
  });

  it('writes metrics as JSON lines and resumes from a checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brickml-rl-ppo-'));
    try {
      const cfg = { ...small, seed: 4, totalTimesteps: 64 * 6, normalizeObservations: true };
      const ppo = new PPOTrainer(() => new Corridor(4, 12), cfg);
      const metricsPath = join(dir, 'metrics.jsonl');
      await ppo.train({ untilIteration: 3, metricsPath, checkpoint: { dir: join(dir, 'ck') } });
      const lines = readFileSync(metricsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3]);
      expect(lines[2].globalStep).toBe(192);
      for (const k of ['pgLoss', 'vLoss', 'entropy', 'approxKl', 'clipFrac', 'explainedVariance']) expect(typeof lines[0][k]).toBe('number');

      const other = new PPOTrainer(() => new Corridor(4, 12), cfg);
      expect(await other.policy.actor[0].weight.data()).not.toEqual(await (ppo.policy as ActorCritic).actor[0].weight.data());
      await other.resume(join(dir, 'ck'));
      expect(other.iteration).toBe(3);
      expect(other.globalStep).toBe(192);
      expect(other.history).toEqual(ppo.history);
      expect(await other.policy.actor[0].weight.data()).toEqual(await (ppo.policy as ActorCritic).actor[0].weight.data());
      expect(await other.optimizer.slot('critic.0.weight', 'exp_avg')!.data()).toEqual(await ppo.optimizer.slot('critic.0.weight', 'exp_avg')!.data());
      expect(other.obsRms!.getState()).toEqual(ppo.obsRms!.getState());
      const rest = await other.train();
      expect(rest.map((m) => m.iteration)).toEqual([4, 5, 6]);
      await expect(new PPOTrainer(() => new Corridor(4, 12), { ...cfg, lr: 1 }).resume(join(dir, 'ck'))).rejects.toThrow(
        /PPOTrainer.resume: the checkpoint's config differs from this trainer's in 'lr'/,
      );
      ppo.dispose();
      other.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad configs clearly', () => {
    expect(() => new PPOTrainer(() => new Corridor(), { numEnvs: 3, numSteps: 5, numMinibatches: 4 })).toThrow(/divisible by numMinibatches/);
    expect(() => new PPOTrainer(() => new Corridor(), { gamma: 2 } as never)).toThrow(/gamma/);
  });
});
