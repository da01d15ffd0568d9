import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, NonFiniteError } from '../errors.js';
import type { Module } from '../module/module.js';
import { Rng, globalRng, type RngState } from '../rng.js';
import type { Optimizer, OptimizerStateJson } from '../optim/optimizer.js';
import { clipGradNorm, globalNorm, nonFiniteNames } from '../optim/clip.js';
import type { Ema, EmaStateJson } from '../optim/ema.js';
import { describeValue } from '../io/describe.js';
import { decodeToTensors, encodeTensorMap, prepareLoadWeights, saveWeights, type PreparedLoad } from '../io/weights.js';
import { assertNode, ensureDir, importAtRuntime, pathKind, readFileBytes, syncDir, writeFileAtomic } from '../io/fs.js';
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
  /** Global L2 norm of the gradients before clipping (NaN or Inf when a gradient is non-finite). */
  gradNorm?: number;
  /** 1 when the update was skipped for a non-finite gradient (`nonFiniteGrad: 'skip'`); absent otherwise. */
  skipped?: number;
  /** Wall time of the step in milliseconds. */
  ms: number;
  [metric: string]: number | undefined;
}

/** What {@link TrainerOptions.onSkip} receives when a step's update is skipped. */
export interface SkippedStep {
  /** 1-based step whose update was skipped (its record's `step`). */
  step: number;
  /** Module paths of the parameters whose gradients hold NaN or Inf (empty when only the norm overflowed). */
  params: string[];
  /** The global gradient norm (NaN or Inf). */
  gradNorm: number;
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
  /**
   * What a step does when a gradient holds NaN or Inf while the loss is finite (found through the
   * global gradient norm, one reduction every step computes): `'error'` (default) throws a
   * {@link NonFiniteError} naming the parameters, before the update; `'skip'` leaves the parameters,
   * optimizer state and EMA untouched for that step (the schedule still advances), marks its record
   * `skipped: 1` and calls {@link onSkip}.
   */
  nonFiniteGrad?: 'error' | 'skip';
  /** Called for each skipped step under `nonFiniteGrad: 'skip'` (default: one `console.warn` line). */
  onSkip?: (info: SkippedStep) => void;
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
  /** When the checkpoint was saved (ms since the epoch): orders the leftovers of an interrupted save. */
  savedAt?: number;
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

/** Sibling folders of a save, after `<dir>`: `.tmp-<pid>-<ms>` (being written), `.old-<pid>-<ms>` (being replaced). */
const LEFTOVER = /^\.(tmp|old)-\d+-\d+$/;

/** At most this many parameter paths are named in a non-finite gradient error. */
const MAX_LISTED = 10;

/**
 * Runs training steps: forward and backward inside `tf.tidy`, gradient clipping, the optimizer
 * step, EMA, logging (history, JSON lines, progress), and resumable checkpoints that carry the
 * weights, optimizer state, EMA, the trainer's and the global RNG state and the data position — so
 * a resumed run continues with the same losses as an uninterrupted one. A non-finite loss stops
 * the run with a {@link NonFiniteError} before the parameters are touched; so does a non-finite
 * gradient, unless `nonFiniteGrad: 'skip'` skips that step's update.
 */
export class Trainer<B> {
  /** Number of steps taken so far. */
  step = 0;
  readonly history: StepRecord[] = [];
  readonly rng: Rng;
  private readonly opts: TrainerOptions<B>;
  private readonly nameToPath: Map<string, string>;
  /** `savedAt` of the last checkpoint saved or resumed: the next one is stamped later, even if the clock went back. */
  private lastSavedAt = 0;

