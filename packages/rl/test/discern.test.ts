import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng } from '@brickml/core';
import { describe, expect, it } from 'vitest';
import { DiscernEmbedding, DiscernTrainer, GoalBuffer, GoalConditionedEnv, PixelMaze, discernLoss, discernRewardHost, hindsightRelabel, type GoalSharedState } from '../src/index.js';

describe('discernLoss', () => {
  it('matches hand values: cross-entropy of the goal among decoys at inverse temperature β', () => {
    const s = Math.SQRT1_2;
    // Two rows, E = 2, K = 2 decoys.
    const achieved = tf.tensor2d([1, 0, 0, 1], [2, 2]);
    const goals = tf.tensor2d([s, s, 1, 0], [2, 2]);
    const decoys = tf.tensor3d([0, 1, -1, 0, 0, 1, s, s], [2, 2, 2]);
    const beta = 2;
    const { loss, accuracy, logits } = discernLoss(achieved, goals, decoys, beta);
    // Row 0: similarities [s, 0, −1]; row 1: [0, 1, s] → logits β·sim.
    const rows = [[s, 0, -1], [0, 1, s]].map((r) => r.map((v) => beta * v));
    expect(Array.from(logits.dataSync())).toEqual(rows.flat().map((v) => Math.fround(v)).map((v) => expect.closeTo(v, 6)));
    const ce = rows.map((r) => -(r[0] - Math.log(r.reduce((a, v) => a + Math.exp(v), 0))));
    expect(loss.dataSync()[0]).toBeCloseTo((ce[0] + ce[1]) / 2, 5);
    expect(accuracy.dataSync()[0]).toBe(0.5); // row 0 picks its goal, row 1 does not
    tf.dispose([achieved, goals, decoys, loss, accuracy, logits]);
  });

  it('rejects mismatched shapes with the argument named', () => {
    const a = tf.zeros([2, 3]);
    expect(() => discernLoss(a, tf.zeros([2, 4]), tf.zeros([2, 1, 3]), 1)).toThrow(/discernLoss: argument 'goals' expected \[2, 3\], got \[2, 4\]/);
    expect(() => discernLoss(a, a, tf.zeros([2, 3]), 1)).toThrow(/argument 'decoys' expected \[2, K, 3\]/);
    expect(() => discernLoss(a, a, tf.zeros([2, 1, 3]), 0)).toThrow(/argument 'beta' expected a positive number, got 0/);
    a.dispose();
  });
});

describe('DiscernEmbedding', () => {
  it('rows have unit norm, the host snapshot equals forward, and nothing leaks', async () => {
    const emb = new DiscernEmbedding({ inDim: 5, hidden: [7], embedDim: 3 }, { rng: new Rng(0) });
    const x = new Rng(1).normalArray(4 * 5);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => emb.forward(tf.tensor2d(x, [4, 5])));
    const yv = (await y.data()) as Float32Array;
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const host = await emb.snapshot();
    for (let b = 0; b < 4; b++) {
      const row = yv.subarray(3 * b, 3 * b + 3);
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
      const h = host(x.subarray(5 * b, 5 * b + 5));
      for (let j = 0; j < 3; j++) expect(h[j]).toBeCloseTo(row[j], 5);
    }
    expect(() => host(new Float32Array(4))).toThrow(/DiscernEmbedding\.snapshot: argument 'x' expected 5 values, got 4/);
    emb.dispose();
  });
});

describe('discernRewardHost', () => {
  it('clipped similarity is in [0, 1]; probability is the softmax of the goal among decoys', () => {
    const u = (a: number) => Float32Array.of(Math.cos(a), Math.sin(a));
    expect(discernRewardHost(u(0), u(0), 'similarity')).toBeCloseTo(1, 6);
    expect(discernRewardHost(u(0), u(Math.PI), 'similarity')).toBe(0); // cos = −1, clipped
    expect(discernRewardHost(u(0), u(Math.PI / 3), 'similarity')).toBeCloseTo(0.5, 6);
    const p = discernRewardHost(u(0), u(0), 'probability', 3, [u(Math.PI / 2), u(Math.PI)]);
    expect(p).toBeCloseTo(Math.exp(3) / (Math.exp(3) + Math.exp(0) + Math.exp(-3)), 6);
    const rng = new Rng(0);
    for (let k = 0; k < 50; k++) {
      const [a, g, d] = [u(rng.float() * 7), u(rng.float() * 7), u(rng.float() * 7)];
      for (const r of [discernRewardHost(a, g, 'similarity'), discernRewardHost(a, g, 'probability', 5, [d])]) {
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThanOrEqual(1);
      }
    }
    expect(() => discernRewardHost(u(0), u(0), 'probability')).toThrow(/at least one decoy/);
  });
});

