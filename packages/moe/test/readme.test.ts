// The README's snippet, verbatim (the test checks the README still contains exactly this code).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { Rng } from '@brickml/core';
import { MoE, readMoEStats } from '@brickml/moe';
import { expect, it } from 'vitest';

const SNIPPET_START = "await tf.setBackend('cpu');";

it('README snippet runs and is what the README shows', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const body = self.slice(self.indexOf(`  ${SNIPPET_START}`), self.indexOf('  // end of snippet'));
  const dedented = body
    .split('\n')
    .map((l) => l.slice(2))
    .join('\n');
  expect(readme).toContain(dedented.trim());

  await tf.setBackend('cpu');
  const moe = new MoE(
    { kind: 'dropless', dim: 64, ffnHidden: 128, numExperts: 8, topK: 2, blockSize: 16 },
    { rng: new Rng(0) },
  );
  const x = new Rng(1).normalTensor([4, 32, 64]); // [batch, tokens, dim]

  // Training: the forward pass is synchronous, so it runs under tf.variableGrads (and core's Trainer).
  const { value, grads } = tf.variableGrads(() => {
    const out = moe.forward(x);
    const task = tf.mean(tf.square(out.y)); // your loss
    return tf.add(task, out.auxLoss) as tf.Scalar; // + load-balancing and z-loss
  }, moe.parameters());

  // Logging: per-expert load, fraction dropped, padding waste, aux-loss values.
  const stats = await readMoEStats(moe.forward(x));
  console.log(stats.load, stats.fractionDropped, stats.paddingRows, stats.loadBalanceLoss);
  // end of snippet

  expect(Object.keys(grads)).toHaveLength(3);
  expect(Number.isFinite((await value.data())[0])).toBe(true);
  expect(stats.load.reduce((a, b) => a + b)).toBeCloseTo(1, 6);
  expect(stats.fractionDropped).toBe(0);
});