  constructor(options: TrainerOptions<B>) {
    if (!Number.isInteger(options.steps) || options.steps < 0) {
      throw new RangeError(`Trainer: 'steps' must be an integer ≥ 0, got ${JSON.stringify(options.steps)}`);
    }
    if (options.clipGradNorm !== undefined && !(options.clipGradNorm > 0)) {
      throw new RangeError(`Trainer: 'clipGradNorm' must be > 0, got ${options.clipGradNorm}`);
    }
    if (options.nonFiniteGrad !== undefined && options.nonFiniteGrad !== 'error' && options.nonFiniteGrad !== 'skip') {
      throw new RangeError(`Trainer: 'nonFiniteGrad' must be 'error' or 'skip', got ${describeValue(options.nonFiniteGrad)}`);
    }
    this.opts = options;
    this.rng = new Rng(options.seed ?? globalRng().seed());
    this.nameToPath = new Map(options.model.namedParameters().map(([path, v]) => [v.name, path]));
  }

  /** One training step on `batch`; returns its record. The batch is not disposed. */
  async trainStep(batch: B): Promise<StepRecord> {
    const { model, optimizer, loss, ema } = this.opts;
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
      // The global norm (clipping needs it anyway; otherwise one more reduction) doubles as the
      // gradient check: it is finite exactly when every gradient is (barring float32 overflow).
      if (this.opts.clipGradNorm !== undefined) {
        const clipped = clipGradNorm(byPath, this.opts.clipGradNorm);
        normT = clipped.totalNorm;
        update = clipped.grads;
      } else {
        normT = globalNorm(byPath);
      }
      const [lossData, normData] = await Promise.all([value.data(), normT.data()]);
      const lossValue = lossData[0];
      const gradNorm = normData[0];
      if (!Number.isFinite(lossValue)) {
        throw new NonFiniteError(
          `Trainer: loss is ${lossValue} at step ${this.step}; stopping before the update (parameters are unchanged). ` +
            `Lower the learning rate, set clipGradNorm, or resume from the last checkpoint.`,
        );
      }
      const record: StepRecord = { step: this.step + 1, loss: lossValue, lr: optimizer.currentLr(), gradNorm, ms: 0 };
      if (Number.isFinite(gradNorm)) {
        optimizer.step(update);
        ema?.update();
      } else {
        const bad = await nonFiniteNames(byPath);
        if ((this.opts.nonFiniteGrad ?? 'error') === 'error') {
          throw new NonFiniteError(nonFiniteGradMessage(this.step, bad, gradNorm, lossValue));
        }
        optimizer.step(new Map()); // no gradients: parameters and state stay, the schedule advances
        record.skipped = 1;
        (this.opts.onSkip ?? warnSkipped)({ step: record.step, params: bad, gradNorm });
      }
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
      await ensureDir(dirname(this.opts.logFile), 'Trainer logFile');
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
   * RNG states, data position, optimizer/EMA JSON, history, save time).
   *
   * Crash safety: the files go to a fresh sibling `<dir>.tmp-<pid>-<ms>`, `trainer.json` last (so a
   * folder with a `trainer.json` is complete); then `dir` is moved aside to `<dir>.old-…`, the new
   * folder moved to `dir`, and the leftovers removed. A kill at any instant leaves a complete
   * checkpoint that {@link resume} finds: `dir` itself, or a leftover when the kill came between
   * the moves. `dir` must be a checkpoint folder (or missing, or empty): anything else is refused
   * rather than replaced. One process saves into a given `dir` at a time.
   */
  async save(dir: string): Promise<void> {
    assertNode('Trainer.save');
    const fs = await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises');
    const { dirname, join } = await importAtRuntime<typeof import('node:path')>('node:path');
    const target = await checkpointTarget('Trainer.save', dir);
    const kind = await pathKind(target);
    if (kind !== undefined && kind !== 'directory') {
      throw new CheckpointError(`Trainer.save: '${dir}' is a file, not a directory; a training checkpoint is a directory (created, then replaced by each save)`);
    }
    if (kind === 'directory' && (await pathKind(join(target, FILES.state))) === undefined && (await fs.readdir(target)).length > 0) {
      throw new CheckpointError(
        `Trainer.save: '${dir}' is a directory that is not a training checkpoint (it has no ${FILES.state}); each save replaces the whole directory, so pick a new or empty one`,
      );
    }
    const { model, optimizer, ema, data } = this.opts;
    const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
    const savedAt = Math.max(Date.now(), this.lastSavedAt + 1);
    await ensureDir(tmp, 'Trainer.save');
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
        savedAt,
        rng: this.rng.getState(),
        globalRng: globalRng().getState(),
        data: data.getState?.(),
        optimizer: optimizer.stateJson(),
        ema: ema?.stateJson(),
        history: this.history,
      };
      // Last: its presence marks the folder complete (every file before it is already on disk).
      await writeFileAtomic(join(tmp, FILES.state), JSON.stringify(state));
    } catch (e) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
    const old = `${target}.old-${process.pid}-${Date.now()}`;
    let movedOld = false;
    try {
      await fs.rename(target, old).then(
        () => (movedOld = true),
        (e: unknown) => {
          if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
        },
      );
      await fs.rename(tmp, target);
    } catch (e) {
      // Put the previous checkpoint back; if even that fails, both folders stay for resume() to use.
      const restored = !movedOld || (await fs.rename(old, target).then(() => true, () => false));
      if (restored) await fs.rm(tmp, { recursive: true, force: true });
      const err = new Error(`Trainer.save: cannot move the new checkpoint into '${dir}': ${(e as Error).message}`, { cause: e });
      throw Object.assign(err, { code: (e as { code?: unknown }).code });
    }
    this.lastSavedAt = savedAt;
    await syncDir(dirname(target));
    await removeLeftovers(target);
  }

  /**
   * The folder {@link resume} would load from `dir`: `dir` itself, or the newest complete leftover
   * of an interrupted save beside it; undefined when there is no checkpoint. Use it (rather than
   * testing for `dir/trainer.json`) to decide whether a run resumes.
   */
  static async latestCheckpoint(dir: string): Promise<string | undefined> {
    assertNode('Trainer.latestCheckpoint');
    return (await findCheckpoint(dir, 'Trainer.latestCheckpoint'))?.dir;
  }

  /**
   * Restores a checkpoint written by {@link save} into this trainer's model, optimizer, EMA,
   * generators and data stream. When a save was interrupted, it loads the newest complete
   * checkpoint among `dir` and the save's leftovers (and says so with `console.warn`).
   * Everything is read and validated before anything is assigned: on any error the model,
   * optimizer, EMA, generators and step are unchanged.
   */
  async resume(dir: string): Promise<void> {
    assertNode('Trainer.resume');
    const { join } = await importAtRuntime<typeof import('node:path')>('node:path');
    const { model, optimizer, ema, data } = this.opts;
    const found = await findCheckpoint(dir, 'Trainer.resume');
    if (!found) {
      const why = (await pathKind(dir)) === undefined ? 'the directory does not exist' : `it has no ${FILES.state}`;
      throw new CheckpointError(`Trainer.resume: no checkpoint at '${dir}' (${why})`);
    }
    const at = found.dir;
    const state = found.state;
    if (found.recovered) {
      console.warn(
        `Trainer.resume: resuming from '${at}', the newest complete checkpoint, which an interrupted save left beside '${dir}' (the next save puts it in place)`,
      );
    }
    const fail = (msg: string, cause?: unknown): never => {
      throw new CheckpointError(`Trainer.resume: ${join(at, FILES.state)}: ${msg}`, { cause });
    };
    // ---- validate (nothing is assigned until every piece has passed) ----
    if (ema && !state.ema) throw new CheckpointError(`Trainer.resume: the checkpoint has no EMA state but the trainer has an EMA`);
    if (!Array.isArray(state.history)) fail(`'history' must be an array, got ${describeValue(state.history)}`);
    for (const key of ['rng', 'globalRng'] as const) {
      try {
        Rng.fromState(state[key]);
      } catch (e) {
        fail(`'${key}' is not a generator state: ${(e as Error).message}`, e);
      }
    }
    const read = async (f: string) => {
      try {
        return await readFileBytes(join(at, f));
      } catch (e) {
        throw new CheckpointError(`Trainer.resume: cannot read ${join(at, f)}: ${(e as Error).message}`, { cause: e });
      }
    };
    const inFile = <T>(f: string, fn: () => T): T => {
      try {
        return fn();
      } catch (e) {
        if (e instanceof CheckpointError) throw new CheckpointError(`Trainer.resume: ${join(at, f)}: ${e.message}`, { cause: e });
        throw e;
      }
    };
    const weightBytes = await read(FILES.model);
    const optBytes = await read(FILES.optimizer);
    const emaBytes = ema ? await read(FILES.ema) : undefined;
    const prepared: PreparedLoad<unknown>[] = [];
    let optTensors: Map<string, tf.Tensor> | undefined;
    let emaTensors: Map<string, tf.Tensor> | undefined;
    try {
      prepared.push(inFile(FILES.model, () => prepareLoadWeights(model, weightBytes)));
      optTensors = inFile(FILES.optimizer, () => decodeToTensors(optBytes));
      const opt = optTensors;
      prepared.push(inFile(FILES.optimizer, () => optimizer.prepareLoadState(opt, state.optimizer)));
      if (ema && emaBytes) {
        emaTensors = inFile(FILES.ema, () => decodeToTensors(emaBytes));
        const em = emaTensors;
        prepared.push(inFile(FILES.ema, () => ema.prepareLoadState(em, state.ema)));
      }
      // ---- assign: the data stream first (user code, the one piece that may still refuse) ----
      if (state.data !== undefined) data.setState?.(state.data);
      for (const p of prepared) p.commit();
    } catch (e) {
      for (const p of prepared) p.abort();
      throw e;
    } finally {
      tf.dispose([...(optTensors?.values() ?? []), ...(emaTensors?.values() ?? [])]);
    }
    this.rng.setState(state.rng);
    globalRng().setState(state.globalRng);
    this.step = state.step;
    this.history.splice(0, this.history.length, ...state.history);
    this.lastSavedAt = Math.max(this.lastSavedAt, state.savedAt ?? 0);
  }
}

