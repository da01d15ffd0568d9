/** Group normalisation of channels-last feature maps (a part of `UNetDenoiser`). */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, Module, parameter, type Parameter } from '@brickml/core';

/** Group normalisation over channels-last maps: x [N, H, W, C], `groups` | C; `weight` (1) and `bias` (0) [C]. */
export class GroupNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly channels: number, readonly groups: number, readonly eps: number) {
    super();
    if (channels % groups !== 0) throw new BrickConfigError(`GroupNorm: ${channels} channels are not divisible into ${groups} groups`);
    this.weight = parameter(tf.ones([channels]));
    this.bias = parameter(tf.zeros([channels]));
  }

  /** x [N, H, W, C] → [N, H, W, C] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.channels]);
    return tf.tidy(() => {
      const [n, h, w, c] = x.shape;
      const g = tf.reshape(x, [n, h * w, this.groups, c / this.groups]);
      const { mean, variance } = tf.moments(g, [1, 3], true);
      const normed = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, this.eps))), [n, h, w, c]);
      return tf.add(tf.mul(normed, this.weight), this.bias);
    });
  }
}