describe('GoalBuffer and hindsight relabelling', () => {
  it('reservoir sampling keeps a uniform sample; draws are seeded', () => {
    const buf = new GoalBuffer(10, 1);
    const rng = new Rng(0);
    const counts = new Array(100).fill(0);
    for (let trial = 0; trial < 300; trial++) {
      const b = new GoalBuffer(10, 1);
      for (let i = 0; i < 100; i++) b.add(Float32Array.of(i), rng);
      for (let k = 0; k < 10; k++) counts[b.sampleMany(1, rng)[0][0]]++;
    }
    // Each of 100 items lands in a 10-slot reservoir with probability 0.1: about 30 draws each; early and late halves alike.
    const early = counts.slice(0, 50).reduce((a, b) => a + b, 0);
    expect(early / 3000).toBeGreaterThan(0.44);
    expect(early / 3000).toBeLessThan(0.56);
    expect(() => buf.sample(rng)).toThrow(/GoalBuffer\.sample: the buffer is empty/);
    expect(() => buf.add(new Float32Array(2), rng)).toThrow(/expected 1 values, got 2/);
  });

  it("relabels with the episode's final or a future achieved observation, rewarding only the last step", () => {
    const obs = [0, 1, 2, 3].map((v) => Float32Array.of(v));
    const reward = (a: Float32Array, g: Float32Array) => (a[0] === g[0] ? 1 : 0);
    const fin = hindsightRelabel(obs, { reward });
    expect(fin.map((s) => [s.t, s.goalIndex, s.goal[0], s.reward])).toEqual([[0, 3, 3, 0], [1, 3, 3, 0], [2, 3, 3, 1]]);
    const fut = hindsightRelabel(obs, { strategy: 'future', rng: new Rng(4), reward });
    for (const s of fut) {
      expect(s.goalIndex).toBeGreaterThan(s.t);
      expect(s.goalIndex).toBeLessThanOrEqual(3);
      expect(s.goal).toBe(obs[s.goalIndex]);
      expect(s.reward).toBe(s.t === 2 ? reward(obs[3], s.goal) : 0);
    }
    expect(fut[2].goalIndex).toBe(3);
    expect(() => hindsightRelabel(obs.slice(0, 1), { reward })).toThrow(/at least 2/);
  });
});

describe('GoalConditionedEnv', () => {
  it('observes [s, g, t/T], pays the reward only at the fixed last step, and fills the buffer', () => {
    const buffer = new GoalBuffer(64, 5 * 5 * 3);
    const shared: GoalSharedState = { buffer, reward: (a, g) => (a.every((v, i) => v === g[i]) ? 1 : 0.25), finished: [] };
    const maze = new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, stayAction: true });
    const env = new GoalConditionedEnv(maze, shared, 3);
    const o = env.reset({ seed: 0 }).observation;
    expect(o.length).toBe(2 * 75 + 1);
    expect(Array.from(o.subarray(0, 75))).toEqual(Array.from(o.subarray(75, 150))); // empty buffer: the goal is the start
    expect(o[150]).toBe(0);
    const goal = Float32Array.from(maze.observationAt(3, 3), (v) => v / 255);
    env.reset({ seed: 1, options: { goal } });
    const r1 = env.step(4);
    expect([r1.reward, r1.terminated, r1.observation[150]]).toEqual([0, false, Math.fround(1 / 3)]);
    env.step(4);
    const r3 = env.step(4);
    expect(r3.terminated).toBe(true);
    expect(r3.reward).toBe(maze.agent[0] === 3 && maze.agent[1] === 3 ? 1 : 0.25);
    expect(shared.finished.length).toBe(1);
    expect(shared.finished[0].goal).toBe(goal);
    expect(buffer.seen).toBe(2 + 3);
    expect(() => env.reset({ options: { goal: new Float32Array(3) } })).toThrow(/option 'goal' expected a Float32Array of 75 values, got 3 values/);
  });
});

