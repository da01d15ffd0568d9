import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  AdamW,
  CheckpointError,
  Rng,
  clipGradNorm,
  decodeToTensors,
  encodeTensorMap,
  ensureDir,
  importAtRuntime,
  loadWeights,
  makeProgress,
  parseConfig,
  readFileBytes,
  saveWeights,
  schemas,
  writeFileAtomic,
  type OptimizerStateJson,
  type ProgressOption,
  type RngState,
} from '@brickml/core';
import type { Env } from '../envs/env.js';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { SyncVectorEnv } from '../vector/sync-vector-env.js';
import { computeGae } from './gae.js';
import { ppoLoss } from './loss.js';
import { ConvActorCritic } from './conv-policy.js';
import { ActorCritic, type PolicyNet } from './policy.js';
import { RunningMeanStd, type RunningMeanStdState } from './running-stats.js';

const PPOSchema = z
  .object({
    /** Environment copies stepped together (CleanRL `num_envs`: 4). */
    numEnvs: schemas.positiveInt.default(4),
    /** Steps per copy per rollout (CleanRL `num_steps`: 128). */
    numSteps: schemas.positiveInt.default(128),
    /** Environment steps of the whole run, all copies together (CleanRL: 500 000). */
    totalTimesteps: schemas.positiveInt.default(500_000),
    /** Adam learning rate (CleanRL: 2.5e-4). */
    lr: z.number().positive().default(2.5e-4),
    /** Anneal the learning rate linearly to 0 over the run (CleanRL: true). */
    annealLr: z.boolean().default(true),
    /** Discount γ (CleanRL: 0.99). */
    gamma: z.number().min(0).max(1).default(0.99),
    /** GAE λ (CleanRL: 0.95). */
    gaeLambda: z.number().min(0).max(1).default(0.95),
    /** Minibatches per epoch (CleanRL: 4). */
    numMinibatches: schemas.positiveInt.default(4),
    /** Epochs over each rollout (CleanRL `update_epochs`: 4). */
    updateEpochs: schemas.positiveInt.default(4),
    /** Normalise advantages per minibatch (CleanRL: true). */
    normAdv: z.boolean().default(true),
    /** Surrogate clipping ε (CleanRL: 0.2). */
    clipCoef: z.number().positive().default(0.2),
    /** Clipped value loss (CleanRL: true). */
    clipVloss: z.boolean().default(true),
    /** Entropy bonus weight (CleanRL: 0.01). */
    entCoef: z.number().min(0).default(0.01),
    /** Value loss weight (CleanRL: 0.5). */
    vfCoef: z.number().min(0).default(0.5),
    /** Global gradient-norm clip (CleanRL: 0.5). */
    maxGradNorm: z.number().positive().default(0.5),
    /** Stop an update's epochs early when the approximate KL exceeds this (CleanRL: None). */
    targetKl: z.number().positive().nullable().default(null),
    /** Adam ε (CleanRL: 1e-5). */
    adamEps: z.number().positive().default(1e-5),
    /** Running observation normalisation (Gymnasium's `NormalizeObservation`, clipped to ±10); off by default. */
    normalizeObservations: z.boolean().default(false),
    /** Hidden widths of actor and critic (CleanRL: [64, 64]); unused with a conv `encoder`. */
    hidden: z.array(schemas.positiveInt).default([64, 64]),
    /**
     * `null` (default): MLP actor and critic ({@link ActorCritic}) on flat observations. `{ kind: 'conv', ... }`:
     * a {@link ConvActorCritic} (shared conv torso, CleanRL's Atari agent) for image observations
     * (a Box of shape `[H, W, C]`); its fields are ConvActorCritic's `channels`, `kernelSizes`,
     * `strides`, `hidden`, `inputScale`.
     */
    encoder: z
      .object({
        kind: z.literal('conv'),
        channels: z.array(schemas.positiveInt).min(1).default([16, 32]),
        kernelSizes: z.union([schemas.positiveInt, z.array(schemas.positiveInt).min(1)]).default(3),
        strides: z.union([schemas.positiveInt, z.array(schemas.positiveInt).min(1)]).default(1),
        hidden: schemas.positiveInt.default(64),
        inputScale: z.number().positive().default(1 / 255),
      })
      .strict()
      .nullable()
      .default(null),
    /** Seed of the parameters, the action sampling and the environments. */
    seed: z.number().int().default(1),
  })
  .strict();
