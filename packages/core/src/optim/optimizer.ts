/**
 * Base class of BrickML's optimizers: state keyed by parameter PATH (`blocks.0.attn.q.weight`),
 * never by position or tfjs variable name, so a parameter that gets no gradient in a step (an
 * unused MoE expert, a self-conditioning branch) keeps its own state and nobody else's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, CheckpointError, ShapeError, formatShape } from '../errors.js';
import { Module } from '../module/module.js';
import { describeValue } from '../io/describe.js';
import type { PreparedLoad } from '../io/weights.js';
import { checkNumberOption, checkOptionsObject } from './options.js';
import { resolveLr, type LrOption, type Schedule } from './schedules.js';

/** What an optimizer optimizes: a module (its trainable `namedParameters()`) or explicit `[path, variable]` pairs. */
export type ParamsInput = Module | Array<[string, tf.Variable]>;

/** Gradients keyed by parameter path (a `null`/`undefined` entry means "no gradient this step"). */
export type GradMap = Map<string, tf.Tensor | null | undefined> | Record<string, tf.Tensor | null | undefined>;

/** Predicate selecting parameters that are **excluded** from weight decay. */
export type NoDecayFn = (name: string, p: tf.Variable) => boolean;

/** Options every optimizer shares. */
export interface OptimizerOptions {
  /** Learning rate: a constant, a schedule `step → lr` (0-based step), or a schedule config. */
  lr?: LrOption;
  /** Weight decay coefficient (each optimizer says whether it is decoupled or L2). */
  weightDecay?: number;
  /** Returns true for parameters that must not be decayed (e.g. {@link noDecayForBiasAndNorm}). */
  noDecay?: NoDecayFn;
}

/** JSON half of an optimizer checkpoint (the tensors are {@link Optimizer.stateEntries}). */
export interface OptimizerStateJson {
  /** Optimizer class (`AdamW`, `SGD`); loading into another kind is an error. */
  kind: string;
  /** Format version. */
  version: 1;
  /** Number of `step()` calls so far (drives the schedule). */
  step: number;
  /** Per-parameter step counts (PyTorch's `state[p]['step']`), only for parameters that have state. */
  paramSteps: Record<string, number>;
  /** Hyperparameters at save time, for the record (the constructor's options win on load). */
  options: Record<string, unknown>;
}

interface ParamState {
  /** Number of updates this parameter received. */
  step: number;
  /** One variable per slot, in `slotNames` order. */
  slots: tf.Variable[];
}

let slotCounter = 0;

function segments(name: string): string[] {
  return name.toLowerCase().split('.');
}

/**
 * Common weight-decay exclusion: returns true (do not decay) for 0-/1-D parameters (biases, norm
 * scales and shifts), any parameter whose last path segment is `bias`, parameters owned by a module
 * whose name contains `norm` or starts with `ln` (`norm1.weight`, `ln_f.weight`), and embeddings
 * (the parameter's own or its owner's name contains `embed`, is `emb`/ends in `_emb`, or is `wte`/`wpe`).
 */
export function noDecayForBiasAndNorm(name: string, p: tf.Variable): boolean {
  if (p.rank <= 1) return true;
  const segs = segments(name);
  const last = segs[segs.length - 1];
  const owner = segs.length > 1 ? segs[segs.length - 2] : '';
  if (last === 'bias') return true;
  if (owner.includes('norm') || /^ln(_|\d|$)/.test(owner)) return true;
  const isEmbed = (s: string) => s.includes('embed') || /(^|_)emb(s)?(_|$)/.test(s) || s === 'wte' || s === 'wpe';
  return isEmbed(last) || isEmbed(owner);
}

function toEntries<T>(grads: Map<string, T> | Record<string, T>): Array<[string, T]> {
  return grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
}

/**
 * Base optimizer. Subclasses declare their per-parameter slots (`exp_avg`, `momentum_buffer`, …)
 * and the update of one parameter; the base class owns validation, lazy state creation, per-parameter
 * step counts, the schedule and checkpointing.
 *
 * Ownership: gradients passed to {@link step} stay the caller's (dispose them after). Slot variables
 * belong to the optimizer until {@link dispose}.
 */
