/**
 * A small ResNet-style encoder (He et al. 2016, torchvision's `resnet.py` names): `BasicBlock` and
 * `ResNet`, channels last, with one-line presets ({@link resnet18Config}, {@link resnetTinyConfig}).
 *
 * ```text
 * stem  'imagenet': conv1 7×7/2 (pad 3, no bias) → bn1 → relu → maxpool 3×3/2 (pad 1)
 *       'cifar':    conv1 3×3/1 (pad 1, no bias) → bn1 → relu                      (for 32×32 images)
 * layer1 … layerS: blocksPerStage[i] BasicBlocks of width widths[i]; the first of each has stride strides[i]
 * BasicBlock(x) = relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x))    3×3 convs, pad 1, no bias
 * downsample    = conv 1×1/stride (no bias) → bn, where the stride or the width changes, else identity
 * output 'featureMap': [N, h, w, widths[S−1]];  'pooled': global average → [N, widths[S−1]]
 * ```
 * Parameter names are torchvision's (`conv1.weight`, `bn1.running_mean`, `layer2.0.downsample.0.weight`);
 * weights are HWIO (see `Conv2d`). torchvision's `fc` head is not part of the encoder.
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError, ShapeError } from '../../errors.js';
import { Module } from '../../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../../module/registry.js';
import { globalRng, type Rng } from '../../rng.js';
import { maxPool2d } from '../../ops/conv-pool.js';
import { Conv2d, convImplSchema } from './conv2d.js';
import { BatchNorm2d, GroupNorm } from './norm2d.js';

/** Normalisation inside the encoder: `batch` (BatchNorm2d, the ResNet default) or `group` (GroupNorm, batch-independent). */
export const resnetNormSchema = z.enum(['batch', 'group']);

type Norm = BatchNorm2d | GroupNorm;
function makeNorm(kind: z.output<typeof resnetNormSchema>, channels: number, groups: number): Norm {
  if (kind === 'batch') return new BatchNorm2d({ numFeatures: channels });
  return new GroupNorm({ numGroups: groups, numChannels: channels });
}

const BasicBlockSchema = z
  .object({
    /** Input channels. */
    inChannels: schemas.positiveInt,
    /** Output channels (planes). */
    outChannels: schemas.positiveInt,
    /** Stride of conv1 (and of the downsample). */
    stride: schemas.positiveInt.default(1),
    /** Normalisation layers. */
    norm: resnetNormSchema.default('batch'),
    /** GroupNorm groups (with `norm: 'group'`; must divide outChannels). */
    normGroups: schemas.positiveInt.default(8),
    /** Start bn2's scale at zero, so the block starts as its shortcut (torchvision's `zero_init_residual`). */
    zeroInitResidual: z.boolean().default(false),
    /** Convolution implementation (see `conv2d`). */
    impl: convImplSchema.default('auto'),
  })
  .strict();
/** JSON config of {@link BasicBlock}. */
export type BasicBlockConfig = z.input<typeof BasicBlockSchema>;

/** ResNet basic block (two 3×3 convs and a shortcut), channels last: x `[N, H, W, Cin]` → `[N, H/s, W/s, Cout]`. */
export class BasicBlock extends Module {
  static readonly type = 'BasicBlock';
  static readonly schema = BasicBlockSchema;
  readonly config: z.output<typeof BasicBlockSchema>;
  readonly conv1: Conv2d;
  readonly bn1: Norm;
  readonly conv2: Conv2d;
  readonly bn2: Norm;
  /** `[conv 1×1, norm]` where the shape changes, else null (identity). */
  readonly downsample: [Conv2d, Norm] | null;

