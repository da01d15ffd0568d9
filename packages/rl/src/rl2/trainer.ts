import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { AdamW, Rng, clipGradNorm, makeProgress, parseConfig, schemas, type ProgressOption } from '@brickml/core';
import type { Env } from '../envs/env.js';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { computeGae } from '../ppo/gae.js';
import { ppoLoss } from '../ppo/loss.js';
import { RecurrentActorCritic } from './recurrent-policy.js';

const RL2Schema = z
  .object({
    /** Trials run in parallel per iteration (each a new task). */
    trialsPerIteration: schemas.positiveInt.default(32),
    /** Episodes per trial: the policy's state persists across them (RL²'s n). */
    episodesPerTrial: schemas.positiveInt.default(4),
    /** Steps of every episode (episodes must all last exactly this long, e.g. a bandit's horizon). */
    episodeLength: schemas.positiveInt,
    /** Iterations of the run. */
    iterations: schemas.positiveInt.default(500),
    lr: z.number().positive().default(1e-3),
    /** Discount over the whole trial (the meta-episode). */
    gamma: z.number().min(0).max(1).default(0.99),
    gaeLambda: z.number().min(0).max(1).default(0.95),
    /** Minibatches of whole trials per epoch. */
    numMinibatches: schemas.positiveInt.default(2),
    updateEpochs: schemas.positiveInt.default(4),
    clipCoef: z.number().positive().default(0.2),
    entCoef: z.number().min(0).default(0.01),
    vfCoef: z.number().min(0).default(0.5),
    maxGradNorm: z.number().positive().default(0.5),
    hiddenSize: schemas.positiveInt.default(64),
    seed: z.number().int().default(1),
  })
  .strict();
/** RL² hyperparameters (input form). */
export type RL2Config = z.input<typeof RL2Schema>;
type Parsed = z.output<typeof RL2Schema>;

/** Makes the environment of one trial (one task) from the trial's generator; its task must stay fixed across its resets. */
export type TrialEnvFactory = (rng: Rng) => Env;

/**
 * Replaces the environments' rewards of one step of a batch of trials (e.g. CARML's r_z(s) from a
 * learned task model): gets the observation each trial's env returned (before any reset) and the
 * envs, returns one reward per trial. Asynchronous, so it may run a network and read with `data()`.
 */
export type TrialRewardFn = (step: { observations: ArrayLike<number>[]; envs: Env[]; t: number }) => Promise<ArrayLike<number>>;

/** Per-iteration metrics of {@link RL2Trainer}. */
export interface RL2Metrics {
  iteration: number;
  /** Mean return of each episode index within the trials (episode 1, 2, …). */
  episodeReturns: number[];
  trialReturn: number;
  loss: number;
  entropy: number;
  approxKl: number;
}

/** What one batch of trials produced (host arrays, time-major `[T, N]`). */
export interface TrialBatch {
  /** `[T, N, inputSize]` policy inputs. */
  inputs: Float32Array;
  actions: Float32Array;
  logProbs: Float32Array;
  values: Float32Array;
  rewards: Float32Array;
  /** Mean return per episode index. */
  episodeReturns: number[];
  /** `[T, N, hiddenSize]` the policy state after each step (for inspection). */
  states?: Float32Array;
}

/**
 * RL² (Duan et al. 2016) trained with PPO: a {@link RecurrentActorCritic} plays trials of
 * `episodesPerTrial` episodes of one task; its GRU state is carried across the episodes of a trial
 * (the input's done flag marks each episode boundary) and reset to zero between trials. The PPO
 * update unrolls the GRU over whole trials (truncated BPTT is not needed for short trials), with
 * GAE over the trial as one meta-episode (γ spans episode boundaries; only the trial's end
 * terminates). Episodes must all last `episodeLength` steps (bandit horizons, time limits);
 * variable-length episodes are refused rather than padded.
 */