export abstract class Optimizer {
  /** Optimizer class name written into checkpoints. */
  abstract readonly kind: string;
  /** Names of the per-parameter state tensors (checkpoint names are `<slot>.<path>`). */
  protected abstract readonly slotNames: readonly string[];

  protected readonly params = new Map<string, tf.Variable>();
  private readonly decayed = new Set<string>();
  private readonly state = new Map<string, ParamState>();
  private schedule: Schedule;
  private globalStepCount = 0;
  private disposed = false;
  /** The weight decay coefficient. */
  readonly weightDecay: number;

  /**
   * @param defaults.optionNames the subclass's own option names besides `lr`, `weightDecay` and
   *   `noDecay`: when given, any other key of `options` is rejected (a typo such as `learningRate`
   *   is not silently ignored).
   */
  constructor(params: ParamsInput, options: OptimizerOptions, defaults: { weightDecay: number; optionNames?: readonly string[] }) {
    const owner = new.target.name;
    const list = params instanceof Module ? params.namedParameters() : params;
    if (!Array.isArray(list)) {
      throw new BrickConfigError(`${owner}: 'params' must be a Module or an array of [path, tf.Variable], got ${describeValue(params)}`);
    }
    for (const [name, p] of list) {
      if (typeof name !== 'string' || !(p instanceof tf.Variable)) {
        throw new BrickConfigError(`${owner}: 'params' entries must be [string, tf.Variable], got [${String(name)}, ${typeof p}]`);
      }
      if (this.params.has(name)) throw new BrickConfigError(`${owner}: parameter '${name}' is listed twice`);
      this.params.set(name, p);
    }
    const names = defaults.optionNames && ['lr', 'weightDecay', 'noDecay', ...defaults.optionNames];
    checkOptionsObject(owner, options, names);
    this.schedule = resolveLr(options.lr ?? 1e-3, `${owner}: option 'lr'`);
    this.weightDecay = checkNumberOption(owner, 'weightDecay', options.weightDecay ?? defaults.weightDecay, { min: 0 });
    const noDecay = options.noDecay;
    if (noDecay !== undefined && typeof noDecay !== 'function') {
      throw new BrickConfigError(`${owner}: option 'noDecay' expected a function (name, param) → boolean, got ${describeValue(noDecay)}`);
    }
    for (const [name, p] of this.params) {
      if (!(noDecay?.(name, p) ?? false)) this.decayed.add(name);
    }
  }

  /**
   * Applies one update of the parameter `p` (called inside `tf.tidy`; update `p` and the slots with
   * `assign`). `step` is this parameter's 1-based update count, `decay` whether weight decay applies.
   */
  protected abstract update(p: tf.Variable, g: tf.Tensor, slots: tf.Variable[], step: number, lr: number, decay: boolean): void;

  /** Hyperparameters as JSON, for {@link stateJson}. */
  protected abstract optionsJson(): Record<string, unknown>;

  /** Number of `step()` calls so far (the 0-based index of the next step). */
  get globalStep(): number {
    return this.globalStepCount;
  }

  /** Learning rate of the next (or in-progress) `step()`: `schedule(globalStep)`. */
  currentLr(): number {
    return this.schedule(this.globalStepCount);
  }

  /** Replaces the learning rate or schedule (the step count is kept). */
  setLr(lr: LrOption): void {
    this.schedule = resolveLr(lr, `${this.kind}.setLr: argument 'lr'`);
  }

  /** Paths of the optimized parameters, in order. */
  paramNames(): string[] {
    return [...this.params.keys()];
  }

  /** Whether weight decay applies to the parameter at `name`. */
  isDecayed(name: string): boolean {
    return this.decayed.has(name);
  }

  /** Updates this parameter has received (PyTorch's per-parameter `step`; 0 before its first gradient). */
  paramStep(name: string): number {
    return this.state.get(name)?.step ?? 0;
  }

  /** A state tensor of a parameter (`exp_avg`, …), or undefined before its first gradient. Owned by the optimizer. */
  slot(name: string, slotName: string): tf.Variable | undefined {
    const i = this.slotNames.indexOf(slotName);
    if (i < 0) throw new Error(`${this.kind}.slot: unknown slot '${slotName}' (expected one of ${this.slotNames.join(', ')})`);
    return this.state.get(name)?.slots[i];
  }

