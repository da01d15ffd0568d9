/**
 * Samples from a saved diffusion model: a checkpoint folder with config.json + model.safetensors
 * (from `save`, the flagship's assets, or a trainer checkpoint, whose EMA weights are used when
 * ema.safetensors is there).
 *
 *   npm run sample -w @brickml/diffusion -- --checkpoint out/fresh/checkpoint
 *
 * Options: --checkpoint (required), --out (default <checkpoint>/samples), --per-class (8),
 * --n (unconditional models, 16), --steps (25), --guidance (3), --eta (0), --seed (0), --fd-n (0 =
 * skip shapesFD; else at least 64, split over the classes), --backend, --help.
 *
 * Class-conditional image models: samples.png (64 px per sample, class names at the left of the
 * rows), trajectory.png and read-maps.png (labelled), and with --fd-n the shapesFD with per-class
 * figures (accuracy against the requested class, per-class shapesFD, mean pixel and coverage beside
 * real images), printed as a table and written to metrics.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHAPE_NAMES, load, loadWeights, movingSprites, videoGif, writePng, imageGridPng } from '@brickml/core';
import {
  GaussianDiffusion, classGridPng, ddimSample, evaluateShapesFDPerClass, formatShapesFDClassTable, predictFrames, readMapsPng, sampleClassGrid,
  trajectoryPng,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';
import { FlagError, parseCli, type FlagSpecs } from '../scripts/flags.js';

const specs: FlagSpecs = {
  checkpoint: { type: 'string', help: 'folder with config.json + model.safetensors (required)' },
  out: { type: 'string', help: 'output directory (default <checkpoint>/samples)' },
  'per-class': { type: 'string', default: '8', help: 'samples per class (class-conditional models)' },
  n: { type: 'string', default: '16', help: 'samples (unconditional models) or held-out clips (video)' },
  steps: { type: 'string', default: '25', help: 'DDIM steps' },
  guidance: { type: 'string', default: '3', help: 'classifier-free guidance weight w ≥ 0' },
  eta: { type: 'string', default: '0', help: 'DDIM stochasticity η ≥ 0' },
  seed: { type: 'string', default: '0', help: 'seed' },
  'fd-n': { type: 'string', default: '0', help: 'samples for shapesFD with per-class figures (0 = skip, else at least 64)' },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm or webgpu,wasm' },
};
const args = parseCli('sample', specs, (f) => {
  const what = 'a checkpoint folder with config.json and model.safetensors';
  const dir = f.inputDir('checkpoint', what);
  if (!existsSync(join(dir, 'config.json'))) throw new FlagError(`--checkpoint expected ${what}, got ${JSON.stringify(f.string('checkpoint'))}, which has no config.json`);
  const fdN = f.nonNegativeInt('fd-n', 'samples; 0 = skip');
  if (fdN > 0 && fdN < 64) throw new FlagError(`--fd-n expected 0 (skip) or at least 64 samples (shapesFD needs 2 × its 32 features), got "${f.string('fd-n')}"`);
  return {
    dir,
    out: f.outputDir('out', join(dir, 'samples')),
    perClass: f.positiveInt('per-class', 'samples per class'),
    n: f.positiveInt('n', 'samples'),
    steps: f.positiveInt('steps', 'DDIM steps'),
    guidance: f.nonNegativeNumber('guidance'),
    eta: f.nonNegativeNumber('eta'),
    seed: f.nonNegativeInt('seed'),
    fdN,
    backend: f.backend(),
  };
});
const dir = args.dir;
const out = args.out;
const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
const model = await load<GaussianDiffusion>(dir);
if (!(model instanceof GaussianDiffusion)) throw new Error(`${dir} holds a ${(model as { typeName: string }).typeName}, not a GaussianDiffusion`);
if (existsSync(join(dir, 'ema.safetensors'))) {
  loadWeights(model, new Uint8Array(await readFile(join(dir, 'ema.safetensors'))), { allowMissing: true });
  console.log('using the EMA weights (ema.safetensors)');
}
model.eval();
const common = { steps: args.steps, eta: args.eta, seed: args.seed };
const t0 = performance.now();
if (model.isVideo) {
  const k = model.config.contextFrames;
  const frames = k + model.sampleShape(1)[1];
  const size = model.sampleShape(1)[3] as 16 | 32;
  const s = movingSprites({ size, frames, batchSize: 1, seed: 0 }).fixedSplit(args.n, 4242 + args.seed);
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
  const perClass = args.perClass;
  const r = await sampleClassGrid(model, { ...common, perClass, guidance: args.guidance, trajectory: true, readMaps: true });
  const names = Array.from({ length: model.numClasses }, (_, c) => SHAPE_NAMES[c] ?? `class ${c}`);
  const how = `DDIM ${args.steps} steps, w=${args.guidance}`;
  await writePng(join(out, 'samples.png'), await classGridPng(r.samples, perClass, { labels: names, title: `${perClass} samples per class (${how})` }));
  await writePng(join(out, 'trajectory.png'), trajectoryPng(r.trajectory!, { maxSteps: 8, labels: true, title: `denoising one ${names[0]}, t = 1 -> 0` }));
  const shown = names.map((_, c) => c * perClass);
  if (r.readMaps && r.readMaps.maps.length) await writePng(join(out, 'read-maps.png'), await readMapsPng(r.readMaps, r.samples, { indices: shown, rowLabels: names }));
  r.samples.dispose();
  console.log(`wrote ${out}/samples.png (one row per class), trajectory.png${r.readMaps?.maps.length ? ', read-maps.png' : ''}`);
} else {
  const r = await ddimSample(model, { ...common, n: args.n, trajectory: true, readMaps: true });
  await writePng(join(out, 'samples.png'), await classGridPng(r.samples, Math.ceil(Math.sqrt(args.n))));
  await writePng(join(out, 'trajectory.png'), trajectoryPng(r.trajectory!, { maxSteps: 8, labels: true }));
  r.samples.dispose();
  console.log(`wrote ${out}/samples.png, trajectory.png`);
}
console.log(`sampling took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const fdN = args.fdN;
if (fdN > 0 && !model.isVideo) {
  const rep = await evaluateShapesFDPerClass(model, { n: fdN, steps: common.steps, guidance: args.guidance, eta: common.eta });
  console.log(`shapesFD ${rep.shapesFD.toFixed(1)} (n=${rep.n}; real-vs-real ${rep.realVsReal.toFixed(1)}, noise-vs-real ${rep.noiseVsReal.toFixed(1)})`);
  console.log(`per class (${model.numClasses > 0 ? 'as requested' : "grouped by the classifier's call"}; floor = real images scored the same way):\n${formatShapesFDClassTable(rep.perClass)}`);
  await writeFile(join(out, 'metrics.json'), `${JSON.stringify(rep, null, 2)}\n`);
}
model.dispose();