/** PPO hyperparameters (input form; defaults are CleanRL's `ppo.py`). */
export type PPOConfig = z.input<typeof PPOSchema>;
type Parsed = z.output<typeof PPOSchema>;

/** One line of the metrics log (written as JSON lines), per PPO iteration. */
export interface PPOMetrics {
  iteration: number;
  /** Environment steps so far (all copies). */
  globalStep: number;
  lr: number;
  loss: number;
  pgLoss: number;
  vLoss: number;
  entropy: number;
  approxKl: number;
  clipFrac: number;
  /** 1 − Var(R − V)/Var(R) over the rollout. */
  explainedVariance: number;
  /** Mean return of the episodes that ended in this rollout (NaN when none did). */
  episodeReturn: number;
  /** Episodes that ended in this rollout. */
  episodes: number;
  /** Environment steps per second of this iteration. */
  sps: number;
}

/** Options of {@link PPOTrainer.train}. */
export interface PPOTrainOptions {
  /** Progress bar / lines / callback (core's `makeProgress`; default 'none'). */
  progress?: ProgressOption;
  /** Append one JSON line of {@link PPOMetrics} per iteration to this file (Node). */
  metricsPath?: string;
  /** Save a resumable checkpoint here every `every` iterations and at the end (Node). */
  checkpoint?: { dir: string; every?: number };
  /** Stop after this iteration (for tests and time budgets; default: the run's last). */
  untilIteration?: number;
  /** Called after each iteration with its metrics. */
  onIteration?: (m: PPOMetrics) => void | Promise<void>;
}

/** The JSON part of a PPO checkpoint (`trainer.json`). */
interface PPOStateJson {
  version: 1;
  iteration: number;
  globalStep: number;
  rng: RngState;
  config: Parsed;
  optimizer: OptimizerStateJson;
  obsRms: RunningMeanStdState | null;
  history: PPOMetrics[];
}

/** Clips a batch of `[n × box.size]` actions into the box (CleanRL's `ClipAction`). */
function clipBatch(box: Box, actions: Float32Array): Float32Array {
  const out = new Float32Array(actions.length);
  for (let i = 0; i < actions.length; i++) {
    const j = i % box.size;
    out[i] = Math.min(box.high[j], Math.max(box.low[j], actions[i]));
  }
  return out;
}

/** What {@link PPOTrainer.evaluate} returns. */
export interface EvaluationResult {
  returns: number[];
  lengths: number[];
  mean: number;
}

/**
 * Proximal policy optimisation (Schulman et al. 2017) as CleanRL's `ppo.py` /
 * `ppo_continuous_action.py`: rollouts from a {@link SyncVectorEnv}, GAE with truncation
 * bootstrapping from the final observation's value, the clipped surrogate and value losses with an
 * entropy bonus, advantage normalisation per minibatch, minibatch epochs, global grad-norm
 * clipping, Adam (core's `AdamW` with weight decay 0), optional running observation normalisation.
 * Continuous actions are sampled unclipped (their log-probability is of the sample) and clipped to
 * the action Box before stepping the env (CleanRL's `ClipAction`).
 *
 * Checkpoints (`save`/`resume`) hold the parameters, Adam state, sampler generator, observation
 * statistics, iteration and metrics history; environment states are not saved: a resumed run
 * starts fresh episodes, reset with a seed drawn from the restored generator.
 */
export class PPOTrainer {
  readonly config: Parsed;
  /** An {@link ActorCritic} (MLPs), or a {@link ConvActorCritic} with `encoder: { kind: 'conv' }`. */
  readonly policy: PolicyNet;
  readonly venv: SyncVectorEnv;
  readonly optimizer: AdamW;
  readonly obsRms: RunningMeanStd | null;
  readonly history: PPOMetrics[] = [];
  /** Iterations done. */
  iteration = 0;
  /** Environment steps done. */
  globalStep = 0;
  private readonly rng: Rng;
  private readonly makeEnv: () => Env;
  private obs: Float32Array | undefined;
  private readonly varNames = new Map<string, string>();

