import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Module, parameter, type Parameter, type PatchGrid, type Rng } from '@brickml/core';

/**
 * `x ← x + dwconv3×3(LN(x))` on interface tokens laid out on their patch grid: a per-channel 3×3
 * spatial filter (per frame for video), zero padding 1, with bias. An addition to RIN (config
 * `writeDepthwiseConv`; pix2seq's `conv_kernel_size` is 0 in every released config) that removes
 * patch-grid noise in small diffusion models (the flagship experiments in the diffusion README).
 *
 * The convolution is {@link depthwiseConv3x3}. Parameters: `norm` (LayerNorm), `weight` [C, 1, 3, 3]
 * (PyTorch depthwise layout; init U(±1/3) as PyTorch's conv default), `bias` [C].
 */
export class DepthwiseConvResidual extends Module {
  readonly norm: LayerNorm;
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(readonly _dim: number, eps: number, rng: Rng) {
    super();
    this.norm = new LayerNorm({ dim: _dim, eps });
    this.weight = parameter(rng.uniformTensor([_dim, 1, 3, 3], -1 / 3, 1 / 3));
    this.bias = parameter(tf.zeros([_dim]));
  }

  /** x [B, N, C] with N = frames·rows·cols → [B, N, C]. */
  forward(x: tf.Tensor, grid: PatchGrid): tf.Tensor {
    return tf.tidy(() => {
      const [b, n, c] = x.shape;
      const { frames, rows, cols } = grid;
      if (n !== frames * rows * cols) {
        throw new Error(`DepthwiseConvResidual: ${n} tokens do not fill the grid ${frames}×${rows}×${cols}`);
      }
      const h = tf.reshape(this.norm.forward(x), [b * frames, rows, cols, c]);
      const acc = depthwiseConv3x3(h, this.weight, this.bias); // [B·frames, rows, cols, C]
      return tf.add(x, tf.reshape(acc, [b, n, c]));
    });
  }
}

/** How {@link depthwiseConv3x3} computes: tfjs's depthwise convolution, or nine shifted multiply-adds. */
export type DepthwiseImpl = 'native' | 'shifted';

const NATIVE_KERNELS = ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'];

/** `native` where the active backend has the depthwise convolution and both its gradients (not wasm 4.22), else `shifted`. */
export function defaultDepthwiseImpl(): DepthwiseImpl {
  const backend = tf.getBackend();
  return NATIVE_KERNELS.every((k) => tf.getKernel(k, backend) !== undefined) ? 'native' : 'shifted';
}

/**
 * 3×3 depthwise convolution with zero padding 1 and bias, channels last: h [N, H, W, C],
 * weight [C, 1, 3, 3], bias [C] → [N, H, W, C]. `native` is one kernel (`tf.depthwiseConv2d`; a
 * GPU backend is host-bound, so ~38 kernels fewer per call count); `shifted` slices nine shifted
 * windows of a padded copy and multiply-adds them, for backends without the convolution's
 * gradients (wasm). Both compute the same cross-correlation.
 */
export function depthwiseConv3x3(h: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, impl: DepthwiseImpl = defaultDepthwiseImpl()): tf.Tensor {
  return tf.tidy(() => {
    const [n, rows, cols, c] = h.shape;
    if (impl === 'native') {
      const filter = tf.transpose(weight, [2, 3, 0, 1]) as tf.Tensor4D; // [3, 3, C, 1]
      return tf.add(tf.depthwiseConv2d(h as tf.Tensor4D, filter, 1, 'same'), bias);
    }
    const padded = tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const taps = tf.transpose(tf.reshape(weight, [c, 9])); // [9, C]
    let acc: tf.Tensor = bias;
    for (let dy = 0; dy < 3; dy++) {
      for (let dx = 0; dx < 3; dx++) {
        const shifted = tf.slice(padded, [0, dy, dx, 0], [n, rows, cols, c]);
        const tap = tf.reshape(tf.slice(taps, [dy * 3 + dx, 0], [1, c]), [c]);
        acc = tf.add(acc, tf.mul(shifted, tap)); // chained adds (no addN of > 7 inputs)
      }
    }
    return acc;
  });
}
