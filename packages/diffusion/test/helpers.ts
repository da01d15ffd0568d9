import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';

/** max |a − b| over two tensors of the same shape. */
export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

/** Host copy of a tensor. */
export async function host(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from(await t.data());
}

/** Sets every parameter of a module's tree to seeded normal values (so zero-initialised parts matter). */
export function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return rng.normalTensor(shape, 0, std);
}