  constructor(makeEnv: () => Env, config: PPOConfig = {}) {
    this.config = parseConfig({ type: 'PPOTrainer', schema: PPOSchema }, config);
    const c = this.config;
    if ((c.numEnvs * c.numSteps) % c.numMinibatches !== 0) {
      throw new RangeError(`PPOTrainer: numEnvs × numSteps (${c.numEnvs * c.numSteps}) must be divisible by numMinibatches (${c.numMinibatches})`);
    }
    this.makeEnv = makeEnv;
    this.venv = new SyncVectorEnv(Array.from({ length: c.numEnvs }, () => makeEnv));
    const obsSpace = this.venv.observationSpace;
    const actSpace = this.venv.actionSpace;
    if (!(obsSpace instanceof Box)) throw new TypeError(`PPOTrainer: the env's observation space must be a Box, got ${obsSpace}`);
    const action = actSpace instanceof Discrete ? { kind: 'discrete' as const, n: actSpace.n } : { kind: 'continuous' as const, dim: (actSpace as Box).size };
    if (actSpace instanceof Discrete && actSpace.start !== 0) throw new TypeError(`PPOTrainer: Discrete action spaces must start at 0, got ${actSpace}`);
    const root = new Rng(c.seed);
    if (c.encoder) {
      if (obsSpace.shape.length !== 3) {
        throw new TypeError(`PPOTrainer: config field 'encoder' (conv) expected image observations (a Box of shape [H, W, C]), got shape [${obsSpace.shape.join(', ')}]`);
      }
      const { kind: _kind, ...conv } = c.encoder;
      const [h, w, ch] = obsSpace.shape;
      this.policy = new ConvActorCritic({ imageShape: [h, w, ch], action, ...conv }, { rng: root.fork() });
    } else {
      this.policy = new ActorCritic({ obsDim: obsSpace.size, action, hidden: c.hidden }, { rng: root.fork() });
    }
    this.rng = root.fork();
    this.optimizer = new AdamW(this.policy, { lr: c.lr, eps: c.adamEps, weightDecay: 0 });
    this.obsRms = c.normalizeObservations ? new RunningMeanStd(obsSpace.size) : null;
    for (const [path, v] of this.policy.namedParameters()) this.varNames.set(v.name, path);
  }

  /** Iterations of the whole run: ⌊totalTimesteps / (numEnvs · numSteps)⌋. */
  get numIterations(): number {
    return Math.floor(this.config.totalTimesteps / (this.config.numEnvs * this.config.numSteps));
  }

  private normalize(obs: Float32Array, n: number, update: boolean): Float32Array {
    if (!this.obsRms) return obs;
    if (update) this.obsRms.update(obs, n);
    return this.obsRms.normalize(obs);
  }

  private async values(obs: Float32Array, n: number): Promise<Float32Array> {
    const t = tf.tidy(() => this.policy.value(tf.tensor2d(obs, [n, this.venv.obsSize])));
    const v = (await t.data()) as Float32Array;
    t.dispose();
    return v;
  }

