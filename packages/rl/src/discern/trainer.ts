import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { AdamW, Rng, makeProgress, parseConfig, schemas, type ProgressOption } from '@brickml/core';
import type { Env } from '../envs/env.js';
import { Box } from '../spaces/box.js';
import { PPOTrainer, type PPOConfig } from '../ppo/trainer.js';
import { DiscernEmbedding, discernLoss, discernRewardHost, type HostEmbedding } from './embedding.js';
import { GoalBuffer, hindsightRelabel } from './goal-buffer.js';
import { GoalConditionedEnv, toFloatObservation, type FinishedEpisode, type GoalRewardFn, type GoalSharedState } from './goal-env.js';

const DiscernSchema = z
  .object({
    /**
     * The policy's reward for the final state s_T and goal g: `'discern'` — the learned
     * goal-achievement reward (see `rewardKind`); `'pixel-distance'` — 1 − ‖s_T − g‖₂ / √D on
     * observations in [0, 1] (the baseline the paper argues against); the embedding is not trained then.
     */
    reward: z.enum(['discern', 'pixel-distance']).default('discern'),
    /** DISCERN's reward from similarity: `'similarity'` max(0, ξ(s_T)·ξ(g)) (default) or `'probability'` of g among g + decoys. */
    rewardKind: z.enum(['similarity', 'probability']).default('similarity'),
    /** Steps of one goal episode (the reward comes at its end). */
    episodeLength: schemas.positiveInt.default(10),
    /** Goal buffer capacity (reservoir sampling). */
    bufferCapacity: schemas.positiveInt.default(1024),
    /** Decoys K per final state in the embedding's softmax. */
    decoys: schemas.positiveInt.default(7),
    /** Inverse temperature β of the softmax over cosine similarities. */
    beta: z.number().positive().default(10),
    /** Hidden widths of the embedding MLP. */
    embedHidden: z.array(schemas.positiveInt).default([64]),
    /** Width of the embedding. */
    embedDim: schemas.positiveInt.default(32),
    /** Adam learning rate of the embedding. */
    embedLr: z.number().positive().default(1e-3),
    /** Embedding updates after each PPO iteration. */
    embedSteps: schemas.positiveInt.default(4),
    /** Final states per embedding update (drawn from the latest finished episodes). */
    embedBatch: schemas.positiveInt.default(64),
    /**
     * Fraction of extra embedding examples whose goal is relabelled in hindsight: the goal of s_T
     * becomes an observation the same episode achieved (`hindsightRelabel`'s 'future' goal of step 0).
     * These give the embedding positives before the policy reaches its commanded goals (without
     * them, final states independent of their goals drive the embedding to a constant).
     */
    hindsightFraction: z.number().min(0).max(1).default(0.5),
    /** Random-action steps that fill the goal buffer before training. */
    prefillSteps: z.number().int().min(1).default(256),
    /** PPO iterations of the run. */
    iterations: schemas.positiveInt.default(100),
    /** PPO settings (numEnvs, numSteps, lr, entCoef, hidden, …; `totalTimesteps` and `seed` are set from this config). */
    ppo: z.record(z.string(), z.unknown()).default({}),
    /** Seed of everything. */
    seed: z.number().int().default(1),
  })
  .strict();
export type DiscernConfig = z.input<typeof DiscernSchema>;
type Parsed = z.output<typeof DiscernSchema>;

/** One line of DISCERN's metrics, per iteration. */
export interface DiscernMetrics {
  iteration: number;
  globalStep: number;
  /** Mean end-of-episode reward of the rollout's finished episodes. */
  meanReward: number;
  /** The embedding's cross-entropy on this iteration's examples, commanded and relabelled (before its update; NaN for 'pixel-distance'). */
  discriminatorLoss: number;
  /** Fraction of this iteration's final states whose commanded goal beats all K decoys (before the update; relabelled goals not counted; NaN for 'pixel-distance'). */
  discriminatorAccuracy: number;
  /** 1 / (K + 1). */
  chance: number;
}