export class RL2Trainer {
  readonly config: Parsed;
  readonly policy: RecurrentActorCritic;
  readonly optimizer: AdamW;
  readonly history: RL2Metrics[] = [];
  iteration = 0;
  private readonly rng: Rng;
  private readonly obsDim: number;
  private readonly numActions: number;
  /** Replaces the envs' rewards when set (CARML sets it to its task model's reward). */
  rewardFn: TrialRewardFn | undefined;

  /**
   * @param makeTrialEnv makes the env of one trial from the trial's generator.
   * @param options.rewardFn replaces the envs' rewards at every step (see {@link TrialRewardFn}); the
   *   replaced reward is what the policy is trained on and sees as its previous reward.
   */
  constructor(readonly makeTrialEnv: TrialEnvFactory, config: RL2Config, options: { rewardFn?: TrialRewardFn } = {}) {
    this.rewardFn = options.rewardFn;
    this.config = parseConfig({ type: 'RL2Trainer', schema: RL2Schema }, config);
    const c = this.config;
    if (c.trialsPerIteration % c.numMinibatches !== 0) {
      throw new RangeError(`RL2Trainer: trialsPerIteration (${c.trialsPerIteration}) must be divisible by numMinibatches (${c.numMinibatches})`);
    }
    const root = new Rng(c.seed);
    const probe = makeTrialEnv(new Rng(0));
    if (!(probe.observationSpace instanceof Box)) throw new TypeError(`RL2Trainer: the env's observation space must be a Box, got ${probe.observationSpace}`);
    if (!(probe.actionSpace instanceof Discrete)) throw new TypeError(`RL2Trainer: the env's action space must be Discrete, got ${probe.actionSpace}`);
    this.obsDim = probe.observationSpace.size;
    this.numActions = probe.actionSpace.n;
    this.policy = new RecurrentActorCritic({ obsDim: this.obsDim, numActions: this.numActions, hiddenSize: c.hiddenSize }, { rng: root.fork() });
    this.rng = root.fork();
    this.optimizer = new AdamW(this.policy, { lr: c.lr, eps: 1e-5, weightDecay: 0 });
  }

  /** Steps of a trial. */
  get trialLength(): number {
    return this.config.episodesPerTrial * this.config.episodeLength;
  }

