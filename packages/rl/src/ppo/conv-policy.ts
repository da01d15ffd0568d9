import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError, Conv2d, Linear, globalRng, parameter, parseConfig, registerBrick, schemas, type BrickOptions, type Parameter, type Rng } from '@brickml/core';
import { orthogonalArray, orthogonalTensor } from './orthogonal.js';
import { ActionSchema, PolicyNet, type ActionSpec } from './policy.js';

const ConvActorCriticSchema = z
  .object({
    /** Shape of one image observation `[height, width, channels]` (channels last; flat observations are reshaped to it). */
    imageShape: z.tuple([schemas.positiveInt, schemas.positiveInt, schemas.positiveInt]),
    /** The action distribution: `{ kind: 'discrete', n }` or `{ kind: 'continuous', dim }`. */
    action: ActionSchema,
    /** Output channels of each convolution of the torso (CleanRL's Atari agent: [32, 64, 64]). */
    channels: z.array(schemas.positiveInt).min(1).default([16, 32]),
    /** Kernel size of every convolution, or one per entry of `channels` (default 3; CleanRL Atari: [8, 4, 3]). */
    kernelSizes: z.union([schemas.positiveInt, z.array(schemas.positiveInt).min(1)]).default(3),
    /** Stride of every convolution, or one per entry of `channels` (default 1; CleanRL Atari: [4, 2, 1]). */
    strides: z.union([schemas.positiveInt, z.array(schemas.positiveInt).min(1)]).default(1),
    /** Zero padding of every convolution, or one per entry (default: k // 2 for each, "same" at stride 1; CleanRL Atari: 0). */
    paddings: z.union([schemas.nonNegativeInt, z.array(schemas.nonNegativeInt).min(1)]).optional(),
    /** Width of the fully connected layer after the flattened feature map (CleanRL Atari: 512). */
    hidden: schemas.positiveInt.default(64),
    /** Multiplies the observation before the first convolution (1/255 turns uint8 pixels into [0, 1], CleanRL's `x / 255.0`). */
    inputScale: z.number().positive().default(1 / 255),
    /** Orthogonal gain of the actor's output layer (CleanRL: 0.01). */
    actorHeadGain: z.number().positive().default(0.01),
    /** Orthogonal gain of the critic's output layer (CleanRL: 1). */
    criticHeadGain: z.number().positive().default(1),
    /** Initial log standard deviation of continuous actions. */
    initLogStd: z.number().default(0),
  })
  .strict();
export type ConvActorCriticConfig = z.input<typeof ConvActorCriticSchema>;

