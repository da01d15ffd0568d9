import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { associativeRecall } from '../src/index.js';

describe('associativeRecall', () => {
  it('draws distinct keys, two ? marks and a query whose answer is its stored value', () => {
    const data = associativeRecall({ batchSize: 4, pairs: 4, seed: 3 });
    expect(data.vocabSize).toBe(37);
    expect(data.length).toBe(11);
    const s = data.sample(500);
    for (let i = 0; i < s.n; i++) {
      const seq = Array.from(s.tokens.subarray(i * 11, (i + 1) * 11));
      const keys = [0, 2, 4, 6].map((j) => seq[j]!);
      expect(new Set(keys).size).toBe(4);
      for (const k of keys) expect(k).toBeLessThan(26);
      for (const j of [1, 3, 5, 7]) expect(seq[j]! >= 26 && seq[j]! < 36).toBe(true);
      expect([seq[8], seq[9]]).toEqual([36, 36]);
      const at = keys.indexOf(seq[10]!);
      expect(at).toBeGreaterThanOrEqual(0);
      expect(s.target[i]).toBe(seq[2 * at + 1]! - 26);
    }
    expect(data.format([2, 35, 10, 34, 9, 29, 5, 27, 36, 36, 2])).toBe('c9k8j3f1??c');
  });

  it('is seeded, gives int32 batches and rejects impossible options by name', () => {
    const a = associativeRecall({ batchSize: 8, pairs: 2, keys: 5, seed: 1 }).next();
    const b = associativeRecall({ batchSize: 8, pairs: 2, keys: 5, seed: 1 }).next();
    expect(a.tokens.shape).toEqual([8, 7]);
    expect(a.tokens.dtype).toBe('int32');
    expect(a.target.dtype).toBe('int32');
    expect(Array.from(a.tokens.dataSync())).toEqual(Array.from(b.tokens.dataSync()));
    tf.dispose([a, b]);
    expect(() => associativeRecall({ batchSize: 8, pairs: 5, keys: 3 })).toThrow(/associativeRecall: 'keys' must be at least 'pairs'.*keys 3 < pairs 5/);
    expect(() => associativeRecall({ batchSize: 8, pairs: 0 })).toThrow(/associativeRecall.*pairs/);
  });
});
