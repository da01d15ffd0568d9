/**
 * 2-D convolution (cross-correlation, as PyTorch's `F.conv2d`) over channels-last maps, with a choice
 * of implementation per backend, and the transposed convolution built on it.
 *
 * Layouts: x `[N, H, W, Cin]` (tfjs), weight `[kh, kw, Cin/groups, Cout]` (tfjs HWIO; PyTorch's
 * `Conv2d.weight` is OIHW `[Cout, Cin/groups, kh, kw]`, so `ours = theirs.permute(2, 3, 1, 0)`).
 *
 * tfjs-backend-wasm 4.22 has the `Conv2D`, `Conv2DBackpropInput` and `DepthwiseConv2dNative` kernels
 * but neither `Conv2DBackpropFilter` nor the depthwise backprops, so `tf.conv2d` and
 * `tf.depthwiseConv2d` cannot be trained there. Implementations ({@link ConvImpl}):
 * - `native`: `tf.conv2d` / `tf.depthwiseConv2d` with tfjs's gradients (cpu, WebGL, WebGPU);
 * - `hybrid`: the forward kernel, and a gradient of BrickML's made only of kernels wasm has: the input
 *   gradient is a stride-1 convolution of the zero-inserted dy with the flipped, transposed filter;
 *   the filter gradient is one more `Conv2D`, of x with batch and channels swapped by dy as the
 *   filter (dilated by the stride), or for depthwise filters a multiply-and-sum per kernel tap;
 * - `im2col`: the kernel taps' windows concatenated on channels and one matmul, tfjs autodiff
 *   (the reference: slices, pads, reshapes and a product, which every backend has);
 * - `conv3d`: `tf.conv3d` over a depth-1 volume (wasm has `Conv3DBackpropFilterV2`; slow; groups 1).
 *
 * `auto` picks `native` where the backend has the forward and both backward kernels (except plain
 * convs on cpu, where a tiny-ResNet training step took 2.8 s with `hybrid` against 13.8 s native), else `hybrid` where it has the forward kernel, else
 * `im2col` ({@link defaultConvImpl}). Measured on tfjs-backend-wasm 4.22 (XNNPACK, 1 thread, a shared
 * 2-core machine at load ~10; value + gradients of x and W of one 3×3 conv at batch 64, median ms,
 * each measured twice, interleaved): `hybrid` against @brickml/diffusion's former `conv3x3` hybrid,
 * whose filter gradient was nine matrix products over shifted windows:
 *
 * | shape (batch 64)  | former conv3x3 | hybrid    | hybrid, stride 2 | im2col (autodiff) |
 * |-------------------|----------------|-----------|------------------|-------------------|
 * | 16×16, 32 → 32    | 178 / 166      | 122 / 129 | 108              | 955               |
 * | 16×16, 96 → 32    | 613 / 563      | 249 / 314 | 135              | 2,229             |
 * | 8×8, 64 → 64      | 168 / 167      | 102 / 94  | 64               | 611               |
 * | 16×16, 3 → 32     | 57 / 61        | 31 / 34   | 40               | 98                |
 *
 * (The former table, at lower load: conv3d 767–3,552 ms for the same shapes; it stays available for
 * groups 1.) The tests hold `auto` (hybrid) on wasm to 1e-5 of cpu's native conv, relative to the
 * largest value, in the output and both gradients.
 *
 * Dilation is applied by spreading the filter (zeros between taps) before any implementation runs,
 * so every implementation, and every gradient, handles it (tfjs's own conv gradients refuse dilation
 * above 1); it costs d² more multiply-adds than a dilated kernel would.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '../errors.js';
import { matmul } from './matmul.js';

/** How {@link conv2d} computes (see the module comment). */
export type ConvImpl = 'native' | 'hybrid' | 'im2col' | 'conv3d';

/** A size given once for both spatial axes, or as `[height, width]`. */
export type Size2 = number | [number, number];

/**
 * Zero padding of a convolution: a number (both sides of both axes, PyTorch's `padding=p`),
 * `[ph, pw]`, `'valid'` (none) or `'same'` (output size ⌈in / stride⌉, the odd pixel at the
 * bottom/right as TensorFlow and PyTorch do; PyTorch allows `'same'` only at stride 1, where both agree).
 */
