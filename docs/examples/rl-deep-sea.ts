/**
 * RL example: K-learning (O'Donoghue, Osband & Ionescu, ICLR 2020) against soft-Q learning ("RL as
 * inference") on bsuite's DeepSea, with Thompson sampling (posterior sampling) for reference. Draws
 * the cumulative regret of each agent per episode, one panel per grid size N, and the regret per
 * episode at the end of the run against N. Tabular agents in plain JavaScript: no tensors, fast on
 * every backend.
 *
 * Browser: the Run button on the @brickml/rl page. Terminal: `npm run example -- rl-deep-sea`.
 */
import { linePlotSpec } from '@brickml/core';
import { runDeepSea, type DeepSeaAgentName } from '@brickml/rl';
import { nextFrame, throwIfAborted, type ExampleContext, type ExampleMeta } from './context.js';

export const meta: ExampleMeta = {
  title: 'K-learning versus soft-Q on DeepSea',
  description: 'Tabular K-learning, Thompson sampling and soft-Q on DeepSea of growing size; draws their cumulative regret.',
};

const AGENTS: { id: DeepSeaAgentName; name: string }[] = [
  { id: 'k-learning', name: 'K-learning' },
  { id: 'thompson', name: 'Thompson' },
  { id: 'soft-q', name: 'soft-Q (τ = 0.1)' },
];

export async function run(ctx: ExampleContext): Promise<void> {
  const sizes = ctx.quick ? [6, 10] : [4, 8, 12, 16];
  const episodes = ctx.quick ? 200 : 500;
  const seeds = ctx.quick ? [0, 1] : [0, 1, 2];
  const total = sizes.length * AGENTS.length * seeds.length;
  ctx.log(`DeepSea N ∈ {${sizes.join(', ')}}, ${episodes} episodes, seeds ${seeds.join(', ')}; optimal regret 0, never finding the treasure ≈ 0.99 per episode`);
  const t0 = performance.now();
  /** Final regret per episode, [agent][size], mean over seeds. */
  const finalRegret = AGENTS.map(() => sizes.map(() => 0));
  let done = 0;
  for (const [si, size] of sizes.entries()) {
    const series = [];
    for (const [ai, agent] of AGENTS.entries()) {
      const mean = new Float64Array(episodes);
      let found = 0;
      let firstSum = 0;
      for (const seed of seeds) {
        const r = runDeepSea({ size, agent: agent.id, episodes, seed, softQTau: 0.1 });
        for (let e = 0; e < episodes; e++) mean[e] += r.cumulativeRegret[e] / seeds.length;
        if (r.firstSuccess !== null) {
          found++;
          firstSum += r.firstSuccess;
        }
        done++;
        ctx.progress({ label: 'runs', step: done, totalSteps: total, values: { N: size } });
        throwIfAborted(ctx);
        await nextFrame();
      }
      finalRegret[ai][si] = mean[episodes - 1] / episodes;
      series.push({ name: agent.name, x: Array.from(mean, (_, e) => e + 1), y: Array.from(mean) });
      ctx.log(
        `N=${String(size).padStart(2)} ${agent.name.padEnd(16)} regret/episode ${finalRegret[ai][si].toFixed(3)}; ` +
          (found ? `treasure found on ${found}/${seeds.length} seeds, first at episode ${(firstSum / found).toFixed(0)} on average` : 'treasure never found'),
      );
    }
    await ctx.plot(
      `regret-N${size}`,
      linePlotSpec({ series, title: `DeepSea N=${size}: cumulative regret (mean of ${seeds.length} seeds)`, xLabel: 'episode', yLabel: 'cumulative regret', width: 360, height: 200 }),
    );
  }
  await ctx.plot(
    'regret-vs-size',
    linePlotSpec({
      series: AGENTS.map((a, ai) => ({ name: a.name, x: sizes, y: finalRegret[ai] })),
      title: `Regret per episode after ${episodes} episodes against N`,
      xLabel: 'N',
      yLabel: 'regret / episode',
      width: 360,
      height: 200,
    }),
  );
  ctx.log(`${total} runs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
