// Shared test helpers (cpu backend, see setup.ts).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';
import { expect } from 'vitest';

/** Largest |a − b| over two tensors of equal shape. */
export async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** Largest |a|. */
export async function maxAbs(a: tf.Tensor): Promise<number> {
  const x = await a.data();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** A seeded normal tensor. */
export function randn(shape: number[], seed: number, std = 1): tf.Tensor {
  return new Rng(seed).normalTensor(shape, 0, std);
}

/** Host copy of a tensor as a plain nested-free array. */
export async function host(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}
