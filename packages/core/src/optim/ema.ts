/**
 * Exponential moving average of a module's parameters, keyed by parameter path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, CheckpointError, ShapeError, formatShape } from '../errors.js';
import { Module } from '../module/module.js';
import { describeValue } from '../io/describe.js';
import type { PreparedLoad } from '../io/weights.js';
import { checkBooleanOption, checkNumberOption, checkOptionsObject } from './options.js';

/** Options of {@link Ema}. */
export interface EmaOptions {
  /** Decay per update (default 0.999). */
  decay?: number;
  /**
   * Warm-up (default false): the `t`-th update (0-based) uses `min(decay, (1 + t) / (10 + t))`, so
   * early averages follow the weights closely (0.1 on the first update, 0.5 on the ninth). This is
   * TensorFlow's `ExponentialMovingAverage(num_updates=t)` and diffusers' `EMAModel` without the
   * power warm-up.
   */
  warmup?: boolean;
  /**
   * Also average the module's buffers (default false). Float buffers are averaged, others copied.
   */
  includeBuffers?: boolean;
}

/** JSON half of an EMA checkpoint (the tensors are {@link Ema.stateEntries}). */
export interface EmaStateJson {
  kind: 'Ema';
  version: 1;
  /** Number of `update()` calls so far. */
  updates: number;
  decay: number;
  warmup: boolean;
  includeBuffers: boolean;
}

let shadowCounter = 0;

/**
 * Parameter EMA: `shadow ← d·shadow + (1 − d)·p` after each optimizer step, with `d` from
 * {@link EmaOptions}. Shadows start as copies of the weights at construction and are
 * non-trainable `tf.Variable`s keyed by path, so they can be copied into, or swapped with, any
 * module of the same architecture.
 *
 * @example
 * const ema = new Ema(model, { decay: 0.9999, warmup: true });
 * // after every opt.step(...):
 * ema.update();
 * const loss = await ema.withAveraged(model, () => evaluate(model));
 */
export class Ema {
  /** Decay per update (before warm-up). */
  readonly decay: number;
  /** Whether warm-up is on. */
  readonly warmup: boolean;
  /** Whether buffers are tracked too. */
  readonly includeBuffers: boolean;
  private readonly module: Module;
  private readonly shadows = new Map<string, tf.Variable>();
  private updates = 0;
  private swappedWith: Module | null = null;
  private disposed = false;

  constructor(module: Module, options: EmaOptions = {}) {
    if (!(module instanceof Module)) throw new BrickConfigError(`Ema: 'module' expected a Module, got ${describeValue(module)}`);
    checkOptionsObject('Ema', options, ['decay', 'warmup', 'includeBuffers']);
    this.decay = checkNumberOption('Ema', 'decay', options.decay ?? 0.999, { min: 0, max: 1 });
    this.warmup = checkBooleanOption('Ema', 'warmup', options.warmup, false);
    this.includeBuffers = checkBooleanOption('Ema', 'includeBuffers', options.includeBuffers, false);
    this.module = module;
    for (const [name, p] of this.tracked(module)) {
      this.shadows.set(name, tf.variable(p, false, `brickml/ema${shadowCounter++}`));
    }
  }

  private tracked(module: Module): Array<[string, tf.Variable]> {
    return this.includeBuffers ? module.namedState() : module.namedParameters();
  }

  /** Pairs each tracked variable of `module` with its shadow; any difference in paths or shapes throws. */
  private matched(module: Module, where: string): Array<[string, tf.Variable, tf.Variable]> {
    this.checkAlive(where);
    const vars = this.tracked(module);
    const out: Array<[string, tf.Variable, tf.Variable]> = [];
    for (const [name, p] of vars) {
      const s = this.shadows.get(name);
      if (s === undefined) throw new Error(`Ema.${where}: module has '${name}', which the EMA does not track`);
      if (!tf.util.arraysEqual(s.shape, p.shape)) {
        throw new ShapeError(`Ema.${where}: '${name}' has shape ${formatShape(p.shape)}, its EMA has ${formatShape(s.shape)}`);
      }
      out.push([name, p, s]);
    }
    if (vars.length !== this.shadows.size) {
      const have = new Set(vars.map(([n]) => n));
      const missing = [...this.shadows.keys()].filter((n) => !have.has(n));
      throw new Error(`Ema.${where}: module lacks tracked ${missing.map((n) => `'${n}'`).join(', ')}`);
    }
    return out;
  }

  private checkAlive(where: string): void {
    if (this.disposed) throw new Error(`Ema.${where}: the EMA was disposed`);
  }

  private checkNotSwapped(where: string): void {
    if (this.swappedWith !== null) throw new Error(`Ema.${where}: the EMA is swapped into a module; swap back first`);
  }

  /** Number of `update()` calls so far. */
  get numUpdates(): number {
    return this.updates;
  }

  /** The decay the next `update()` uses. */
  currentDecay(): number {
    const t = this.updates;
    return this.warmup ? Math.min(this.decay, (1 + t) / (10 + t)) : this.decay;
  }

  /** Folds the module's current weights into the average (call after each optimizer step). */
  update(): void {
    this.checkNotSwapped('update');
    const d = this.currentDecay();
    for (const [, p, s] of this.matched(this.module, 'update')) {
      tf.tidy(() => {
        if (p.dtype !== 'float32') s.assign(p);
        else s.assign(tf.add(tf.mul(s, d), tf.mul(p, 1 - d)));
      });
    }
    this.updates += 1;
  }

