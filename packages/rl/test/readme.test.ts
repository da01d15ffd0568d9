// The README's quick start, verbatim (the test checks the README still contains exactly this code).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { CartPole, PPOTrainer, SyncVectorEnv, runDeepSea } from '@brickml/rl';
import { expect, it } from 'vitest';

const SNIPPET_START = "await tf.setBackend('cpu');";

it('README quick start runs and is what the README shows', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const body = self.slice(self.indexOf(`  ${SNIPPET_START}`), self.lastIndexOf('  // end of snippet'));
  const dedented = body
    .split('\n')
    .map((l) => l.slice(2))
    .join('\n');
  expect(dedented.trim().length, 'the snippet body was found in this file').toBeGreaterThan(200);
  expect(readme).toContain(dedented.trim());

  await tf.setBackend('cpu');
  // An environment with Gymnasium's API.
  const env = new CartPole();
  const { observation } = env.reset({ seed: 0 }); // Float32Array [x, ẋ, θ, θ̇]
  const { reward, terminated, truncated } = env.step(1); // push right

  // Four copies stepped together, reset automatically (the final observation is in info).
  const venv = new SyncVectorEnv(Array.from({ length: 4 }, () => () => new CartPole()));
  venv.reset({ seed: 0 });
  const batch = venv.step([0, 1, 0, 1]); // observations [4 × 4], rewards, terminated, truncated, info

  // PPO (CleanRL's ppo.py defaults; CARTPOLE_PPO_CONFIG is the preset that solves CartPole-v1).
  const ppo = new PPOTrainer(() => new CartPole(), { numEnvs: 4, numSteps: 64, totalTimesteps: 1024, seed: 1 });
  await ppo.train({ progress: 'none' });
  const { mean } = await ppo.evaluate({ episodes: 5 });
  ppo.dispose();

  // K-learning on DeepSea (N = 8): cumulative regret per episode.
  const run = runDeepSea({ size: 8, agent: 'k-learning', episodes: 100, seed: 0 });
  console.log(observation, reward, terminated, truncated, batch.rewards, mean, run.firstSuccess, run.cumulativeRegret.at(-1));
  // end of snippet

  expect(observation).toHaveLength(4);
  expect(reward).toBe(1);
  expect(batch.observations).toHaveLength(16);
  expect(mean).toBeGreaterThanOrEqual(8); // CartPole episodes last at least 8 steps; 1,024 steps of PPO do not lose that
  expect(run.cumulativeRegret).toHaveLength(100);
  expect(run.firstSuccess).not.toBeNull();
});
