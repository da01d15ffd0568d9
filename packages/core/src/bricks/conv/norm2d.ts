/**
 * Normalisation bricks for channels-last feature maps: `GroupNorm` and `BatchNorm2d`, with PyTorch's
 * semantics and parameter/buffer names.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError, ShapeError } from '../../errors.js';
import { Module, buffer, parameter, type Parameter } from '../../module/module.js';
import { parseConfig, registerBrick, schemas } from '../../module/registry.js';
import { batchNormApply, channelMoments, groupNorm } from '../../ops/conv-norm.js';

const GroupNormSchema = z
  .object({
    /** Groups the channels are split into (contiguous, as PyTorch); must divide numChannels. */
    numGroups: schemas.positiveInt,
    /** Channels C (last axis of x). */
    numChannels: schemas.positiveInt,
    /** Added to the variance. */
    eps: schemas.positive.default(1e-5),
    /** Learn a per-channel scale `weight` (init 1) and shift `bias` (init 0). */
    affine: z.boolean().default(true),
  })
  .strict();
/** JSON config of {@link GroupNorm}. */
export type GroupNormConfig = z.input<typeof GroupNormSchema>;

/**
 * Group normalisation as PyTorch's `nn.GroupNorm`, channels last: x `[N, ..., C]` (e.g.
 * `[N, H, W, C]`); each sample's group of C/numGroups channels is normalised over those channels and
 * every position (biased variance), the same in training and evaluation. `weight`, `bias` `[C]`.
 */
export class GroupNorm extends Module {
  static readonly type = 'GroupNorm';
  static readonly schema = GroupNormSchema;
  readonly config: z.output<typeof GroupNormSchema>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(config: GroupNormConfig) {
    super();
    const c = (this.config = parseConfig(GroupNorm, config));
    if (c.numChannels % c.numGroups !== 0) {
      throw new BrickConfigError(`GroupNorm: config field 'numChannels' ${c.numChannels} must be divisible by numGroups ${c.numGroups}`);
    }
    this.weight = c.affine ? parameter(tf.ones([c.numChannels])) : null;
    this.bias = c.affine ? parameter(tf.zeros([c.numChannels])) : null;
  }

  /** x [N, ..., C] → same shape */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, x.rank < 2 ? [null, this.config.numChannels] : ['...', this.config.numChannels]);
    return groupNorm(x, this.config.numGroups, this.weight, this.bias, this.config.eps);
  }

  override toConfig() {
    return { type: GroupNorm.type, ...this.config };
  }
}
registerBrick(GroupNorm);

const BatchNorm2dSchema = z
  .object({
    /** Channels C (last axis of x). */
    numFeatures: schemas.positiveInt,
    /** Added to the variance. */
    eps: schemas.positive.default(1e-5),
    /**
     * Weight of the new batch in the running statistics: running = (1 − momentum)·running +
     * momentum·batch (PyTorch's convention, the opposite of Keras'); `null` = cumulative average.
     */
    momentum: z.number().min(0).max(1).nullable().default(0.1),
    /** Learn a per-channel scale `weight` (init 1) and shift `bias` (init 0). */
    affine: z.boolean().default(true),
    /** Keep `running_mean`, `running_var`, `num_batches_tracked` and use them in evaluation mode. */
    trackRunningStats: z.boolean().default(true),
  })
  .strict();
/** JSON config of {@link BatchNorm2d}. */
export type BatchNorm2dConfig = z.input<typeof BatchNorm2dSchema>;

/**
 * Batch normalisation as PyTorch's `nn.BatchNorm2d`, channels last: x `[N, H, W, C]`.
 *
 * - Training mode: normalises with the batch's per-channel mean and biased variance (over N, H, W);
 *   with `trackRunningStats` each call also updates the buffers: `running_mean` (init 0) and
 *   `running_var` (init 1) move by `momentum` towards the batch mean and the *unbiased* batch variance
 *   (× n/(n − 1), n = N·H·W), and `num_batches_tracked` (int32, PyTorch int64) counts the calls.
 * - Evaluation mode: normalises with the running statistics (without `trackRunningStats`, with the
 *   batch's, as PyTorch).
 *
 * Buffers are saved in checkpoints and never given to optimizers. Updating them is a side effect of
 * `forward` in training mode, as in PyTorch: a gradient check or a second forward of the same batch
 * updates them again.
 */
export class BatchNorm2d extends Module {
  static readonly type = 'BatchNorm2d';
  static readonly schema = BatchNorm2dSchema;
  readonly config: z.output<typeof BatchNorm2dSchema>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly running_mean: tf.Variable | null;
  readonly running_var: tf.Variable | null;
  readonly num_batches_tracked: tf.Variable | null;

