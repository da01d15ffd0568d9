import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, NonFiniteError } from '../errors.js';
import type { Module } from '../module/module.js';
import { Rng, globalRng, type RngState } from '../rng.js';
import type { Optimizer, OptimizerStateJson } from '../optim/optimizer.js';
import { clipGradNorm } from '../optim/clip.js';
import type { Ema, EmaStateJson } from '../optim/ema.js';
import { decodeToTensors, encodeTensorMap, loadWeights, saveWeights } from '../io/weights.js';
import { assertNode, ensureDir, importAtRuntime, readFileBytes, writeFileAtomic } from '../io/fs.js';
import { makeProgress, type ProgressOption } from './progress.js';

/** What a loss function returns: the scalar to minimise, optionally with scalar metrics to log. */
export type LossOutput = tf.Scalar | { loss: tf.Scalar; metrics?: Record<string, tf.Tensor> };

/** Passed to the loss function each step. */
export interface StepContext {
  /** 0-based index of the step being taken. */
  step: number;
  /** The trainer's generator (noise, dropout masks, label dropout): checkpointed with the run. */
  rng: Rng;
}

/** A stream of batches; with `getState/setState` a resumed run continues with the same batches. */
export interface BatchSource<B> {
  next(): B;
  getState?(): unknown;
  setState?(state: any): void;
}

/** One row of the training history (also written as a JSON line when `logFile` is set). */
export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  /** Global gradient norm before clipping (when `clipGradNorm` is set). */
  gradNorm?: number;
  /** Wall time of the step in milliseconds. */
  ms: number;
  [metric: string]: number | undefined;
}

export interface TrainerOptions<B> {
  model: Module;
  optimizer: Optimizer;
  /** Computes the loss of a batch; runs inside `tf.tidy` under the gradient tape. */
  loss: (batch: B, ctx: StepContext) => LossOutput;
  data: BatchSource<B>;
  /** Total number of steps of the run (a resumed run continues up to it). */
  steps: number;
  /** Clip gradients to this global L2 norm (PyTorch `clip_grad_norm_`). */
  clipGradNorm?: number;
  /** Parameter EMA updated after every optimizer step (checkpointed with the run). */
  ema?: Ema;
  /** Seed of the trainer's generator (default: drawn from the global one). */
  seed?: number;
  /** Append every step as a JSON line to this file (Node). */
  logFile?: string;
  /** Progress: a bar in a terminal, plain lines in logs, or a callback (browsers). */
  progress?: ProgressOption;
  /** Label of the progress bar. */
  label?: string;
  /** Save a resumable checkpoint here every `every` steps and at the end (Node). */
  checkpoint?: { dir: string; every?: number };
  /** Called after every step with its record (e.g. to evaluate or draw). */
  onStep?: (record: StepRecord) => void | Promise<void>;
}

/** The JSON part of a training checkpoint (`trainer.json`). */
interface TrainerStateJson {
  version: 1;
  step: number;
  rng: RngState;
  globalRng: RngState;
  data?: unknown;
  optimizer: OptimizerStateJson;
  ema?: EmaStateJson;
  history: StepRecord[];
}

const FILES = {
  model: 'model.safetensors',
  config: 'config.json',
  optimizer: 'optimizer.safetensors',
  ema: 'ema.safetensors',
  state: 'trainer.json',
};

/**
 * Runs training steps: forward and backward inside `tf.tidy`, gradient clipping, the optimizer
 * step, EMA, logging (history, JSON lines, progress), and resumable checkpoints that carry the
 * weights, optimizer state, EMA, the trainer's and the global RNG state and the data position — so
 * a resumed run continues with the same losses as an uninterrupted one. A non-finite loss stops
 * the run with a {@link NonFiniteError} before the parameters are touched.
 */
export class Trainer<B> {
  /** Number of steps taken so far. */
  step = 0;
  readonly history: StepRecord[] = [];
  readonly rng: Rng;
  private readonly opts: TrainerOptions<B>;
  private readonly nameToPath: Map<string, string>;

