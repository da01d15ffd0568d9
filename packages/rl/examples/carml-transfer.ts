// The CARML claim in miniature: CARML pre-training (no rewards, tasks proposed by its own task model)
// vs random initialisation, when an RL² meta-learner is then meta-trained on hand-specified goal tasks.
//
//   npm run example -w @brickml/rl -- carml-transfer [--seeds 2] [--phases 5] [--iterations-per-phase 20]
//     [--goal-iterations 150] [--lambda 0.5] [--out out/carml-transfer] [--backend wasm|cpu]
//
// The maze: a fixed 3 × 3-cell PixelMaze (7 × 7 grid, one pixel per cell, 17 free cells), start cell
// [1, 3], actions up/right/down/left/stay, 8-step episodes, 2 episodes per trial. A goal task: one
// hidden goal cell (any free cell but the start, drawn per trial) that pays 1 for every step the agent
// is on it; the goal is not drawn in the observation, so the meta-learner has to find it in the
// first episode and return to it in the second. CARML pre-training never sees these rewards. For each
// seed: CARML pre-trains a meta-learner; then two RL² runs on the goal tasks with the same seed and
// settings, one starting from the pre-trained parameters, one from random ones. Writes
// <out>/returns.png (mean trial return over goal-task meta-training, mean over seeds, both curves),
// <out>/returns-per-seed.png, <out>/partition.png (the pre-trained task models' partitions) and
// <out>/results.json.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng, encodePng, linePlotSpec, makeProgress, renderSpecToPng } from '@brickml/core';
import { CarmlTaskEnv, CarmlTrainer, PixelMaze, RL2Trainer, type RL2Config, type RecurrentActorCritic } from '../src/index.js';
import { mazePartition, partitionImage } from './carml.js';

const START: [number, number] = [1, 3];
const EPISODE = 8;
const EPISODES_PER_TRIAL = 2;

/** Copies every parameter of `from` into `to` (same architecture). */
function copyParameters(from: RecurrentActorCritic, to: RecurrentActorCritic): void {
  const src = new Map(from.namedParameters());
  for (const [path, p] of to.namedParameters()) {
    const s = src.get(path);
    if (!s || s.shape.join() !== p.shape.join()) throw new Error(`carml-transfer: parameter '${path}' missing or of another shape in the pre-trained policy`);
    p.assign(s);
  }
}

