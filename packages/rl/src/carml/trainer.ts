import { z } from 'zod';
import { Rng, makeProgress, parseConfig, schemas, type ProgressOption } from '@brickml/core';
import { BaseEnv, type Env, type ResetResult, type StepResult } from '../envs/env.js';
import { RL2Trainer, type RL2Metrics } from '../rl2/trainer.js';
import { Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { VisualTaskModel, type VisualTaskFitReport } from './visual-task-model.js';

/** A first-in first-out store of the meta-learner's most recent trajectories (each a list of flat states). */
export class TrajectoryBuffer {
  private items: Float32Array[][] = [];
  /** Trajectories added so far (including those dropped). */
  added = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`TrajectoryBuffer: argument 'capacity' expected a positive integer, got ${capacity}`);
  }

  /** Adds a trajectory, dropping the oldest beyond `capacity`. */
  add(trajectory: Float32Array[]): void {
    if (trajectory.length === 0) throw new RangeError('TrajectoryBuffer.add: argument \'trajectory\' expected at least one state, got none');
    this.items.push(trajectory);
    this.added++;
    if (this.items.length > this.capacity) this.items.splice(0, this.items.length - this.capacity);
  }

  get size(): number {
    return this.items.length;
  }

  /** The stored trajectories, oldest first. */
  trajectories(): readonly Float32Array[][] {
    return this.items;
  }
}

/** Options of {@link CarmlTaskEnv}. */
export interface CarmlTaskEnvOptions {
  /** Steps of every episode (the wrapped env must not end earlier). */
  episodeLength: number;
  /** The trial's task id (CARML: the mixture component z), fixed across the trial's episodes. */
  task: number;
  /** Gets the observations s_0 … s_T of every finished episode (CARML's trajectory buffer). */
  onEpisode?: (trajectory: Float32Array[]) => void;
}

/**
 * One trial of a CARML-style meta-RL task: wraps an env with image (uint8, scaled to [0, 1]) or float
 * observations, gives every episode exactly `episodeLength` steps (truncation), carries the trial's
 * task id `task`, and reports each finished episode's observations. The wrapped env's reward is
 * passed through (RL²'s `rewardFn` replaces it with the task reward r_z(s)).
 */
export class CarmlTaskEnv extends BaseEnv<Float32Array, number> {
  override readonly id: string;
  override readonly observationSpace: Box;
  override readonly actionSpace: Discrete;
  readonly task: number;
  private readonly onEpisode?: (trajectory: Float32Array[]) => void;
  private trajectory: Float32Array[] = [];

  constructor(readonly inner: Env, options: CarmlTaskEnvOptions) {
    super(options.episodeLength);
    const obs = inner.observationSpace;
    if (!(obs instanceof Box)) throw new TypeError(`CarmlTaskEnv: the wrapped env's observation space expected a Box, got ${obs}`);
    if (!(inner.actionSpace instanceof Discrete)) throw new TypeError(`CarmlTaskEnv: the wrapped env's action space expected Discrete, got ${inner.actionSpace}`);
    this.id = `CarmlTask(${inner.id})`;
    this.observationSpace = obs.dtype === 'uint8' ? new Box(0, 1, obs.shape) : (obs as Box);
    this.actionSpace = inner.actionSpace;
    this.task = options.task;
    this.onEpisode = options.onEpisode;
  }

  private toFloat(o: unknown): Float32Array {
    return o instanceof Uint8Array ? Float32Array.from(o, (v) => v / 255) : Float32Array.from(o as Float32Array);
  }

  protected resetState(options: Record<string, unknown> | undefined): ResetResult<Float32Array> {
    const r = this.inner.reset({ seed: this.rng.seed(), options });
    const o = this.toFloat(r.observation);
    this.trajectory = [o];
    return { observation: o, info: r.info };
  }

  protected stepState(action: number): Omit<StepResult<Float32Array>, 'truncated'> {
    const r = this.inner.step(action as never);
    const o = this.toFloat(r.observation);
    this.trajectory.push(o);
    if ((r.terminated || r.truncated) && this.elapsedSteps + 1 < (this.maxEpisodeSteps as number)) {
      throw new RangeError(`CarmlTaskEnv: the wrapped env '${this.inner.id}' ended at step ${this.elapsedSteps + 1}, before episodeLength = ${this.maxEpisodeSteps}`);
    }
    if (this.elapsedSteps + 1 === this.maxEpisodeSteps) this.onEpisode?.(this.trajectory);
    return { observation: o, reward: r.reward, terminated: false, info: r.info };
  }
}

