// RL² adapts within a trial: on bandit tasks (one good arm among several, its place new each trial),
// the return of later episodes of a trial exceeds the first's, because the GRU state carries what
// the earlier episodes found.
//
//   npm run example -w @brickml/rl -- rl2-bandit [--iterations 300] [--arms 4] [--pulls 3] [--episodes 4] [--out out/rl2-bandit] [--backend wasm|cpu]
//
// Writes <out>/episode-returns.png (mean return of episode 1 … K of a trial over training),
// <out>/within-trial.png (return per episode index: untrained vs trained, 500 evaluation trials)
// and <out>/results.json.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { Rng, linePlotSpec, renderSpecToPng } from '@brickml/core';
import { MultiArmedBandit, RL2Trainer } from '../src/index.js';

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      iterations: { type: 'string', default: '300' },
      arms: { type: 'string', default: '4' },
      pulls: { type: 'string', default: '3' },
      episodes: { type: 'string', default: '4' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'out/rl2-bandit' },
      backend: { type: 'string', default: 'wasm' },
      progress: { type: 'string', default: 'auto' },
    },
  });
  await tf.setBackend(values.backend);
  mkdirSync(values.out, { recursive: true });
  const arms = Number(values.arms);
  const pulls = Number(values.pulls);
  const K = Number(values.episodes);
  // A task: one arm pays with probability 0.9, the others 0.1; which one is new in every trial.
  const makeTask = (rng: Rng) => {
    const good = rng.int(0, arms);
    return new MultiArmedBandit({ means: Array.from({ length: arms }, (_, k) => (k === good ? 0.9 : 0.1)), horizon: pulls });
  };
  const rl2 = new RL2Trainer(makeTask, { episodeLength: pulls, episodesPerTrial: K, iterations: Number(values.iterations), seed: Number(values.seed), hiddenSize: 64, trialsPerIteration: 32, lr: 3e-3, gamma: 0.99, entCoef: 0.01 });
  const evaluate = async () => (await rl2.rollout(500, new Rng(777))).episodeReturns;
  const cpu0 = process.cpuUsage();
  const before = await evaluate();
  await rl2.train({ progress: values.progress as 'auto' });
  const after = await evaluate();
  const cpu = process.cpuUsage(cpu0);
  const every = Math.max(1, Math.floor(rl2.history.length / 100));
  const pts = rl2.history.filter((_, i) => i % every === 0);
  const series = Array.from({ length: K }, (_, e) => ({ name: `episode ${e + 1}`, x: pts.map((m) => m.iteration), y: pts.map((m) => m.episodeReturns[e]) }));
  writeFileSync(join(values.out, 'episode-returns.png'), await renderSpecToPng(linePlotSpec({ series, title: `RL² on ${arms}-armed bandits: return of each episode of a trial`, xLabel: 'iteration', yLabel: `return (${pulls} pulls)` })));
  const idx = Array.from({ length: K }, (_, e) => e + 1);
  writeFileSync(
    join(values.out, 'within-trial.png'),
    await renderSpecToPng(linePlotSpec({ series: [{ name: 'untrained', x: idx, y: before }, { name: 'trained', x: idx, y: after }], title: 'Return per episode within a trial (500 trials)', xLabel: 'episode of the trial', yLabel: 'mean return' })),
  );
  const results = { arms, pullsPerEpisode: pulls, episodesPerTrial: K, iterations: rl2.iteration, untrained: before, trained: after, optimalPerEpisode: 0.9 * pulls, cpuMinutes: (cpu.user + cpu.system) / 60e6, backend: tf.getBackend() };
  writeFileSync(join(values.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`return per episode of a trial — untrained: ${before.map((v) => v.toFixed(2)).join(', ')}; trained: ${after.map((v) => v.toFixed(2)).join(', ')}`);
  rl2.dispose();
}