  /** The shadow of the parameter at `name` (owned by the EMA), or undefined if not tracked. */
  shadow(name: string): tf.Variable | undefined {
    return this.shadows.get(name);
  }

  /** Copies the averaged weights into `module` (the tracked one by default; any same-architecture module works). */
  copyTo(module: Module = this.module): void {
    this.checkNotSwapped('copyTo');
    for (const [, p, s] of this.matched(module, 'copyTo')) p.assign(s);
  }

  /**
   * Exchanges the module's weights with the averages (exactly: no arithmetic). The first call puts
   * the averages into the module; the second, with the same module, restores it. `update`,
   * `copyTo` and `stateEntries` refuse to run while swapped.
   */
  swap(module: Module = this.module): void {
    if (this.swappedWith !== null && this.swappedWith !== module) {
      throw new Error('Ema.swap: the EMA is swapped into another module; swap that one back first');
    }
    for (const [, p, s] of this.matched(module, 'swap')) {
      tf.tidy(() => {
        const old = tf.clone(p); // shares p's data; no copy
        p.assign(s);
        s.assign(old);
      });
    }
    this.swappedWith = this.swappedWith === null ? module : null;
  }

  /** Runs `fn` with the averaged weights in `module`, then restores the module's own weights (also on error). */
  async withAveraged<T>(module: Module, fn: () => T | Promise<T>): Promise<T> {
    this.checkNotSwapped('withAveraged');
    this.swap(module);
    try {
      return await fn();
    } finally {
      this.swap(module);
    }
  }

  /**
   * The averaged tensors for a checkpoint, named by parameter path (so they also load as model
   * weights). These are the live shadows: read or save them, do not dispose.
   */
  stateEntries(): Array<[string, tf.Tensor]> {
    this.checkAlive('stateEntries');
    this.checkNotSwapped('stateEntries');
    return [...this.shadows.entries()];
  }

  /** The JSON half of a checkpoint. */
  stateJson(): EmaStateJson {
    return {
      kind: 'Ema', version: 1, updates: this.updates, decay: this.decay, warmup: this.warmup, includeBuffers: this.includeBuffers,
    };
  }

  /**
   * Restores averages (and, with `json`, the update count). Validates first: an unknown path, a
   * missing path, or a shape or dtype mismatch throws a `CheckpointError` and changes nothing. Values
   * are copied; the caller keeps ownership of `entries`.
   */
  loadState(entries: Map<string, tf.Tensor> | Record<string, tf.Tensor>, json?: EmaStateJson): void {
    this.prepareLoadState(entries, json).commit();
  }

  /**
   * The checking half of {@link loadState}: validates (throwing the same errors) and assigns only
   * on `commit()`. `entries` must stay alive until then (they are copied at commit).
   */
  prepareLoadState(entries: Map<string, tf.Tensor> | Record<string, tf.Tensor>, json?: EmaStateJson): PreparedLoad {
    this.checkAlive('loadState');
    this.checkNotSwapped('loadState');
    const list = entries instanceof Map ? [...entries.entries()] : Object.entries(entries);
    if (json !== undefined) {
      if (json?.kind !== 'Ema') throw new CheckpointError(`Ema.loadState: state JSON is for '${json?.kind}', not 'Ema'`);
      if (!Number.isInteger(json.updates) || json.updates < 0) {
        throw new CheckpointError(`Ema.loadState: 'updates' must be an integer ≥ 0, got ${JSON.stringify(json.updates)}`);
      }
    }
    for (const [name, t] of list) {
      const s = this.shadows.get(name);
      if (s === undefined) throw new CheckpointError(`Ema.loadState: tensor '${name}' is not a tracked parameter`);
      if (!(t instanceof tf.Tensor)) throw new CheckpointError(`Ema.loadState: '${name}' is not a tf.Tensor`);
      if (!tf.util.arraysEqual(t.shape, s.shape)) {
        throw new CheckpointError(`Ema.loadState: '${name}' has shape ${formatShape(t.shape)}, expected ${formatShape(s.shape)}`);
      }
      if (t.dtype !== s.dtype) throw new CheckpointError(`Ema.loadState: '${name}' has dtype ${t.dtype}, expected ${s.dtype}`);
    }
    const given = new Set(list.map(([n]) => n));
    const missing = [...this.shadows.keys()].filter((n) => !given.has(n));
    if (missing.length > 0) throw new CheckpointError(`Ema.loadState: missing ${missing.map((n) => `'${n}'`).join(', ')}`);
    let done = false;
    return {
      commit: () => {
        if (done) throw new Error('Ema.loadState: commit() after the load was already committed or aborted');
        done = true;
        this.checkAlive('loadState');
        for (const [name, t] of list) this.shadows.get(name)!.assign(t);
        if (json !== undefined) this.updates = json.updates;
      },
      abort: () => {
        done = true;
      },
    };
  }

  /** Frees the shadows. */
  dispose(): void {
    if (this.disposed) return;
    for (const s of this.shadows.values()) s.dispose();
    this.shadows.clear();
    this.disposed = true;
  }
}
