// PPO on CartPole-v1 (the tuned preset), one seed:
//
//   npm run example -w @brickml/rl -- cartpole [--seed 1] [--steps 200000] [--out out/cartpole] [--backend wasm|cpu] [--resume]
//
// Writes <out>/metrics.jsonl, <out>/return.png (episode return against environment steps),
// <out>/checkpoint/ (resumable: run again with --resume), <out>/episode.gif and episode.png (a
// greedy evaluation episode) and <out>/summary.json (20-episode evaluation, CPU minutes).
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { linePlotSpec, renderSpecToPng } from '@brickml/core';
import { CARTPOLE_PPO_CONFIG, CartPole, PPOTrainer, episodeGif, episodeStripPng, recordEpisode } from '../src/index.js';

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string', default: '1' },
      steps: { type: 'string', default: String(CARTPOLE_PPO_CONFIG.totalTimesteps) },
      out: { type: 'string', default: 'out/cartpole' },
      resume: { type: 'boolean', default: false },
      progress: { type: 'string', default: 'auto' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  await tf.setBackend(values.backend);
  mkdirSync(values.out, { recursive: true });
  const cpu0 = process.cpuUsage();
  const ppo = new PPOTrainer(() => new CartPole(), { ...CARTPOLE_PPO_CONFIG, totalTimesteps: Number(values.steps), seed: Number(values.seed) });
  const ck = join(values.out, 'checkpoint');
  const metricsPath = join(values.out, 'metrics.jsonl');
  if (values.resume) await ppo.resume(ck);
  else rmSync(metricsPath, { force: true });
  await ppo.train({ progress: values.progress as 'auto', metricsPath, checkpoint: { dir: ck, every: 50 } });
  const evalResult = await ppo.evaluate({ episodes: 20, seed: 12345 });
  const pts = ppo.history.filter((m) => Number.isFinite(m.episodeReturn));
  writeFileSync(
    join(values.out, 'return.png'),
    await renderSpecToPng(linePlotSpec({ series: [{ name: 'episode return', x: pts.map((m) => m.globalStep), y: pts.map((m) => m.episodeReturn) }], title: 'PPO on CartPole-v1', xLabel: 'environment steps', yLabel: 'return' })),
  );
  const rng = new (await import('@brickml/core')).Rng(0);
  const ep = await recordEpisode(new CartPole({ renderWidth: 150 }), async (obs) => (await ppo.policy.act(obs, 1, rng, { deterministic: true })).actions[0], { seed: 7, maxSteps: 200 });
  writeFileSync(join(values.out, 'episode.gif'), await episodeGif(ep.frames, { every: 2, delayMs: 40 }));
  writeFileSync(join(values.out, 'episode.png'), episodeStripPng(ep.frames, { every: 20, cols: 11 }));
  const cpu = process.cpuUsage(cpu0);
  const summary = { seed: Number(values.seed), steps: ppo.globalStep, backend: tf.getBackend(), evaluation: evalResult, cpuMinutes: (cpu.user + cpu.system) / 60e6, config: ppo.config };
  writeFileSync(join(values.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`evaluation over 20 episodes: mean return ${evalResult.mean.toFixed(1)}; CPU ${summary.cpuMinutes.toFixed(2)} min; wrote ${values.out}/`);
  ppo.dispose();
}
