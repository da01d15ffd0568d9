/**
 * @brickml/rl: Gymnasium-style environments (spaces, CartPole-v1, a key-and-door gridworld,
 * bandits, DeepSea, a pixel maze, a point mass, vector envs, an episode recorder), PPO, RL² (a GRU
 * policy trained with PPO over trials), DISCERN, CARML (visual task model by discriminative clustering, the refit / meta-train alternation), and tabular
 * K-learning with Thompson-sampling and soft-Q comparisons.
 * @packageDocumentation
 */
export * from './spaces/index.js';
export * from './envs/env.js';
export * from './envs/cartpole.js';
export * from './vector/sync-vector-env.js';
export * from './record/recorder.js';
export * from './ppo/orthogonal.js';
export * from './ppo/policy.js';
export * from './ppo/conv-policy.js';
export * from './ppo/gae.js';
export * from './ppo/loss.js';
export * from './ppo/running-stats.js';
export * from './ppo/trainer.js';
export * from './ppo/presets.js';
export * from './envs/deep-sea.js';
export * from './envs/gridworld.js';
export * from './bandits/bandit.js';
export * from './k-learning/tabular.js';
export * from './k-learning/agents.js';
export * from './k-learning/run.js';
export * from './rl2/recurrent-policy.js';
export * from './rl2/trainer.js';
export * from './envs/pixel-maze.js';
export * from './envs/point-mass.js';
export * from './discern/embedding.js';
export * from './discern/goal-buffer.js';
export * from './discern/goal-env.js';
export * from './discern/trainer.js';
export * from './carml/task-model.js';
export * from './carml/encoder.js';
export * from './carml/visual-task-model.js';
export * from './carml/trainer.js';
