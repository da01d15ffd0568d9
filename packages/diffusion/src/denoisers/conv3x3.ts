/**
 * A 3×3 convolution (zero padding 1, channels last) that trains on every tfjs backend, and
 * nearest-neighbour ×2 upsampling: the convolutional parts of `UNetDenoiser`.
 *
 * tfjs-backend-wasm 4.22 has `Conv2D` and `Conv2DBackpropInput` but no
 * `Conv2DBackpropFilter`, so `tf.conv2d` cannot be trained there. {@link conv3x3} has four
 * implementations: `native` (`tf.conv2d` with tfjs's gradients, where the backend has all three
 * kernels: cpu, WebGPU, WebGL), `hybrid` (`Conv2D` forward, the input gradient as a `Conv2D` of dy
 * with the flipped filter, the filter gradient as nine plain matrix products), `im2col` (nine shifted
 * windows concatenated on channels and one matmul, tfjs autodiff) and `conv3d` (`tf.conv3d` over a
 * depth-1 volume). `auto` takes `native` where it can, else `hybrid` (fastest on wasm, see
 * {@link defaultConvImpl}).
 *
 * Weights are `[3, 3, Cin, Cout]` (tfjs HWIO layout, *not* PyTorch's OIHW).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, ShapeError, formatShape, matmul, parameter, type Parameter, type Rng } from '@brickml/core';

/** How {@link conv3x3} computes (see the module comment). */
export type ConvImpl = 'native' | 'hybrid' | 'conv3d' | 'im2col';

const NATIVE_CONV_KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];

/**
 * `native` where the active backend has `tf.conv2d` and both its gradients, else `hybrid` where it
 * has the forward and input-gradient kernels (wasm 4.22), else `im2col`. Measured on
 * tfjs-backend-wasm 4.22 (XNNPACK, 1 thread, shared 2-core machine; forward + backward of one 3×3
 * conv at batch 64, median ms; script `out/conv-bench.ts`, not shipped):
 *
 * | shape (batch 64)  | hybrid    | im2col (autodiff) | conv3d |
 * |-------------------|-----------|-------------------|--------|
 * | 16×16, 32 → 32    | 57 / 79   | 156               | 1,212  |
 * | 16×16, 96 → 32    | 164 / 240 | 405               | 3,552  |
 * | 8×8, 64 → 64      | 54 / 76   | 62                | 767    |
 * | 16×16, 3 → 32     | 34 / 69   | 26                | 76     |
 *
 * (hybrid measured twice in the same run, first and last; the machine is shared, so ±40%). A
 * 16×16 U-Net training step at batch 64 (widths 24/48) took ~0.6 s with `hybrid` (autodiff of
 * `im2col` spends most of its time in the `SplitV` that undoes the channel concat). On wasm all
 * agree with cpu's `tf.conv2d` to 1.5e-6 (forward); hybrid's gradients to 2e-6 (dx) and 8e-6 (dW).
 */
export function defaultConvImpl(): ConvImpl {
  const backend = tf.getBackend();
  const has = (k: string) => tf.getKernel(k, backend) !== undefined;
  if (NATIVE_CONV_KERNELS.every(has)) return 'native';
  return has('Conv2D') && has('Conv2DBackpropInput') ? 'hybrid' : 'im2col';
}

/** Nine shifted windows of the zero-padded input, concatenated on channels: [N, H, W, C] → [N·H·W, 9·C] in (dy, dx, c) order. */
function im2col(h: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [n, rows, cols, c] = h.shape;
    const padded = tf.pad(h, [[0, 0], [1, 1], [1, 1], [0, 0]]);
    const taps: tf.Tensor[] = [];
    for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) taps.push(tf.slice(padded, [0, dy, dx, 0], [n, rows, cols, c]));
    return tf.reshape(tf.concat(taps, 3), [n * rows * cols, 9 * c]); // (dy, dx, c) order = HWIO weight flattened
  });
}

/**
 * Only `Conv2D` (XNNPACK on wasm) and plain matrix products, forward and backward:
 * - y  = conv2d(x, W);
 * - dx = conv2d(dy, W′) with W′[i, j, co, ci] = W[2 − i, 2 − j, ci, co] (the input gradient of a
 *   stride-1 'same' 3×3 conv is a 3×3 conv of dy with the flipped, transposed filter);
 * - dW[i, j] = x_ijᵀ · dy for the nine shifted windows x_ij of the padded x, computed as
 *   dyᵀ · x_ij with core's `matmul` so that only dy (Cout wide) is transposed.
 */