describe('DiscernTrainer', () => {
  it('the embedding objective learns to pick achieved goals above chance when final states follow their goals', async () => {
    // A scripted goal-reaching agent: the final state is the goal cell or one of its free neighbours.
    const maze = new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1 });
    maze.reset({ seed: 0 });
    const cells = maze.freeCells();
    const img = (p: readonly number[]) => Float32Array.from(maze.observationAt(p[0], p[1]), (v) => v / 255);
    const rng = new Rng(0);
    const emb = new DiscernEmbedding({ inDim: 75, hidden: [32], embedDim: 16 }, { rng: new Rng(1) });
    const opt = new AdamW(emb, { lr: 3e-3, weightDecay: 0 });
    const names = new Map(emb.namedParameters().map(([p, v]) => [v.name, p]));
    const mean = new Float32Array(75);
    for (const c of cells) img(c).forEach((v, i) => (mean[i] += v / cells.length));
    const K = 3;
    const n = 48;
    const accs: number[] = [];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 60; step++) {
      const a = new Float32Array(n * 75);
      const g = new Float32Array(n * 75);
      const d = new Float32Array(n * K * 75);
      for (let k = 0; k < n; k++) {
        const goal = cells[rng.int(0, cells.length)];
        const near = [goal, ...[[-1, 0], [1, 0], [0, -1], [0, 1]].map(([dr, dc]) => [goal[0] + dr, goal[1] + dc]).filter((p) => maze.isFree(p[0], p[1]))];
        a.set(img(near[rng.int(0, near.length)]), k * 75);
        g.set(img(goal), k * 75);
        for (let m = 0; m < K; m++) d.set(img(cells[rng.int(0, cells.length)]), (k * K + m) * 75);
      }
      let acc: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const mu = tf.tensor2d(mean, [1, 75]);
        const e = (x: Float32Array, rows: number) => emb.forward(tf.sub(tf.tensor2d(x, [rows, 75]), mu));
        const l = discernLoss(e(a, n), e(g, n), tf.reshape(e(d, n * K), [n, K, -1]), 10);
        acc = tf.keep(l.accuracy);
        return l.loss;
      }, emb.parameters());
      opt.step(new Map(Object.entries(grads).map(([k, v]) => [names.get(k) ?? k, v])));
      tf.dispose([value, ...Object.values(grads)]);
      accs.push(((await (acc as tf.Tensor).data()) as Float32Array)[0]);
      (acc as tf.Tensor).dispose();
      if (step === 0) expect(tf.memory().numTensors).toBeGreaterThanOrEqual(before);
    }
    const mid = tf.memory().numTensors;
    const first = accs.slice(0, 5).reduce((x, y) => x + y, 0) / 5;
    const last = accs.slice(-10).reduce((x, y) => x + y, 0) / 10;
    // Chance is 1/(K + 1) = 0.25; a goal-following final state can be told from random decoys.
    expect(last).toBeGreaterThan(0.25 + 0.2);
    expect(last).toBeGreaterThan(first);
    expect(tf.memory().numTensors).toBe(mid);
    opt.dispose();
    emb.dispose();
  });

  it('a short run trains the embedding after each PPO iteration, with finite metrics and no tensor leaks', async () => {
    const makeMaze = () => new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, stayAction: true });
    const trainer = new DiscernTrainer(makeMaze, { episodeLength: 4, decoys: 3, iterations: 4, embedSteps: 2, embedHidden: [16], embedDim: 8, prefillSteps: 32, ppo: { numEnvs: 4, numSteps: 8, hidden: [16] }, seed: 3 });
    expect(Array.from(trainer.obsMean).every((v) => v >= 0 && v <= 1)).toBe(true);
    await trainer.train({ untilIteration: 2 });
    const mid = tf.memory().numTensors;
    await trainer.train();
    expect(tf.memory().numTensors).toBe(mid);
    expect(trainer.history.map((m) => m.iteration)).toEqual([1, 2, 3, 4]);
    for (const m of trainer.history) {
      expect(m.chance).toBe(0.25);
      expect(m.discriminatorAccuracy).toBeGreaterThanOrEqual(0);
      expect(m.discriminatorAccuracy).toBeLessThanOrEqual(1);
      expect(Number.isFinite(m.discriminatorLoss)).toBe(true);
      expect(m.meanReward).toBeGreaterThanOrEqual(0);
      expect(m.meanReward).toBeLessThanOrEqual(1);
    }
    const probe = makeMaze();
    probe.reset({ seed: 0 });
    const finals = await trainer.evaluateGoals([Float32Array.from(probe.observationAt(1, 1), (v) => v / 255)], { episodesPerGoal: 2 });
    expect(finals[0]).toHaveLength(2);
    expect(Array.isArray(finals[0][0].agent)).toBe(true);
    trainer.dispose();
  }, 30_000);
});
