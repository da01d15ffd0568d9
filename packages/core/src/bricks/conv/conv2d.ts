/**
 * Convolution bricks over channels-last maps: `Conv2d`, `ConvTranspose2d` and `Upsample`.
 *
 * Layouts (BrickML follows tfjs; parameter *names* follow PyTorch, so a checkpoint maps one-to-one
 * after a permutation):
 *
 * | tensor                    | BrickML (tfjs)                  | PyTorch                       | PyTorch → BrickML        |
 * |---------------------------|---------------------------------|-------------------------------|--------------------------|
 * | feature map               | `[N, H, W, C]` (channels last)  | `[N, C, H, W]`                | `x.permute(0, 2, 3, 1)`  |
 * | `Conv2d.weight`           | `[kh, kw, Cin/groups, Cout]` HWIO | `[Cout, Cin/groups, kh, kw]` OIHW | `w.permute(2, 3, 1, 0)` |
 * | `ConvTranspose2d.weight`  | `[kh, kw, Cout/groups, Cin]`    | `[Cin, Cout/groups, kh, kw]`  | `w.permute(2, 3, 1, 0)`  |
 * | biases                    | `[Cout]`                        | `[Cout]`                      | as is                    |
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError } from '../../errors.js';
import { Module, parameter, type Parameter } from '../../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../../module/registry.js';
import { globalRng, type Rng } from '../../rng.js';
import { conv2d, convTranspose2d, upsampleNearest, type ConvImpl } from '../../ops/conv.js';
import { resizeBilinear } from '../../ops/conv-pool.js';
import { biasInitSchema, defaultBiasInit, initBias, initSchema, initTensor, type BiasInitName } from '../init.js';

/** A size for both spatial axes, or `[height, width]`. */
export const size2Schema = z.union([schemas.positiveInt, z.tuple([schemas.positiveInt, schemas.positiveInt])]);
/** A non-negative size for both spatial axes, or `[height, width]`. */
export const padding2Schema = z.union([schemas.nonNegativeInt, z.tuple([schemas.nonNegativeInt, schemas.nonNegativeInt])]);
/** Convolution implementation (`auto`: see `defaultConvImpl`). */
export const convImplSchema = z.enum(['auto', 'native', 'hybrid', 'im2col', 'conv3d']);

const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** Fields shared by Conv2d and ConvTranspose2d. */
const convFields = {
  /** Input channels (last axis of x). */
  inChannels: schemas.positiveInt,
  /** Output channels. */
  outChannels: schemas.positiveInt,
  /** Kernel size `k` or `[kh, kw]`. */
  kernelSize: size2Schema,
  /** Stride (default 1). */
  stride: size2Schema.default(1),
  /** Spacing between kernel taps (default 1). */
  dilation: size2Schema.default(1),
  /** Channel groups; inChannels and outChannels divisible by it; `groups = inChannels` is depthwise. */
  groups: schemas.positiveInt.default(1),
  /** Learn an additive bias. */
  bias: z.boolean().default(true),
  /** Weight initialiser (default `kaimingUniform`: U(±1/√fanIn), fanIn = Cin/groups·kh·kw, PyTorch's default). */
  init: initSchema.default('kaimingUniform'),
  /** Standard deviation for `truncNormal` / `normal`. */
  initStd: schemas.positive.default(0.02),
  /** Bias initialiser: `uniform` U(±1/√fanIn) (PyTorch) or `zeros`; left out it follows `init` as in `Linear`. */
  biasInit: biasInitSchema.optional(),
  /** Start with weight and bias at zero (the generator draws as the replaced init would). */
  zeroInit: z.boolean().default(false),
  /** Implementation (see `conv2d`); `auto` picks per backend at each call. */
  impl: convImplSchema.default('auto'),
};

