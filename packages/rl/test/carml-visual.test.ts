import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, gradCheck } from '@brickml/core';
import {
  CarmlEncoder,
  CarmlTaskEnv,
  CarmlTrainer,
  PixelMaze,
  RL2Trainer,
  TrajectoryBuffer,
  TrajectoryMixture,
  VisualTaskModel,
  discriminativeClusteringLoss,
  mixtureLogits,
} from '../src/index.js';

/** A fitted 3-component mixture over 2-D points (for the op tests). */
function fittedMixture(): TrajectoryMixture {
  const rng = new Rng(0);
  const centres = [[-1, 0], [1, 1], [0, -1.5]];
  const trajs = Array.from({ length: 30 }, (_, i) => Array.from({ length: 4 }, () => Float32Array.of(centres[i % 3][0] + 0.3 * rng.normal(), centres[i % 3][1] + 0.3 * rng.normal())));
  const m = new TrajectoryMixture({ components: 3, dim: 2 });
  m.fit(trajs, { rng: new Rng(1), iterations: 10 });
  return m;
}

/** Flat [0, 1] images of the 2 × 2-cell maze with the agent on each free cell, and the cells. */
function mazeImages(): { maze: PixelMaze; cells: Array<[number, number]>; images: Float32Array[] } {
  const maze = new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, stayAction: true, maxEpisodeSteps: 1000 });
  maze.reset({ seed: 0 });
  const cells = maze.freeCells();
  return { maze, cells, images: cells.map(([r, c]) => Float32Array.from(maze.observationAt(r, c), (v) => v / 255)) };
}

