/**
 * Training glue: a batch source that prepares diffusion batches outside the gradient tape (noise,
 * label dropout and the self-conditioning pass), and a trainer set up with the recipe RIN's small
 * models use here (AdamW with warm-up and cosine decay, weight decay off for biases and norms,
 * gradient clipping, weight EMA for sampling).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  Ema,
  Rng,
  Trainer,
  globalRng,
  makeProgress,
  noDecayForBiasAndNorm,
  type BatchSource,
  type ProgressOption,
  type RngState,
  type Schedule,
  type StepRecord,
} from '@brickml/core';
import type { DiffusionBatch, GaussianDiffusion } from './gaussian-diffusion.js';

/** Clean data for one training batch (the caller's tensors; the batch source disposes them). */
export type DataBatch = {
  /** Images `[B, C, H, W]` or videos `[B, T, C, H, W]` in [−1, 1]. */
  x0: tf.Tensor;
  /** Class ids `[B]` int32, for class-conditional models. */
  classes?: tf.Tensor | null;
};

/** Position of a {@link diffusionBatches} stream. */
export interface DiffusionBatchesState {
  data: unknown;
  rng: RngState;
}

/**
 * Wraps a source of clean batches into a source of prepared {@link DiffusionBatch}es. Each
 * `next()` draws a clean batch, prepares it with `model.prepareBatch` (outside any tape, so the
 * self-conditioning pass costs one forward) and disposes the clean batch. Its state (for resumable
 * training) is the inner source's state plus the noise generator's.
 */
export function diffusionBatches<B>(
  model: GaussianDiffusion,
  data: BatchSource<B>,
  toData: (batch: B) => DataBatch,
  options: { rng?: Rng; seed?: number } = {},
): BatchSource<DiffusionBatch> & { getState(): DiffusionBatchesState; setState(s: DiffusionBatchesState): void } {
  const rng = options.rng ?? new Rng(options.seed ?? globalRng().seed());
  return {
    next(): DiffusionBatch {
      const raw = data.next();
      try {
        const d = toData(raw);
        return model.prepareBatch(d.x0, { classes: d.classes ?? null, rng });
      } finally {
        tf.dispose(raw as unknown as tf.TensorContainer);
      }
    },
    getState(): DiffusionBatchesState {
      return { data: data.getState?.(), rng: rng.getState() };
    },
    setState(s: DiffusionBatchesState): void {
      if (s.data !== undefined) data.setState?.(s.data);
      rng.setState(s.rng);
    },
  };
}

/** Options of {@link diffusionTrainer}. */
export interface DiffusionTrainerOptions<B> {
  model: GaussianDiffusion;
  /** Clean batches and how to read them. */
  data: BatchSource<B>;
  toData: (batch: B) => DataBatch;
  /** Total steps of the run. */
  steps: number;
  /** Peak learning rate (default 3e-3, the flagship recipe). */
  lr?: number;
  /** A learning-rate function `step → lr` replacing warm-up + cosine (e.g. one whose horizon is set once a time budget's step count is known). */
  schedule?: Schedule;
  /** Linear warm-up steps before the cosine decay (default 200). */
  warmupSteps?: number;
  /** Steps of the cosine decay's horizon (default `steps`; keep it fixed when a run is extended by resuming). */
  decaySteps?: number;
  /** Decoupled weight decay (default 0.01; biases, norms and embeddings excluded). */
  weightDecay?: number;
  /** Global gradient-norm clip (default 1, pix2seq). */
  clipGradNorm?: number;
  /** EMA decay of the weights used for sampling (default 0.999, with warm-up). */
  emaDecay?: number;
  /** Seed of the noise/dropout generators (default 0). */
  seed?: number;
  progress?: ProgressOption;
  label?: string;
  checkpoint?: { dir: string; every?: number };
  logFile?: string;
  onStep?: (record: StepRecord) => void | Promise<void>;
}

/** What {@link diffusionTrainer} builds. */
export interface DiffusionTrainerParts {
  trainer: Trainer<DiffusionBatch>;
  optimizer: AdamW;
  ema: Ema;
  /** The prepared-batch stream the trainer draws from (pass it to {@link trainWithBudget}). */
  batches: BatchSource<DiffusionBatch>;
  /** Frees the optimizer state and the EMA (not the model). */
  dispose(): void;
}

/**
 * A {@link Trainer} for a diffusion model: AdamW (β 0.9/0.999) with linear warm-up and cosine
 * decay, weight decay off for biases/norms/embeddings, gradient clipping, and a weight EMA.
 * Resume with `trainer.resume(dir)` before `trainer.fit()`.
 */