export type ConvPadding = number | [number, number] | 'same' | 'valid';

/** Explicit padding `[[top, bottom], [left, right]]`. */
export type Pads2 = [[number, number], [number, number]];

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: Size2;
  /** Zero padding (default 0, as PyTorch). */
  padding?: ConvPadding;
  /** Spacing between kernel taps (default 1). */
  dilation?: Size2;
  /** Channel groups: Cin and Cout divisible by it; `groups = Cin` is a depthwise conv (default 1). */
  groups?: number;
  /** Implementation (default `auto`: {@link defaultConvImpl}). */
  impl?: ConvImpl | 'auto';
}

const NATIVE_KERNELS = {
  conv: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  depthwise: ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
} as const;

/**
 * The implementation `auto` takes on the active backend: `native` where it has the forward kernel and
 * both gradient kernels (WebGL, WebGPU; cpu for depthwise convs), `hybrid` where it has the forward
 * kernel (wasm 4.22), else `im2col`. Plain convs on tfjs-backend-cpu take `hybrid` too: its
 * `Conv2DBackpropFilter` is a slow scalar loop (a training step of `resnetTinyConfig({ width: 8 })` at
 * batch 32 on 16×16 images: 13.8 s native, 2.8 s hybrid, same machine). `kind` is `depthwise` for
 * `groups = Cin`.
 */
export function defaultConvImpl(kind: 'conv' | 'depthwise' = 'conv'): ConvImpl {
  const backend = tf.getBackend();
  const has = (k: string) => tf.getKernel(k, backend) !== undefined;
  const names = NATIVE_KERNELS[kind];
  if (kind === 'conv' && backend === 'cpu' && has(names[0])) return 'hybrid';
  if (names.every(has)) return 'native';
  return has(names[0]) ? 'hybrid' : 'im2col';
}

