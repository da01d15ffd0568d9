// PPO on CartPole-v1: the target is a mean return ≥ 475 over 20 evaluation episodes within
// 200k environment steps, on each of 3 seeds, with the CPU minutes it took.
//
//   node scripts/run.mjs bench/cartpole-ppo.ts [--seeds 1,2,3] [--steps 200000] [--out out/cartpole-ppo]
//       [--backend cpu|wasm] [--eval-every 20] [--stop-at-target]
//
// Every `eval-every` iterations the greedy policy is evaluated on 20 episodes (fixed seeds); with
// --stop-at-target a seed's run stops at the first evaluation with mean ≥ 475 (the run is still
// configured for the full budget: the learning rate anneals over `steps`). Writes
// <out>/summary.json (per seed: the step the target was met, every evaluation, the last one, CPU
// and wall minutes) and <out>/seed-<s>.jsonl (PPO metrics per iteration).
import { parseArgs } from 'node:util';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { CartPole, PPOTrainer, CARTPOLE_PPO_CONFIG } from '../src/index.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1,2,3' },
    steps: { type: 'string', default: '200000' },
    out: { type: 'string', default: 'out/cartpole-ppo' },
    'eval-every': { type: 'string', default: '20' },
    backend: { type: 'string', default: 'cpu' },
    'stop-at-target': { type: 'boolean', default: false },
  },
});
await tf.setBackend(values.backend);
const seeds = values.seeds.split(',').map(Number);
const totalTimesteps = Number(values.steps);
const evalEvery = Number(values['eval-every']);
mkdirSync(values.out, { recursive: true });
const results = [];
for (const seed of seeds) {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const ppo = new PPOTrainer(() => new CartPole(), { ...CARTPOLE_PPO_CONFIG, totalTimesteps, seed });
  const metricsPath = join(values.out, `seed-${seed}.jsonl`);
  rmSync(metricsPath, { force: true });
  const evals: Array<{ globalStep: number; mean: number }> = [];
  let solvedAt: number | null = null;
  let cpuAtTarget: number | null = null;
  for (let it = 1; it <= ppo.numIterations; it++) {
    const [m] = await ppo.train({ metricsPath, untilIteration: it });
    if (m.iteration % evalEvery === 0 || m.iteration === ppo.numIterations) {
      const ev = await ppo.evaluate({ episodes: 20, seed: 1000 * seed });
      evals.push({ globalStep: m.globalStep, mean: ev.mean });
      console.log(`seed ${seed} · step ${m.globalStep} · eval mean ${ev.mean.toFixed(1)} · ${((performance.now() - wall0) / 60e3).toFixed(1)} min`);
      if (solvedAt === null && ev.mean >= 475) {
        solvedAt = m.globalStep;
        const c = process.cpuUsage(cpu0);
        cpuAtTarget = (c.user + c.system) / 60e6;
        if (values['stop-at-target']) break;
      }
    }
  }
  // A last check on 20 other episodes, greedy and sampled.
  const final = await ppo.evaluate({ episodes: 20, seed: 999_999 + seed });
  const finalSampled = await ppo.evaluate({ episodes: 20, seed: 999_999 + seed, deterministic: false });
  const cpu = process.cpuUsage(cpu0);
  const r = {
    seed,
    stepsTrained: ppo.globalStep,
    lastGreedyMean: final.mean,
    lastSampledMean: finalSampled.mean,
    targetMetAtStep: solvedAt,
    cpuMinutesToTarget: cpuAtTarget,
    evals,
    cpuMinutes: (cpu.user + cpu.system) / 60e6,
    wallMinutes: (performance.now() - wall0) / 60e3,
  };
  console.log(JSON.stringify({ seed, targetMetAtStep: solvedAt, cpuMinutesToTarget: cpuAtTarget, lastGreedyMean: r.lastGreedyMean, lastSampledMean: r.lastSampledMean, cpuMinutes: r.cpuMinutes }));
  results.push(r);
  ppo.dispose();
  writeFileSync(join(values.out, 'summary.json'), `${JSON.stringify({ config: CARTPOLE_PPO_CONFIG, backend: tf.getBackend(), evalEvery, stopAtTarget: values['stop-at-target'], results }, null, 2)}\n`);
}
const pass = results.every((r) => r.targetMetAtStep !== null && r.targetMetAtStep <= totalTimesteps);
console.log(`target (a 20-episode greedy evaluation with mean ≥ 475 within ${totalTimesteps} steps, on every seed): ${pass ? 'MET' : 'NOT MET'}`);
