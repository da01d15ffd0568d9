import { describe, expect, it } from 'vitest';
import { GRIDWORLD_LAYOUTS, GridWorld, PPOTrainer, recordEpisode } from '../src/index.js';

const UP = 0;
const RIGHT = 1;
const DOWN = 2;
const LEFT = 3;

describe('GridWorld', () => {
  it('walls block, the door needs the key, the goal pays 1 − 0.9·t/T', () => {
    const env = new GridWorld({ layout: GRIDWORLD_LAYOUTS.keyDoor });
    env.reset({ seed: 0 });
    expect(env.agent).toEqual([1, 1]);
    env.step(UP); // wall
    expect(env.agent).toEqual([1, 1]);
    env.step(DOWN);
    env.step(RIGHT);
    env.step(RIGHT); // the locked door at (2, 3)
    expect(env.agent).toEqual([2, 2]);
    env.step(LEFT);
    env.step(DOWN); // the key at (3, 1)
    expect(env.hasKey).toBe(true);
    env.step(UP);
    env.step(RIGHT);
    env.step(RIGHT); // through the door now
    expect(env.agent).toEqual([2, 3]);
    expect(env.step(RIGHT).reward).toBe(0);
    const last = env.step(RIGHT);
    expect(env.agent).toEqual([2, 5]);
    expect(last.terminated).toBe(true);
    const T = env.maxEpisodeSteps as number;
    expect(last.reward).toBeCloseTo(1 - (0.9 * 11) / T, 12); // 11 steps taken
  });

  it('symbolic observations are one-hot planes plus the key flag; pixel observations match render()', () => {
    const env = new GridWorld();
    const o = env.reset({ seed: 0 }).observation as Float32Array;
    const HW = 5 * 7;
    expect(o.length).toBe(5 * HW + 1);
    expect(o.subarray(4 * HW, 5 * HW).reduce((a, b) => a + b, 0)).toBe(1); // one agent
    expect(o[4 * HW + 1 * 7 + 1]).toBe(1);
    expect(o[2 * HW + 3 * 7 + 1]).toBe(1); // key at (3, 1)
    expect(o[5 * HW]).toBe(0);
    expect(env.observationSpace.contains(o)).toBe(true);
    const px = new GridWorld({ observation: 'pixels', cellSize: 4 });
    const p = px.reset({ seed: 0 }).observation as Uint8Array;
    expect(px.observationSpace.shape).toEqual([20, 28, 3]);
    expect(px.observationSpace.contains(p)).toBe(true);
    const img = px.render();
    expect(Array.from(p.subarray(0, 3))).toEqual(Array.from(img.rgba.subarray(0, 3)));
    // The agent's cell centre is red.
    const at = (r: number, c: number) => Array.from(p.subarray(3 * (r * 28 + c), 3 * (r * 28 + c) + 3));
    expect(at(1 * 4 + 2, 1 * 4 + 2)).toEqual([220, 40, 40]);
    expect(() => new GridWorld({ layout: ['#A#', '#X#'] })).toThrow(/unknown cell 'X' at row 1, column 1/);
    expect(() => new GridWorld({ layout: ['#A.'] })).toThrow(/exactly one 'G', got 0/);
    expect(() => env.step(4)).toThrow("GridWorld.step: argument 'action' expected an element of Discrete(4) (an integer in [0, 3]), got 4");
  });

  it('records an episode as frames', async () => {
    const ep = await recordEpisode(new GridWorld({ cellSize: 6 }), () => DOWN, { seed: 0, maxSteps: 3 });
    expect(ep.frames).toHaveLength(4);
    expect(ep.frames[0].width).toBe(42);
  });

  it('PPO solves the key-and-door gridworld (symbolic observations)', async () => {
    const ppo = new PPOTrainer(() => new GridWorld(), {
      numEnvs: 8, numSteps: 32, numMinibatches: 2, updateEpochs: 4, lr: 3e-3, hidden: [32, 32], gamma: 0.97, entCoef: 0.02, totalTimesteps: 256 * 25, seed: 1,
    });
    await ppo.train();
    const ev = await ppo.evaluate({ episodes: 3, seed: 0 });
    // The shortest path is 7 steps (key, door, goal): the best return is 1 − 0.9·7/T.
    expect(Math.max(...ev.lengths)).toBe(7);
    expect(ev.mean).toBeCloseTo(1 - (0.9 * 7) / (new GridWorld().maxEpisodeSteps as number), 10);
    ppo.dispose();
  });
});