/** `[h, w]` from a number or a pair, checked to be positive integers. */
export function size2(v: Size2, what: string, min = 1): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((n) => Number.isInteger(n) && n >= min)) {
    throw new ShapeError(`${what} expected an integer ≥ ${min} or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/**
 * Explicit padding for a map of `inSize` under a (dilated) kernel of `kernel` at `stride`
 * (see {@link ConvPadding}).
 */
export function resolvePadding(padding: ConvPadding, inSize: [number, number], kernel: [number, number], stride: [number, number], what = 'conv2d'): Pads2 {
  if (padding === 'valid') return [[0, 0], [0, 0]];
  if (padding === 'same') {
    const side = (i: 0 | 1): [number, number] => {
      const out = Math.ceil(inSize[i] / stride[i]);
      const total = Math.max((out - 1) * stride[i] + kernel[i] - inSize[i], 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    return [side(0), side(1)];
  }
  const [ph, pw] = size2(padding, `${what}: option 'padding'`, 0);
  return [[ph, ph], [pw, pw]];
}

/** Output size of a convolution or pooling window `kernel` at `stride` over a map padded by `pads`. */
export function convOutputSize(inSize: [number, number], kernel: [number, number], stride: [number, number], pads: Pads2): [number, number] {
  return [0, 1].map((i) => Math.floor((inSize[i] + pads[i][0] + pads[i][1] - kernel[i]) / stride[i]) + 1) as [number, number];
}

const explicit = (p: Pads2): [[number, number], [number, number], [number, number], [number, number]] => [[0, 0], p[0], p[1], [0, 0]];
const isZero = (p: Pads2) => p[0][0] === 0 && p[0][1] === 0 && p[1][0] === 0 && p[1][1] === 0;

/** Pads (positive entries) and crops (negative entries) the two spatial axes of [N, H, W, C]. */
function padOrCrop(x: tf.Tensor, p: Pads2): tf.Tensor {
  const [n, h, w, c] = x.shape;
  const cut = (v: number) => Math.max(-v, 0);
  const [t, b, l, r] = [cut(p[0][0]), cut(p[0][1]), cut(p[1][0]), cut(p[1][1])];
  let y = t + b + l + r > 0 ? tf.slice(x, [0, t, l, 0], [n, h - t - b, w - l - r, c]) : x;
  const add: Pads2 = [[Math.max(p[0][0], 0), Math.max(p[0][1], 0)], [Math.max(p[1][0], 0), Math.max(p[1][1], 0)]];
  if (!isZero(add)) y = tf.pad(y, explicit(add));
  return y;
}

/**
 * Spreads a map (or a filter's two leading axes) by `factor`: `factor − 1` zeros between neighbours,
 * [A, B, ...rest] → [(A − 1)·fa + 1, (B − 1)·fb + 1, ...rest]. Reshapes, pads and slices only, so it
 * has a gradient on every backend. `axis` 0 spreads the first two axes, 1 the second and third.
 */
function spread(x: tf.Tensor, factor: [number, number], axis: 0 | 1): tf.Tensor {
  let y = x;
  for (const k of [0, 1] as const) {
    const f = factor[k];
    if (f === 1) continue;
    const ax = axis + k;
    const shape = y.shape;
    const lead = shape.slice(0, ax).reduce((a, b) => a * b, 1);
    const len = shape[ax];
    const tail = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const z = tf.pad(tf.reshape(y, [lead, len, 1, tail]), [[0, 0], [0, 0], [0, f - 1], [0, 0]]); // [lead, len, f, tail]
    const out = [...shape];
    out[ax] = (len - 1) * f + 1;
    y = tf.reshape(tf.slice(tf.reshape(z, [lead, len * f, tail]), [0, 0, 0], [lead, (len - 1) * f + 1, tail]), out);
  }
  return y;
}

/** Window of kernel tap (i, j): rows i, i + sh, …, i + (Ho − 1)·sh of the padded map (no gradient needed). */
function tapWindow(xp: tf.Tensor, i: number, j: number, out: [number, number], stride: [number, number]): tf.Tensor {
  const [n, , , c] = xp.shape;
  if (stride[0] === 1 && stride[1] === 1) return tf.slice(xp, [0, i, j, 0], [n, out[0], out[1], c]);
  return tf.stridedSlice(xp, [0, i, j, 0], [n, i + (out[0] - 1) * stride[0] + 1, j + (out[1] - 1) * stride[1] + 1, c], [1, stride[0], stride[1], 1]);
}

/**
 * Window of kernel tap (i, j) with a gradient on every backend (slices and reshapes only): rows
 * i, i + sh, …, i + (Ho − 1)·sh and the matching columns of xp [N, Hp, Wp, C], as [N, Ho, Wo, C]. xp
 * must reach row i + Ho·sh − 1 (pad it so): the rows are folded to [N·Ho, sh, Wo, sw·C] and cut to the
 * first row and column of each fold.
 */
export function tapWindowDiff(xp: tf.Tensor, i: number, j: number, out: [number, number], stride: [number, number]): tf.Tensor {
  const [n, , , c] = xp.shape;
  const [sh, sw] = stride;
  if (sh === 1 && sw === 1) return tf.slice(xp, [0, i, j, 0], [n, out[0], out[1], c]);
  const block = tf.slice(xp, [0, i, j, 0], [n, out[0] * sh, out[1] * sw, c]);
  const folded = tf.reshape(block, [n * out[0], sh, out[1], sw * c]);
  return tf.reshape(tf.slice(folded, [0, 0, 0, 0], [n * out[0], 1, out[1], c]), [n, out[0], out[1], c]);
}

/** Geometry shared by the implementations (dilation already spread into the filter). */
interface Geometry {
  stride: [number, number];
  pads: Pads2;
  kernel: [number, number];
  inSize: [number, number];
  outSize: [number, number];
}

/** Padding of dy so that a stride-1 'valid' conv with the flipped filter gives dx (see the module comment). */
function inputGradPads(g: Geometry): Pads2 {
  const side = (a: 0 | 1): [number, number] => {
    const padded = g.inSize[a] + g.pads[a][0] + g.pads[a][1];
    const extra = padded - ((g.outSize[a] - 1) * g.stride[a] + g.kernel[a]);
    return [g.kernel[a] - 1 - g.pads[a][0], g.kernel[a] - 1 + extra - g.pads[a][1]];
  };
  return [side(0), side(1)];
}

/** Stride-1 'valid' conv of `u` after padding/cropping by `p` (the padding passed to the kernel where it is non-negative). */
function convPadded(u: tf.Tensor, w: tf.Tensor, p: Pads2, depthwise: boolean): tf.Tensor {
  const nonNeg = p.every((s) => s[0] >= 0 && s[1] >= 0);
  const input = nonNeg ? u : padOrCrop(u, p);
  const pad = nonNeg && !isZero(p) ? explicit(p) : 'valid';
  return depthwise ? tf.depthwiseConv2d(input as tf.Tensor4D, w as tf.Tensor4D, 1, pad) : tf.conv2d(input as tf.Tensor4D, w as tf.Tensor4D, 1, pad);
}

const hybridCache = new Map<string, (x: tf.Tensor, w: tf.Tensor) => tf.Tensor>();

/** `hybrid` conv (groups 1, or depthwise with filter [kh, kw, Cin, mult]) for one geometry. */
function hybridFor(g: Geometry, depthwise: boolean): (x: tf.Tensor, w: tf.Tensor) => tf.Tensor {
  const key = JSON.stringify([g.stride, g.pads, depthwise]);
  const hit = hybridCache.get(key);
  if (hit) return hit;
  const pad = isZero(g.pads) ? 'valid' : explicit(g.pads);
  const f = tf.customGrad(((x: tf.Tensor4D, w: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([x, w]);
    const value = depthwise ? tf.depthwiseConv2d(x, w, g.stride, pad) : tf.conv2d(x, w, g.stride, pad);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [n, , , cin] = xs.shape;
        const [kh, kw, , second] = ws.shape; // second: Cout, or the depthwise multiplier
        const geo: Geometry = { ...g, kernel: [kh, kw], inSize: [xs.shape[1], xs.shape[2]], outSize: [dy.shape[1] as number, dy.shape[2] as number] };
        const u = spread(dy, g.stride, 1); // zero-inserted dy
        const flipped = tf.reverse(ws, [0, 1]);
        if (depthwise) {
          const full = convPadded(u, tf.reshape(flipped, [kh, kw, cin * second, 1]), inputGradPads(geo), true); // [N, H, W, Cin·mult]
          const dx = second === 1 ? full : tf.sum(tf.reshape(full, [n, xs.shape[1], xs.shape[2], cin, second]), 4);
          // dW[i, j, c, m] = Σ over pixels of window_ij[c] · dy[c·mult + m]: a multiply-and-sum per tap.
          const xp = isZero(g.pads) ? xs : tf.pad(xs, explicit(g.pads));
          const p = n * geo.outSize[0] * geo.outSize[1];
          const dy3 = tf.reshape(dy, [p, cin, second]);
          const taps: tf.Tensor[] = [];
          for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
            taps.push(tf.sum(tf.mul(tf.reshape(tapWindow(xp, i, j, geo.outSize, g.stride), [p, cin, 1]), dy3), 0)); // [Cin, mult]
          }
          return [dx, tf.reshape(tf.stack(taps), [kh, kw, cin, second])];
        }
        const dx = convPadded(u, tf.transpose(flipped, [0, 1, 3, 2]), inputGradPads(geo), false); // filter [kh, kw, Cout, Cin]
        // dW[i, j, ci, co] = Σ_{n, oy, ox} xp[n, oy·sh + i, ox·sw + j, ci] · dy[n, oy, ox, co]: one Conv2D
        // with batch and channels swapped (x as [Cin, H, W, N], dy as the filter [Ho, Wo, N, Cout],
        // dilated by the stride), cut to the kernel size.
        const xT = tf.transpose(xs, [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, H, W, N]
        const dyF = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Cout]
        const full = tf.conv2d(xT, dyF, 1, pad, 'NHWC', g.stride); // [Cin, ≥ kh, ≥ kw, Cout]
        const dw = tf.transpose(tf.slice(full, [0, 0, 0, 0], [cin, kh, kw, second]), [1, 2, 0, 3]);
        return [dx, dw];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;
  hybridCache.set(key, f);
  return f;
}

/** Groups-1 convolution with one implementation: x [N, H, W, Cin], w [kh, kw, Cin, Cout]. */
function convCore(x: tf.Tensor, w: tf.Tensor, g: Geometry, impl: ConvImpl): tf.Tensor {
  const pad = isZero(g.pads) ? 'valid' : explicit(g.pads);
  switch (impl) {
    case 'native':
      return tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, g.stride, pad);
    case 'hybrid':
      return hybridFor(g, false)(x, w);
    case 'conv3d': {
      const [n, h, wd, cin] = x.shape;
      const xp = tf.pad(x, explicit(g.pads));
      const [kh, kw, , cout] = w.shape;
      const y = tf.conv3d(
        tf.reshape(xp, [n, 1, h + g.pads[0][0] + g.pads[0][1], wd + g.pads[1][0] + g.pads[1][1], cin]) as tf.Tensor5D,
        tf.reshape(w, [1, kh, kw, cin, cout]) as tf.Tensor5D,
        [1, g.stride[0], g.stride[1]],
        'valid',
      );
      return tf.reshape(y, [n, g.outSize[0], g.outSize[1], cout]);
    }
    case 'im2col': {
      const [n, , , cin] = x.shape;
      const [kh, kw, , cout] = w.shape;
      const xp = paddedForWindows(x, g);
      const taps: tf.Tensor[] = [];
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) taps.push(tapWindowDiff(xp, i, j, g.outSize, g.stride));
      const cols = tf.reshape(tf.concat(taps, 3), [n * g.outSize[0] * g.outSize[1], kh * kw * cin]); // (i, j, c) order = HWIO flattened
      return tf.reshape(matmul(cols, tf.reshape(w, [kh * kw * cin, cout])), [n, g.outSize[0], g.outSize[1], cout]);
    }
  }
}

/** x zero-padded by `g.pads`, plus enough at the bottom/right for {@link tapWindowDiff}'s folds. */
function paddedForWindows(x: tf.Tensor, g: Geometry): tf.Tensor {
  const need = (a: 0 | 1) => g.kernel[a] - 1 + g.outSize[a] * g.stride[a] - (g.inSize[a] + g.pads[a][0] + g.pads[a][1]);
  const p: Pads2 = [[g.pads[0][0], g.pads[0][1] + Math.max(need(0), 0)], [g.pads[1][0], g.pads[1][1] + Math.max(need(1), 0)]];
  return isZero(p) ? x : tf.pad(x, explicit(p));
}

/** Depthwise convolution with one implementation: x [N, H, W, Cin], w [kh, kw, Cin, mult] → [N, Ho, Wo, Cin·mult]. */
function depthwiseCore(x: tf.Tensor, w: tf.Tensor, g: Geometry, impl: ConvImpl): tf.Tensor {
  const pad = isZero(g.pads) ? 'valid' : explicit(g.pads);
  if (impl === 'native') return tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, g.stride, pad);
  if (impl === 'hybrid') return hybridFor(g, true)(x, w);
  if (impl === 'conv3d') throw new ShapeError(`conv2d: impl 'conv3d' supports groups 1 only; use 'native', 'hybrid' or 'im2col' for a depthwise conv`);
  const [n, , , cin] = x.shape;
  const [kh, kw, , mult] = w.shape;
  const xp = paddedForWindows(x, g);
  let acc: tf.Tensor | null = null;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const win = tf.reshape(tapWindowDiff(xp, i, j, g.outSize, g.stride), [n, g.outSize[0], g.outSize[1], cin, 1]);
      const term = tf.mul(win, tf.reshape(tf.slice(w, [i, j, 0, 0], [1, 1, cin, mult]), [cin, mult])); // [N, Ho, Wo, Cin, mult]
      acc = acc ? tf.add(acc, term) : term;
    }
  }
  return tf.reshape(acc!, [n, g.outSize[0], g.outSize[1], cin * mult]);
}

/**
 * 2-D convolution (cross-correlation), channels last, as PyTorch's `F.conv2d`: x `[N, H, W, Cin]`,
 * weight `[kh, kw, Cin/groups, Cout]`, bias `[Cout]` or null → `[N, Ho, Wo, Cout]` with
 * Ho = ⌊(H + pad_top + pad_bottom − dh·(kh − 1) − 1) / sh⌋ + 1. See the module comment for layouts
 * and implementations.
 */
export function conv2d(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null = null, options: Conv2dOptions = {}): tf.Tensor {
  const groups = options.groups ?? 1;
  if (x.rank !== 4 || weight.rank !== 4) {
    throw new ShapeError(`conv2d: expected x [N, H, W, Cin] and weight [kh, kw, Cin/groups, Cout], got x ${formatShape(x.shape)} and weight ${formatShape(weight.shape)}`);
  }
  const [, h, w, cin] = x.shape as [number, number, number, number];
  const cout = weight.shape[3] as number;
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0) {
    throw new ShapeError(`conv2d: option 'groups' expected a positive integer dividing Cin ${cin} and Cout ${cout}, got ${groups}`);
  }
  if (weight.shape[2] !== cin / groups) {
    throw new ShapeError(`conv2d: weight expected [kh, kw, ${cin / groups}, Cout] (Cin ${cin} / groups ${groups}) for x ${formatShape(x.shape)}, got ${formatShape(weight.shape)}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== cout)) throw new ShapeError(`conv2d: bias expected [${cout}], got ${formatShape(bias.shape)}`);
  const stride = size2(options.stride ?? 1, "conv2d: option 'stride'");
  const dilation = size2(options.dilation ?? 1, "conv2d: option 'dilation'");
  const kernel: [number, number] = [((weight.shape[0] as number) - 1) * dilation[0] + 1, ((weight.shape[1] as number) - 1) * dilation[1] + 1];
  const pads = resolvePadding(options.padding ?? 0, [h, w], kernel, stride);
  const outSize = convOutputSize([h, w], kernel, stride, pads);
  if (outSize[0] < 1 || outSize[1] < 1) {
    throw new ShapeError(`conv2d: input ${h}×${w} padded by ${JSON.stringify(pads)} is smaller than the (dilated) kernel ${kernel[0]}×${kernel[1]}`);
  }
  const depthwise = groups > 1 && groups === cin;
  const requested = options.impl ?? 'auto';
  const impl = requested === 'auto' ? defaultConvImpl(depthwise ? 'depthwise' : 'conv') : requested;
  const g: Geometry = { stride, pads, kernel, inSize: [h, w], outSize };
  return tf.tidy(() => {
    const wd = spread(weight, dilation, 0); // [kh', kw', Cin/groups, Cout]
    let y: tf.Tensor;
    if (groups === 1) y = convCore(x, wd, g, impl);
    else if (depthwise) y = depthwiseCore(x, tf.reshape(wd, [kernel[0], kernel[1], cin, cout / cin]), g, impl);
    else {
      const xs = tf.split(x, groups, 3);
      const ws = tf.split(wd, groups, 3);
      y = tf.concat(xs.map((xi, i) => convCore(xi, ws[i], g, impl)), 3);
    }
    return bias ? tf.add(y, bias) : y;
  });
}

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions extends Omit<Conv2dOptions, 'padding'> {
  /** Zero padding of the convolution this one transposes (PyTorch's `padding`; default 0). */
  padding?: number | [number, number];
  /** Extra rows/columns at the bottom/right of the output (PyTorch's `output_padding`, < stride). */
  outputPadding?: Size2;
}

