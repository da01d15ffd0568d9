import { Rng } from '@brickml/core';
import { DeepSea, type DeepSeaOptions } from '../envs/deep-sea.js';
import { KLearningAgent, SoftQAgent, ThompsonAgent, type TabularAgent } from './agents.js';

/** Agents {@link runDeepSea} can build by name. */
export type DeepSeaAgentName = 'k-learning' | 'thompson' | 'soft-q';

/** Options of {@link runDeepSea}. */
export interface RunDeepSeaOptions {
  size: number;
  agent: DeepSeaAgentName | TabularAgent;
  episodes: number;
  /** Seed of the agent's sampling and of the env's action mask (default 0). */
  seed?: number;
  /** Soft-Q's temperature (default 0.1). */
  softQTau?: number;
  env?: Omit<DeepSeaOptions, 'size'>;
}

/** What {@link runDeepSea} returns. */
export interface DeepSeaRun {
  agent: string;
  size: number;
  seed: number;
  /** Return of each episode. */
  returns: number[];
  /** Cumulative regret after each episode: Σ (optimal return − return). */
  cumulativeRegret: number[];
  /** First episode (1-based) that reached the treasure, or null. */
  firstSuccess: number | null;
  /** Episodes that reached the treasure. */
  successes: number;
}

/**
 * The posterior every DeepSea agent uses: DeepSea's rewards are deterministic, so a tight reward
 * noise (σ_r² = 0.01) with a N(0, 1) prior on each mean reward (κ = 0.01), and a weak Dirichlet
 * prior on transitions (α₀ = 0.01), so that one visit mostly settles a transition.
 */
export const DEEP_SEA_POSTERIOR = { rewardNoise: 0.01, priorCount: 0.01, transitionPrior: 0.01 } as const;

/** Builds a tabular agent for DeepSea of size N (states N², horizon N) with {@link DEEP_SEA_POSTERIOR}. */
export function makeDeepSeaAgent(name: DeepSeaAgentName, size: number, options: { softQTau?: number } = {}): TabularAgent {
  const base = { numStates: size * size, numActions: 2, horizon: size, ...DEEP_SEA_POSTERIOR };
  switch (name) {
    case 'k-learning':
      return new KLearningAgent(base);
    case 'thompson':
      return new ThompsonAgent(base);
    case 'soft-q':
      return new SoftQAgent({ ...base, tau: options.softQTau });
    default:
      throw new RangeError(`makeDeepSeaAgent: argument 'name' expected 'k-learning', 'thompson' or 'soft-q', got ${String(name)}`);
  }
}

/** Runs a tabular agent on DeepSea for a number of episodes and records returns and cumulative regret. */
export function runDeepSea(options: RunDeepSeaOptions): DeepSeaRun {
  const seed = options.seed ?? 0;
  const env = new DeepSea({ ...options.env, size: options.size, mappingSeed: seed });
  const agent = typeof options.agent === 'string' ? makeDeepSeaAgent(options.agent, options.size, { softQTau: options.softQTau }) : options.agent;
  const rng = new Rng(seed + 7919);
  const returns: number[] = [];
  const cumulativeRegret: number[] = [];
  let regret = 0;
  let firstSuccess: number | null = null;
  let successes = 0;
  for (let ep = 0; ep < options.episodes; ep++) {
    env.reset({ seed: seed + ep });
    agent.beginEpisode(rng);
    let total = 0;
    let found = false;
    for (let h = 0; ; h++) {
      const s = env.stateIndex;
      const a = agent.act(h, s, rng);
      const r = env.step(a);
      agent.observe(s, a, r.reward, env.stateIndex);
      total += r.reward;
      if (r.reward > 0.5) found = true;
      if (r.terminated || r.truncated) break;
    }
    if (found) {
      successes++;
      firstSuccess ??= ep + 1;
    }
    returns.push(total);
    regret += env.optimalReturn - total;
    cumulativeRegret.push(regret);
  }
  return { agent: agent.name, size: options.size, seed, returns, cumulativeRegret, firstSuccess, successes };
}