  private checkAlive(where: string): void {
    if (this.disposed) throw new Error(`${this.kind}.${where}: the optimizer was disposed`);
  }

  /**
   * Takes one optimization step with gradients keyed by parameter path. Parameters without a
   * gradient (absent, `null` or `undefined`) are skipped entirely (state and per-parameter step
   * untouched). Every gradient is validated before any parameter changes: an unknown name or a
   * shape mismatch throws. The global step (and so the schedule) advances on every call.
   */
  step(grads: GradMap): void {
    this.checkAlive('step');
    const entries = toEntries(grads).filter((e): e is [string, tf.Tensor] => e[1] != null);
    for (const [name, g] of entries) {
      const p = this.params.get(name);
      if (p === undefined) {
        throw new Error(`${this.kind}.step: gradient for unknown parameter '${name}' (not among the ${this.params.size} optimized parameters)`);
      }
      if (!(g instanceof tf.Tensor)) throw new Error(`${this.kind}.step: gradient '${name}' is not a tf.Tensor`);
      if (!tf.util.arraysEqual(g.shape, p.shape)) {
        throw new ShapeError(`${this.kind}.step: gradient for '${name}' has shape ${formatShape(g.shape)}, parameter has ${formatShape(p.shape)}`);
      }
    }
    const lr = this.currentLr();
    if (!Number.isFinite(lr)) throw new Error(`${this.kind}.step: the schedule gave lr = ${lr} at step ${this.globalStepCount}`);
    for (const [name, g] of entries) {
      const p = this.params.get(name)!;
      let st = this.state.get(name);
      if (st === undefined) {
        st = { step: 0, slots: this.slotNames.map(() => tf.tidy(() => this.newSlot(tf.zerosLike(p)))) };
        this.state.set(name, st);
      }
      st.step += 1;
      const s = st;
      tf.tidy(() => this.update(p, g, s.slots, s.step, lr, this.decayed.has(name)));
    }
    this.globalStepCount += 1;
  }

  private newSlot(value: tf.Tensor): tf.Variable {
    return tf.variable(value, false, `brickml/opt${slotCounter++}`);
  }

  /**
   * The optimizer's tensors for a checkpoint, named `<slot>.<path>` (e.g. `exp_avg.blocks.0.weight`),
   * for parameters that have state. These are the live variables: read or save them, do not dispose.
   */
  stateEntries(): Array<[string, tf.Tensor]> {
    this.checkAlive('stateEntries');
    const out: Array<[string, tf.Tensor]> = [];
    for (const [name, st] of this.state) {
      this.slotNames.forEach((slot, i) => out.push([`${slot}.${name}`, st.slots[i]]));
    }
    return out;
  }

  /** The JSON half of a checkpoint: kind, global step, per-parameter steps and hyperparameters. */
  stateJson(): OptimizerStateJson {
    const paramSteps: Record<string, number> = {};
    for (const [name, st] of this.state) paramSteps[name] = st.step;
    return { kind: this.kind, version: 1, step: this.globalStepCount, paramSteps, options: this.optionsJson() };
  }

  /**
   * Restores a checkpoint written by {@link stateEntries} + {@link stateJson}. Everything is
   * validated first (kind, unknown parameter or slot, shape or dtype mismatch, missing or extra
   * tensors → `CheckpointError`); only then is the current state replaced (values are copied, the
   * caller keeps ownership of `entries`). Hyperparameters come from this optimizer's constructor.
   */
  loadState(entries: Map<string, tf.Tensor> | Record<string, tf.Tensor>, json: OptimizerStateJson): void {
    this.prepareLoadState(entries, json).commit();
  }