const Conv2dSchema = z
  .object({
    ...convFields,
    /** Zero padding: `p`, `[ph, pw]`, `'same'` or `'valid'` (default 0, as PyTorch). */
    padding: z.union([padding2Schema, z.enum(['same', 'valid'])]).default(0),
  })
  .strict();
/** JSON config of {@link Conv2d}. */
export type Conv2dConfig = z.input<typeof Conv2dSchema>;

function checkGroups(type: string, c: { inChannels: number; outChannels: number; groups: number }): void {
  if (c.inChannels % c.groups !== 0 || c.outChannels % c.groups !== 0) {
    throw new BrickConfigError(`${type}: config field 'groups' ${c.groups} must divide inChannels ${c.inChannels} and outChannels ${c.outChannels}`);
  }
}

/** Draws weight then bias as `Linear` does (zeroInit draws as the init it replaces would). */
function initConv(
  c: { init: z.output<typeof initSchema>; initStd: number; zeroInit: boolean; bias: boolean; biasInit: BiasInitName },
  shape: number[],
  fanIn: number,
  fanOut: number,
  biasSize: number,
  rng: Rng,
): [Parameter, Parameter | null] {
  const weight = parameter(initTensor(c.zeroInit ? 'zeros' : c.init, shape, fanIn, fanOut, rng, c.initStd));
  if (!c.bias) return [weight, null];
  const b = c.zeroInit && c.biasInit === 'uniform' ? rng.uniformTensor([biasSize], 0, 0) : initBias(c.biasInit, biasSize, fanIn, rng);
  return [weight, parameter(b)];
}

/**
 * 2-D convolution as PyTorch's `nn.Conv2d`, channels last: x `[N, H, W, Cin]` → `[N, Ho, Wo, Cout]`.
 * `weight` `[kh, kw, Cin/groups, Cout]` (HWIO, see the table above), `bias` `[Cout]`; by default
 * initialised as PyTorch (weight and bias U(±1/√(Cin/groups·kh·kw))). Trains on every backend (on wasm
 * through the `hybrid` gradient, see `conv2d`).
 */
export class Conv2d extends Module {
  static readonly type = 'Conv2d';
  static readonly schema = Conv2dSchema;
  readonly config: z.output<typeof Conv2dSchema> & { biasInit: BiasInitName };
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(config: Conv2dConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const parsed = parseConfig(Conv2d, config);
    const c = (this.config = { ...parsed, biasInit: parsed.biasInit ?? defaultBiasInit(parsed.init) });
    checkGroups(Conv2d.type, c);
    const [kh, kw] = pair(c.kernelSize);
    const fanIn = (c.inChannels / c.groups) * kh * kw;
    [this.weight, this.bias] = initConv(c, [kh, kw, c.inChannels / c.groups, c.outChannels], fanIn, (c.outChannels / c.groups) * kh * kw, c.outChannels, rng);
  }

  /** x [N, H, W, Cin] → [N, Ho, Wo, Cout] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.config.inChannels]);
    const c = this.config;
    return conv2d(x, this.weight, this.bias, { stride: c.stride, padding: c.padding, dilation: c.dilation, groups: c.groups, impl: c.impl });
  }

  override toConfig() {
    return { type: Conv2d.type, ...this.config };
  }
}
registerBrick(Conv2d);

const ConvTranspose2dSchema = z
  .object({
    ...convFields,
    /** Zero padding of the convolution this one transposes (PyTorch's `padding`, default 0). */
    padding: padding2Schema.default(0),
    /** Extra output rows/columns at the bottom/right (PyTorch's `output_padding`, smaller than the stride). */
    outputPadding: padding2Schema.default(0),
  })
  .strict();
/** JSON config of {@link ConvTranspose2d}. */
export type ConvTranspose2dConfig = z.input<typeof ConvTranspose2dSchema>;

