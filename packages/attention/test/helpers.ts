import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Module } from '@brickml/core';

/** A normal tensor from a seeded generator. */
export function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  return rng.normalTensor(shape, 0, std);
}

/** Host copy of a tensor. */
export async function host(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

/** max |a − b| over two tensors of the same shape. */
export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

/** A scalar loss sum(y · R) with a fixed random R, so gradient checks see every output. */
export function projectionLoss(y: tf.Tensor, seed = 123): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.mul(y, new Rng(seed).normalTensor(y.shape)))) as tf.Scalar;
}

/** Sets every parameter of a module to seeded normal values (so zero-initialised parts are exercised too). */
export function randomizeParameters(m: Module, seed = 7, std = 0.3): void {
  const rng = new Rng(seed);
  for (const [, p] of m.namedParameters()) tf.tidy(() => p.assign(rng.normalTensor(p.shape, 0, std)));
}

/** Parameter names and shapes, for round-trip comparisons. */
export function paramShapes(m: Module): Array<[string, number[]]> {
  return m.namedState().map(([n, v]) => [n, v.shape]);
}