  constructor(options: TrainerOptions<B>) {
    if (!Number.isInteger(options.steps) || options.steps < 0) {
      throw new RangeError(`Trainer: 'steps' must be an integer ≥ 0, got ${JSON.stringify(options.steps)}`);
    }
    if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) {
      throw new RangeError(`Trainer: 'clipGradNorm' must be > 0, got ${options.clipGradNorm}`);
    }
    this.opts = options;
    this.rng = new Rng(options.seed ?? globalRng().seed());
    this.nameToPath = new Map(options.model.namedParameters().map(([path, v]) => [v.name, path]));
  }

  /** One training step on `batch`; returns its record. The batch is not disposed. */
  async trainStep(batch: B): Promise<StepRecord> {
    const { model, optimizer, loss } = this.opts;
    const t0 = performance.now();
    const ctx: StepContext = { step: this.step, rng: this.rng };
    const kept: Record<string, tf.Tensor> = {};
    const params = model.parameters();
    const { value, grads } = tf.variableGrads(() => {
      const out = loss(batch, ctx);
      if (out instanceof tf.Tensor) return out;
      for (const [k, m] of Object.entries(out.metrics ?? {})) kept[k] = tf.keep(m);
      return out.loss;
    }, params);
    const byPath = new Map<string, tf.Tensor>();
    for (const [name, g] of Object.entries(grads)) byPath.set(this.nameToPath.get(name) ?? name, g);
    let normT: tf.Scalar | undefined;
    let update = byPath;
    try {
      const lossValue = (await value.data())[0];
      if (!Number.isFinite(lossValue)) {
        throw new NonFiniteError(
          `Trainer: loss is ${lossValue} at step ${this.step}; stopping before the update (parameters are unchanged). ` +
            `Lower the learning rate, set clipGradNorm, or resume from the last checkpoint.`,
        );
      }
      if (this.opts.clipGradNorm !== undefined) {
        const clipped = clipGradNorm(byPath, this.opts.clipGradNorm);
        normT = clipped.totalNorm;
        update = clipped.grads;
      }
      optimizer.step(update);
      this.opts.ema?.update();
      const record: StepRecord = { step: this.step + 1, loss: lossValue, lr: optimizer.currentLr(), ms: 0 };
      if (normT) record.gradNorm = (await normT.data())[0];
      for (const [k, m] of Object.entries(kept)) record[k] = (await m.data())[0];
      this.step += 1;
      record.ms = performance.now() - t0;
      this.history.push(record);
      return record;
    } finally {
      tf.dispose([value, ...byPath.values(), ...Object.values(kept)]);
      if (update !== byPath) tf.dispose([...update.values()]);
      normT?.dispose();
    }
  }

  /** Trains until `steps` (continuing after a resume), with logging, progress and checkpoints. */
  async fit(): Promise<StepRecord[]> {
    const { data, steps, checkpoint } = this.opts;
    const progress = await makeProgress(this.opts.progress ?? 'auto', this.opts.label ?? 'train', steps);
    const start = performance.now();
    const startStep = this.step;
    let appendLine: ((line: string) => Promise<void>) | undefined;
    if (this.opts.logFile) {
      assertNode('Trainer logFile');
      const fs = await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises');
      const { dirname } = await importAtRuntime<typeof import('node:path')>('node:path');
      await ensureDir(dirname(this.opts.logFile));
      const file = this.opts.logFile;
      appendLine = (line) => fs.appendFile(file, line);
    }
    try {
      while (this.step < steps) {
        const batch = data.next();
        let record: StepRecord;
        try {
          record = await this.trainStep(batch);
        } finally {
          tf.dispose(batch as tf.TensorContainer);
        }
        await appendLine?.(`${JSON.stringify(record)}\n`);
        const elapsed = (performance.now() - start) / 1000;
        const values: Record<string, number> = { loss: record.loss, lr: record.lr };
        progress.update({ step: this.step, totalSteps: steps, values, stepsPerSecond: (this.step - startStep) / elapsed, elapsedSeconds: elapsed });
        await this.opts.onStep?.(record);
        if (checkpoint?.every && this.step % checkpoint.every === 0 && this.step < steps) await this.save(checkpoint.dir);
      }
      if (checkpoint) await this.save(checkpoint.dir);
    } finally {
      progress.stop();
    }
    return this.history;
  }

  /**
   * Writes a resumable checkpoint to `dir`: `model.safetensors` (+ `config.json` when the model is
   * a registered brick), `optimizer.safetensors`, `ema.safetensors`, and `trainer.json` (step,
   * RNG states, data position, optimizer/EMA JSON, history). The files are written to a fresh
   * sibling folder which then replaces `dir`, so a crash never leaves a mixed checkpoint.
   */
  async save(dir: string): Promise<void> {
    assertNode('Trainer.save');
    const fs = await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises');
    const { join } = await importAtRuntime<typeof import('node:path')>('node:path');
    const { model, optimizer, ema, data } = this.opts;
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await ensureDir(tmp);
    try {
      await writeFileAtomic(join(tmp, FILES.model), await saveWeights(model, { format: 'brickml' }));
      let config: unknown;
      try {
        config = model.toConfig();
      } catch {
        config = undefined; // not a registered brick: weights only
      }
      if (config) await writeFileAtomic(join(tmp, FILES.config), `${JSON.stringify(config, null, 2)}\n`);
      await writeFileAtomic(join(tmp, FILES.optimizer), await encodeTensorMap(optimizer.stateEntries()));
      if (ema) await writeFileAtomic(join(tmp, FILES.ema), await encodeTensorMap(ema.stateEntries()));
      const state: TrainerStateJson = {
        version: 1,
        step: this.step,
        rng: this.rng.getState(),
        globalRng: globalRng().getState(),
        data: data.getState?.(),
        optimizer: optimizer.stateJson(),
        ema: ema?.stateJson(),
        history: this.history,
      };
      await writeFileAtomic(join(tmp, FILES.state), JSON.stringify(state));
      const old = `${dir}.old-${process.pid}-${Date.now()}`;
      const hadOld = await fs.rename(dir, old).then(() => true, () => false);
      await fs.rename(tmp, dir);
      if (hadOld) await fs.rm(old, { recursive: true, force: true });
    } catch (e) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /**
   * Restores a checkpoint written by {@link save} into this trainer's model, optimizer, EMA,
   * generators and data stream. Everything is read and validated before anything is assigned.
   */
  async resume(dir: string): Promise<void> {
    assertNode('Trainer.resume');
    const { join } = await importAtRuntime<typeof import('node:path')>('node:path');
    const { model, optimizer, ema, data } = this.opts;
    const read = async (f: string) => {
      try {
        return await readFileBytes(join(dir, f));
      } catch (e) {
        throw new CheckpointError(`Trainer.resume: cannot read ${join(dir, f)}: ${(e as Error).message}`);
      }
    };
    let state: TrainerStateJson;
    try {
      state = JSON.parse(new TextDecoder().decode(await read(FILES.state)));
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      throw new CheckpointError(`Trainer.resume: ${join(dir, FILES.state)} is not valid JSON: ${(e as Error).message}`);
    }
    if (state?.version !== 1 || !Number.isInteger(state.step)) {
      throw new CheckpointError(`Trainer.resume: ${join(dir, FILES.state)} is not a BrickML trainer state`);
    }
    if (ema && !state.ema) throw new CheckpointError(`Trainer.resume: the checkpoint has no EMA state but the trainer has an EMA`);
    const weights = await read(FILES.model);
    const optTensors = decodeToTensors(await read(FILES.optimizer));
    const emaTensors = ema ? decodeToTensors(await read(FILES.ema)) : undefined;
    try {
      // Validate-then-assign pieces: each throws before assigning on a mismatch.
      loadWeights(model, weights);
      optimizer.loadState(optTensors, state.optimizer);
      if (ema && emaTensors) ema.loadState(emaTensors, state.ema);
    } finally {
      tf.dispose([...optTensors.values(), ...(emaTensors?.values() ?? [])]);
    }
    this.rng.setState(state.rng);
    globalRng().setState(state.globalRng);
    if (state.data !== undefined) data.setState?.(state.data);
    this.step = state.step;
    this.history.splice(0, this.history.length, ...state.history);
  }
}
