import * as tf from '@tensorflow/tfjs-core';

/** Activation functions by name (the names bricks accept in their configs). */
export type ActivationName = 'gelu' | 'gelu_tanh' | 'silu' | 'relu' | 'tanh' | 'sigmoid' | 'identity';

export const activationNames: readonly ActivationName[] = ['gelu', 'gelu_tanh', 'silu', 'relu', 'tanh', 'sigmoid', 'identity'];

/** Exact GELU, x · Φ(x) = 0.5 · x · (1 + erf(x / √2)) (PyTorch's default). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** Tanh-approximate GELU (PyTorch `approximate='tanh'`, GPT-2). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

/** SiLU / swish: x · σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** Applies the named activation. */
export function activation(name: ActivationName, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case 'gelu':
      return gelu(x);
    case 'gelu_tanh':
      return geluTanh(x);
    case 'silu':
      return silu(x);
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'identity':
      return x;
  }
}
