// The claim of O'Donoghue, Osband & Ionescu (ICLR 2020) in miniature: K-learning solves DeepSea at
// sizes where soft-Q ("RL as inference") fails; Thompson sampling (PSRL) for comparison.
//
//   npm run example -w @brickml/rl -- deep-sea [--sizes 4,8,12,16,20] [--seeds 3] [--episodes 500] [--out out/deep-sea]
//
// Writes <out>/regret-N<size>.png (cumulative regret per episode, mean over seeds, per agent),
// <out>/regret-vs-size.png (final regret per episode against N) and <out>/results.json.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { linePlotSpec, makeProgress, renderSpecToPng } from '@brickml/core';
import { runDeepSea, type DeepSeaAgentName } from '../src/index.js';

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '4,8,12,16,20' },
      seeds: { type: 'string', default: '3' },
      episodes: { type: 'string', default: '500' },
      'soft-q-tau': { type: 'string', default: '0.1' },
      out: { type: 'string', default: 'out/deep-sea' },
      progress: { type: 'string', default: 'auto' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i);
  const episodes = Number(values.episodes);
  const agents: DeepSeaAgentName[] = ['k-learning', 'thompson', 'soft-q'];
  mkdirSync(values.out, { recursive: true });
  const total = sizes.length * seeds.length * agents.length;
  const progress = await makeProgress(values.progress as 'auto', 'deep-sea', total);
  const t0 = performance.now();
  let done = 0;
  const results: Array<{ size: number; agent: string; seed: number; finalRegret: number; regretPerEpisode: number; successes: number; firstSuccess: number | null; seconds: number }> = [];
  const curves = new Map<string, number[][]>();
  for (const size of sizes) {
    for (const agent of agents) {
      for (const seed of seeds) {
        const s0 = performance.now();
        const run = runDeepSea({ size, agent, episodes, seed, softQTau: Number(values['soft-q-tau']) });
        const finalRegret = run.cumulativeRegret[episodes - 1];
        results.push({ size, agent: run.agent, seed, finalRegret, regretPerEpisode: finalRegret / episodes, successes: run.successes, firstSuccess: run.firstSuccess, seconds: (performance.now() - s0) / 1000 });
        const key = `${size}/${run.agent}`;
        curves.set(key, [...(curves.get(key) ?? []), run.cumulativeRegret]);
        done++;
        const el = (performance.now() - t0) / 1000;
        progress.update({ step: done, totalSteps: total, values: { size, successes: run.successes }, stepsPerSecond: done / el, elapsedSeconds: el });
      }
    }
  }
  progress.stop();
  const names = ['K-learning', 'Thompson', 'soft-Q'];
  const stride = Math.max(1, Math.floor(episodes / 200));
  for (const size of sizes) {
    const series = names.map((name) => {
      const runs = curves.get(`${size}/${name}`) ?? [];
      const x: number[] = [];
      const y: number[] = [];
      for (let e = stride - 1; e < episodes; e += stride) {
        x.push(e + 1);
        y.push(runs.reduce((a, r) => a + r[e], 0) / runs.length);
      }
      return { name, x, y };
    });
    const png = await renderSpecToPng(linePlotSpec({ series, title: `DeepSea N=${size}: cumulative regret (mean of ${seeds.length} seeds)`, xLabel: 'episode', yLabel: 'cumulative regret' }));
    writeFileSync(join(values.out, `regret-N${size}.png`), png);
  }
  const bySize = names.map((name) => ({
    name,
    x: sizes,
    y: sizes.map((size) => {
      const rs = results.filter((r) => r.agent === name && r.size === size);
      return rs.reduce((a, r) => a + r.regretPerEpisode, 0) / rs.length;
    }),
  }));
  writeFileSync(
    join(values.out, 'regret-vs-size.png'),
    await renderSpecToPng(linePlotSpec({ series: bySize, title: `DeepSea: regret per episode after ${episodes} episodes (optimal 0, never finding the treasure ≈ 0.99)`, xLabel: 'N', yLabel: 'regret / episode' })),
  );
  const summary = sizes.map((size) => ({
    size,
    ...Object.fromEntries(
      names.map((name) => {
        const rs = results.filter((r) => r.agent === name && r.size === size);
        return [name, { regretPerEpisode: rs.reduce((a, r) => a + r.regretPerEpisode, 0) / rs.length, seedsThatFoundTreasure: rs.filter((r) => r.successes > 0).length, meanSuccesses: rs.reduce((a, r) => a + r.successes, 0) / rs.length }];
      }),
    ),
  }));
  writeFileSync(join(values.out, 'results.json'), `${JSON.stringify({ episodes, seeds: seeds.length, softQTau: Number(values['soft-q-tau']), summary, runs: results }, null, 2)}\n`);
  for (const s of summary) console.log(JSON.stringify(s));
  console.log(`wrote ${values.out}/regret-N*.png, regret-vs-size.png, results.json`);
}