  /**
   * Plays `n` trials with the current policy (sampled actions, or greedy with `deterministic`),
   * new tasks drawn from `rng`. Returns the inputs, actions, log-probabilities, values and rewards.
   */
  async rollout(n: number, rng: Rng, options: { deterministic?: boolean; keepStates?: boolean } = {}): Promise<TrialBatch> {
    const c = this.config;
    const T = this.trialLength;
    const I = this.policy.inputSize;
    const A = this.numActions;
    const envs = Array.from({ length: n }, () => this.makeTrialEnv(rng.fork()));
    const inputs = new Float32Array(T * n * I);
    const actions = new Float32Array(T * n);
    const logProbs = new Float32Array(T * n);
    const values = new Float32Array(T * n);
    const rewards = new Float32Array(T * n);
    const states = options.keepStates ? new Float32Array(T * n * c.hiddenSize) : undefined;
    const episodeReturns = new Array(c.episodesPerTrial).fill(0);
    const obs: ArrayLike<number>[] = envs.map((e) => e.reset({ seed: rng.seed() }).observation as Float32Array);
    const prevAction = new Int32Array(n).fill(-1);
    const prevReward = new Float32Array(n);
    const prevDone = new Uint8Array(n);
    let h = this.policy.initialState(n);
    try {
      for (let t = 0; t < T; t++) {
        const ep = Math.floor(t / c.episodeLength);
        for (let i = 0; i < n; i++) this.policy.writeInput(inputs, (t * n + i) * I, obs[i], prevAction[i], prevReward[i], prevDone[i] === 1);
        const out = tf.tidy(() => {
          const r = this.policy.step(tf.tensor2d(inputs.subarray(t * n * I, (t + 1) * n * I), [n, I]), h);
          return { logits: r.logits, value: r.value, h: r.h };
        }) as { logits: tf.Tensor2D; value: tf.Tensor1D; h: tf.Tensor2D };
        h.dispose();
        h = out.h;
        const [logits, vals] = (await Promise.all([out.logits.data(), out.value.data()])) as Float32Array[];
        if (states) states.set((await h.data()) as Float32Array, t * n * c.hiddenSize);
        tf.dispose([out.logits, out.value]);
        const stepped = [];
        for (let i = 0; i < n; i++) {
          const row = logits.subarray(i * A, (i + 1) * A);
          const max = Math.max(...row);
          let sum = 0;
          for (const v of row) sum += Math.exp(v - max);
          let a = 0;
          if (options.deterministic) {
            for (let k = 1; k < A; k++) if (row[k] > row[a]) a = k;
          } else {
            let u = rng.float() * sum;
            for (a = 0; a < A - 1; a++) {
              u -= Math.exp(row[a] - max);
              if (u < 0) break;
            }
          }
          const j = t * n + i;
          actions[j] = a;
          logProbs[j] = row[a] - max - Math.log(sum);
          values[j] = vals[i];
          stepped.push({ a, r: envs[i].step(a as never) });
        }
        const replaced = this.rewardFn ? await this.rewardFn({ observations: stepped.map((x) => x.r.observation as ArrayLike<number>), envs, t }) : undefined;
        if (replaced && replaced.length !== n) throw new RangeError(`RL2Trainer: the reward function expected to return ${n} rewards (one per trial), got ${replaced.length}`);
        for (let i = 0; i < n; i++) {
          const { a, r } = stepped[i];
          const j = t * n + i;
          const reward = replaced ? replaced[i] : r.reward;
          rewards[j] = reward;
          episodeReturns[ep] += reward / n;
          const endOfEpisode = (t + 1) % c.episodeLength === 0;
          if ((r.terminated || r.truncated) !== endOfEpisode) {
            throw new RangeError(
              `RL2Trainer: episodes must last exactly episodeLength = ${c.episodeLength} steps; env '${envs[i].id}' ${endOfEpisode ? 'went on past' : 'ended at'} step ${(t % c.episodeLength) + 1}`,
            );
          }
          prevAction[i] = a;
          prevReward[i] = reward;
          prevDone[i] = endOfEpisode ? 1 : 0;
          obs[i] = endOfEpisode && t + 1 < T ? (envs[i].reset().observation as Float32Array) : (r.observation as Float32Array);
        }
      }
    } finally {
      h.dispose();
    }
    return { inputs, actions, logProbs, values, rewards, episodeReturns, states };
  }

  /** Unrolls the policy over whole trials: inputs [T, n, I] → per-step logits [T·n, A] and values [T·n] (time-major). */
  private unroll(inputs: tf.Tensor3D): { logits: tf.Tensor2D; values: tf.Tensor1D } {
    const [T, n] = inputs.shape;
    let h: tf.Tensor = this.policy.initialState(n);
    const logits: tf.Tensor[] = [];
    const values: tf.Tensor[] = [];
    const steps = tf.unstack(inputs); // T × [n, I]
    for (let t = 0; t < T; t++) {
      const out = this.policy.step(steps[t], h);
      h = out.h;
      logits.push(out.logits);
      values.push(out.value);
    }
    return { logits: tf.concat(logits, 0) as tf.Tensor2D, values: tf.concat(values, 0) as tf.Tensor1D };
  }

