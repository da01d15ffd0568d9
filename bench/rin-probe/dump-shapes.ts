/**
 * Writes `shapes` 16×16 images and their shape labels as raw little-endian float32 / int32 files
 * for the PyTorch RIN recipe probe (bench/torch/rin_recipe_probe.py): the same procedural data the
 * flagship trains on, drawn once.
 *
 *   node packages/diffusion/scripts/run.mjs bench/rin-probe/dump-shapes.ts 196608 1 out/rin-probe/train
 *   node packages/diffusion/scripts/run.mjs bench/rin-probe/dump-shapes.ts 8192 999 out/rin-probe/test
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { shapes } from '@brickml/core';

const [nArg = '65536', seedArg = '1', out = 'out/rin-probe/train'] = process.argv.slice(2);
const n = Number(nArg);
const seed = Number(seedArg);
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(seed)) {
  console.error(`dump-shapes: expected <count ≥ 1> <integer seed> <output prefix>, got ${nArg} ${seedArg} ${out}`);
  process.exit(2);
}
await tf.setBackend('cpu');
const data = shapes({ size: 16, batchSize: 1024, seed });
const images = new Float32Array(n * 3 * 16 * 16); // [n, 3, 16, 16] in [−1, 1]
const labels = new Int32Array(n); // shape id: 0 circle, 1 square, 2 triangle
for (let k = 0; k < n; ) {
  const b = data.next();
  const m = Math.min(1024, n - k);
  images.set((await b.images.data()).subarray(0, m * 768), k * 768);
  labels.set(Int32Array.from(await b.labels.shape.data()).subarray(0, m), k);
  k += m;
  tf.dispose(b);
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(`${out}.x.bin`, Buffer.from(images.buffer));
writeFileSync(`${out}.y.bin`, Buffer.from(labels.buffer));
console.log(`dump-shapes: ${n} images (seed ${seed}) → ${out}.x.bin, ${out}.y.bin`);
