/**
 * Expert activations as single ops whose gradient saves only the inputs and recomputes the rest.
 *
 * Core's activations are compositions of tfjs ops, and autodiff keeps every intermediate of the
 * composition for the backward pass: exact GELU keeps about five tensors the size of its input. An
 * MoE's hidden activations are the largest tensors of the layer (`[T, E·F]` for the dense
 * reference: 256 MiB at 4096 tokens × 16 experts × 1024), and wasm's heap is a hard 4 GB wall, so
 * here the forward pass runs inside the op and only its inputs are kept.
 */
import * as tf from '@tensorflow/tfjs-core';
import { gelu, geluTanh, silu } from '@brickml/core';

/** Activations with a lean gradient. */
export type LeanActivation = 'gelu' | 'gelu_tanh' | 'silu' | 'relu';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * d gelu / dx = Φ(x) + x·φ(x). Each factor in its own tidy, so at most a few input-sized
 * temporaries are alive at once (these run on the largest tensors of the layer).
 */
function geluGrad(x: tf.Tensor): tf.Tensor {
  const cdf = tf.tidy(() => tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
  const xPdf = tf.tidy(() => tf.mul(x, tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(-0.5, tf.square(x))))));
  return tf.add(cdf, xPdf);
}

/** d gelu_tanh / dx with u = √(2/π)(x + 0.044715x³), t = tanh u: 0.5(1 + t) + 0.5x(1 − t²)·u'. */
function geluTanhGrad(x: tf.Tensor): tf.Tensor {
  const x2 = tf.square(x);
  const t = tf.tanh(tf.mul(SQRT_2_OVER_PI, tf.mul(x, tf.add(1, tf.mul(0.044715, x2)))));
  const du = tf.mul(SQRT_2_OVER_PI, tf.add(1, tf.mul(3 * 0.044715, x2)));
  return tf.add(
    tf.mul(0.5, tf.add(1, t)),
    tf.mul(tf.mul(0.5, x), tf.mul(tf.sub(1, tf.square(t)), du)),
  );
}

/** d silu / dx = σ(x)·(1 + x·(1 − σ(x))). */
function siluGrad(x: tf.Tensor): tf.Tensor {
  const s = tf.sigmoid(x);
  return tf.mul(s, tf.add(1, tf.mul(x, tf.sub(1, s))));
}

function leanUnary(
  fn: (x: tf.Tensor) => tf.Tensor,
  grad: (x: tf.Tensor) => tf.Tensor,
): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return {
      value: fn(x),
      gradFunc: (dy: tf.Tensor, [sx]: tf.Tensor[]) => {
        const g = grad(sx);
        const dx = tf.mul(dy, g);
        g.dispose(); // free before the tidy ends: this runs on the largest tensors of the layer
        return dx;
      },
    };
  }) as any) as (x: tf.Tensor) => tf.Tensor;
}

const leanGelu = leanUnary(gelu, geluGrad);
const leanGeluTanh = leanUnary(geluTanh, geluTanhGrad);
const leanSilu = leanUnary(silu, siluGrad);

// silu(h) ⊙ v: dh = dy·v·silu'(h), dv = dy·silu(h).
const leanSwiglu = tf.customGrad(((h: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
  save([h, v]);
  return {
    value: tf.mul(silu(h), v),
    gradFunc: (dy: tf.Tensor, [sh, sv]: tf.Tensor[]) => [
      tf.mul(tf.mul(dy, sv), siluGrad(sh)),
      tf.mul(dy, silu(sh)),
    ],
  };
}) as any) as (h: tf.Tensor, v: tf.Tensor) => tf.Tensor;

/** `act(x)` (same values as core's activation of that name) with a gradient that keeps only x. */
export function leanActivation(name: LeanActivation, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu':
      return leanGelu(x);
    case 'gelu_tanh':
      return leanGeluTanh(x);
    case 'silu':
      return leanSilu(x);
    case 'relu':
      return tf.relu(x); // tfjs's Relu already keeps only its input
  }
}

/** SwiGLU `silu(h) ⊙ v` with a gradient that keeps only h and v. */
export function swiglu(h: tf.Tensor, v: tf.Tensor): tf.Tensor {
  return leanSwiglu(h, v);
}

/**
 * Backward pass of an expert activation given its inputs: `dh` (and `dv` for swiglu) from `da`, the
 * gradient of `act(h)` (or of `silu(h) ⊙ v`). For ops that recompute activations in their own
 * backward pass (activation checkpointing).
 */
export function activationBackward(
  name: LeanActivation | 'swiglu',
  h: tf.Tensor,
  v: tf.Tensor | undefined,
  da: tf.Tensor,
): { dh: tf.Tensor; dv?: tf.Tensor } {
  return tf.tidy(() => {
    switch (name) {
      case 'swiglu':
        if (!v) throw new Error('activationBackward: swiglu needs the value projection v');
        return { dh: tf.mul(tf.mul(da, v), siluGrad(h)), dv: tf.mul(da, silu(h)) };
      case 'gelu':
        return { dh: tf.mul(da, geluGrad(h)) };
      case 'gelu_tanh':
        return { dh: tf.mul(da, geluTanhGrad(h)) };
      case 'silu':
        return { dh: tf.mul(da, siluGrad(h)) };
      case 'relu':
        return { dh: tf.mul(da, tf.step(h)) };
    }
  });
}
