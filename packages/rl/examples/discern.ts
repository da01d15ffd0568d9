// DISCERN vs a pixel-distance reward with the same goal-conditioned PPO agent on a pixel maze: after
// each evaluation interval, the fraction of hand-specified goal cells the agent ends its episode on.
//
//   npm run example -w @brickml/rl -- discern [--seeds 2] [--iterations 40] [--eval-every 10] [--rows 2] [--cols 2]
//     [--episode-length 4] [--episodes 10] [--out out/discern] [--backend wasm|cpu]
//
// Goals seen in training are observations from the agent's own goal buffer; the evaluation goals are
// pictures of the maze with the agent drawn on each free cell (rendered by the env, not taken from
// the buffer), 10 episodes each from seeded random starts, sampled actions. Writes
// <out>/goals-reached.png (mean over seeds), <out>/discriminator.png and <out>/results.json.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { linePlotSpec, makeProgress, renderSpecToPng } from '@brickml/core';
import { DiscernTrainer, PixelMaze } from '../src/index.js';

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seeds: { type: 'string', default: '2' },
      iterations: { type: 'string', default: '40' },
      'eval-every': { type: 'string', default: '10' },
      episodes: { type: 'string', default: '10' },
      rows: { type: 'string', default: '2' },
      cols: { type: 'string', default: '2' },
      'episode-length': { type: 'string', default: '4' },
      out: { type: 'string', default: 'out/discern' },
      backend: { type: 'string', default: 'wasm' },
      progress: { type: 'string', default: 'auto' },
    },
  });
  await tf.setBackend(values.backend);
  mkdirSync(values.out, { recursive: true });
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
  const iterations = Number(values.iterations);
  const every = Number(values['eval-every']);
  const episodes = Number(values.episodes);
  const rows = Number(values.rows);
  const cols = Number(values.cols);
  const T = Number(values['episode-length']);
  const makeMaze = () => new PixelMaze({ rows, cols, layoutSeed: 0, cellSize: 1, stayAction: true });
  const probe = makeMaze();
  probe.reset({ seed: 0 });
  const cells = probe.freeCells();
  const goals = cells.map(([r, c]) => Float32Array.from(probe.observationAt(r, c), (v) => v / 255));
  const methods = ['discern', 'pixel-distance'] as const;
  const runs: Array<{ method: string; seed: number; steps: number[]; reached: number[]; perGoal: number[]; discriminatorAccuracy: number[]; cpuMinutes: number }> = [];
  const progress = await makeProgress(values.progress as 'auto', 'discern', methods.length * seeds.length);
  const t0 = performance.now();
  let done = 0;
  for (const method of methods) {
    for (const seed of seeds) {
      const cpu0 = process.cpuUsage();
      const trainer = new DiscernTrainer(makeMaze, {
        reward: method, episodeLength: T, decoys: 3, beta: 10, iterations, embedSteps: 8, embedLr: 3e-3, embedHidden: [32], embedDim: 16, prefillSteps: 64,
        ppo: { numEnvs: 16, numSteps: 4 * T, hidden: [64], lr: 2e-3 }, seed,
      });
      const steps: number[] = [];
      const reached: number[] = [];
      let perGoal: number[] = [];
      const evaluate = async () => {
        const finals = await trainer.evaluateGoals(goals, { episodesPerGoal: episodes, seed: 10_000 });
        perGoal = finals.map((f, g) => f.filter((i) => (i.agent as number[])[0] === cells[g][0] && (i.agent as number[])[1] === cells[g][1]).length / f.length);
        steps.push(trainer.ppo.globalStep);
        reached.push(perGoal.reduce((a, b) => a + b, 0) / perGoal.length);
      };
      await evaluate();
      while (trainer.ppo.iteration < iterations) {
        await trainer.train({ untilIteration: Math.min(iterations, trainer.ppo.iteration + every) });
        await evaluate();
      }
      const cpu = process.cpuUsage(cpu0);
      runs.push({ method, seed, steps, reached, perGoal, discriminatorAccuracy: trainer.history.map((m) => m.discriminatorAccuracy), cpuMinutes: (cpu.user + cpu.system) / 60e6 });
      trainer.dispose();
      done++;
      const elapsed = (performance.now() - t0) / 1000;
      progress.update({ step: done, totalSteps: methods.length * seeds.length, values: { reached: reached[reached.length - 1] }, stepsPerSecond: done / elapsed, elapsedSeconds: elapsed });
    }
  }
  progress.stop();
  const mean = (method: string) => {
    const rs = runs.filter((r) => r.method === method);
    return { x: rs[0].steps, y: rs[0].steps.map((_, k) => rs.reduce((s, r) => s + r.reached[k], 0) / rs.length) };
  };
  writeFileSync(
    join(values.out, 'goals-reached.png'),
    await renderSpecToPng(linePlotSpec({ series: methods.map((m) => ({ name: m, ...mean(m) })), title: `Goal cells reached at episode end (${cells.length} goals × ${episodes} episodes, mean of ${seeds.length} seeds)`, xLabel: 'environment steps', yLabel: 'fraction reached' })),
  );
  const disc = runs.filter((r) => r.method === 'discern');
  writeFileSync(
    join(values.out, 'discriminator.png'),
    await renderSpecToPng(linePlotSpec({ series: disc.map((r) => ({ name: `seed ${r.seed}`, x: r.discriminatorAccuracy.map((_, i) => i + 1), y: r.discriminatorAccuracy })), title: 'DISCERN: embedding accuracy on commanded goals (chance 0.25)', xLabel: 'iteration', yLabel: 'accuracy' })),
  );
  const summary = Object.fromEntries(methods.map((m) => [m, { finalReached: mean(m).y[mean(m).y.length - 1], initialReached: mean(m).y[0] }]));
  writeFileSync(join(values.out, 'results.json'), `${JSON.stringify({ maze: { rows, cols, freeCells: cells.length, episodeLength: T }, iterations, seeds, episodesPerGoal: episodes, backend: tf.getBackend(), summary, runs }, null, 2)}\n`);
  for (const m of methods) console.log(`${m}: goals reached ${summary[m].initialReached.toFixed(3)} → ${summary[m].finalReached.toFixed(3)}`);
}