const CarmlSchema = z
  .object({
    /** Mixture components K (tasks z). */
    components: schemas.positiveInt.default(4),
    /**
     * λ of r_z(s) = λ log q(s | z) − log q(s) = λ log(q(s | z)/q(s)) − (1 − λ) log q(s): below 1 the
     * reward adds a novelty term. Default 0.5: on the pixel maze, λ = 1 let the meta-learner's
     * trajectories concentrate and the mixture collapse onto one component within 5 phases.
     */
    lambda: z.number().min(0).default(0.5),
    /** Rewards are clipped below at this (the log-density ratio is unbounded below). */
    rewardFloor: z.number().default(-5),
    /** Steps of every episode. */
    episodeLength: schemas.positiveInt.default(8),
    /** Episodes per RL² trial (one task z per trial). */
    episodesPerTrial: schemas.positiveInt.default(2),
    /** Trials per RL² iteration. */
    trialsPerIteration: schemas.positiveInt.default(32),
    /** RL² iterations between refits of the task model (N). */
    iterationsPerPhase: schemas.positiveInt.default(20),
    /** Phases: (refit, then N RL² iterations with the task model frozen). */
    phases: schemas.positiveInt.default(5),
    /** Trials the untrained meta-learner plays (reward-free) to fill the buffer before the first fit. */
    warmupTrials: schemas.positiveInt.default(64),
    /** Trajectories (episodes) the buffer keeps. */
    bufferSize: schemas.positiveInt.default(512),
    /** Components with a prior below minShare / K after EM are re-seeded (see `VisualTaskFitOptions.minShare`; 0: off). */
    minShare: z.number().min(0).max(1).default(0.25),
    /** Alternations of EM and encoder steps per fit. */
    fitRounds: schemas.positiveInt.default(3),
    emIterations: schemas.positiveInt.default(30),
    encoderSteps: schemas.positiveInt.default(40),
    encoderBatchSize: schemas.positiveInt.default(64),
    encoderLr: z.number().positive().default(1e-3),
    /** Output channels of the encoder's 3 × 3 convolutions. */
    encoderChannels: z.array(schemas.positiveInt).min(1).default([8, 8]),
    /** Embedding entries. */
    embedDim: schemas.positiveInt.default(4),
    /** Smallest mixture variance along an embedding axis. */
    varianceFloor: z.number().positive().default(0.01),
    /** The meta-learner's GRU width. */
    hiddenSize: schemas.positiveInt.default(64),
    /** RL² (PPO) learning rate. */
    lr: z.number().positive().default(1e-3),
    gamma: z.number().min(0).max(1).default(0.99),
    entCoef: z.number().min(0).default(0.01),
    numMinibatches: schemas.positiveInt.default(2),
    updateEpochs: schemas.positiveInt.default(4),
    seed: z.number().int().default(1),
  })
  .strict();
/** CARML hyperparameters (input form). */
export type CarmlConfig = z.input<typeof CarmlSchema>;
type Parsed = z.output<typeof CarmlSchema>;

/** What one CARML phase did. */
export interface CarmlPhase {
  phase: number;
  fit: VisualTaskFitReport;
  /** RL² metrics of the phase's iterations (returns are task rewards r_z). */
  rl2: RL2Metrics[];
}

/**
 * CARML (Jabri et al. 2019, "Unsupervised Curricula for Visual Meta-Reinforcement Learning"): an RL²
 * meta-learner ({@link RL2Trainer}) trained on tasks it proposes for itself. Each phase (1) refits the
 * task model ({@link VisualTaskModel}: a conv encoder trained by discriminative clustering jointly
 * with a trajectory-level mixture) on the meta-learner's recent trajectories, (2) freezes it, and
 * (3) meta-trains RL² for `iterationsPerPhase` iterations on trials whose task is z ~ p(z), with
 * reward r_z(s) = λ log q(s | z) − log q(s) for every observation s the agent reaches (clipped below
 * at `rewardFloor`). The trajectories of those trials refill the buffer for the next refit: the task
 * distribution follows the meta-learner (the curriculum). The first fit uses `warmupTrials` trials of
 * the untrained meta-learner.
 *
 * `makeEnv(rng)` makes the reward-free env of one trial (image or float observations, discrete actions,
 * episodes at least `episodeLength` steps long); its own reward is ignored.
 */