/** Checks `dir` (a non-empty string) and returns it as an absolute path without a trailing separator. */
async function checkpointTarget(fn: string, dir: unknown): Promise<string> {
  if (typeof dir !== 'string' || dir === '') {
    throw new TypeError(`${fn}: argument 'dir' expected a checkpoint directory path string, got ${describeValue(dir)}`);
  }
  const { resolve } = await importAtRuntime<typeof import('node:path')>('node:path');
  return resolve(dir);
}

/** Reads and checks a folder's `trainer.json`; throws a {@link CheckpointError} naming the file. */
async function readState(at: string): Promise<TrainerStateJson> {
  const { join } = await importAtRuntime<typeof import('node:path')>('node:path');
  const file = join(at, FILES.state);
  let state: TrainerStateJson;
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(file);
  } catch (e) {
    throw new CheckpointError(`Trainer.resume: cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    state = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new CheckpointError(`Trainer.resume: ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (state?.version !== 1 || !Number.isInteger(state.step)) {
    throw new CheckpointError(`Trainer.resume: ${file} is not a BrickML trainer state`);
  }
  return state;
}

interface FoundCheckpoint {
  /** The folder to load from. */
  dir: string;
  state: TrainerStateJson;
  /** Whether it is a leftover of an interrupted save rather than `dir` itself. */
  recovered: boolean;
}

/**
 * The newest complete checkpoint among `dir` and the leftovers of interrupted saves beside it
 * (`<dir>.tmp-*`, `<dir>.old-*`): complete means a valid `trainer.json`, newest the latest
 * `savedAt`, then (for checkpoints without it) a finished new folder over `dir` over an old one.
 * Undefined when there is none (no `trainer.json` anywhere); a `dir` whose `trainer.json` is
 * invalid throws, unless a leftover is complete.
 */
async function findCheckpoint(dir: string, fn: string): Promise<FoundCheckpoint | undefined> {
  const fs = await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises');
  const { basename, dirname, join } = await importAtRuntime<typeof import('node:path')>('node:path');
  const target = await checkpointTarget(fn, dir);
  const kind = await pathKind(target);
  if (kind !== undefined && kind !== 'directory') {
    throw new CheckpointError(`${fn}: '${dir}' is a file, not a checkpoint directory`);
  }
  const base = basename(target);
  const siblings = (await fs.readdir(dirname(target)).catch(() => [] as string[])).filter(
    (n) => n.startsWith(base) && LEFTOVER.test(n.slice(base.length)),
  );
  const candidates = [
    { at: dir, rank: 1, leftover: false },
    ...siblings.map((n) => ({ at: join(dirname(target), n), rank: n.startsWith(`${base}.tmp-`) ? 2 : 0, leftover: true })),
  ];
  const complete: Array<(typeof candidates)[number] & { state: TrainerStateJson }> = [];
  let targetError: unknown;
  const targetHasState = kind !== undefined && (await pathKind(join(target, FILES.state))) !== undefined;
  for (const c of candidates) {
    if (c.leftover || targetHasState) {
      try {
        complete.push({ ...c, state: await readState(c.at) });
      } catch (e) {
        if (!c.leftover) targetError = e; // an incomplete leftover is simply not a candidate
      }
    }
  }
  if (complete.length === 0) {
    if (targetError) throw targetError;
    return undefined;
  }
  const time = (s: TrainerStateJson) => (typeof s.savedAt === 'number' ? s.savedAt : -Infinity);
  complete.sort((a, b) => time(b.state) - time(a.state) || b.rank - a.rank);
  const best = complete[0];
  return { dir: best.at, state: best.state, recovered: best.leftover };
}

/** Removes the `.tmp-*` / `.old-*` folders of earlier saves of `target` (unmarking each first). */
async function removeLeftovers(target: string): Promise<void> {
  const fs = await importAtRuntime<typeof import('node:fs/promises')>('node:fs/promises');
  const { basename, dirname, join } = await importAtRuntime<typeof import('node:path')>('node:path');
  const base = basename(target);
  const names = await fs.readdir(dirname(target)).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith(base) || !LEFTOVER.test(n.slice(base.length))) continue;
    const at = join(dirname(target), n);
    // trainer.json first: a folder half removed by a kill never looks complete.
    await fs.rm(join(at, FILES.state), { force: true }).catch(() => undefined);
    await fs.rm(at, { recursive: true, force: true }).catch(() => undefined);
  }
}

function listPaths(paths: string[]): string {
  const shown = paths.slice(0, MAX_LISTED).map((p) => `'${p}'`).join(', ');
  return paths.length > MAX_LISTED ? `${shown} and ${paths.length - MAX_LISTED} more` : shown;
}

function nonFiniteGradMessage(step: number, bad: string[], gradNorm: number, loss: number): string {
  const what =
    bad.length > 0
      ? `the gradient of ${bad.length} parameter${bad.length > 1 ? 's' : ''} holds NaN or Inf: ${listPaths(bad)}`
      : `the global gradient norm overflowed to ${gradNorm} though every gradient is finite`;
  return (
    `Trainer: at step ${step} ${what} (the loss, ${loss}, is finite); stopping before the update (parameters are unchanged). ` +
    `Look for log, sqrt or division at zero in the loss or model, lower the learning rate, ` +
    `set nonFiniteGrad: 'skip' to skip such steps, or resume from the last checkpoint.`
  );
}

function warnSkipped(info: SkippedStep): void {
  const where = info.params.length > 0 ? `in ${listPaths(info.params)}` : `(gradient norm ${info.gradNorm})`;
  console.warn(`Trainer: step ${info.step}: skipped the update, non-finite gradient ${where}`);
}