  constructor(config: BasicBlockConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(BasicBlock, config));
    if (c.norm === 'group' && c.outChannels % c.normGroups !== 0) {
      throw new BrickConfigError(`BasicBlock: config field 'normGroups' ${c.normGroups} must divide outChannels ${c.outChannels}`);
    }
    const conv = (cin: number, k: number, stride: number, r: Rng) =>
      new Conv2d({ inChannels: cin, outChannels: c.outChannels, kernelSize: k, stride, padding: k === 3 ? 1 : 0, bias: false, impl: c.impl }, { rng: r });
    this.conv1 = conv(c.inChannels, 3, c.stride, rng);
    this.bn1 = makeNorm(c.norm, c.outChannels, c.normGroups);
    this.conv2 = conv(c.outChannels, 3, 1, rng);
    this.bn2 = makeNorm(c.norm, c.outChannels, c.normGroups);
    if (c.zeroInitResidual && this.bn2.weight) this.bn2.weight.assign(tf.zerosLike(this.bn2.weight));
    this.downsample = c.stride !== 1 || c.inChannels !== c.outChannels ? [conv(c.inChannels, 1, c.stride, rng), makeNorm(c.norm, c.outChannels, c.normGroups)] : null;
  }

  /** x [N, H, W, Cin] → [N, Ho, Wo, Cout] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.config.inChannels]);
    return tf.tidy(() => {
      const h = tf.relu(this.bn1.forward(this.conv1.forward(x)));
      const y = this.bn2.forward(this.conv2.forward(h));
      const shortcut = this.downsample ? this.downsample[1].forward(this.downsample[0].forward(x)) : x;
      return tf.relu(tf.add(y, shortcut));
    });
  }

  override toConfig() {
    return { type: BasicBlock.type, ...this.config };
  }
}
registerBrick(BasicBlock);

const ResNetSchema = z
  .object({
    /** Image channels. */
    inChannels: schemas.positiveInt.default(3),
    /** Stem: `imagenet` (7×7/2 conv + 3×3/2 max pool: output stride 4) or `cifar` (3×3/1 conv, no pool). */
    stem: z.enum(['imagenet', 'cifar']).default('imagenet'),
    /** Stem width (default widths[0]). */
    stemWidth: schemas.positiveInt.optional(),
    /** Width of each stage (1 to 4 stages: layer1 … layer4). */
    widths: z.array(schemas.positiveInt).min(1).max(4).default([64, 128, 256, 512]),
    /** BasicBlocks per stage (ResNet-18: 2 each). */
    blocksPerStage: z.array(schemas.positiveInt).min(1).max(4).default([2, 2, 2, 2]),
    /** Stride of each stage's first block (ResNet: [1, 2, 2, 2]; CRW: [1, 2, 1, 1] for output stride 8). */
    strides: z.array(schemas.positiveInt).min(1).max(4).default([1, 2, 2, 2]),
    /** Normalisation layers. */
    norm: resnetNormSchema.default('batch'),
    /** GroupNorm groups (with `norm: 'group'`). */
    normGroups: schemas.positiveInt.default(8),
    /** Start every block's last norm scale at zero. */
    zeroInitResidual: z.boolean().default(false),
    /** What `forward` returns: the last feature map [N, h, w, C] or its spatial mean [N, C]. */
    output: z.enum(['pooled', 'featureMap']).default('pooled'),
    /** Convolution implementation (see `conv2d`). */
    impl: convImplSchema.default('auto'),
  })
  .strict();
/** JSON config of {@link ResNet}. */
export type ResNetConfig = z.input<typeof ResNetSchema>;

/** Options of a {@link ResNet} call. */
export interface ResNetCallOptions {
  /** Overrides the config's `output` for this call. */
  output?: 'pooled' | 'featureMap';
}

/**
 * ResNet encoder with BasicBlocks (ResNet-18/34 family), channels last: images `[N, H, W, inChannels]`
 * → pooled features `[N, C]` or the final feature map `[N, h, w, C]` (see the module comment).
 */
export class ResNet extends Module {
  static readonly type = 'ResNet';
  static readonly schema = ResNetSchema;
  readonly config: z.output<typeof ResNetSchema>;
  readonly conv1: Conv2d;
  readonly bn1: Norm;
  readonly layer1: BasicBlock[];
  readonly layer2: BasicBlock[];
  readonly layer3: BasicBlock[];
  readonly layer4: BasicBlock[];

