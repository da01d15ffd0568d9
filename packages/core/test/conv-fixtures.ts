// Loads the PyTorch reference numbers (fixtures/conv/torch-fixtures.json, made by
// fixtures/conv/make-torch-fixtures.py) and compares tensors with them.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

export type Entry = Record<string, any>;
export const torchFixtures: Record<'conv' | 'convTranspose' | 'pool' | 'batchNorm' | 'groupNorm' | 'upsample', Entry[]> = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'conv', 'torch-fixtures.json'), 'utf8'),
);

/** The fixture's array `name` as a tensor of its recorded shape. */
export function t(e: Entry, name: string): tf.Tensor {
  return tf.tensor(e[name] as number[], e[`${name}Shape`] as number[]);
}

/** max |a − b| over a tensor and reference numbers of the same size. */
export async function maxErr(a: tf.Tensor, ref: number[] | tf.Tensor): Promise<number> {
  const x = await a.data();
  const r = Array.isArray(ref) ? ref : Array.from(await ref.data());
  if (x.length !== r.length) return Infinity;
  let e = 0;
  for (let i = 0; i < x.length; i++) e = Math.max(e, Math.abs(x[i] - r[i]));
  return e;
}
