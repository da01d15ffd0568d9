/** Pooling bricks over channels-last maps (PyTorch's `nn.MaxPool2d`, `nn.AvgPool2d`, `nn.AdaptiveAvgPool2d`). */
import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module } from '../../module/module.js';
import { parseConfig, registerBrick } from '../../module/registry.js';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from '../../ops/conv-pool.js';
import { padding2Schema, size2Schema } from './conv2d.js';

const poolFields = {
  /** Window size `k` or `[kh, kw]`. */
  kernelSize: size2Schema,
  /** Stride (left out: the kernel size, as PyTorch). */
  stride: size2Schema.optional(),
  /** Padding on both sides (at most half the kernel); −∞ for max pooling, zeros for average pooling. */
  padding: padding2Schema.default(0),
};

const MaxPool2dSchema = z
  .object({
    ...poolFields,
    /** `native` (`tf.maxPool`), `taps` (maximum of shifted windows), `auto`: `taps` on wasm (see `maxPool2d`). */
    impl: z.enum(['auto', 'native', 'taps']).default('auto'),
  })
  .strict();
/** JSON config of {@link MaxPool2d}. */
export type MaxPool2dConfig = z.input<typeof MaxPool2dSchema>;

/** Max pooling: x `[N, H, W, C]` → `[N, Ho, Wo, C]` (floor sizes, padding as −∞). Trains on every backend (on wasm through `taps`). */
export class MaxPool2d extends Module {
  static readonly type = 'MaxPool2d';
  static readonly schema = MaxPool2dSchema;
  readonly config: z.output<typeof MaxPool2dSchema>;
  constructor(config: MaxPool2dConfig) {
    super();
    this.config = parseConfig(MaxPool2d, config);
  }
  /** x [N, H, W, C] → [N, Ho, Wo, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, null]);
    return maxPool2d(x, this.config.kernelSize, { stride: this.config.stride, padding: this.config.padding, impl: this.config.impl });
  }
  override toConfig() {
    return { type: MaxPool2d.type, ...this.config };
  }
}
registerBrick(MaxPool2d);

const AvgPool2dSchema = z
  .object({
    ...poolFields,
    /** Count padded zeros in the divisor (PyTorch's `count_include_pad`, default true). */
    countIncludePad: z.boolean().default(true),
  })
  .strict();
/** JSON config of {@link AvgPool2d}. */
export type AvgPool2dConfig = z.input<typeof AvgPool2dSchema>;

/** Average pooling: x `[N, H, W, C]` → `[N, Ho, Wo, C]` (floor sizes). */
export class AvgPool2d extends Module {
  static readonly type = 'AvgPool2d';
  static readonly schema = AvgPool2dSchema;
  readonly config: z.output<typeof AvgPool2dSchema>;
  constructor(config: AvgPool2dConfig) {
    super();
    this.config = parseConfig(AvgPool2d, config);
  }
  /** x [N, H, W, C] → [N, Ho, Wo, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, null]);
    const c = this.config;
    return avgPool2d(x, c.kernelSize, { stride: c.stride, padding: c.padding, countIncludePad: c.countIncludePad });
  }
  override toConfig() {
    return { type: AvgPool2d.type, ...this.config };
  }
}
registerBrick(AvgPool2d);

const AdaptiveAvgPool2dSchema = z
  .object({
    /** Output size `s` or `[oh, ow]` (default 1: global average pooling). */
    outputSize: size2Schema.default(1),
  })
  .strict();
/** JSON config of {@link AdaptiveAvgPool2d}. */
export type AdaptiveAvgPool2dConfig = z.input<typeof AdaptiveAvgPool2dSchema>;

/** Adaptive average pooling with PyTorch's bins: x `[N, H, W, C]` → `[N, oh, ow, C]` (any sizes). */
export class AdaptiveAvgPool2d extends Module {
  static readonly type = 'AdaptiveAvgPool2d';
  static readonly schema = AdaptiveAvgPool2dSchema;
  readonly config: z.output<typeof AdaptiveAvgPool2dSchema>;
  constructor(config: AdaptiveAvgPool2dConfig = {}) {
    super();
    this.config = parseConfig(AdaptiveAvgPool2d, config);
  }
  /** x [N, H, W, C] → [N, oh, ow, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, null]);
    return adaptiveAvgPool2d(x, this.config.outputSize);
  }
  override toConfig() {
    return { type: AdaptiveAvgPool2d.type, ...this.config };
  }
}
registerBrick(AdaptiveAvgPool2d);