  /** Runs RL² iterations (rollout of `trialsPerIteration` trials, then PPO epochs over minibatches of trials). */
  async train(options: { progress?: ProgressOption; untilIteration?: number; onIteration?: (m: RL2Metrics) => void | Promise<void> } = {}): Promise<RL2Metrics[]> {
    const c = this.config;
    const N = c.trialsPerIteration;
    const T = this.trialLength;
    const I = this.policy.inputSize;
    const A = this.numActions;
    const last = Math.min(options.untilIteration ?? c.iterations, c.iterations);
    const progress = await makeProgress(options.progress ?? 'none', 'rl2', last);
    const started = performance.now();
    const first = this.iteration;
    const out: RL2Metrics[] = [];
    const params = this.policy.parameters();
    const names = new Map(this.policy.namedParameters().map(([p, v]) => [v.name, p]));
    try {
      while (this.iteration < last) {
        this.optimizer.setLr(c.lr * (1 - this.iteration / c.iterations));
        const batch = await this.rollout(N, this.rng);
        const terminated = new Uint8Array(T * N);
        terminated.fill(1, (T - 1) * N);
        const nextValues = new Float32Array(T * N);
        nextValues.set(batch.values.subarray(N), 0);
        const { advantages, returns } = computeGae({
          numSteps: T, numEnvs: N, rewards: batch.rewards, values: batch.values, nextValues, terminated, truncated: new Uint8Array(T * N), gamma: c.gamma, lambda: c.gaeLambda,
        });
        const mbTrials = N / c.numMinibatches;
        let sLoss = 0;
        let sEnt = 0;
        let sKl = 0;
        let count = 0;
        for (let epoch = 0; epoch < c.updateEpochs; epoch++) {
          const perm = this.rng.permutation(N);
          for (let m = 0; m < c.numMinibatches; m++) {
            const trials = perm.subarray(m * mbTrials, (m + 1) * mbTrials);
            // Gather whole trials, time-major.
            const pick = (src: Float32Array, w: number) => {
              const dst = new Float32Array(T * mbTrials * w);
              for (let t = 0; t < T; t++) {
                for (let k = 0; k < mbTrials; k++) dst.set(src.subarray((t * N + trials[k]) * w, (t * N + trials[k] + 1) * w), (t * mbTrials + k) * w);
              }
              return dst;
            };
            let stats: tf.Tensor | undefined;
            const { value, grads } = tf.variableGrads(() => {
              const { logits, values } = this.unroll(tf.tensor3d(pick(batch.inputs, I), [T, mbTrials, I]));
              const logp = tf.logSoftmax(logits);
              const onehot = tf.oneHot(tf.tensor1d(pick(batch.actions, 1), 'int32'), A);
              const l = ppoLoss(
                {
                  newLogProb: tf.sum(tf.mul(logp, onehot), -1),
                  oldLogProb: tf.tensor1d(pick(batch.logProbs, 1)),
                  advantages: tf.tensor1d(pick(advantages, 1)),
                  newValues: values,
                  oldValues: tf.tensor1d(pick(batch.values, 1)),
                  returns: tf.tensor1d(pick(returns, 1)),
                  entropy: tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)),
                },
                { clipCoef: c.clipCoef, entCoef: c.entCoef, vfCoef: c.vfCoef },
              );
              stats = tf.keep(tf.stack([l.loss, l.entropy, l.approxKl]));
              return l.loss;
            }, params);
            const byPath = new Map<string, tf.Tensor>(Object.entries(grads).map(([k, g]) => [names.get(k) ?? k, g]));
            const clipped = clipGradNorm(byPath, c.maxGradNorm);
            this.optimizer.step(clipped.grads);
            tf.dispose([value, ...Object.values(grads), ...clipped.grads.values(), clipped.totalNorm]);
            const s = (await (stats as tf.Tensor).data()) as Float32Array;
            (stats as tf.Tensor).dispose();
            sLoss += s[0];
            sEnt += s[1];
            sKl += s[2];
            count++;
          }
        }
        this.iteration++;
        const m: RL2Metrics = {
          iteration: this.iteration,
          episodeReturns: batch.episodeReturns,
          trialReturn: batch.episodeReturns.reduce((a, b) => a + b, 0),
          loss: sLoss / count,
          entropy: sEnt / count,
          approxKl: sKl / count,
        };
        this.history.push(m);
        out.push(m);
        await options.onIteration?.(m);
        const el = (performance.now() - started) / 1000;
        progress.update({ step: this.iteration, totalSteps: last, values: { trialReturn: m.trialReturn, first: m.episodeReturns[0], last: m.episodeReturns[m.episodeReturns.length - 1] }, stepsPerSecond: (this.iteration - first) / el, elapsedSeconds: el });
      }
    } finally {
      progress.stop();
    }
    return out;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.policy.dispose();
  }
}
