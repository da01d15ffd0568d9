/**
 * AdamW (decoupled weight decay) and SGD with momentum, following PyTorch's `torch.optim.AdamW`
 * and `torch.optim.SGD` formulas, with state keyed by parameter path (see {@link Optimizer}).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError } from '../errors.js';
import { describeValue } from '../io/describe.js';
import { Optimizer, type OptimizerOptions, type ParamsInput } from './optimizer.js';
import { checkBooleanOption, checkNumberOption } from './options.js';
import { fusedAdamWAvailable, fusedAdamWUpdate } from './fused-adamw.js';

/** Options of {@link AdamW}. */
export interface AdamWOptions extends OptimizerOptions {
  /** Learning rate or schedule (default 1e-3). */
  lr?: OptimizerOptions['lr'];
  /** Moment decay rates [β1, β2] (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to √v̂ in the denominator (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 1e-2). */
  weightDecay?: number;
  /**
   * Use the fused update where the backend has it (wasm, cpu: one kernel; webgpu: three; default true). `false` runs the
   * op-by-op update everywhere (the reference the fused kernel is tested against).
   */
  fused?: boolean;
}

/**
 * AdamW exactly as `torch.optim.AdamW` (no amsgrad). For each parameter with a gradient `g`, with
 * `t` its own 1-based update count and `lr` the schedule's value at the global step:
 *
 * ```text
 * p ← p · (1 − lr·wd)                       (decoupled decay, first; skipped for noDecay params)
 * m ← β1·m + (1 − β1)·g
 * v ← β2·v + (1 − β2)·g²
 * p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)   (= p − lr·m̂/(√v̂ + eps))
 * ```
 *
 * Moments (`exp_avg`, `exp_avg_sq`) are created at a parameter's first gradient.
 *
 * @example
 * const opt = new AdamW(model, { lr: { kind: 'warmupCosine', peakLr: 3e-3, warmupSteps: 200, totalSteps: 10_000 },
 *   noDecay: noDecayForBiasAndNorm });
 * opt.step(gradsByPath); // Map<path, tf.Tensor>
 */
export class AdamW extends Optimizer {
  readonly kind = 'AdamW';
  protected readonly slotNames = ['exp_avg', 'exp_avg_sq'] as const;
  /** β1, β2. */
  readonly betas: readonly [number, number];
  /** Denominator epsilon. */
  readonly eps: number;
  /** Whether the one-kernel update is used where available. */
  readonly fused: boolean;

  constructor(params: ParamsInput, options: AdamWOptions = {}) {
    // A subclass may add options of its own, so only AdamW itself rejects unknown keys.
    super(params, options, { weightDecay: 1e-2, optionNames: new.target === AdamW ? ['betas', 'eps', 'fused'] : undefined });
    const betas: unknown = options.betas ?? [0.9, 0.999];
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new BrickConfigError(`AdamW: option 'betas' expected an array [β1, β2] of two numbers in [0, 1), got ${describeValue(betas)}`);
    }
    const b1 = checkNumberOption('AdamW', 'betas[0]', betas[0], { min: 0, below: 1 });
    const b2 = checkNumberOption('AdamW', 'betas[1]', betas[1], { min: 0, below: 1 });
    this.betas = [b1, b2];
    this.eps = checkNumberOption('AdamW', 'eps', options.eps ?? 1e-8, { min: 0 });
    this.fused = checkBooleanOption('AdamW', 'fused', options.fused, true);
  }

  protected update(p: tf.Variable, g: tf.Tensor, slots: tf.Variable[], t: number, lr: number, decay: boolean): void {
    const [m, v] = slots;
    const [b1, b2] = this.betas;
    const wd = this.weightDecay;
    if (this.fused && fusedAdamWAvailable(p, g, m, v)) {
      // One kernel instead of ~13 on wasm/cpu, three on webgpu (optim/fused-adamw.ts); same formula.
      const [p1, m1, v1] = fusedAdamWUpdate(p, g, m, v, {
        decay: decay ? lr * wd : 0, beta1: b1, beta2: b2, stepSize: lr / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t), eps: this.eps,
      });
      m.assign(m1);
      v.assign(v1);
      p.assign(p1);
      return;
    }
    const p0: tf.Tensor = decay && wd > 0 ? tf.mul(p, 1 - lr * wd) : p;
    const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
    const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
    const stepSize = lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), this.eps);
    const p1 = tf.sub(p0, tf.mul(tf.div(m1, denom), stepSize));
    m.assign(m1);
    v.assign(v1);
    p.assign(p1);
  }

  protected optionsJson(): Record<string, unknown> {
    return { betas: [...this.betas], eps: this.eps, weightDecay: this.weightDecay };
  }
}

/** Options of {@link SGD}. */
export interface SGDOptions extends OptimizerOptions {
  /** Learning rate or schedule (default 1e-3). */
  lr?: OptimizerOptions['lr'];
  /** Momentum factor (default 0: plain SGD, no state). */
  momentum?: number;
  /** Nesterov momentum (default false; needs momentum > 0). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient, as PyTorch's SGD (default 0). */
  weightDecay?: number;
}

/**
 * SGD with momentum exactly as `torch.optim.SGD` with dampening 0:
 *
 * ```text
 * d ← g + wd·p                 (coupled L2; skipped for noDecay params)
 * b ← μ·b + d                  (b starts at d on a parameter's first gradient)
 * d ← nesterov ? d + μ·b : b
 * p ← p − lr·d
 * ```
 *
 * State: `momentum_buffer` (only when momentum > 0).
 */
export class SGD extends Optimizer {
  readonly kind = 'SGD';
  protected readonly slotNames: readonly string[];
  /** Momentum factor. */
  readonly momentum: number;
  /** Whether Nesterov momentum is used. */
  readonly nesterov: boolean;

  constructor(params: ParamsInput, options: SGDOptions = {}) {
    super(params, options, { weightDecay: 0, optionNames: new.target === SGD ? ['momentum', 'nesterov'] : undefined });
    const mu = checkNumberOption('SGD', 'momentum', options.momentum ?? 0, { min: 0 });
    const nesterov = checkBooleanOption('SGD', 'nesterov', options.nesterov, false);
    if (nesterov && mu === 0) throw new BrickConfigError(`SGD: option 'nesterov' needs 'momentum' > 0, got momentum ${mu}`);
    this.momentum = mu;
    this.nesterov = nesterov;
    this.slotNames = mu > 0 ? ['momentum_buffer'] : [];
  }

  protected update(p: tf.Variable, g: tf.Tensor, slots: tf.Variable[], _t: number, lr: number, decay: boolean): void {
    const wd = this.weightDecay;
    let d: tf.Tensor = decay && wd > 0 ? tf.add(g, tf.mul(p, wd)) : g;
    if (this.momentum > 0) {
      const [buf] = slots;
      // A zero buffer makes the first update b = d exactly, as PyTorch's clone on the first step.
      const b1 = tf.add(tf.mul(buf, this.momentum), d);
      buf.assign(b1);
      d = this.nesterov ? tf.add(d, tf.mul(b1, this.momentum)) : b1;
    }
    p.assign(tf.sub(p, tf.mul(d, lr)));
  }

  protected optionsJson(): Record<string, unknown> {
    return { momentum: this.momentum, nesterov: this.nesterov, weightDecay: this.weightDecay };
  }
}