export function diffusionTrainer<B>(o: DiffusionTrainerOptions<B>): DiffusionTrainerParts {
  const seed = o.seed ?? 0;
  const optimizer = new AdamW(o.model, {
    lr: o.schedule ?? { kind: 'warmupCosine', peakLr: o.lr ?? 3e-3, warmupSteps: o.warmupSteps ?? 200, totalSteps: o.decaySteps ?? o.steps, minLr: 0 },
    weightDecay: o.weightDecay ?? 0.01,
    noDecay: noDecayForBiasAndNorm,
  });
  const ema = new Ema(o.model, { decay: o.emaDecay ?? 0.999, warmup: true });
  const batches = diffusionBatches(o.model, o.data, o.toData, { seed: seed + 1 });
  const trainer = new Trainer<DiffusionBatch>({
    model: o.model,
    optimizer,
    ema,
    data: batches,
    steps: o.steps,
    loss: (batch, ctx) => o.model.loss(batch, { rng: ctx.rng }),
    clipGradNorm: o.clipGradNorm ?? 1,
    seed,
    progress: o.progress,
    label: o.label,
    checkpoint: o.checkpoint,
    logFile: o.logFile,
    onStep: o.onStep,
  });
  return { trainer, optimizer, ema, batches, dispose: () => { optimizer.dispose(); ema.dispose(); } };
}

/** Options of {@link trainWithBudget}. */
export interface TrainBudgetOptions {
  /** Stop at this step count (the trainer's total). */
  steps: number;
  /** Stop after this many seconds of this call (default: no limit), measured on `clock`. */
  seconds?: number;
  /**
   * `wall` (default) or `cpu`: this process's CPU time (user + system, Node only), which a busy
   * machine does not inflate — use it to give two models the same compute on a shared machine.
   */
  clock?: 'wall' | 'cpu';
  progress?: ProgressOption;
  label?: string;
  /** Save a resumable checkpoint every `every` steps and at the end. */
  checkpoint?: { dir: string; every?: number };
  onStep?: (record: StepRecord) => void | Promise<void>;
}

/**
 * Runs `trainer` step by step until `steps` or until `seconds` have passed (whichever is first),
 * with a progress bar (loss, lr and speed) and periodic resumable checkpoints — `Trainer.fit`
 * with a wall-clock budget. Returns the steps taken by this call and its wall time.
 */
export async function trainWithBudget<B>(
  trainer: Trainer<B>,
  data: BatchSource<B>,
  o: TrainBudgetOptions,
): Promise<{ steps: number; seconds: number; stoppedBy: 'steps' | 'time' }> {
  const now = budgetClock(o.clock ?? 'wall');
  const start = now();
  const startStep = trainer.step;
  const progress = await makeProgress(o.progress ?? 'auto', o.label ?? 'train', o.steps);
  let stoppedBy: 'steps' | 'time' = 'steps';
  try {
    while (trainer.step < o.steps) {
      if (o.seconds !== undefined && (now() - start) / 1000 >= o.seconds) {
        stoppedBy = 'time';
        break;
      }
      const batch = data.next();
      let record: StepRecord;
      try {
        record = await trainer.trainStep(batch);
      } finally {
        tf.dispose(batch as unknown as tf.TensorContainer);
      }
      const elapsed = (now() - start) / 1000;
      const rate = (trainer.step - startStep) / elapsed;
      // With a time budget, the last step is where the budget will end at the current rate (the
      // bar's total and eta follow the budget, not a far-away step cap).
      const totalSteps = o.seconds !== undefined && rate > 0
        ? Math.min(o.steps, Math.max(trainer.step, trainer.step + Math.floor(rate * (o.seconds - elapsed))))
        : o.steps;
      progress.update({
        step: trainer.step,
        totalSteps,
        values: { loss: record.loss, lr: record.lr, 'ms/step': record.ms },
        stepsPerSecond: rate,
        elapsedSeconds: elapsed,
      });
      await o.onStep?.(record);
      if (o.checkpoint?.every && trainer.step % o.checkpoint.every === 0) await trainer.save(o.checkpoint.dir);
    }
    if (o.checkpoint) await trainer.save(o.checkpoint.dir);
  } finally {
    progress.stop();
  }
  return { steps: trainer.step - startStep, seconds: (now() - start) / 1000, stoppedBy };
}

/** A millisecond clock: wall time, or this process's CPU time (Node's `process.cpuUsage`). */
export function budgetClock(kind: 'wall' | 'cpu'): () => number {
  if (kind === 'wall') return () => performance.now();
  const proc = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  if (!proc?.cpuUsage) throw new Error("trainWithBudget: clock 'cpu' needs Node's process.cpuUsage (use 'wall' in the browser)");
  const cpuUsage = proc.cpuUsage.bind(proc);
  return () => {
    const u = cpuUsage();
    return (u.user + u.system) / 1000;
  };
}
