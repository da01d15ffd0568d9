import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, build, gradCheck } from '@brickml/core';
import { ConvActorCritic, PPOTrainer, PixelMaze } from '../src/index.js';
import { Corridor } from './helpers/tiny-envs.js';

/** A 2 × 2-cell maze (5 × 5 grid, one pixel per cell), the goal in the far corner, random starts. */
const makeMaze = () => new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, goal: [3, 3], maxEpisodeSteps: 12 });
const convPPO = { numEnvs: 8, numSteps: 16, numMinibatches: 2, updateEpochs: 4, lr: 2.5e-3, gamma: 0.9, entCoef: 0.01, encoder: { kind: 'conv' as const, channels: [8, 8], hidden: 32 } };

describe('ConvActorCritic', () => {
  it('maps flat images to logits and values; shapes, config round trip and bad input', () => {
    const net = new ConvActorCritic({ imageShape: [5, 5, 3], action: { kind: 'discrete', n: 4 }, channels: [4, 6], kernelSizes: [3, 3], strides: [1, 2], hidden: 16 }, { rng: new Rng(0) });
    expect(net.featureShape).toEqual([3, 3, 6]);
    expect(net.namedParameters().map(([p]) => p)).toEqual(['network.0.weight', 'network.0.bias', 'network.1.weight', 'network.1.bias', 'fc.weight', 'fc.bias', 'actor.weight', 'actor.bias', 'critic.weight', 'critic.bias']);
    tf.tidy(() => {
      const obs = tf.randomUniform([7, 75], 0, 255, 'float32', 1);
      const ev = net.evaluate(obs, tf.tensor1d([0, 1, 2, 3, 0, 1, 2]));
      expect(ev.logProb.shape).toEqual([7]);
      expect(ev.entropy.shape).toEqual([7]);
      expect(ev.value.shape).toEqual([7]);
      expect(net.actorOutput(obs).shape).toEqual([7, 4]);
      // Near-uniform initial policy (head gain 0.01): entropy ≈ log 4.
      for (const e of ev.entropy.dataSync()) expect(e).toBeCloseTo(Math.log(4), 2);
      expect(() => net.value(tf.zeros([2, 74]))).toThrow(/ConvActorCritic.*obs.*75/s);
      const copy = build(net.toConfig(), { rng: new Rng(0) }) as ConvActorCritic;
      expect(copy).toBeInstanceOf(ConvActorCritic);
      expect(Array.from(copy.value(obs).dataSync())).toEqual(Array.from(net.value(obs).dataSync()));
    });
    expect(() => new ConvActorCritic({ imageShape: [5, 5, 3], action: { kind: 'discrete', n: 4 }, channels: [4, 6], kernelSizes: [3] })).toThrow(
      /ConvActorCritic: config field 'kernelSizes' expected one number or 2 entries \(one per entry of 'channels'\), got 1/,
    );
    net.dispose();
  });

  it('gradients of the PPO quantities agree with finite differences (continuous actions)', async () => {
    const net = new ConvActorCritic({ imageShape: [4, 4, 2], action: { kind: 'continuous', dim: 2 }, channels: [3], kernelSizes: [3], hidden: 8, inputScale: 1, actorHeadGain: 1 }, { rng: new Rng(3) });
    const obs = tf.randomNormal([3, 32], 0, 1, 'float32', 4);
    const actions = tf.randomNormal([3, 2], 0, 1, 'float32', 5);
    const f = (o: tf.Tensor, a: tf.Tensor) => {
      const ev = net.evaluate(o, a);
      return tf.sum(tf.add(ev.logProb, tf.mul(ev.value, 0.5))) as tf.Scalar;
    };
    const r = await gradCheck(f, [obs, actions], { eps: 1e-3, atol: 2e-3, rtol: 2e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    tf.dispose([obs, actions]);
    net.dispose();
  });
});

describe('PPOTrainer with a conv encoder on a pixel maze', () => {
  it('learns to reach the goal from pixels (greedy episodes take the shortest path), without leaking tensors', async () => {
    const ppo = new PPOTrainer(makeMaze, { ...convPPO, totalTimesteps: 128 * 30, seed: 1 });
    expect(ppo.policy).toBeInstanceOf(ConvActorCritic);
    const before = await ppo.evaluate({ episodes: 20, deterministic: false });
    let tensors = 0;
    await ppo.train({ onIteration: (m) => void (m.iteration === 5 && (tensors = tf.memory().numTensors)) });
    expect(tf.memory().numTensors).toBe(tensors);
    const after = await ppo.evaluate({ episodes: 20 });
    expect(before.mean).toBeLessThan(0.6); // a near-uniform policy often times out in 12 steps
    expect(after.mean).toBe(1);
    // Shortest paths by breadth-first search from each episode's start (the env is reset with the same seeds).
    const env = makeMaze();
    const dist = (start: readonly number[]) => {
      const key = (r: number, c: number) => r * env.width + c;
      const d = new Map([[key(start[0], start[1]), 0]]);
      const queue = [[start[0], start[1]]];
      while (queue.length) {
        const [r, c] = queue.shift() as number[];
        for (const [dr, dc] of [[-1, 0], [0, 1], [1, 0], [0, -1]]) {
          if (env.isFree(r + dr, c + dc) && !d.has(key(r + dr, c + dc))) {
            d.set(key(r + dr, c + dc), (d.get(key(r, c)) as number) + 1);
            queue.push([r + dr, c + dc]);
          }
        }
      }
      return d.get(key(3, 3)) as number;
    };
    const shortest = after.lengths.map((_, k) => dist(env.reset({ seed: 10_000 + k }).info.agent as number[]));
    expect(after.lengths).toEqual(shortest);
    ppo.dispose();
  });

  it('refuses non-image observations for the conv encoder', () => {
    expect(() => new PPOTrainer(() => new Corridor(4, 12), convPPO)).toThrow(/PPOTrainer: config field 'encoder'/);
  });
});