/**
 * DISCERN (Warde-Farley et al. 2019, "Unsupervised Control Through Non-Parametric Discriminative
 * Rewards") with an on-policy learner: a goal-conditioned PPO agent ({@link PPOTrainer} over
 * {@link GoalConditionedEnv} copies) whose goals are observations from a {@link GoalBuffer}; after
 * each PPO iteration, the L2-normalised {@link DiscernEmbedding} is trained on the iteration's
 * final states to pick each one's goal among K decoys from the buffer ({@link discernLoss}); the
 * policy's end-of-episode reward is then the clipped cosine similarity max(0, ξ(s_T)·ξ(g)) of the
 * new embedding (a host snapshot, frozen within a rollout), or the decoy softmax probability. The
 * embedding sees observations centred by the mean of the random-policy prefill (`obsMean`).
 * Hindsight relabelling ({@link hindsightRelabel}) supplies extra embedding examples whose goal is
 * an observation the episode achieved (`hindsightFraction`).
 * Differences from the paper: PPO instead of an off-policy Q-learner, so the agent's own updates
 * use only commanded goals (relabelled goals would need off-policy corrections); an MLP embedding
 * on flattened, mean-centred observations instead of a conv net.
 */
export class DiscernTrainer {
  readonly config: Parsed;
  readonly ppo: PPOTrainer;
  readonly embedding: DiscernEmbedding | null;
  readonly shared: GoalSharedState;
  readonly history: DiscernMetrics[] = [];
  private readonly optimizer: AdamW | null;
  private readonly rng: Rng;
  private readonly makeBase: () => Env;
  private readonly obsDim: number;
  /** Mean of the prefill observations; the embedding sees observations minus this mean. */
  readonly obsMean: Float32Array;
  private readonly varNames = new Map<string, string>();

  constructor(makeBase: () => Env, config: DiscernConfig = {}) {
    const c = (this.config = parseConfig({ type: 'DiscernTrainer', schema: DiscernSchema }, config));
    this.makeBase = makeBase;
    const probe = makeBase();
    if (!(probe.observationSpace instanceof Box)) throw new TypeError(`DiscernTrainer: the env's observation space must be a Box, got ${probe.observationSpace}`);
    this.obsDim = probe.observationSpace.size;
    const root = new Rng(c.seed);
    this.rng = root.fork();
    const D = this.obsDim;
    const pixelReward: GoalRewardFn = (a, g) => {
      let s = 0;
      for (let i = 0; i < D; i++) s += (a[i] - g[i]) ** 2;
      return 1 - Math.sqrt(s / D);
    };
    this.shared = { buffer: new GoalBuffer(c.bufferCapacity, D), reward: pixelReward, finished: [] };
    // Fill the buffer with observations of a random policy.
    const fillRng = root.fork();
    let filled = 0;
    while (filled < c.prefillSteps) {
      let r = { observation: probe.reset({ seed: fillRng.seed() }).observation, terminated: false, truncated: false };
      this.shared.buffer.add(toFloatObservation(r.observation), fillRng);
      filled++;
      for (let t = 0; t < c.episodeLength && !r.terminated && !r.truncated && filled < c.prefillSteps; t++) {
        r = probe.step(probe.actionSpace.sample(fillRng));
        this.shared.buffer.add(toFloatObservation(r.observation), fillRng);
        filled++;
      }
    }
    this.obsMean = new Float32Array(D);
    {
      const all = this.shared.buffer.sampleMany(Math.min(c.prefillSteps, 4 * c.bufferCapacity), fillRng);
      for (const o of all) for (let i = 0; i < D; i++) this.obsMean[i] += o[i] / all.length;
    }
    if (c.reward === 'discern') {
      this.embedding = new DiscernEmbedding({ inDim: D, hidden: c.embedHidden, embedDim: c.embedDim }, { rng: root.fork() });
      this.optimizer = new AdamW(this.embedding, { lr: c.embedLr, weightDecay: 0 });
      for (const [path, v] of this.embedding.namedParameters()) this.varNames.set(v.name, path);
    } else {
      this.embedding = null;
      this.optimizer = null;
      root.fork();
    }
    const ppoConfig = c.ppo as PPOConfig;
    const numEnvs = ppoConfig.numEnvs ?? 8;
    const numSteps = ppoConfig.numSteps ?? 4 * c.episodeLength;
    this.ppo = new PPOTrainer(() => new GoalConditionedEnv(makeBase(), this.shared, c.episodeLength), {
      numEnvs,
      numSteps,
      numMinibatches: 4,
      entCoef: 0.01,
      annealLr: false,
      lr: 1e-3,
      gamma: 0.99,
      ...ppoConfig,
      totalTimesteps: c.iterations * numEnvs * numSteps,
      seed: root.seed(),
    });
  }

