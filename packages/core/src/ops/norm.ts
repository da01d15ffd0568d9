import * as tf from '@tensorflow/tfjs-core';

/**
 * Layer norm and RMS norm over the last axis, each one op with an analytic gradient (a handful of
 * kernels instead of the dozen autodiff emits). Where a backend registers the fused layer-norm
 * kernels ({@link LAYER_NORM_KERNEL}, {@link LAYER_NORM_GRAD_KERNEL}: webgpu,
 * engine/webgpu/layer-norm.ts) `layerNorm` runs them instead of the reference path below.
 */

/** Fused layer norm: inputs `{x [rows, d], gamma [d], beta [d]}`, attrs `{eps}`; output y [rows, d]. */
export const LAYER_NORM_KERNEL = 'BrickLayerNorm';
/** Its gradient: inputs `{dy, x [rows, d], gamma [d]}`, attrs `{eps}`; outputs `[dx, dγ, dβ]`. */
export const LAYER_NORM_GRAD_KERNEL = 'BrickLayerNormGrad';

function lastAxisMean(x: tf.Tensor): tf.Tensor {
  return tf.mean(x, -1, true);
}

/** Sum over every axis but the last: [..., d] → [d]. */
function sumLeading(x: tf.Tensor): tf.Tensor {
  return tf.sum(tf.reshape(x, [-1, x.shape[x.rank - 1]]), 0);
}

function makeLayerNorm(eps: number) {
  return tf.customGrad(((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const xc = tf.sub(x, lastAxisMean(x));
    const rstd = tf.rsqrt(tf.add(lastAxisMean(tf.square(xc)), eps)); // [..., 1]
    const xhat = tf.mul(xc, rstd);
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: tf.Tensor, [sxhat, srstd, sgamma]: tf.Tensor[]) => {
        const g = tf.mul(dy, sgamma);
        // dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))
        const dx = tf.mul(srstd, tf.sub(tf.sub(g, lastAxisMean(g)), tf.mul(sxhat, lastAxisMean(tf.mul(g, sxhat)))));
        return [dx, sumLeading(tf.mul(dy, sxhat)), sumLeading(dy)];
      },
    };
  }) as any) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
}

/** The same op on the fused kernels (x viewed as [rows, d]). */
function makeFusedLayerNorm(eps: number) {
  return tf.customGrad(((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const d = x.shape[x.rank - 1];
    const x2 = tf.reshape(x, [-1, d]); // [rows, d]
    save([x2, gamma]);
    const y = tf.engine().runKernel(LAYER_NORM_KERNEL, { x: x2, gamma, beta }, { eps }) as tf.Tensor;
    return {
      value: tf.reshape(y, x.shape),
      gradFunc: (dy: tf.Tensor, [sx, sgamma]: tf.Tensor[]) => {
        const [dx, dgamma, dbeta] = tf.engine().runKernel(LAYER_NORM_GRAD_KERNEL, { dy: tf.reshape(dy, sx.shape), x: sx, gamma: sgamma }, { eps }) as tf.Tensor[];
        return [tf.reshape(dx, dy.shape), dgamma, dbeta];
      },
    };
  }) as any) as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
}

function makeRmsNorm(eps: number) {
  return tf.customGrad(((x: tf.Tensor, gamma: tf.Tensor, save: tf.GradSaveFunc) => {
    const r = tf.rsqrt(tf.add(lastAxisMean(tf.square(x)), eps)); // [..., 1]
    const xhat = tf.mul(x, r);
    save([xhat, r, gamma]);
    return {
      value: tf.mul(xhat, gamma),
      gradFunc: (dy: tf.Tensor, [sxhat, sr, sgamma]: tf.Tensor[]) => {
        const g = tf.mul(dy, sgamma);
        const dx = tf.mul(sr, tf.sub(g, tf.mul(sxhat, lastAxisMean(tf.mul(g, sxhat)))));
        return [dx, sumLeading(tf.mul(dy, sxhat))];
      },
    };
  }) as any) as (x: tf.Tensor, gamma: tf.Tensor) => tf.Tensor;
}

const layerNormCache = new Map<string, ReturnType<typeof makeLayerNorm>>();
const rmsNormCache = new Map<number, ReturnType<typeof makeRmsNorm>>();

/**
 * LayerNorm over the last axis: x [..., d], gamma/beta [d] (null = no scale / no shift).
 * y = (x − mean) / √(var + eps) · gamma + beta, with the biased variance (as PyTorch).
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const fused = x.dtype === 'float32' && tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend()) !== undefined;
    const key = `${fused ? 'fused' : 'ref'}:${eps}`;
    let f = layerNormCache.get(key);
    if (!f) layerNormCache.set(key, (f = fused ? makeFusedLayerNorm(eps) : makeLayerNorm(eps)));
    return f(x, gamma ?? tf.ones([d]), beta ?? tf.zeros([d]));
  });
}

/** RMSNorm over the last axis: y = x / √(mean(x²) + eps) · gamma; x [..., d], gamma [d] or null. */
export function rmsNorm(x: tf.Tensor, gamma: tf.Tensor | null, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    let f = rmsNormCache.get(eps);
    if (!f) rmsNormCache.set(eps, (f = makeRmsNorm(eps)));
    return f(x, gamma ?? tf.ones([d]));
  });
}