/**
 * Transposed convolution as PyTorch's `nn.ConvTranspose2d`, channels last: x `[N, H, W, Cin]` →
 * `[N, (H − 1)·s − 2p + d·(k − 1) + outputPadding + 1, …, Cout]`. `weight` `[kh, kw, Cout/groups, Cin]`
 * (see the table above), `bias` `[Cout]`; initialised as PyTorch (U(±1/√(Cout/groups·kh·kw)), PyTorch
 * taking the fan-in from the weight's second axis). Built on `conv2d`, so it trains on wasm too.
 */
export class ConvTranspose2d extends Module {
  static readonly type = 'ConvTranspose2d';
  static readonly schema = ConvTranspose2dSchema;
  readonly config: z.output<typeof ConvTranspose2dSchema> & { biasInit: BiasInitName };
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(config: ConvTranspose2dConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const parsed = parseConfig(ConvTranspose2d, config);
    const c = (this.config = { ...parsed, biasInit: parsed.biasInit ?? defaultBiasInit(parsed.init) });
    checkGroups(ConvTranspose2d.type, c);
    const [kh, kw] = pair(c.kernelSize);
    const [sh, sw] = pair(c.stride);
    const [dh, dw] = pair(c.dilation);
    const [oph, opw] = pair(c.outputPadding);
    if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
      throw new BrickConfigError(`ConvTranspose2d: config field 'outputPadding' ${JSON.stringify(c.outputPadding)} must be smaller than the stride ${JSON.stringify(c.stride)} or the dilation`);
    }
    const fanIn = (c.outChannels / c.groups) * kh * kw;
    [this.weight, this.bias] = initConv(c, [kh, kw, c.outChannels / c.groups, c.inChannels], fanIn, (c.inChannels / c.groups) * kh * kw, c.outChannels, rng);
  }

  /** x [N, H, W, Cin] → [N, Ho, Wo, Cout] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.config.inChannels]);
    const c = this.config;
    return convTranspose2d(x, this.weight, this.bias, {
      stride: c.stride, padding: c.padding, outputPadding: c.outputPadding, dilation: c.dilation, groups: c.groups, impl: c.impl as ConvImpl | 'auto',
    });
  }

  override toConfig() {
    return { type: ConvTranspose2d.type, ...this.config };
  }
}
registerBrick(ConvTranspose2d);

const UpsampleSchema = z
  .object({
    /** Integer scale factor `f` or `[fh, fw]` (default 2). */
    scaleFactor: size2Schema.default(2),
    /** `nearest` (copies) or `bilinear` (PyTorch's `align_corners=False`). */
    mode: z.enum(['nearest', 'bilinear']).default('nearest'),
  })
  .strict();
/** JSON config of {@link Upsample}. */
export type UpsampleConfig = z.input<typeof UpsampleSchema>;

/**
 * Upsampling by integer factors as PyTorch's `nn.Upsample(scale_factor, mode)`, channels last:
 * x `[N, H, W, C]` → `[N, fh·H, fw·W, C]`. No parameters; differentiable on every backend (nearest as a
 * broadcast product, bilinear as two interpolation-matrix products). Follow it with a `Conv2d` for the
 * "upsample + conv" alternative to `ConvTranspose2d` (no checkerboard artefacts).
 */
export class Upsample extends Module {
  static readonly type = 'Upsample';
  static readonly schema = UpsampleSchema;
  readonly config: z.output<typeof UpsampleSchema>;

  constructor(config: UpsampleConfig = {}) {
    super();
    this.config = parseConfig(Upsample, config);
  }

  /** x [N, H, W, C] → [N, fh·H, fw·W, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, null]);
    const [fh, fw] = pair(this.config.scaleFactor);
    if (this.config.mode === 'nearest') return upsampleNearest(x, [fh, fw]);
    return resizeBilinear(x, [(x.shape[1] as number) * fh, (x.shape[2] as number) * fw]);
  }

  override toConfig() {
    return { type: Upsample.type, ...this.config };
  }
}
registerBrick(Upsample);
