/**
 * ms per training step of the flagship RIN (shapesRinConfig, batch 64 by default) on one backend.
 *
 *   npm run bench -w @brickml/diffusion -- wasm 64        # STEPS=12 for more steps
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, build } from '@brickml/core';
import type { RinNetwork } from '@brickml/attention';
import { shapesRinConfig } from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';

const backend = process.argv[2] ?? 'wasm';
const batch = Number(process.argv[3] ?? 64);
console.log((await setupBackend(backend)).line);
const rng = new Rng(0);
const net = build<RinNetwork>(shapesRinConfig(), { rng });
console.log('parameters', net.numParameters());
const opt = new AdamW(net, { lr: 1e-3 });
const paths = new Map(net.namedParameters().map(([p, v]) => [v.name, p]));
const x = rng.normalTensor([batch, 3, 16, 16]);
const g = tf.fill([batch], 0.5);
const cls = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 4), 'int32');
const times: number[] = [];
for (let i = 0; i < Number(process.env.STEPS ?? 6); i++) {
  const t0 = performance.now();
  const { value, grads } = tf.variableGrads(() => {
    const o = net.forward(x, { noiseLevel: g, classLabels: cls });
    return tf.mean(tf.square(tf.sub(o.output, x))) as tf.Scalar;
  });
  opt.step(new Map(Object.entries(grads).map(([k, v]) => [paths.get(k)!, v])));
  await value.data();
  tf.dispose([value, ...Object.values(grads)]);
  times.push(performance.now() - t0);
  console.log(`${backend} step ${i}: ${times[i].toFixed(0)} ms, tensors ${tf.memory().numTensors}`);
}
const warm = times.slice(1).sort((a, b) => a - b);
console.log(`median ${warm[Math.floor(warm.length / 2)].toFixed(0)} ms/step (batch ${batch}, ${backend})`);