export class CarmlTrainer {
  readonly config: Parsed;
  readonly taskModel: VisualTaskModel;
  readonly buffer: TrajectoryBuffer;
  readonly rl2: RL2Trainer;
  readonly history: CarmlPhase[] = [];
  phase = 0;
  private readonly rng: Rng;
  private recording = true;

  constructor(readonly makeEnv: (rng: Rng) => Env, config: CarmlConfig = {}) {
    const c = (this.config = parseConfig({ type: 'CarmlTrainer', schema: CarmlSchema }, config));
    const root = new Rng(c.seed);
    const probe = makeEnv(new Rng(0));
    const shape = (probe.observationSpace as Box).shape;
    if (!(probe.observationSpace instanceof Box) || shape.length !== 3) {
      throw new TypeError(`CarmlTrainer: the env's observations expected images (a Box of shape [H, W, C]), got ${probe.observationSpace}`);
    }
    this.taskModel = new VisualTaskModel({
      encoder: { imageShape: [shape[0], shape[1], shape[2]], channels: c.encoderChannels, embedDim: c.embedDim, inputScale: 1 },
      components: c.components, varianceFloor: c.varianceFloor, lr: c.encoderLr, seed: root.seed(),
    });
    this.buffer = new TrajectoryBuffer(c.bufferSize);
    this.rng = root.fork();
    const makeTrial = (rng: Rng) =>
      new CarmlTaskEnv(makeEnv(rng), { episodeLength: c.episodeLength, task: this.taskModel.sampleTask(rng), onEpisode: (t) => this.recording && this.buffer.add(t) });
    this.rl2 = new RL2Trainer(makeTrial, {
      trialsPerIteration: c.trialsPerIteration, episodesPerTrial: c.episodesPerTrial, episodeLength: c.episodeLength, iterations: c.phases * c.iterationsPerPhase,
      lr: c.lr, gamma: c.gamma, entCoef: c.entCoef, numMinibatches: c.numMinibatches, updateEpochs: c.updateEpochs, hiddenSize: c.hiddenSize, seed: root.seed(),
    });
  }

  /** CARML's reward for RL²: r_z of each trial's observation under its task z, from the frozen task model. */
  private readonly reward = ({ observations, envs }: { observations: ArrayLike<number>[]; envs: Env[] }) =>
    this.taskModel.rewards(observations, envs.map((e) => (e as CarmlTaskEnv).task), { lambda: this.config.lambda, floor: this.config.rewardFloor });

  /** Runs phases until `phases` (or `untilPhase`): refit the task model on the buffer, then RL² on its rewards. */
  async train(options: { progress?: ProgressOption; untilPhase?: number; onPhase?: (p: CarmlPhase) => void | Promise<void> } = {}): Promise<CarmlPhase[]> {
    const c = this.config;
    const last = Math.min(options.untilPhase ?? c.phases, c.phases);
    const progress = await makeProgress(options.progress ?? 'none', 'carml', last * c.iterationsPerPhase);
    const started = performance.now();
    const out: CarmlPhase[] = [];
    try {
      if (this.buffer.size === 0) {
        this.rl2.rewardFn = undefined;
        await this.rl2.rollout(c.warmupTrials, this.rng.fork());
      }
      while (this.phase < last) {
        const fit = await this.taskModel.fit(this.buffer.trajectories(), {
          rounds: c.fitRounds, emIterations: c.emIterations, encoderSteps: c.encoderSteps, batchSize: c.encoderBatchSize, minShare: c.minShare,
        });
        this.rl2.rewardFn = this.reward;
        const rl2 = await this.rl2.train({
          untilIteration: (this.phase + 1) * c.iterationsPerPhase,
          onIteration: (m) => {
            const el = (performance.now() - started) / 1000;
            const step = m.iteration;
            progress.update({ step, totalSteps: last * c.iterationsPerPhase, values: { phase: this.phase + 1, taskReturn: m.trialReturn }, elapsedSeconds: el, stepsPerSecond: step / el });
          },
        });
        this.phase++;
        const p: CarmlPhase = { phase: this.phase, fit, rl2 };
        this.history.push(p);
        out.push(p);
        await options.onPhase?.(p);
      }
    } finally {
      progress.stop();
    }
    return out;
  }

  /** Runs `fn` without adding trajectories to the buffer (evaluation rollouts). */
  async withoutRecording<T>(fn: () => Promise<T>): Promise<T> {
    this.recording = false;
    try {
      return await fn();
    } finally {
      this.recording = true;
    }
  }

  dispose(): void {
    this.rl2.dispose();
    this.taskModel.dispose();
  }
}