  /**
   * The checking half of {@link loadState}: validates (throwing the same errors) and copies the
   * tensors into new state variables, but replaces this optimizer's state only on `commit()`;
   * `abort()` frees the copies. The caller may dispose `entries` as soon as this returns.
   */
  prepareLoadState(entries: Map<string, tf.Tensor> | Record<string, tf.Tensor>, json: OptimizerStateJson): PreparedLoad {
    this.checkAlive('loadState');
    const where = `${this.kind}.loadState`;
    if (json === null || typeof json !== 'object') throw new CheckpointError(`${where}: state JSON must be an object`);
    if (json.kind !== this.kind) throw new CheckpointError(`${where}: checkpoint is for optimizer '${json.kind}', not '${this.kind}'`);
    if (json.version !== 1) throw new CheckpointError(`${where}: unsupported state version ${JSON.stringify(json.version)}`);
    if (!Number.isInteger(json.step) || json.step < 0) throw new CheckpointError(`${where}: 'step' must be an integer ≥ 0, got ${JSON.stringify(json.step)}`);
    const steps = json.paramSteps ?? {};
    for (const [name, n] of Object.entries(steps)) {
      if (!this.params.has(name)) throw new CheckpointError(`${where}: state for unknown parameter '${name}'`);
      if (!Number.isInteger(n) || n < 1) throw new CheckpointError(`${where}: step of '${name}' must be an integer ≥ 1, got ${JSON.stringify(n)}`);
    }
    const byParam = new Map<string, tf.Tensor[]>();
    for (const [key, t] of toEntries(entries)) {
      const dot = key.indexOf('.');
      const slot = dot < 0 ? key : key.slice(0, dot);
      const name = dot < 0 ? '' : key.slice(dot + 1);
      const i = this.slotNames.indexOf(slot);
      if (i < 0) throw new CheckpointError(`${where}: tensor '${key}' is not a ${this.kind} slot (expected <${this.slotNames.join('|')}>.<path>)`);
      const p = this.params.get(name);
      if (p === undefined) throw new CheckpointError(`${where}: tensor '${key}' is for unknown parameter '${name}'`);
      if (!(name in steps)) throw new CheckpointError(`${where}: tensor '${key}' has no step count in the state JSON`);
      if (!(t instanceof tf.Tensor)) throw new CheckpointError(`${where}: '${key}' is not a tf.Tensor`);
      if (!tf.util.arraysEqual(t.shape, p.shape)) {
        throw new CheckpointError(`${where}: '${key}' has shape ${formatShape(t.shape)}, parameter '${name}' has ${formatShape(p.shape)}`);
      }
      if (t.dtype !== p.dtype) throw new CheckpointError(`${where}: '${key}' has dtype ${t.dtype}, parameter '${name}' has ${p.dtype}`);
      const slots = byParam.get(name) ?? new Array<tf.Tensor>(this.slotNames.length);
      slots[i] = t;
      byParam.set(name, slots);
    }
    for (const name of Object.keys(steps)) {
      const slots = byParam.get(name);
      this.slotNames.forEach((slot, i) => {
        if (slots?.[i] === undefined) throw new CheckpointError(`${where}: missing tensor '${slot}.${name}'`);
      });
    }
    // Copy first, so a failure here (e.g. out of memory) still leaves the current state in place.
    const fresh = new Map<string, ParamState>();
    const free = () => {
      for (const st of fresh.values()) for (const v of st.slots) v.dispose();
    };
    try {
      for (const [name, n] of Object.entries(steps)) {
        const slots: tf.Variable[] = [];
        fresh.set(name, { step: n, slots });
        for (const t of byParam.get(name)!) slots.push(tf.tidy(() => this.newSlot(tf.clone(t))));
      }
    } catch (e) {
      free();
      throw e;
    }
    let done = false;
    return {
      commit: () => {
        if (done) throw new Error(`${where}: commit() after the load was already committed or aborted`);
        done = true;
        if (this.disposed) free();
        this.checkAlive('loadState');
        this.clearState();
        for (const [name, st] of fresh) this.state.set(name, st);
        this.globalStepCount = json.step;
      },
      abort: () => {
        if (done) return;
        done = true;
        free();
      },
    };
  }

  private clearState(): void {
    for (const st of this.state.values()) for (const v of st.slots) v.dispose();
    this.state.clear();
  }

  /** Frees the optimizer state (parameters are not touched). The optimizer cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.clearState();
    this.disposed = true;
  }
}
