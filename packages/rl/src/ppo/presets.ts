import type { PPOConfig } from './trainer.js';

/**
 * PPO settings for CartPole-v1 that reach the target (mean return ≥ 475 within 200k steps).
 * Changed from CleanRL's `ppo.py` defaults, after rl-baselines3-zoo's tuned CartPole-v1 PPO: 8 envs
 * × 32 steps (was 4 × 128), 1 minibatch of 256 (was 4), 20 epochs (was 4), γ 0.98 (0.99), λ 0.8
 * (0.95), lr 1e-3 annealed (2.5e-4), entropy 0 (0.01), 200k steps (500k).
 */
export const CARTPOLE_PPO_CONFIG = {
  numEnvs: 8,
  numSteps: 32,
  numMinibatches: 1,
  updateEpochs: 20,
  gamma: 0.98,
  gaeLambda: 0.8,
  lr: 1e-3,
  annealLr: true,
  entCoef: 0,
  totalTimesteps: 200_000,
} satisfies PPOConfig;