  /** Installs the current embedding's host snapshot as the policy's reward. */
  private async refreshReward(): Promise<void> {
    if (!this.embedding) return;
    const embed: HostEmbedding = await this.embedding.snapshot();
    const c = this.config;
    const cache = new WeakMap<Float32Array, Float32Array>();
    const mu = this.obsMean;
    const e = (x: Float32Array) => {
      let v = cache.get(x);
      if (!v) cache.set(x, (v = embed(x.map((xi, i) => xi - mu[i]))));
      return v;
    };
    this.shared.reward = (a, g, rng) =>
      discernRewardHost(e(a), e(g), c.rewardKind, c.beta, c.rewardKind === 'probability' ? this.shared.buffer.sampleMany(c.decoys, rng).map(e) : []);
  }

  /** Embedding updates on `episodes`; returns the loss and the commanded goals' accuracy measured before the first update. */
  private async trainEmbedding(episodes: FinishedEpisode[]): Promise<{ loss: number; accuracy: number }> {
    const c = this.config;
    const emb = this.embedding as DiscernEmbedding;
    const D = this.obsDim;
    const K = c.decoys;
    let first: { loss: number; accuracy: number } | undefined;
    for (let s = 0; s < c.embedSteps; s++) {
      const n = Math.min(c.embedBatch, episodes.length);
      const nh = Math.round(n * c.hindsightFraction);
      const rows = n + nh;
      const idx = Array.from(this.rng.permutation(episodes.length).subarray(0, n));
      const achieved = new Float32Array(rows * D);
      const goals = new Float32Array(rows * D);
      const decoys = new Float32Array(rows * K * D);
      for (let k = 0; k < rows; k++) {
        const ep = episodes[k < n ? idx[k] : idx[(k - n) % n]];
        achieved.set(ep.achieved, k * D);
        const goal = k < n || ep.observations.length < 2 ? ep.goal : hindsightRelabel(ep.observations, { strategy: 'future', rng: this.rng, reward: () => 0 })[0].goal;
        goals.set(goal, k * D);
        this.shared.buffer.sampleMany(K, this.rng).forEach((d, m) => decoys.set(d, (k * K + m) * D));
      }
      let stats: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const mu = tf.tensor2d(this.obsMean, [1, D]);
        const xa = emb.forward(tf.sub(tf.tensor2d(achieved, [rows, D]), mu));
        const xg = emb.forward(tf.sub(tf.tensor2d(goals, [rows, D]), mu));
        const xd = tf.reshape(emb.forward(tf.sub(tf.tensor2d(decoys, [rows * K, D]), mu)), [rows, K, -1]);
        const l = discernLoss(xa, xg, xd, c.beta);
        // Accuracy of the commanded goals only (the first n rows).
        const acc = discernLoss(tf.slice(xa, [0, 0], [n, -1]), tf.slice(xg, [0, 0], [n, -1]), tf.slice(xd, [0, 0, 0], [n, -1, -1]), c.beta).accuracy;
        stats = tf.keep(tf.stack([l.loss, acc]));
        return l.loss;
      }, emb.parameters());
      const byPath = new Map<string, tf.Tensor>();
      for (const [name, g] of Object.entries(grads)) byPath.set(this.varNames.get(name) ?? name, g);
      (this.optimizer as AdamW).step(byPath);
      tf.dispose([value, ...Object.values(grads)]);
      const v = (await (stats as tf.Tensor).data()) as Float32Array;
      (stats as tf.Tensor).dispose();
      first ??= { loss: v[0], accuracy: v[1] };
    }
    return first as { loss: number; accuracy: number };
  }

  /** Runs the remaining iterations (or until `untilIteration`): a PPO iteration, then embedding updates and a new reward. */
  async train(options: { progress?: ProgressOption; untilIteration?: number; onIteration?: (m: DiscernMetrics) => void | Promise<void> } = {}): Promise<DiscernMetrics[]> {
    const c = this.config;
    const last = Math.min(options.untilIteration ?? c.iterations, c.iterations);
    const progress = await makeProgress(options.progress ?? 'none', 'discern', last);
    const out: DiscernMetrics[] = [];
    const started = performance.now();
    const startIteration = this.ppo.iteration;
    try {
      if (this.ppo.iteration === 0) await this.refreshReward();
      while (this.ppo.iteration < last) {
        await this.ppo.train({ untilIteration: this.ppo.iteration + 1 });
        const pairs = this.shared.finished.splice(0);
        // Only the last step of an episode pays, so an episode's return is its goal-achievement reward.
        const meanReward = this.ppo.history[this.ppo.history.length - 1]?.episodeReturn ?? NaN;
        let disc = { loss: NaN, accuracy: NaN };
        if (this.embedding && pairs.length > 0) {
          disc = await this.trainEmbedding(pairs);
          await this.refreshReward();
        }
        const m: DiscernMetrics = {
          iteration: this.ppo.iteration,
          globalStep: this.ppo.globalStep,
          meanReward,
          discriminatorLoss: disc.loss,
          discriminatorAccuracy: disc.accuracy,
          chance: 1 / (c.decoys + 1),
        };
        this.history.push(m);
        out.push(m);
        await options.onIteration?.(m);
        const elapsed = (performance.now() - started) / 1000;
        progress.update({
          step: m.iteration,
          totalSteps: last,
          values: { reward: m.meanReward, acc: m.discriminatorAccuracy },
          stepsPerSecond: (m.iteration - startIteration) / elapsed,
          elapsedSeconds: elapsed,
        });
      }
    } finally {
      progress.stop();
    }
    return out;
  }

  /**
   * Runs the policy toward each given goal observation (floats, as the wrapped env's observations
   * scaled by {@link toFloatObservation}) for `episodesPerGoal` episodes of `episodeLength` steps
   * from seeded starts, and returns each episode's final wrapped-env info (e.g. a maze's agent cell).
   */
  async evaluateGoals(goals: readonly Float32Array[], options: { episodesPerGoal?: number; seed?: number; deterministic?: boolean } = {}): Promise<Array<Array<Record<string, unknown>>>> {
    const per = options.episodesPerGoal ?? 5;
    const seed = options.seed ?? 10_000;
    const rng = new Rng(seed);
    const shared: GoalSharedState = { buffer: new GoalBuffer(1, this.obsDim), reward: () => 0, finished: [] };
    const env = new GoalConditionedEnv(this.makeBase(), shared, this.config.episodeLength);
    const out: Array<Array<Record<string, unknown>>> = [];
    for (let g = 0; g < goals.length; g++) {
      const finals: Array<Record<string, unknown>> = [];
      for (let k = 0; k < per; k++) {
        let obs = env.reset({ seed: seed + g * per + k, options: { goal: goals[g] } }).observation;
        for (;;) {
          const act = await this.ppo.policy.act(obs, 1, rng, { deterministic: options.deterministic ?? false });
          const r = env.step(env.actionSpace.kind === 'box' ? (env.actionSpace as Box).clip(act.actions) : act.actions[0]);
          obs = r.observation;
          if (r.terminated || r.truncated) {
            finals.push(r.info.base as Record<string, unknown>);
            break;
          }
        }
      }
      out.push(finals);
    }
    return out;
  }

  /** Frees the policy's, the embedding's and the optimizers' tensors. */
  dispose(): void {
    this.ppo.dispose();
    this.optimizer?.dispose();
    this.embedding?.dispose();
  }
}