/** Output size of a convolution along one axis. */
function convOut(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

/**
 * PPO's actor-critic for image observations, as CleanRL's Atari `Agent` (`ppo_atari.py`): a shared
 * convolutional torso `network.0..k` (core's `Conv2d`, ReLU after each) and a fully connected layer
 * `fc` (ReLU) on the flattened feature map, then a linear actor head `actor` (logits, or Gaussian
 * means with a learned `actor_logstd`) and a linear critic head `critic`. Orthogonal initialisation
 * (gain √2 on the torso and `fc`, `actorHeadGain` / `criticHeadGain` on the heads, zero biases).
 * Observations come flat (`[batch, H·W·C]`, as vector envs deliver them), channels last, and are
 * scaled by `inputScale` before the first convolution.
 */
export class ConvActorCritic extends PolicyNet {
  static readonly type = 'ConvActorCritic';
  static readonly schema = ConvActorCriticSchema;
  readonly config: z.output<typeof ConvActorCriticSchema>;
  readonly network: Conv2d[];
  readonly fc: Linear;
  readonly actor: Linear;
  readonly critic: Linear;
  readonly actor_logstd: Parameter | null;
  /** Shape of the torso's output feature map `[h, w, c]`. */
  readonly featureShape: [number, number, number];

  constructor(config: ConvActorCriticConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ConvActorCritic, config));
    const L = c.channels.length;
    const perLayer = (name: string, v: number | number[]) => {
      const arr = typeof v === 'number' ? new Array<number>(L).fill(v) : v;
      if (arr.length !== L) throw new BrickConfigError(`ConvActorCritic: config field '${name}' expected one number or ${L} entries (one per entry of 'channels'), got ${arr.length}`);
      return arr;
    };
    const kernels = perLayer('kernelSizes', c.kernelSizes);
    const strides = perLayer('strides', c.strides);
    const paddings = perLayer('paddings', c.paddings ?? kernels.map((k) => Math.floor(k / 2)));
    let [h, w, cin] = c.imageShape;
    this.network = c.channels.map((cout, i) => {
      const k = kernels[i];
      const conv = new Conv2d({ inChannels: cin, outChannels: cout, kernelSize: k, stride: strides[i], padding: paddings[i], biasInit: 'zeros' }, { rng });
      conv.weight.assign(orthogonalConv(k, cin, cout, Math.SQRT2, rng));
      conv.bias?.assign(tf.zerosLike(conv.bias));
      h = convOut(h, k, strides[i], paddings[i]);
      w = convOut(w, k, strides[i], paddings[i]);
      if (h < 1 || w < 1) throw new BrickConfigError(`ConvActorCritic: convolution ${i} leaves no output (image ${c.imageShape.join('×')}, kernel ${k}, stride ${strides[i]}, padding ${paddings[i]})`);
      cin = cout;
      return conv;
    });
    this.featureShape = [h, w, cin];
    const linear = (inF: number, outF: number, gain: number) => {
      const l = new Linear({ inFeatures: inF, outFeatures: outF, init: 'zeros', biasInit: 'zeros' }, { rng });
      const init = orthogonalTensor(outF, inF, gain, rng);
      l.weight.assign(init);
      init.dispose();
      return l;
    };
    this.fc = linear(h * w * cin, c.hidden, Math.SQRT2);
    this.actor = linear(c.hidden, c.action.kind === 'discrete' ? c.action.n : c.action.dim, c.actorHeadGain);
    this.critic = linear(c.hidden, 1, c.criticHeadGain);
    this.actor_logstd = c.action.kind === 'continuous' ? parameter(tf.fill([1, c.action.dim], c.initLogStd)) : null;
  }

  get obsDim(): number {
    const [h, w, ch] = this.config.imageShape;
    return h * w * ch;
  }

  get actionSpec(): ActionSpec {
    return this.config.action;
  }

  /** obs [batch, H·W·C] → features [batch, hidden] (the shared torso) */
  features(obs: tf.Tensor): tf.Tensor2D {
    this.checkShape('obs', obs, [null, this.obsDim]);
    let x: tf.Tensor = tf.mul(tf.reshape(obs, [-1, ...this.config.imageShape]), this.config.inputScale); // [batch, H, W, C]
    for (const conv of this.network) x = tf.relu(conv.forward(x)); // [batch, h, w, c]
    x = tf.reshape(x, [x.shape[0], -1]); // [batch, h·w·c]
    return tf.relu(this.fc.forward(x)) as tf.Tensor2D; // [batch, hidden]
  }

  /** obs [batch, H·W·C] → value [batch] */
  value(obs: tf.Tensor): tf.Tensor1D {
    return tf.reshape(this.critic.forward(this.features(obs)), [-1]) as tf.Tensor1D;
  }

  /** obs [batch, H·W·C] → logits [batch, n] (discrete) or action mean [batch, dim] (continuous) */
  actorOutput(obs: tf.Tensor): tf.Tensor2D {
    return this.actor.forward(this.features(obs)) as tf.Tensor2D;
  }

  override toConfig() {
    return { type: ConvActorCritic.type, ...this.config };
  }
}
registerBrick(ConvActorCritic);

/**
 * PyTorch's `orthogonal_` on a conv weight `[Cout, Cin, k, k]` (rows = output channels, flattened
 * over `Cin·k·k`), laid out as core's HWIO `[k, k, Cin, Cout]`.
 */
function orthogonalConv(k: number, cin: number, cout: number, gain: number, rng: Rng): tf.Tensor4D {
  const fan = cin * k * k;
  const o = orthogonalArray(cout, fan, gain, rng); // [Cout, Cin·k·k], PyTorch order (ci, i, j)
  const w = new Float32Array(k * k * cin * cout);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) w[((i * k + j) * cin + ci) * cout + co] = o[co * fan + (ci * k + i) * k + j];
      }
    }
  }
  return tf.tensor4d(w, [k, k, cin, cout]);
}
