/**
 * Pooling over channels-last maps `[N, H, W, C]`, as PyTorch's `F.max_pool2d`, `F.avg_pool2d` and
 * `F.adaptive_avg_pool2d` (floor output sizes; `ceil_mode` and pooling dilation are not offered).
 *
 * Backends: average pooling uses tfjs's `AvgPool` and `AvgPoolGrad` kernels (cpu, wasm 4.22, WebGL,
 * WebGPU; wasm's gradient equals cpu's to 6e-8). Max pooling uses `MaxPool` with tfjs's gradient
 * (`native`) except on wasm: tfjs-backend-wasm 4.22's `MaxPoolGrad` returns wrong values (max error
 * 0.48 against cpu, which matches PyTorch, for a 2×2/2 pool of a [2, 7, 6, 3] map; 0.09 for 3×3/2
 * padded by 1), so there `auto` takes `taps`: the maximum of the kernel taps' strided windows, whose
 * autodiff gives each window's gradient to its first maximum, as PyTorch does. Padding is applied with `tf.pad` (−∞ for max, zeros for average) before a 'valid' pool, so
 * the numbers follow PyTorch's conventions rather than TensorFlow's 'SAME' ones. Adaptive average
 * pooling is a product with two averaging matrices (core's `matmul`), exact for any output size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '../errors.js';
import { matmul } from './matmul.js';
import { convOutputSize, size2, tapWindowDiff, type Pads2, type Size2 } from './conv.js';

/** Options of {@link maxPool2d} and {@link avgPool2d}. */
export interface Pool2dOptions {
  /** Stride (default: the kernel size, as PyTorch). */
  stride?: Size2;
  /** Padding on both sides of each axis (default 0; at most half the kernel, as PyTorch). */
  padding?: Size2;
  /** Average pooling only: count padded zeros in the divisor (PyTorch's `count_include_pad`, default true). */
  countIncludePad?: boolean;
  /** Max pooling only: `native` (`tf.maxPool`), `taps` (maximum of shifted windows) or `auto` (see the module comment). */
  impl?: MaxPoolImpl | 'auto';
}

/** How {@link maxPool2d} computes (see the module comment). */
export type MaxPoolImpl = 'native' | 'taps';

/** `taps` on wasm (whose `MaxPoolGrad` is wrong in tfjs 4.22) or where `MaxPool` is missing, else `native`. */
export function defaultMaxPoolImpl(): MaxPoolImpl {
  const backend = tf.getBackend();
  return backend === 'wasm' || tf.getKernel('MaxPool', backend) === undefined || tf.getKernel('MaxPoolGrad', backend) === undefined ? 'taps' : 'native';
}

function poolGeometry(what: string, x: tf.Tensor, kernelSize: Size2, options: Pool2dOptions) {
  if (x.rank !== 4) throw new ShapeError(`${what}: expected x [N, H, W, C], got ${formatShape(x.shape)}`);
  const kernel = size2(kernelSize, `${what}: argument 'kernelSize'`);
  const stride = size2(options.stride ?? kernel, `${what}: option 'stride'`);
  const [ph, pw] = size2(options.padding ?? 0, `${what}: option 'padding'`, 0);
  if (2 * ph > kernel[0] || 2 * pw > kernel[1]) {
    throw new ShapeError(`${what}: option 'padding' [${ph}, ${pw}] must be at most half the kernel ${kernel[0]}×${kernel[1]}`);
  }
  const pads: Pads2 = [[ph, ph], [pw, pw]];
  const out = convOutputSize([x.shape[1] as number, x.shape[2] as number], kernel, stride, pads);
  if (out[0] < 1 || out[1] < 1) throw new ShapeError(`${what}: input ${formatShape(x.shape)} is smaller than the kernel ${kernel[0]}×${kernel[1]}`);
  return { kernel, stride, pads, padded: ph > 0 || pw > 0 };
}

const explicit = (p: Pads2): Array<[number, number]> => [[0, 0], p[0], p[1], [0, 0]];

/** Max pooling: x [N, H, W, C] → [N, Ho, Wo, C]; padding counts as −∞. */
export function maxPool2d(x: tf.Tensor, kernelSize: Size2, options: Pool2dOptions = {}): tf.Tensor {
  const g = poolGeometry('maxPool2d', x, kernelSize, options);
  const impl = !options.impl || options.impl === 'auto' ? defaultMaxPoolImpl() : options.impl;
  return tf.tidy(() => {
    if (impl === 'native') {
      const xp = g.padded ? tf.pad(x, explicit(g.pads), -Infinity) : x;
      return tf.maxPool(xp as tf.Tensor4D, g.kernel, g.stride, 'valid');
    }
    const [, h, w] = x.shape as [number, number, number, number];
    const out = convOutputSize([h, w], g.kernel, g.stride, g.pads);
    // Pad with −∞ by the padding, and far enough for the windows' folds.
    const extra = (a: 0 | 1) => Math.max(g.kernel[a] - 1 + out[a] * g.stride[a] - ([h, w][a]! + 2 * g.pads[a][0]), 0);
    const xp = tf.pad(x, [[0, 0], [g.pads[0][0], g.pads[0][1] + extra(0)], [g.pads[1][0], g.pads[1][1] + extra(1)], [0, 0]], -Infinity);
    let y: tf.Tensor | null = null;
    for (let i = 0; i < g.kernel[0]; i++) {
      for (let j = 0; j < g.kernel[1]; j++) {
        const win = tapWindowDiff(xp, i, j, out, g.stride);
        y = y ? tf.maximum(y, win) : win;
      }
    }
    return y!;
  });
}