/**
 * Transposed 2-D convolution (the input gradient of {@link conv2d}), as PyTorch's
 * `F.conv_transpose2d`: x `[N, H, W, Cin]`, weight `[kh, kw, Cout/groups, Cin]` (tfjs's
 * `conv2dTranspose` layout; PyTorch's `ConvTranspose2d.weight` is `[Cin, Cout/groups, kh, kw]`, so
 * `ours = theirs.permute(2, 3, 1, 0)`), bias `[Cout]` → `[N, Ho, Wo, Cout]` with
 * Ho = (H − 1)·sh − 2·ph + dh·(kh − 1) + output_padding + 1.
 *
 * Computed as zeros inserted between the input pixels, padding, and a stride-1 {@link conv2d} with the
 * flipped filter, so it trains wherever `conv2d` does (on wasm through `hybrid`).
 */
export function convTranspose2d(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null = null, options: ConvTranspose2dOptions = {}): tf.Tensor {
  const groups = options.groups ?? 1;
  if (x.rank !== 4 || weight.rank !== 4) {
    throw new ShapeError(`convTranspose2d: expected x [N, H, W, Cin] and weight [kh, kw, Cout/groups, Cin], got x ${formatShape(x.shape)} and weight ${formatShape(weight.shape)}`);
  }
  const cin = x.shape[3] as number;
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0) {
    throw new ShapeError(`convTranspose2d: option 'groups' expected a positive integer dividing Cin ${cin}, got ${groups}`);
  }
  if (weight.shape[3] !== cin) throw new ShapeError(`convTranspose2d: weight expected [kh, kw, Cout/groups, ${cin}] for x ${formatShape(x.shape)}, got ${formatShape(weight.shape)}`);
  const [kh, kw, coutG] = weight.shape as [number, number, number, number];
  const cout = coutG * groups;
  if (bias && (bias.rank !== 1 || bias.shape[0] !== cout)) throw new ShapeError(`convTranspose2d: bias expected [${cout}], got ${formatShape(bias.shape)}`);
  const stride = size2(options.stride ?? 1, "convTranspose2d: option 'stride'");
  const dilation = size2(options.dilation ?? 1, "convTranspose2d: option 'dilation'");
  const padding = size2(options.padding ?? 0, "convTranspose2d: option 'padding'", 0);
  const outPad = size2(options.outputPadding ?? 0, "convTranspose2d: option 'outputPadding'", 0);
  if (outPad[0] >= Math.max(stride[0], dilation[0]) || outPad[1] >= Math.max(stride[1], dilation[1])) {
    throw new ShapeError(`convTranspose2d: option 'outputPadding' ${JSON.stringify(options.outputPadding)} must be smaller than the stride or the dilation`);
  }
  const k: [number, number] = [(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1];
  const pads: Pads2 = [
    [k[0] - 1 - padding[0], k[0] - 1 - padding[0] + outPad[0]],
    [k[1] - 1 - padding[1], k[1] - 1 - padding[1] + outPad[1]],
  ];
  return tf.tidy(() => {
    const u = spread(x, stride, 1); // [N, (H − 1)·sh + 1, (W − 1)·sw + 1, Cin]
    const flipped = tf.reverse(spread(weight, dilation, 0), [0, 1]); // [kh', kw', Cout/g, Cin]
    // As a conv Cin → Cout with `groups`: [kh', kw', Cin/g, Cout], group by group.
    const wc = tf.reshape(tf.transpose(tf.reshape(flipped, [k[0], k[1], coutG, groups, cin / groups]), [0, 1, 4, 3, 2]), [k[0], k[1], cin / groups, cout]);
    return conv2d(padOrCrop(u, pads), wc, bias, { groups, impl: options.impl, padding: 'valid' });
  });
}

/**
 * Nearest-neighbour upsampling by integer factors, [N, H, W, C] → [N, fh·H, fw·W, C], as a broadcast
 * product with ones (its gradient is a sum on every backend; not `tf.image.resizeNearestNeighbor`,
 * whose `ResizeNearestNeighborGrad` on tfjs-backend-cpu 4.22 returns wrong values: max error 5.6 on a
 * [2, 4, 4, 3] → [2, 8, 8, 3] check, where wasm's kernel and this function agree with finite differences).
 */
export function upsampleNearest(x: tf.Tensor, factor: Size2 = 2): tf.Tensor {
  if (x.rank !== 4) throw new ShapeError(`upsampleNearest: expected x [N, H, W, C], got ${formatShape(x.shape)}`);
  const [fh, fw] = size2(factor, "upsampleNearest: argument 'factor'");
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    return tf.reshape(tf.mul(tf.reshape(x, [n * h, 1, w, 1, c]), tf.ones([1, fh, 1, fw, 1])), [n, fh * h, fw * w, c]);
  });
}