  /** Runs PPO iterations until the run's end (or `untilIteration`), with progress, metrics and checkpoints. */
  async train(options: PPOTrainOptions = {}): Promise<PPOMetrics[]> {
    const c = this.config;
    const N = c.numEnvs;
    const T = c.numSteps;
    const D = this.venv.obsSize;
    const A = this.venv.actionSize;
    const B = N * T;
    const mb = B / c.numMinibatches;
    const last = Math.min(options.untilIteration ?? this.numIterations, this.numIterations);
    const progress = await makeProgress(options.progress ?? 'none', 'ppo', last);
    const started = performance.now();
    const startIteration = this.iteration;
    const fs = options.metricsPath ? await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises') : undefined;
    if (!this.obs) this.obs = this.venv.reset({ seed: this.iteration === 0 ? c.seed : this.rng.seed() }).observations;
    const actSpace = this.venv.actionSpace;
    const out: PPOMetrics[] = [];
    let lastReturn = NaN;
    try {
      while (this.iteration < last) {
        const t0 = performance.now();
        const lrNow = c.annealLr ? c.lr * (1 - this.iteration / this.numIterations) : c.lr;
        this.optimizer.setLr(lrNow);
        // ---- rollout ----
        const bObs = new Float32Array(B * D);
        const bAct = new Float32Array(B * A);
        const bLogp = new Float32Array(B);
        const bVal = new Float32Array(B);
        const bRew = new Float32Array(B);
        const bTerm = new Uint8Array(B);
        const bTrunc = new Uint8Array(B);
        const nextValues = new Float32Array(B);
        const finals: Array<{ index: number; obs: Float32Array }> = [];
        const returns: number[] = [];
        for (let t = 0; t < T; t++) {
          const obsN = this.normalize(this.obs as Float32Array, N, true);
          const act = await this.policy.act(obsN, N, this.rng);
          bObs.set(obsN, t * N * D);
          bAct.set(act.actions, t * N * A);
          bLogp.set(act.logProbs, t * N);
          bVal.set(act.values, t * N);
          const envActions = actSpace instanceof Box ? clipBatch(actSpace, act.actions) : act.actions;
          const r = this.venv.step(envActions);
          for (let e = 0; e < N; e++) {
            const i = t * N + e;
            bRew[i] = r.rewards[e];
            bTerm[i] = r.terminated[e] ? 1 : 0;
            bTrunc[i] = r.truncated[e] ? 1 : 0;
            const fo = r.info.finalObservation[e];
            if (r.truncated[e] && !r.terminated[e] && fo) finals.push({ index: i, obs: Float32Array.from(fo as Float32Array) });
            const ep = r.info.episode[e];
            if (ep) returns.push(ep.r);
          }
          this.obs = r.observations;
        }
        // V(s_{t+1}): the next step's value inside an episode, the final observation's on truncation, V(current obs) after the last step.
        const lastValues = await this.values(this.normalize(this.obs, N, false), N);
        for (let t = 0; t < T; t++) {
          for (let e = 0; e < N; e++) {
            const i = t * N + e;
            nextValues[i] = t === T - 1 ? lastValues[e] : bVal[i + N];
          }
        }
        if (finals.length > 0) {
          const fobs = new Float32Array(finals.length * D);
          finals.forEach((f, k) => fobs.set(f.obs, k * D));
          const fv = await this.values(this.normalize(fobs, finals.length, false), finals.length);
          finals.forEach((f, k) => (nextValues[f.index] = fv[k]));
        }
        const { advantages, returns: targets } = computeGae({
          numSteps: T, numEnvs: N, rewards: bRew, values: bVal, nextValues, terminated: bTerm, truncated: bTrunc, gamma: c.gamma, lambda: c.gaeLambda,
        });
        // ---- update ----
        const sums = { loss: 0, pgLoss: 0, vLoss: 0, entropy: 0, approxKl: 0, clipFrac: 0 };
        let count = 0;
        const params = this.policy.parameters();
        outer: for (let epoch = 0; epoch < c.updateEpochs; epoch++) {
          const perm = this.rng.permutation(B);
          let klEpoch = 0;
          for (let start = 0; start < B; start += mb) {
            const idx = perm.subarray(start, start + mb);
            const take = (src: Float32Array, w: number) => {
              const dst = new Float32Array(mb * w);
              for (let k = 0; k < mb; k++) dst.set(src.subarray(idx[k] * w, idx[k] * w + w), k * w);
              return dst;
            };
            let stats: tf.Tensor | undefined;
            const { value, grads } = tf.variableGrads(() => {
              const ev = this.policy.evaluate(tf.tensor2d(take(bObs, D), [mb, D]), A === 1 && actSpace instanceof Discrete ? tf.tensor1d(take(bAct, 1)) : tf.tensor2d(take(bAct, A), [mb, A]));
              const l = ppoLoss(
                {
                  newLogProb: ev.logProb,
                  oldLogProb: tf.tensor1d(take(bLogp, 1)),
                  advantages: tf.tensor1d(take(advantages, 1)),
                  newValues: ev.value,
                  oldValues: tf.tensor1d(take(bVal, 1)),
                  returns: tf.tensor1d(take(targets, 1)),
                  entropy: ev.entropy,
                },
                { clipCoef: c.clipCoef, clipVloss: c.clipVloss, entCoef: c.entCoef, vfCoef: c.vfCoef, normalizeAdvantages: c.normAdv },
              );
              stats = tf.keep(tf.stack([l.loss, l.pgLoss, l.vLoss, l.entropy, l.approxKl, l.clipFrac]));
              return l.loss;
            }, params);
            const byPath = new Map<string, tf.Tensor>();
            for (const [name, g] of Object.entries(grads)) byPath.set(this.varNames.get(name) ?? name, g);
            const clipped = clipGradNorm(byPath, c.maxGradNorm);
            this.optimizer.step(clipped.grads);
            tf.dispose([value, ...Object.values(grads), ...clipped.grads.values(), clipped.totalNorm]);
            const s = (await (stats as tf.Tensor).data()) as Float32Array;
            (stats as tf.Tensor).dispose();
            sums.loss += s[0];
            sums.pgLoss += s[1];
            sums.vLoss += s[2];
            sums.entropy += s[3];
            sums.approxKl += s[4];
            sums.clipFrac += s[5];
            klEpoch = s[4];
            count++;
          }
          if (c.targetKl !== null && klEpoch > c.targetKl) break outer;
        }
        // ---- metrics ----
        let mr = 0;
        let vr = 0;
        let ve = 0;
        for (let i = 0; i < B; i++) mr += targets[i] / B;
        for (let i = 0; i < B; i++) {
          vr += (targets[i] - mr) ** 2;
          ve += (targets[i] - bVal[i]) ** 2;
        }
        let meanErr = 0;
        for (let i = 0; i < B; i++) meanErr += (targets[i] - bVal[i]) / B;
        const varErr = ve / B - meanErr ** 2;
        this.iteration++;
        this.globalStep += B;
        const m: PPOMetrics = {
          iteration: this.iteration,
          globalStep: this.globalStep,
          lr: lrNow,
          loss: sums.loss / count,
          pgLoss: sums.pgLoss / count,
          vLoss: sums.vLoss / count,
          entropy: sums.entropy / count,
          approxKl: sums.approxKl / count,
          clipFrac: sums.clipFrac / count,
          explainedVariance: vr === 0 ? NaN : 1 - varErr / (vr / B),
          episodeReturn: returns.length ? returns.reduce((a, b) => a + b, 0) / returns.length : NaN,
          episodes: returns.length,
          sps: B / ((performance.now() - t0) / 1000),
        };
        this.history.push(m);
        out.push(m);
        if (fs && options.metricsPath) await fs.appendFile(options.metricsPath, `${JSON.stringify(m)}\n`);
        await options.onIteration?.(m);
        const elapsed = (performance.now() - started) / 1000;
        if (Number.isFinite(m.episodeReturn)) lastReturn = m.episodeReturn;
        progress.update({
          step: this.iteration,
          totalSteps: last,
          values: { ...(Number.isFinite(lastReturn) ? { return: lastReturn } : {}), loss: m.loss, kl: m.approxKl },
          stepsPerSecond: (this.iteration - startIteration) / elapsed,
          elapsedSeconds: elapsed,
        });
        const ck = options.checkpoint;
        if (ck?.every && this.iteration % ck.every === 0 && this.iteration < last) await this.save(ck.dir);
      }
      if (options.checkpoint) await this.save(options.checkpoint.dir);
    } finally {
      progress.stop();
    }
    return out;
  }