  constructor(config: BatchNorm2dConfig) {
    super();
    const c = (this.config = parseConfig(BatchNorm2d, config));
    this.weight = c.affine ? parameter(tf.ones([c.numFeatures])) : null;
    this.bias = c.affine ? parameter(tf.zeros([c.numFeatures])) : null;
    this.running_mean = c.trackRunningStats ? buffer(tf.zeros([c.numFeatures])) : null;
    this.running_var = c.trackRunningStats ? buffer(tf.ones([c.numFeatures])) : null;
    this.num_batches_tracked = c.trackRunningStats ? buffer(tf.scalar(0, 'int32')) : null;
  }

  /** x [N, H, W, C] → [N, H, W, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.config.numFeatures]);
    return batchNormForward(this, 'BatchNorm2d', x);
  }

  override toConfig() {
    return { type: BatchNorm2d.type, ...this.config };
  }
}
registerBrick(BatchNorm2d);

/** What {@link batchNormForward} needs of a batch-norm brick. */
interface BatchNormLike {
  readonly config: z.output<typeof BatchNorm2dSchema>;
  readonly training: boolean;
  readonly path: string;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly running_mean: tf.Variable | null;
  readonly running_var: tf.Variable | null;
  readonly num_batches_tracked: tf.Variable | null;
}

/**
 * PyTorch's batch norm over every axis but the last (channels last): batch statistics (and the
 * running-statistics update) in training mode, running statistics in evaluation mode.
 */
function batchNormForward(bn: BatchNormLike, name: string, x: tf.Tensor): tf.Tensor {
  const c = bn.config;
  const count = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (!(bn.training || !bn.running_mean)) {
    return batchNormApply(x, bn.running_mean, bn.running_var!, bn.weight, bn.bias, c.eps);
  }
  if (bn.training && count < 2) {
    throw new ShapeError(`${name}${bn.path ? ` '${bn.path}'` : ''}: expected more than 1 value per channel in training mode, got x [${x.shape.join(', ')}]`);
  }
  return tf.tidy(() => {
    const { mean, variance } = channelMoments(x);
    if (bn.training && bn.running_mean && bn.running_var && bn.num_batches_tracked) {
      const nbt = bn.num_batches_tracked;
      const rm = bn.running_mean;
      const rv = bn.running_var;
      tf.tidy(() => {
        const tracked = tf.add(nbt, tf.scalar(1, 'int32'));
        const f = c.momentum === null ? tf.div(1, tf.cast(tracked, 'float32')) : tf.scalar(c.momentum);
        const keep = tf.sub(1, f);
        const v = tf.mul(variance, count / (count - 1));
        rm.assign(tf.add(tf.mul(keep, rm), tf.mul(f, mean)));
        rv.assign(tf.add(tf.mul(keep, rv), tf.mul(f, v)));
        nbt.assign(tracked);
      });
    }
    return batchNormApply(x, mean, variance, bn.weight, bn.bias, c.eps);
  });
}

/** JSON config of {@link BatchNorm1d} (the same fields as {@link BatchNorm2d}). */
export type BatchNorm1dConfig = z.input<typeof BatchNorm2dSchema>;

/**
 * Batch normalisation as PyTorch's `nn.BatchNorm1d` on features x `[N, C]` (e.g. inside the projection
 * heads of SimCLR and BYOL): per-feature batch mean and biased variance over N in training mode,
 * running statistics (updated towards the unbiased batch variance, × N/(N − 1)) in evaluation mode;
 * the same parameters (`weight`, `bias`), buffers (`running_mean`, `running_var`,
 * `num_batches_tracked`) and options as {@link BatchNorm2d}.
 */
export class BatchNorm1d extends Module {
  static readonly type = 'BatchNorm1d';
  static readonly schema = BatchNorm2dSchema;
  readonly config: z.output<typeof BatchNorm2dSchema>;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly running_mean: tf.Variable | null;
  readonly running_var: tf.Variable | null;
  readonly num_batches_tracked: tf.Variable | null;

  constructor(config: BatchNorm1dConfig) {
    super();
    const c = (this.config = parseConfig(BatchNorm1d, config));
    this.weight = c.affine ? parameter(tf.ones([c.numFeatures])) : null;
    this.bias = c.affine ? parameter(tf.zeros([c.numFeatures])) : null;
    this.running_mean = c.trackRunningStats ? buffer(tf.zeros([c.numFeatures])) : null;
    this.running_var = c.trackRunningStats ? buffer(tf.ones([c.numFeatures])) : null;
    this.num_batches_tracked = c.trackRunningStats ? buffer(tf.scalar(0, 'int32')) : null;
  }

  /** x [N, C] → [N, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, this.config.numFeatures]);
    return batchNormForward(this, 'BatchNorm1d', x);
  }

  override toConfig() {
    return { type: BatchNorm1d.type, ...this.config };
  }
}
registerBrick(BatchNorm1d);
