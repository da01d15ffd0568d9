/**
 * Samples from a saved diffusion model: a checkpoint folder with config.json + model.safetensors
 * (from `save`, the flagship's assets, or a trainer checkpoint, whose EMA weights are used when
 * ema.safetensors is there).
 *
 *   npm run sample -w @brickml/diffusion -- --checkpoint out/fresh/checkpoint
 *
 * Options: --checkpoint (required), --out (default <checkpoint>/samples), --per-class (8),
 * --n (unconditional models, 16), --steps (25), --guidance (3), --eta (0), --seed (0), --fd-n (0 =
 * skip shapesFD), --backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { load, loadWeights, movingSprites, videoGif, writePng, imageGridPng } from '@brickml/core';
import {
  GaussianDiffusion, classGridPng, ddimSample, evaluateShapesFD, predictFrames, readMapsPng, sampleClassGrid, trajectoryPng,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';

const { values: args } = parseArgs({
  options: {
    checkpoint: { type: 'string' },
    out: { type: 'string' },
    'per-class': { type: 'string', default: '8' },
    n: { type: 'string', default: '16' },
    steps: { type: 'string', default: '25' },
    guidance: { type: 'string', default: '3' },
    eta: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
    'fd-n': { type: 'string', default: '0' },
    backend: { type: 'string' },
  },
});
if (!args.checkpoint) {
  console.error('usage: sample --checkpoint <dir> [--out dir] [--per-class 8] [--steps 25] [--guidance 3] [--eta 0] [--seed 0] [--fd-n 0]');
  process.exit(2);
}
const dir = resolve(args.checkpoint);
const out = resolve(args.out ?? join(dir, 'samples'));
const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
const model = await load<GaussianDiffusion>(dir);
if (!(model instanceof GaussianDiffusion)) throw new Error(`${dir} holds a ${(model as { typeName: string }).typeName}, not a GaussianDiffusion`);
if (existsSync(join(dir, 'ema.safetensors'))) {
  loadWeights(model, new Uint8Array(await readFile(join(dir, 'ema.safetensors'))), { allowMissing: true });
  console.log('using the EMA weights (ema.safetensors)');
}
model.eval();
const common = { steps: Number(args.steps), eta: Number(args.eta), seed: Number(args.seed) };
const t0 = performance.now();
if (model.isVideo) {
  const k = model.config.contextFrames;
  const frames = k + model.sampleShape(1)[1];
  const size = model.sampleShape(1)[3] as 16 | 32;
  const s = movingSprites({ size, frames, batchSize: 1, seed: 0 }).fixedSplit(Number(args.n), 4242 + Number(args.seed));
  const videos = tf.tensor(s.videos, s.videoShape);
  const context = tf.slice(videos, [0, 0, 0, 0, 0], [-1, k, -1, -1, -1]);
  const r = await predictFrames(model, context, common);
  const full = tf.concat([context, r.samples], 1);
  await writePng(join(out, 'truth.png'), await imageGridPng(tf.reshape(videos, [-1, ...videos.shape.slice(2)]), { cols: frames, scale: 3 }));
  await writePng(join(out, 'predicted.png'), await imageGridPng(tf.reshape(full, [-1, ...full.shape.slice(2)]), { cols: frames, scale: 3 }));
  await writePng(join(out, 'predicted.gif'), await videoGif(full, { scale: 3 }));
  tf.dispose([videos, context, r.samples, full]);
  console.log(`wrote ${out}/truth.png, predicted.png, predicted.gif (first ${k} frames are the given context)`);
} else if (model.numClasses > 0) {
  const perClass = Number(args['per-class']);
  const r = await sampleClassGrid(model, { ...common, perClass, guidance: Number(args.guidance), trajectory: true, readMaps: true });
  await writePng(join(out, 'samples.png'), await classGridPng(r.samples, perClass));
  await writePng(join(out, 'trajectory.png'), trajectoryPng(r.trajectory!));
  if (r.readMaps && r.readMaps.maps.length) await writePng(join(out, 'read-maps.png'), await readMapsPng(r.readMaps, r.samples, { indices: [0, perClass, 2 * perClass] }));
  r.samples.dispose();
  console.log(`wrote ${out}/samples.png (one row per class), trajectory.png${r.readMaps?.maps.length ? ', read-maps.png' : ''}`);
} else {
  const r = await ddimSample(model, { ...common, n: Number(args.n), trajectory: true, readMaps: true });
  await writePng(join(out, 'samples.png'), await classGridPng(r.samples, Math.ceil(Math.sqrt(Number(args.n)))));
  await writePng(join(out, 'trajectory.png'), trajectoryPng(r.trajectory!));
  r.samples.dispose();
  console.log(`wrote ${out}/samples.png, trajectory.png`);
}
console.log(`sampling took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const fdN = Number(args['fd-n']);
if (fdN > 0 && !model.isVideo) {
  const rep = await evaluateShapesFD(model, { n: fdN, steps: common.steps, guidance: Number(args.guidance), eta: common.eta });
  console.log(`shapesFD ${rep.shapesFD.toFixed(1)} (n=${rep.n}; real-vs-real ${rep.realVsReal.toFixed(1)}, noise-vs-real ${rep.noiseVsReal.toFixed(1)})`);
  await writeFile(join(out, 'metrics.json'), `${JSON.stringify(rep, null, 2)}\n`);
}
model.dispose();
