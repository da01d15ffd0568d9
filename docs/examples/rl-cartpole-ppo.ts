/**
 * RL example: PPO (@brickml/rl's `PPOTrainer` with the tuned `CARTPOLE_PPO_CONFIG`) learns
 * CartPole-v1 while the page draws the return curve, then the trained agent plays one greedy
 * episode, drawn frame by frame from `CartPole.render()` (an animation, then a strip of frames).
 *
 * The run is shorter than the package's benchmark (which stops when a 20-episode evaluation
 * reaches 475): 40 960 environment steps or 120 s of training, whichever comes first (quick mode:
 * 20 480 steps or 25 s). The learning-rate schedule anneals over the shorter run, as a user's
 * shorter `totalTimesteps` would.
 *
 * Browser: the Run button on the @brickml/rl page. Terminal: `npm run example -- rl-cartpole-ppo`.
 */
import { Rng, linePlotSpec, type RgbaImage } from '@brickml/core';
import { CARTPOLE_PPO_CONFIG, CartPole, PPOTrainer, framesStrip, recordEpisode, type PPOMetrics } from '@brickml/rl';
import { nextFrame, throwIfAborted, type ExampleContext, type ExampleMeta } from './context.js';

export const meta: ExampleMeta = {
  title: 'PPO on CartPole-v1',
  description: 'Trains a PPO agent on CartPole-v1 in the page; draws the return curve, then the trained agent balancing the pole.',
};

/** Milliseconds per shown frame: every 2nd frame of a 50 Hz episode at 25 fps is real time. */
const FRAME_MS = 40;

/** The return curve: mean return of the (sampled-action) episodes that ended in each rollout, against environment steps. */
function returnSpec(history: PPOMetrics[], evaluation?: { steps: number; mean: number; cap: number }) {
  const pts = history.filter((m) => Number.isFinite(m.episodeReturn));
  return linePlotSpec({
    series: [{ name: 'episode return', x: pts.map((m) => m.globalStep), y: pts.map((m) => m.episodeReturn) }],
    title: evaluation
      ? `PPO on CartPole-v1: greedy evaluation after ${evaluation.steps} steps, mean return ${evaluation.mean.toFixed(1)} of ${evaluation.cap}`
      : 'PPO on CartPole-v1: return of the training episodes (500 at most)',
    xLabel: 'environment steps',
    yLabel: 'return',
    width: 420,
    height: 220,
  });
}

export async function run(ctx: ExampleContext): Promise<void> {
  // Budget: environment steps or seconds of training, whichever runs out first. wasm does the
  // quick run's steps in about 16 s; WebGPU on a software rasteriser (SwiftShader) is much slower
  // per step (a GPU read-back per action), so there the time limit ends the run.
  const totalTimesteps = ctx.quick ? 20_480 : 40_960;
  const budgetSeconds = ctx.quick ? 25 : 120;
  const evalEpisodes = ctx.quick ? 3 : 20;
  const maxEpisodeSteps = ctx.quick ? 200 : 500;
  const ppo = new PPOTrainer(() => new CartPole(), { ...CARTPOLE_PPO_CONFIG, totalTimesteps, seed: 1 });
  const c = ppo.config;
  ctx.log(
    `PPO: ${c.numEnvs} envs × ${c.numSteps} steps per rollout, ${c.updateEpochs} epochs, lr ${c.lr} annealed; ` +
      `up to ${ppo.numIterations} iterations = ${ppo.numIterations * c.numEnvs * c.numSteps} environment steps or ${budgetSeconds} s on ${ctx.backend}`,
  );
  try {
    const t0 = performance.now();
    const drawEvery = Math.max(1, Math.round(ppo.numIterations / 20));
    let lastReturn = NaN;
    const onIteration = async (m: PPOMetrics) => {
      if (Number.isFinite(m.episodeReturn)) lastReturn = m.episodeReturn;
      ctx.progress({
        label: 'train',
        step: m.iteration,
        totalSteps: ppo.numIterations,
        values: { ...(Number.isFinite(lastReturn) ? { return: lastReturn } : {}), kl: m.approxKl },
      });
      if (m.iteration % drawEvery === 0 || m.iteration === ppo.numIterations) await ctx.plot('return', returnSpec(ppo.history));
      throwIfAborted(ctx);
      await nextFrame();
    };
    // One iteration per call, so the time budget is checked between iterations.
    while (ppo.iteration < ppo.numIterations && performance.now() - t0 < budgetSeconds * 1000) {
      await ppo.train({ untilIteration: ppo.iteration + 1, onIteration });
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    if (ppo.iteration < ppo.numIterations) {
      ctx.log(`stopped at the ${budgetSeconds} s budget after ${ppo.iteration} of ${ppo.numIterations} iterations`);
      await ctx.plot('return', returnSpec(ppo.history));
    }
    ctx.log(`trained ${ppo.globalStep} steps in ${trainSeconds.toFixed(1)} s (${(ppo.globalStep / trainSeconds).toFixed(0)} steps/s)`);

    const evaluation = await ppo.evaluate({ episodes: evalEpisodes, seed: 12_345, maxSteps: maxEpisodeSteps });
    ctx.log(
      `greedy evaluation over ${evalEpisodes} episodes (at most ${maxEpisodeSteps} steps each): mean return ${evaluation.mean.toFixed(1)} ` +
        `(min ${Math.min(...evaluation.returns)}, max ${Math.max(...evaluation.returns)})`,
    );
    await ctx.plot('return', returnSpec(ppo.history, { steps: ppo.globalStep, mean: evaluation.mean, cap: maxEpisodeSteps }));

    // One greedy episode of the trained agent, a frame per state.
    const rng = new Rng(0);
    const episode = await recordEpisode(
      new CartPole({ renderWidth: 150 }),
      async (obs) => (await ppo.policy.act(obs, 1, rng, { deterministic: true })).actions[0],
      { seed: 7, maxSteps: maxEpisodeSteps },
    );
    const steps = episode.rewards.length;
    const how = episode.terminated ? 'the pole fell or the cart left the track' : episode.truncated ? 'truncated at 500 steps' : `stopped after ${maxEpisodeSteps} steps`;
    ctx.log(`recorded episode (seed 7): ${steps} steps, ${how}`);
    const shown: RgbaImage[] = episode.frames.filter((_, i) => i % 2 === 0 || i === episode.frames.length - 1);
    for (const [k, frame] of shown.entries()) {
      throwIfAborted(ctx);
      const t = Math.min(2 * k, steps);
      await ctx.image('episode', frame, { caption: `trained agent, step ${t} of ${steps} (${(t * 0.02).toFixed(2)} s)`, displaySize: 360 });
      await new Promise((resolve) => setTimeout(resolve, FRAME_MS));
    }
    const every = Math.max(1, Math.ceil(steps / 11));
    await ctx.image('strip', framesStrip(episode.frames, { every, cols: 6 }), {
      caption: `the same episode, a frame every ${(every * 0.02).toFixed(2)} s (${every} steps), left to right, top to bottom`,
      displaySize: 460, // the width of the page's example panel
    });
  } finally {
    ppo.dispose();
  }
}
