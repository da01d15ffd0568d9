/**
 * `associativeRecall`: the associative-retrieval task of Ba et al. 2016 ("Using Fast Weights to
 * Attend to the Recent Past"). A sequence shows `pairs` key–value pairs, two `?` marks and then one
 * of the keys again; the answer is the value stored with that key. With letters as keys and digits
 * as values, `c9k8j3f1??c` → `9`.
 *
 * Token ids: keys are `0 … keys−1`, values `keys … keys+values−1`, `?` is `keys+values`; so the
 * vocabulary has `keys + values + 1` tokens and a sequence `2·pairs + 3` of them. Keys within a
 * sequence are distinct; values may repeat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError } from '../errors.js';
import type { Rng } from '../rng.js';
import { ProceduralDataset, type DatasetOptions } from './dataset.js';
import { checkInt } from './options.js';

/** Options of {@link associativeRecall}. */
export interface AssociativeRecallOptions extends DatasetOptions {
  /** Key–value pairs shown before the query (paper: 4 in `c9k8j3f1??c`); default 4. */
  pairs?: number;
  /** Distinct keys (paper: 26 letters); default 26. At least `pairs`. */
  keys?: number;
  /** Distinct values (paper: 10 digits); default 10. */
  values?: number;
}

/** A host-side sample of `n` sequences. */
export interface AssociativeRecallSample {
  n: number;
  /** Token ids, `[n, 2·pairs + 3]` row-major. */
  tokens: Int32Array;
  /** The queried value as a class `0 … values−1`, `[n]`. */
  target: Int32Array;
}

/** One batch (dispose with `tf.dispose(batch)`). */
export type AssociativeRecallBatch = {
  tokens: tf.Tensor2D; // [batch, 2·pairs + 3] int32
  target: tf.Tensor1D; // [batch] int32, the value class
};

/** The data set returned by {@link associativeRecall}. */
export class AssociativeRecall extends ProceduralDataset<AssociativeRecallSample, AssociativeRecallBatch> {
  readonly pairs: number;
  readonly keys: number;
  readonly values: number;

  constructor(options: AssociativeRecallOptions) {
    super('associativeRecall', options);
    this.pairs = checkInt('associativeRecall', 'pairs', options.pairs ?? 4, 1);
    this.keys = checkInt('associativeRecall', 'keys', options.keys ?? 26, 1);
    this.values = checkInt('associativeRecall', 'values', options.values ?? 10, 1);
    if (this.keys < this.pairs) {
      throw new BrickConfigError(`associativeRecall: 'keys' must be at least 'pairs' (keys within a sequence are distinct), got keys ${this.keys} < pairs ${this.pairs}`);
    }
  }

  /** Tokens in the vocabulary: keys + values + the `?` mark. */
  get vocabSize(): number {
    return this.keys + this.values + 1;
  }

  /** Tokens per sequence: 2·pairs + 3. */
  get length(): number {
    return 2 * this.pairs + 3;
  }

  /** Renders a sequence as text (keys a, b, …; values 0, 1, …), e.g. `c9k8j3f1??c`. */
  format(tokens: ArrayLike<number>): string {
    return Array.from(tokens, (t) =>
      t < this.keys ? (this.keys <= 26 ? String.fromCharCode(97 + t) : `k${t}`) : t < this.keys + this.values ? (this.values <= 10 ? String(t - this.keys) : `v${t - this.keys}`) : '?',
    ).join('');
  }

  sample(n: number, rng: Rng = this.rng): AssociativeRecallSample {
    this.checkCount('sample', n);
    const L = this.length, P = this.pairs, question = this.keys + this.values;
    const tokens = new Int32Array(n * L), target = new Int32Array(n);
    const pool = new Int32Array(this.keys);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < this.keys; k++) pool[k] = k;
      const vals: number[] = [];
      for (let p = 0; p < P; p++) {
        const j = p + rng.int(0, this.keys - p); // partial Fisher–Yates: distinct keys
        [pool[p], pool[j]] = [pool[j]!, pool[p]!];
        const v = rng.int(0, this.values);
        vals.push(v);
        tokens[i * L + 2 * p] = pool[p]!;
        tokens[i * L + 2 * p + 1] = this.keys + v;
      }
      tokens[i * L + 2 * P] = question;
      tokens[i * L + 2 * P + 1] = question;
      const q = rng.int(0, P);
      tokens[i * L + 2 * P + 2] = pool[q]!;
      target[i] = vals[q]!;
    }
    return { n, tokens, target };
  }

  toBatch(s: AssociativeRecallSample): AssociativeRecallBatch {
    return { tokens: tf.tensor2d(s.tokens, [s.n, this.length], 'int32'), target: tf.tensor1d(s.target, 'int32') };
  }
}

/** The associative-retrieval task (see the module comment): `next()` gives `{ tokens, target }`. */
export function associativeRecall(options: AssociativeRecallOptions): AssociativeRecall {
  return new AssociativeRecall(options);
}