  constructor(config: ResNetConfig = {}, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ResNet, config));
    const s = c.widths.length;
    if (c.blocksPerStage.length !== s || c.strides.length !== s) {
      throw new BrickConfigError(
        `ResNet: config fields 'widths', 'blocksPerStage' and 'strides' must have the same length, got ${s}, ${c.blocksPerStage.length} and ${c.strides.length}`,
      );
    }
    const stemWidth = c.stemWidth ?? c.widths[0]!;
    for (const w of [stemWidth, ...c.widths]) {
      if (c.norm === 'group' && w % c.normGroups !== 0) throw new BrickConfigError(`ResNet: config field 'normGroups' ${c.normGroups} must divide every width, got ${w}`);
    }
    const big = c.stem === 'imagenet';
    this.conv1 = new Conv2d({ inChannels: c.inChannels, outChannels: stemWidth, kernelSize: big ? 7 : 3, stride: big ? 2 : 1, padding: big ? 3 : 1, bias: false, impl: c.impl }, { rng });
    this.bn1 = makeNorm(c.norm, stemWidth, c.normGroups);
    const stages: BasicBlock[][] = [];
    let cin = stemWidth;
    for (let i = 0; i < s; i++) {
      const blocks: BasicBlock[] = [];
      for (let j = 0; j < c.blocksPerStage[i]!; j++) {
        const cfg = { inChannels: cin, outChannels: c.widths[i]!, stride: j === 0 ? c.strides[i]! : 1, norm: c.norm, normGroups: c.normGroups, zeroInitResidual: c.zeroInitResidual, impl: c.impl };
        blocks.push(new BasicBlock(cfg, { rng }));
        cin = c.widths[i]!;
      }
      stages.push(blocks);
    }
    [this.layer1, this.layer2, this.layer3, this.layer4] = [0, 1, 2, 3].map((i) => stages[i] ?? []) as [BasicBlock[], BasicBlock[], BasicBlock[], BasicBlock[]];
  }

  /** Output channels C. */
  get outChannels(): number {
    return this.config.widths[this.config.widths.length - 1]!;
  }

  /** Total stride from the image to the feature map (the stem's 4 or 1 times the stage strides). */
  get outputStride(): number {
    return (this.config.stem === 'imagenet' ? 4 : 1) * this.config.strides.reduce((a, b) => a * b, 1);
  }

  /** x [N, H, W, inChannels] → [N, C] (pooled) or [N, h, w, C] (featureMap) */
  forward(x: tf.Tensor, options: ResNetCallOptions = {}): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.config.inChannels]);
    const output = options.output ?? this.config.output;
    if (output !== 'pooled' && output !== 'featureMap') {
      throw new ShapeError(`ResNet${this.path ? ` '${this.path}'` : ''}: option 'output' expected 'pooled' or 'featureMap', got ${JSON.stringify(output)}`);
    }
    return tf.tidy(() => {
      let h = tf.relu(this.bn1.forward(this.conv1.forward(x)));
      if (this.config.stem === 'imagenet') h = maxPool2d(h, 3, { stride: 2, padding: 1 });
      for (const stage of [this.layer1, this.layer2, this.layer3, this.layer4]) for (const blk of stage) h = blk.forward(h);
      return output === 'pooled' ? tf.mean(h, [1, 2]) : h;
    });
  }

  override toConfig() {
    return { type: ResNet.type, ...this.config };
  }
}
registerBrick(ResNet);

/** Options of the ResNet presets. */
export interface ResNetPresetOptions extends Omit<ResNetConfig, 'widths' | 'blocksPerStage' | 'stem'> {
  /** Width of the first stage; the others double it (default 64 for ResNet-18, 16 for the tiny one). */
  width?: number;
}

/**
 * ResNet-18 (torchvision's layout: ImageNet stem, 2-2-2-2 BasicBlocks, widths w, 2w, 4w, 8w), e.g.
 * `new ResNet(resnet18Config({ width: 32 }))`; CRW's encoder: `resnet18Config({ strides: [1, 2, 1, 1], output: 'featureMap' })`.
 */
export function resnet18Config({ width = 64, ...rest }: ResNetPresetOptions = {}): ResNetConfig {
  return { stem: 'imagenet', widths: [width, 2 * width, 4 * width, 8 * width], blocksPerStage: [2, 2, 2, 2], strides: [1, 2, 2, 2], ...rest };
}

/**
 * A tiny ResNet for 32×32 toy images: CIFAR stem (3×3/1, no pool), 3 stages of one BasicBlock each,
 * widths w, 2w, 4w (default 16: 16/32/64, ~0.17 M parameters), strides 1, 2, 2: a 32×32 image gives an
 * 8×8 feature map.
 */
export function resnetTinyConfig({ width = 16, ...rest }: ResNetPresetOptions = {}): ResNetConfig {
  return { stem: 'cifar', widths: [width, 2 * width, 4 * width], blocksPerStage: [1, 1, 1], strides: [1, 2, 2], ...rest };
}