/** Average pooling: x [N, H, W, C] → [N, Ho, Wo, C] (padding as zeros; see `countIncludePad`). */
export function avgPool2d(x: tf.Tensor, kernelSize: Size2, options: Pool2dOptions = {}): tf.Tensor {
  const g = poolGeometry('avgPool2d', x, kernelSize, options);
  return tf.tidy(() => {
    if (!g.padded) return tf.avgPool(x as tf.Tensor4D, g.kernel, g.stride, 'valid');
    const y = tf.avgPool(tf.pad(x, explicit(g.pads)) as tf.Tensor4D, g.kernel, g.stride, 'valid');
    if (options.countIncludePad ?? true) return y;
    // Divide by the number of real pixels in each window instead of kh·kw.
    const [, h, w] = x.shape;
    const ones = tf.pad(tf.ones([1, h, w, 1]), explicit(g.pads));
    return tf.div(y, tf.avgPool(ones as tf.Tensor4D, g.kernel, g.stride, 'valid'));
  });
}

/** PyTorch's adaptive bins as an averaging matrix [out, in]: row i averages in[⌊i·in/out⌋, ⌈(i+1)·in/out⌉). */
export function adaptiveAvgMatrix(inSize: number, outSize: number): tf.Tensor2D {
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const start = Math.floor((i * inSize) / outSize);
    const end = Math.ceil(((i + 1) * inSize) / outSize);
    for (let j = start; j < end; j++) m[i * inSize + j] = 1 / (end - start);
  }
  return tf.tensor2d(m, [outSize, inSize]);
}

/**
 * Adaptive average pooling to `outputSize`, x [N, H, W, C] → [N, oh, ow, C], PyTorch's bins. 1×1 is
 * a mean over H and W; sizes that divide H and W are an average pool; others two matrix products.
 */
export function adaptiveAvgPool2d(x: tf.Tensor, outputSize: Size2 = 1): tf.Tensor {
  if (x.rank !== 4) throw new ShapeError(`adaptiveAvgPool2d: expected x [N, H, W, C], got ${formatShape(x.shape)}`);
  const [oh, ow] = size2(outputSize, "adaptiveAvgPool2d: argument 'outputSize'");
  const [, h, w] = x.shape as [number, number, number, number];
  return tf.tidy(() => {
    if (oh === 1 && ow === 1) return tf.mean(x, [1, 2], true);
    if (h % oh === 0 && w % ow === 0) return tf.avgPool(x as tf.Tensor4D, [h / oh, w / ow], [h / oh, w / ow], 'valid');
    return separable2d(x, adaptiveAvgMatrix(h, oh), adaptiveAvgMatrix(w, ow));
  });
}

/**
 * y[n, i, j, c] = Σ_{h, w} rows[i, h] · cols[j, w] · x[n, h, w, c]: a separable linear map of the two
 * spatial axes, x [N, H, W, C], rows [oh, H], cols [ow, W] → [N, oh, ow, C] (two core `matmul`s).
 */
export function separable2d(x: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const oh = rows.shape[0] as number;
    const ow = cols.shape[0] as number;
    const r = matmul(rows, tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c])); // [oh, N·W·C]
    const r4 = tf.transpose(tf.reshape(r, [oh, n, w, c]), [2, 1, 0, 3]); // [W, N, oh, C]
    const y = matmul(cols, tf.reshape(r4, [w, n * oh * c])); // [ow, N·oh·C]
    return tf.transpose(tf.reshape(y, [ow, n, oh, c]), [1, 2, 0, 3]); // [N, oh, ow, C]
  });
}

/**
 * Linear interpolation weights [out, in] of PyTorch's `mode='bilinear', align_corners=False` along one
 * axis at scale out / in: source coordinate (i + ½)·in/out − ½, clamped at 0, between its two neighbours.
 */
export function bilinearMatrix(inSize: number, outSize: number): tf.Tensor2D {
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(((i + 0.5) * inSize) / outSize - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l = src - i0;
    m[i * inSize + i0] += 1 - l;
    m[i * inSize + i1] += l;
  }
  return tf.tensor2d(m, [outSize, inSize]);
}

/**
 * Bilinear resize (PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`), x [N, H, W, C] →
 * [N, oh, ow, C], as two products with interpolation matrices (a gradient on every backend).
 */
export function resizeBilinear(x: tf.Tensor, size: [number, number]): tf.Tensor {
  if (x.rank !== 4) throw new ShapeError(`resizeBilinear: expected x [N, H, W, C], got ${formatShape(x.shape)}`);
  const [oh, ow] = size2(size, "resizeBilinear: argument 'size'");
  return tf.tidy(() => separable2d(x, bilinearMatrix(x.shape[1] as number, oh), bilinearMatrix(x.shape[2] as number, ow)));
}