/** Smoothing over a window of iterations (for the plot only; results.json keeps the raw curves). */
function smooth(v: number[], w: number): number[] {
  return v.map((_, i) => {
    const a = v.slice(Math.max(0, i - w + 1), i + 1);
    return a.reduce((x, y) => x + y, 0) / a.length;
  });
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string', default: '2' },
      phases: { type: 'string', default: '5' },
      'iterations-per-phase': { type: 'string', default: '20' },
      'goal-iterations': { type: 'string', default: '150' },
      'eval-trials': { type: 'string', default: '256' },
      lambda: { type: 'string', default: '0.5' },
      out: { type: 'string', default: 'out/carml-transfer' },
      backend: { type: 'string', default: 'wasm' },
      progress: { type: 'string', default: 'auto' },
    },
  });
  await tf.setBackend(values.backend);
  mkdirSync(values.out, { recursive: true });
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const goalIterations = Number(values['goal-iterations']);
  const makeMaze = () => new PixelMaze({ rows: 3, cols: 3, layoutSeed: 0, cellSize: 1, stayAction: true, start: START, maxEpisodeSteps: 1000 });
  const maze = makeMaze();
  maze.reset({ seed: 0 });
  const goals = maze.freeCells().filter(([r, c]) => r !== START[0] || c !== START[1]);
  const rl2Settings: RL2Config = { trialsPerIteration: 32, episodesPerTrial: EPISODES_PER_TRIAL, episodeLength: EPISODE, iterations: goalIterations, lr: 1e-3, hiddenSize: 64, entCoef: 0.01 };
  // Goal tasks: the trial's task id is the index of its hidden goal cell.
  const makeGoalTrial = (rng: Rng) => new CarmlTaskEnv(makeMaze(), { episodeLength: EPISODE, task: rng.int(0, goals.length) });
  const goalReward = async ({ envs }: { envs: unknown[] }) =>
    Float32Array.from(envs as CarmlTaskEnv[], (e) => {
      const [r, c] = (e.inner as PixelMaze).agent;
      const g = goals[e.task];
      return r === g[0] && c === g[1] ? 1 : 0;
    });
  const runs: Array<{ seed: number; init: 'carml' | 'random'; returns: number[]; evalReturn: number; evalPerEpisode: number[]; cpuMinutes: number }> = [];
  const pretrain: Array<{ seed: number; cpuMinutes: number; partition: number[]; taskReturn: number[]; priors: number[]; reseeded: number[] }> = [];
  const progress = await makeProgress(values.progress as 'auto', 'carml-transfer', seeds.length * 3);
  const t0 = performance.now();
  let done = 0;
  const tick = (what: string) => {
    done++;
    const el = (performance.now() - t0) / 1000;
    progress.update({ step: done, totalSteps: seeds.length * 3, values: { [what]: 1 }, elapsedSeconds: el, stepsPerSecond: done / el });
  };
  for (const seed of seeds) {
    let cpu0 = process.cpuUsage();
    const carml = new CarmlTrainer(() => makeMaze(), {
      components: 4, phases: Number(values.phases), iterationsPerPhase: Number(values['iterations-per-phase']), episodeLength: EPISODE, episodesPerTrial: EPISODES_PER_TRIAL,
      hiddenSize: 64, lr: 1e-3, lambda: Number(values.lambda), seed,
    });
    await carml.train();
    let cpu = process.cpuUsage(cpu0);
    pretrain.push({ seed, cpuMinutes: (cpu.user + cpu.system) / 60e6, partition: await mazePartition(maze, carml.taskModel), taskReturn: carml.history.flatMap((p) => p.rl2.map((m) => m.trialReturn)), priors: Array.from(carml.taskModel.mixture.logPrior, Math.exp), reseeded: carml.history.map((p) => p.fit.reseeded) });
    tick('pretrained');
    for (const init of ['carml', 'random'] as const) {
      cpu0 = process.cpuUsage();
      const rl2 = new RL2Trainer(makeGoalTrial, { ...rl2Settings, seed: 100 + seed }, { rewardFn: goalReward });
      if (init === 'carml') copyParameters(carml.rl2.policy, rl2.policy);
      await rl2.train();
      const ev = await rl2.rollout(Number(values['eval-trials']), new Rng(9_000 + seed));
      cpu = process.cpuUsage(cpu0);
      runs.push({ seed, init, returns: rl2.history.map((m) => m.trialReturn), evalReturn: ev.episodeReturns.reduce((a, b) => a + b, 0), evalPerEpisode: ev.episodeReturns, cpuMinutes: (cpu.user + cpu.system) / 60e6 });
      rl2.dispose();
      tick(init);
    }
    carml.dispose();
  }
  progress.stop();
  const mean = (init: string) => {
    const rs = runs.filter((r) => r.init === init);
    return rs[0].returns.map((_, i) => rs.reduce((a, r) => a + r.returns[i], 0) / rs.length);
  };
  const x = Array.from({ length: goalIterations }, (_, i) => i + 1);
  const w = Math.max(1, Math.round(goalIterations / 15));
  writeFileSync(
    join(values.out, 'returns.png'),
    await renderSpecToPng(linePlotSpec({
      series: [{ name: 'CARML pre-trained', x, y: smooth(mean('carml'), w) }, { name: 'random init', x, y: smooth(mean('random'), w) }],
      title: `Meta-training on hidden-goal tasks: trial return (mean of ${seeds.length} seeds, ${w}-iteration average)`, xLabel: 'RL² iteration (32 trials each)', yLabel: 'trial return (steps on the goal)',
    })),
  );
  writeFileSync(
    join(values.out, 'returns-per-seed.png'),
    await renderSpecToPng(linePlotSpec({ series: runs.map((r) => ({ name: `${r.init} seed ${r.seed}`, x, y: smooth(r.returns, w) })), title: 'Trial return per seed', xLabel: 'RL² iteration', yLabel: 'trial return' })),
  );
  const img = partitionImage(pretrain.map((p) => p.partition), maze.height, maze.width);
  writeFileSync(join(values.out, 'partition.png'), encodePng(img.rgba, img.width, img.height));
  const auc = (init: string) => mean(init).reduce((a, b) => a + b, 0) / goalIterations;
  const last = (init: string) => mean(init).slice(-Math.max(1, Math.floor(goalIterations / 10))).reduce((a, b, _, arr) => a + b / arr.length, 0);
  const summary = {
    meanReturnOverTraining: { carml: auc('carml'), random: auc('random') },
    meanReturnLastTenth: { carml: last('carml'), random: last('random') },
    evalReturn: { carml: runs.filter((r) => r.init === 'carml').map((r) => r.evalReturn), random: runs.filter((r) => r.init === 'random').map((r) => r.evalReturn) },
  };
  const results = {
    maze: { grid: [maze.height, maze.width], walls: Array.from(maze.layout.walls), start: START, goals, episodeLength: EPISODE, episodesPerTrial: EPISODES_PER_TRIAL },
    rl2Settings, pretrainSettings: { phases: Number(values.phases), iterationsPerPhase: Number(values['iterations-per-phase']), components: 4, lambda: Number(values.lambda) },
    summary, pretrain, runs, backend: tf.getBackend(),
  };
  writeFileSync(join(values.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(summary));
}