const hybridConv = tf.customGrad(((x: tf.Tensor4D, w: tf.Tensor4D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.conv2d(x, w, 1, 'same'),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
      const [n, rows, cols, cout] = dy.shape;
      const cin = xs.shape[3];
      const flipped = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [3, 3, Cout, Cin]
      const dx = tf.conv2d(dy as tf.Tensor4D, flipped, 1, 'same');
      const dyT = tf.transpose(tf.reshape(dy, [n * rows * cols, cout])); // [Cout, N·H·W]
      const padded = tf.pad(xs, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      const taps: tf.Tensor[] = [];
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 3; j++) {
          const win = tf.reshape(tf.slice(padded, [0, i, j, 0], [n, rows, cols, cin]), [n * rows * cols, cin]);
          taps.push(tf.reshape(matmul(dyT, win), [1, cout, cin])); // [1, Cout, Cin]
        }
      }
      const dw = tf.reshape(tf.transpose(tf.concat(taps, 0), [0, 2, 1]), [3, 3, cin, cout]);
      return [dx, dw];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

/**
 * 3×3 convolution (cross-correlation), stride 1, zero padding 1, with bias, channels last:
 * h `[N, H, W, Cin]`, weight `[3, 3, Cin, Cout]`, bias `[Cout]` → `[N, H, W, Cout]`.
 */
export function conv3x3(h: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, impl: ConvImpl = defaultConvImpl()): tf.Tensor {
  return tf.tidy(() => {
    const [n, rows, cols, cin] = h.shape;
    const cout = weight.shape[3] as number;
    if (h.rank !== 4 || weight.rank !== 4 || weight.shape[0] !== 3 || weight.shape[1] !== 3 || weight.shape[2] !== cin) {
      throw new ShapeError(`conv3x3: expected h [N, H, W, Cin] and weight [3, 3, Cin, Cout], got h ${formatShape(h.shape)} and weight ${formatShape(weight.shape)}`);
    }
    if (impl === 'native') return tf.add(tf.conv2d(h as tf.Tensor4D, weight as tf.Tensor4D, 1, 'same'), bias);
    if (impl === 'hybrid') return tf.add(hybridConv(h as tf.Tensor4D, weight as tf.Tensor4D), bias);
    if (impl === 'conv3d') {
      const y = tf.conv3d(tf.reshape(h, [n, 1, rows, cols, cin]) as tf.Tensor5D, tf.reshape(weight, [1, 3, 3, cin, cout]) as tf.Tensor5D, 1, 'same');
      return tf.add(tf.reshape(y, [n, rows, cols, cout]), bias);
    }
    const y = matmul(im2col(h), tf.reshape(weight, [9 * cin, cout]));
    return tf.reshape(tf.add(y, bias), [n, rows, cols, cout]);
  });
}

/**
 * Nearest-neighbour ×2 upsampling, [N, H, W, C] → [N, 2H, 2W, C], as a broadcast product with ones
 * (gradient: a sum; `tf.broadcastTo`/`tf.tile` have no gradient above rank 4).
 * Not `tf.image.resizeNearestNeighbor`: tfjs-backend-cpu 4.22's `ResizeNearestNeighborGrad` returns
 * wrong values (max error 5.6 on a [2, 4, 4, 3] → [2, 8, 8, 3] check, where wasm's kernel and this
 * function agree with each other and with finite differences), and the tests run on cpu.
 */
export function upsample2(h: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [n, rows, cols, c] = h.shape;
    return tf.reshape(tf.mul(tf.reshape(h, [n * rows, 1, cols, 1, c]), tf.ones([1, 2, 1, 2, 1])), [n, 2 * rows, 2 * cols, c]);
  });
}

/** A 3×3 convolution brick part: `weight` [3, 3, Cin, Cout], `bias` [Cout]. */
export class Conv3x3 extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly inChannels: number, readonly outChannels: number, rng: Rng, zeroInit = false, readonly impl: ConvImpl | 'auto' = 'auto') {
    super();
    const bound = 1 / Math.sqrt(9 * inChannels);
    this.weight = parameter(zeroInit ? tf.zeros([3, 3, inChannels, outChannels]) : rng.uniformTensor([3, 3, inChannels, outChannels], -bound, bound));
    this.bias = parameter(tf.zeros([outChannels]));
  }

  /** x [N, H, W, Cin] → [N, H, W, Cout] */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, null, null, this.inChannels]);
    return conv3x3(x, this.weight, this.bias, this.impl === 'auto' ? defaultConvImpl() : this.impl);
  }
}