describe('CARML visual task model: ops', () => {
  it('mixtureLogits equals log p(z) + log q(e | z) of the host mixture, and its gradient checks', async () => {
    const m = fittedMixture();
    const pts = [Float32Array.of(-1, 0.2), Float32Array.of(0.5, 0.5), Float32Array.of(2, -1)];
    const logits = tf.tidy(() => mixtureLogits(tf.tensor2d([...pts[0], ...pts[1], ...pts[2]], [3, 2]), m));
    const got = await logits.data();
    pts.forEach((p, i) => m.logLikelihoods(p).forEach((l, z) => expect(got[i * 3 + z]).toBeCloseTo(l + m.logPrior[z], 3)));
    logits.dispose();
    const targets = tf.tensor2d([0.7, 0.2, 0.1, 0, 1, 0, 0.3, 0.3, 0.4], [3, 3]);
    const weights = tf.tensor1d([1, 2, 0.5]);
    const e = tf.tensor2d([-0.8, 0.1, 0.4, 0.6, 1.2, -0.9], [3, 2]);
    const r = await gradCheck((x) => discriminativeClusteringLoss(mixtureLogits(x, m), targets, weights), [e], { eps: 1e-3, atol: 1e-3, rtol: 1e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    tf.dispose([targets, weights, e]);
    expect(() => mixtureLogits(tf.zeros([2, 3]), m)).toThrow(/mixtureLogits: argument 'e' expected shape \[batch, 2\], got \[2, 3\]/);
  });

  it('discriminativeClusteringLoss is the weighted mean cross-entropy, by hand', async () => {
    const logits = tf.tensor2d([0, Math.log(3), 1, 1], [2, 2]);
    const targets = tf.tensor2d([1, 0, 0.5, 0.5], [2, 2]);
    // Row 1: −log(1/4); row 2: −log(1/2).
    expect((await discriminativeClusteringLoss(logits, targets).data())[0]).toBeCloseTo((Math.log(4) + Math.log(2)) / 2, 5);
    expect((await discriminativeClusteringLoss(logits, targets, tf.tensor1d([2, 0])).data())[0]).toBeCloseTo(Math.log(4), 5);
    expect(() => discriminativeClusteringLoss(logits, tf.zeros([2, 3]))).toThrow(/discriminativeClusteringLoss: arguments 'logits' and 'targets' expected the same \[batch, K\] shape, got \[2, 2\] and \[2, 3\]/);
    expect(() => discriminativeClusteringLoss(logits, targets, tf.ones([3]))).toThrow(/argument 'weights' expected shape \[2\], got \[3\]/);
    tf.dispose([logits, targets]);
  });

  it('CarmlEncoder maps flat images to bounded embeddings; bad input is named', () => {
    const enc = new CarmlEncoder({ imageShape: [5, 5, 3], channels: [4], embedDim: 3 }, { rng: new Rng(0) });
    tf.tidy(() => {
      const e = enc.forward(tf.randomUniform([6, 75], 0, 1, 'float32', 2));
      expect(e.shape).toEqual([6, 3]);
      for (const v of e.dataSync()) expect(Math.abs(v)).toBeLessThanOrEqual(1);
      expect(() => enc.forward(tf.zeros([1, 76]))).toThrow(/CarmlEncoder.*x.*75/s);
    });
    enc.dispose();
  });
});

describe('CARML visual task model: fitting', () => {
  it('fits encoder and mixture jointly on image trajectories: the loss falls, trajectories keep one component, rewards follow the formula', async () => {
    const { cells, images } = mazeImages();
    // Trajectories that stay in one of two regions of the maze (left column vs right column).
    const left = images.filter((_, i) => cells[i][1] === 1);
    const right = images.filter((_, i) => cells[i][1] === 3);
    const rng = new Rng(5);
    const trajs = Array.from({ length: 40 }, (_, i) => Array.from({ length: 6 }, () => (i % 2 ? left : right)[rng.int(0, 3)]));
    const model = new VisualTaskModel({ encoder: { imageShape: [5, 5, 3], channels: [4], embedDim: 3 }, components: 2, seed: 1, lr: 3e-3 });
    const n0 = tf.memory().numTensors;
    const report = await model.fit(trajs, { rounds: 2, encoderSteps: 30, batchSize: 32 });
    const first = report.encoderLoss.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const lastLoss = report.encoderLoss.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(lastLoss).toBeLessThan(first);
    expect(report.componentShares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    // The two regions land in different components, each whole.
    const zl = await model.assign(left);
    const zr = await model.assign(right);
    expect(new Set(zl).size).toBe(1);
    expect(new Set(zr).size).toBe(1);
    expect(zl[0]).not.toBe(zr[0]);
    // Rewards r_z(s) = λ log q(s|z) − log q(s) of the mixture over the standardised embeddings.
    const s = left[0];
    const [ll] = await model.logLikelihoods([s]);
    const lp = model.mixture.logPrior;
    const logq = Math.log(Math.exp(ll[0] + lp[0]) + Math.exp(ll[1] + lp[1]));
    const r = await model.rewards([s, s], [0, 1], { lambda: 0.5 });
    expect(r[0]).toBeCloseTo(0.5 * ll[0] - logq, 4);
    expect(r[1]).toBeCloseTo(0.5 * ll[1] - logq, 4);
    const clipped = await model.rewards([s], [zr[0]], { floor: -2 });
    expect(clipped[0]).toBeGreaterThanOrEqual(-2);
    // Memoised values equal a fresh computation through the encoder.
    const [e] = await model.embed([s]);
    const std = Float32Array.from(e, (v, j) => (v - model.embedMean[j]) / model.embedStd[j]);
    model.mixture.logLikelihoods(std).forEach((v, z) => expect(ll[z]).toBeCloseTo(v, 4));
    expect(tf.memory().numTensors).toBe(n0 + 2 * model.encoder.parameters().length); // Adam's two slots per parameter, nothing else
    await expect(model.rewards([s], [2])).rejects.toThrow(/VisualTaskModel.rewards: task 0 expected an integer in \[0, 1\], got 2/);
    await expect(model.fit(trajs.slice(0, 1))).rejects.toThrow(/expected at least 2 \(one per component\), got 1/);
    model.dispose();
  });
});

describe('CARML visual task model: re-seeding', () => {
  it('re-seeds a component whose prior falls below minShare / K (and not with minShare 0)', async () => {
    const { cells, images } = mazeImages();
    const left = images.filter((_, i) => cells[i][1] === 1);
    const right = images.filter((_, i) => cells[i][1] === 3);
    const rng = new Rng(8);
    // 38 trajectories on the left, 2 on the right: the right component's prior is 0.05 < 0.25 / 2.
    const trajs = Array.from({ length: 40 }, (_, i) => Array.from({ length: 6 }, () => (i < 2 ? right : left)[rng.int(0, 3)]));
    const fit = async (minShare: number) => {
      const model = new VisualTaskModel({ encoder: { imageShape: [5, 5, 3], channels: [4], embedDim: 3 }, components: 2, seed: 1 });
      const r = await model.fit(trajs, { rounds: 1, encoderSteps: 2, minShare });
      const priors = Array.from(model.mixture.logPrior, Math.exp);
      model.dispose();
      return { reseeded: r.reseeded, smallest: Math.min(...priors) };
    };
    const off = await fit(0);
    const on = await fit(0.25);
    expect(off.reseeded).toBe(0);
    expect(off.smallest).toBeLessThan(0.125);
    expect(on.reseeded).toBeGreaterThan(0);
  });
});

describe('CARML alternation', () => {
  it('CarmlTaskEnv gives fixed-length episodes of [0, 1] images and reports each trajectory', () => {
    const got: Float32Array[][] = [];
    const env = new CarmlTaskEnv(new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, maxEpisodeSteps: 100 }), { episodeLength: 3, task: 2, onEpisode: (t) => got.push(t) });
    expect(env.observationSpace.shape).toEqual([5, 5, 3]);
    const { observation } = env.reset({ seed: 1 });
    expect(Math.max(...observation)).toBeLessThanOrEqual(1);
    expect(env.step(0).truncated).toBe(false);
    env.step(1);
    const last = env.step(2);
    expect(last.truncated).toBe(true);
    expect(got).toHaveLength(1);
    expect(got[0]).toHaveLength(4); // s_0 … s_3
    expect(Array.from(got[0][3])).toEqual(Array.from(last.observation));
    const short = new CarmlTaskEnv(new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, maxEpisodeSteps: 2 }), { episodeLength: 3, task: 0 });
    short.reset({ seed: 0 });
    short.step(0);
    expect(() => short.step(0)).toThrow(/CarmlTaskEnv: the wrapped env 'PixelMaze' ended at step 2, before episodeLength = 3/);
    const buf = new TrajectoryBuffer(2);
    [1, 2, 3].forEach((v) => buf.add([Float32Array.of(v)]));
    expect(buf.trajectories().map((t) => t[0][0])).toEqual([2, 3]);
    expect(buf.added).toBe(3);
  });

  it("RL2Trainer's rewardFn replaces the env's rewards, which the policy then sees as its previous reward", async () => {
    const make = (rng: Rng) => new CarmlTaskEnv(new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, maxEpisodeSteps: 100 }), { episodeLength: 2, task: rng.int(0, 5) });
    const rl2 = new RL2Trainer(make, { episodeLength: 2, episodesPerTrial: 2, trialsPerIteration: 4, hiddenSize: 8 }, { rewardFn: async ({ envs, t }) => Float32Array.from(envs, (e) => (e as CarmlTaskEnv).task + 10 * t) });
    const b = await rl2.rollout(4, new Rng(3));
    const I = rl2.policy.inputSize;
    const tasks = Array.from({ length: 4 }, (_, i) => b.rewards[i]); // t = 0
    for (let t = 0; t < 4; t++) for (let i = 0; i < 4; i++) expect(b.rewards[t * 4 + i]).toBe(tasks[i] + 10 * t);
    // The input at step t + 1 holds reward t (entry obsDim + numActions).
    for (let t = 0; t < 3; t++) for (let i = 0; i < 4; i++) expect(b.inputs[((t + 1) * 4 + i) * I + 75 + 4]).toBe(b.rewards[t * 4 + i]);
    rl2.dispose();
  });

  it('CarmlTrainer refits the frozen task model once per phase, meta-trains on its rewards, is deterministic and leaks nothing', async () => {
    const run = async () => {
      const n = tf.memory().numTensors;
      const carml = new CarmlTrainer(() => new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, cellSize: 1, stayAction: true, maxEpisodeSteps: 100 }), {
        components: 2, episodeLength: 4, episodesPerTrial: 2, trialsPerIteration: 8, iterationsPerPhase: 2, phases: 2, warmupTrials: 8, bufferSize: 64,
        fitRounds: 1, emIterations: 5, encoderSteps: 3, encoderBatchSize: 16, encoderChannels: [2], embedDim: 2, hiddenSize: 8, numMinibatches: 1, updateEpochs: 1, seed: 4,
      });
      const fits: number[] = [];
      let afterFirst = 0;
      await carml.train({ onPhase: (p) => void (fits.push(carml.taskModel.fits), p.phase === 1 && (afterFirst = tf.memory().numTensors)) });
      const leaked = tf.memory().numTensors - afterFirst;
      expect(fits).toEqual([1, 2]);
      expect(carml.buffer.added).toBe(8 * 2 + 2 * 2 * 8 * 2); // warm-up trials + trained trials, 2 episodes each
      // Task rewards are clipped below at the floor (−5 per step, 8 steps per trial).
      for (const p of carml.history) for (const m of p.rl2) expect(m.trialReturn).toBeGreaterThanOrEqual(-5 * 8);
      const out = { returns: carml.history.flatMap((p) => p.rl2.map((m) => m.trialReturn)), partition: await carml.taskModel.assign(mazeImages().images), leaked, n };
      carml.dispose();
      expect(tf.memory().numTensors).toBe(n); // dispose frees everything
      return out;
    };
    const a = await run();
    const b = await run();
    expect(a.leaked).toBe(0);
    expect(a.returns).toEqual(b.returns);
    expect(a.partition).toEqual(b.partition);
  });
});