  /**
   * Runs `episodes` episodes in a fresh env (seeds `seed`, `seed + 1`, …) with the current policy,
   * greedy (`deterministic`, the default) or sampled, observations normalised with the frozen
   * running statistics. Returns each episode's return.
   */
  async evaluate(options: { episodes?: number; seed?: number; deterministic?: boolean; maxSteps?: number } = {}): Promise<EvaluationResult> {
    const episodes = options.episodes ?? 20;
    const seed = options.seed ?? 10_000;
    const env = this.makeEnv();
    const rng = new Rng(seed);
    const actSpace = env.actionSpace;
    const returns: number[] = [];
    const lengths: number[] = [];
    for (let k = 0; k < episodes; k++) {
      let obs = env.reset({ seed: seed + k }).observation as Float32Array;
      let total = 0;
      let len = 0;
      for (;;) {
        const act = await this.policy.act(this.normalize(Float32Array.from(obs), 1, false), 1, rng, { deterministic: options.deterministic ?? true });
        const a = actSpace instanceof Box ? actSpace.clip(act.actions) : act.actions[0];
        const r = env.step(a as never);
        total += r.reward;
        len++;
        obs = r.observation as Float32Array;
        if (r.terminated || r.truncated || len >= (options.maxSteps ?? Infinity)) break;
      }
      returns.push(total);
      lengths.push(len);
    }
    return { returns, lengths, mean: returns.reduce((a, b) => a + b, 0) / returns.length };
  }

  /**
   * Writes a resumable checkpoint into `dir` (created if needed): `model.safetensors`,
   * `config.json` (the policy brick), `optimizer.safetensors` and `trainer.json` (written last).
   */
  async save(dir: string): Promise<void> {
    const { join } = await importAtRuntime<typeof import('node:path')>('node:path');
    await ensureDir(dir, 'PPOTrainer.save');
    await writeFileAtomic(join(dir, 'model.safetensors'), await saveWeights(this.policy));
    await writeFileAtomic(join(dir, 'config.json'), `${JSON.stringify(this.policy.toConfig(), null, 2)}\n`);
    await writeFileAtomic(join(dir, 'optimizer.safetensors'), await encodeTensorMap(this.optimizer.stateEntries()));
    const state: PPOStateJson = {
      version: 1,
      iteration: this.iteration,
      globalStep: this.globalStep,
      rng: this.rng.getState(),
      config: this.config,
      optimizer: this.optimizer.stateJson(),
      obsRms: this.obsRms?.getState() ?? null,
      history: this.history,
    };
    await writeFileAtomic(join(dir, 'trainer.json'), JSON.stringify(state));
  }

  /** Restores a checkpoint written by {@link save} (same config required); the next `train()` continues from its iteration. */
  async resume(dir: string): Promise<void> {
    const { join } = await importAtRuntime<typeof import('node:path')>('node:path');
    let state: PPOStateJson;
    try {
      state = JSON.parse(new TextDecoder().decode(await readFileBytes(join(dir, 'trainer.json')))) as PPOStateJson;
    } catch (e) {
      throw new CheckpointError(`PPOTrainer.resume: cannot read ${join(dir, 'trainer.json')}: ${(e as Error).message}`, { cause: e });
    }
    const diff = (Object.keys(this.config) as Array<keyof Parsed>).filter((k) => JSON.stringify(this.config[k]) !== JSON.stringify(state.config?.[k]));
    if (diff.length > 0) {
      throw new CheckpointError(`PPOTrainer.resume: the checkpoint's config differs from this trainer's in ${diff.map((k) => `'${k}'`).join(', ')}`);
    }
    loadWeights(this.policy, await readFileBytes(join(dir, 'model.safetensors')));
    const opt = decodeToTensors(await readFileBytes(join(dir, 'optimizer.safetensors')));
    try {
      this.optimizer.loadState(opt, state.optimizer);
    } finally {
      tf.dispose([...opt.values()]);
    }
    this.rng.setState(state.rng);
    if (this.obsRms && state.obsRms) this.obsRms.setState(state.obsRms);
    this.iteration = state.iteration;
    this.globalStep = state.globalStep;
    this.history.splice(0, this.history.length, ...state.history);
    this.obs = undefined;
  }

  /** Frees the policy's and optimizer's tensors. */
  dispose(): void {
    this.optimizer.dispose();
    this.policy.dispose();
  }
}
