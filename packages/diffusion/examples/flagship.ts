/**
 * The flagship of @brickml/diffusion (the repository's `npm start`).
 *
 * 1. Loads the class-conditional model shipped in assets/flagship (a small conv U-Net trained with
 *    `npm run train:flagship -w @brickml/diffusion`) and, within about a minute, writes a sample
 *    grid (one row per class: circle, square, triangle), the denoising trajectory of one sample,
 *    and its shapesFD and per-class figures next to the real-vs-real and noise-vs-real references.
 * 2. Trains a fresh RIN for the rest of the time budget (default 8 minutes in all) with a progress
 *    bar, then writes its loss curve, samples, RIN read-attention maps and shapesFD beside the
 *    shipped model's, each labelled for what it is.
 *
 *   npm start -- --minutes 8 --out out
 *   node packages/diffusion/scripts/run.mjs packages/diffusion/examples/flagship.ts --minutes 3 --backend wasm
 *
 * Options: --minutes (total budget, default 8), --steps (cap on the fresh model's steps), --size
 * (16 or 32; the shipped model is 16 px), --backend (e.g. wasm, cpu, webgpu), --out (default out),
 * --resume (continue the fresh model from <out>/fresh/checkpoint), --fd-n (samples for shapesFD,
 * split over the classes, default 256), --per-class (grid samples per class, default 8), --seed,
 * --help. A bad value stops it at once with a line naming the flag (exit code 2).
 *
 * Writes <out>/shipped/ and <out>/fresh/: samples.png (64 px per sample, class names at the left
 * of the rows), trajectory.png, read-maps.png (RIN only: its read attention per block, one labelled
 * row per class); fresh/loss.png; and <out>/metrics.json. Beside the overall shapesFD it prints, per
 * class, the shapes classifier's accuracy against the requested class, the class's own shapesFD
 * with its real floor, and mean pixel / coverage next to real images of the class, so a class that
 * is ignored or drawn as empty frames is visible (the same figures are in metrics.json, perClass).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Rng, SHAPE_NAMES, load, lossCurvePng, save, writePng } from '@brickml/core';
import {
  GaussianDiffusion, ShapesFD, classGridPng, diffusionTrainer, evaluateShapesFDPerClass, formatShapesFDClassTable, readMapsPng, sampleClassGrid,
  shapesDiffusionConfig, shapesTrainingData, trainWithBudget, trajectoryPng, type ShapesFDPerClassReport, type ShapesFDReport,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';
import { parseCli, type FlagSpecs } from '../scripts/flags.js';

const specs: FlagSpecs = {
  minutes: { type: 'string', default: '8', help: 'total time budget in minutes' },
  steps: { type: 'string', help: "cap on the fresh model's training steps" },
  size: { type: 'string', default: '16', help: 'image side, 16 or 32 (the shipped model is 16 px)' },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm or webgpu,wasm' },
  out: { type: 'string', default: 'out', help: 'output directory' },
  resume: { type: 'boolean', default: false, help: 'continue the fresh model from <out>/fresh/checkpoint' },
  'fd-n': { type: 'string', default: '256', help: 'samples for shapesFD (split over the classes; at least 64)' },
  'per-class': { type: 'string', default: '8', help: 'grid samples per class' },
  seed: { type: 'string', default: '0', help: 'seed' },
};
const args = parseCli('flagship', specs, (f) => ({
  minutes: f.positiveNumber('minutes', 'minutes'),
  steps: f.optionalPositiveInt('steps', 'training steps'),
  size: f.choice('size', [16, 32] as const),
  backend: f.backend(),
  out: f.outputDir('out'),
  resume: f.boolean('resume'),
  fdN: f.positiveInt('fd-n', 'samples; shapesFD needs 2 × its 32 features', 64),
  perClass: f.positiveInt('per-class', 'samples per class'),
  seed: f.nonNegativeInt('seed'),
}));
const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const budget = args.minutes * 60;
const size = args.size;
const out = args.out;
const fdN = args.fdN;
const perClass = args.perClass;
const seed = args.seed;
const shippedDir = resolve(dirname(process.argv[1]), '..', 'assets', 'flagship');

const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
await mkdir(out, { recursive: true });
const metric = await ShapesFD.load();
const rows = SHAPE_NAMES.join(', ');

type Entry = { label: string; steps: number; trainMinutes: number; backend: string; guidance: number; shapesFD: ShapesFDPerClassReport; files: string[]; note?: string };
const results: Record<string, Entry> = {};

/** Grid, trajectory, read maps and shapesFD of a model into `dir`. */
async function portrait(model: GaussianDiffusion, dir: string, title: string, guidance: number): Promise<{ fd: ShapesFDPerClassReport; files: string[] }> {
  await mkdir(dir, { recursive: true });
  const rin = model.denoiser.toConfig().type === 'RinNetwork'; // read maps are RIN's
  const grid = await sampleClassGrid(model, { perClass, seed, guidance, trajectory: true, readMaps: rin });
  const files = [join(dir, 'samples.png'), join(dir, 'trajectory.png'), ...(rin ? [join(dir, 'read-maps.png')] : [])];
  const names = SHAPE_NAMES.slice(0, model.numClasses);
  await writePng(files[0], await classGridPng(grid.samples, perClass, { labels: names, title: `${title}: ${perClass} per class, w=${guidance}` }));
  await writePng(files[1], trajectoryPng(grid.trajectory!, { index: 0, maxSteps: 8, labels: true, title: `${title}: denoising one ${names[0]}, t = 1 -> 0` }));
  // one sample per class, read maps at the middle step, one column per RIN block
  const shown = names.map((_, c) => c * perClass);
  if (rin) await writePng(files[2], await readMapsPng(grid.readMaps!, grid.samples, { indices: shown, rowLabels: names }));
  grid.samples.dispose();
  const fd = await evaluateShapesFDPerClass(model, { n: fdN, metric, seed: seed + 100, guidance });
  return { fd, files };
}

const fmt = (r: ShapesFDReport) => `shapesFD ${r.shapesFD.toFixed(1)} (n=${r.n}; real-vs-real ${r.realVsReal.toFixed(1)}, noise-vs-real ${r.noiseVsReal.toFixed(1)})`;
const table = (r: ShapesFDPerClassReport) => `  per class (n=${r.n} split over the classes; floor = real images scored the same way):\n${formatShapesFDClassTable(r.perClass, { indent: '    ' })}`;

// (1) The shipped model.
if (size === 16 && existsSync(join(shippedDir, 'model.safetensors'))) {
  const model = await load<GaussianDiffusion>(shippedDir);
  model.eval();
  const record = JSON.parse(await readFile(join(shippedDir, 'training.json'), 'utf8').catch(() => '{}'));
  const type = String(model.denoiser.toConfig().type);
  const kind = ({ RinNetwork: 'RIN', UNetDenoiser: 'U-Net' } as Record<string, string>)[type] ?? type;
  // Sampled as its training record says (guidance w chosen when it was exported), else w = 3.
  const guidance = Number(record.sampling?.guidance ?? 3);
  const { fd, files } = await portrait(model, join(out, 'shipped'), `shipped ${kind}`, guidance);
  const steps = record.steps ?? NaN;
  results.shipped = {
    label: `shipped ${kind} (assets/flagship: ${steps} steps, ${((record.trainSeconds ?? NaN) / 60).toFixed(0)} min on ${record.backend ?? '?'})`,
    steps, trainMinutes: (record.trainSeconds ?? NaN) / 60, backend: record.backend, guidance, shapesFD: fd, files,
    note: record.shapesFD ? `at training time: shapesFD ${Number(record.shapesFD.value).toFixed(1)} with n=${record.shapesFD.n}` : undefined,
  };
  console.log(`\n[shipped] ${results.shipped.label}\n  ${fmt(fd)}; sampling ${fd.sampleSeconds.toFixed(0)} s\n${table(fd)}\n  rows of ${files[0]}: ${rows}\n  ready after ${elapsed().toFixed(0)} s`);
  model.dispose();
} else {
  console.log(size === 16
    ? `\n[shipped] no shipped model in ${shippedDir} (make one with: npm run train:flagship -w @brickml/diffusion); skipping part 1`
    : `\n[shipped] the shipped model is 16×16; --size ${size} trains a fresh model only`);
}

// (2) A fresh model for the rest of the budget (keeping time to sample and score it).
const reserve = Math.max(45, (results.shipped?.shapesFD.sampleSeconds ?? 40) * 1.5 + 15);
const trainSeconds = Math.max(10, budget - elapsed() - reserve);
const freshDir = join(out, 'fresh');
const ckpt = join(freshDir, 'checkpoint');
const model = new GaussianDiffusion(shapesDiffusionConfig({ size }), { rng: new Rng(seed) });
const { data, toData } = shapesTrainingData(size, 64, seed + 1);
// Warm-up then cosine decay over the steps the budget allows (estimated after the first steps).
const horizon = { steps: args.steps ?? 1_000_000, known: args.steps !== undefined };
const peak = 3e-3, warm = 100;
const schedule = (step: number) =>
  step < warm ? (peak * (step + 1)) / warm : 0.5 * peak * (1 + Math.cos((Math.PI * Math.min(1, (step - warm) / Math.max(1, horizon.steps - warm)))));
const parts = diffusionTrainer({ model, data, toData, steps: horizon.steps, schedule, seed });
if (args.resume && existsSync(join(ckpt, 'trainer.json'))) {
  await parts.trainer.resume(ckpt);
  console.log(`[fresh] resumed from ${ckpt} at step ${parts.trainer.step}`);
}
console.log(`[fresh] training a ${model.denoiser.numParameters().toLocaleString()}-parameter RIN for ${(trainSeconds / 60).toFixed(1)} min`);
const startStep = parts.trainer.step;
const startTime = performance.now();
const run = await trainWithBudget(parts.trainer, parts.batches, {
  steps: args.steps ?? 1_000_000,
  seconds: trainSeconds,
  label: 'fresh RIN',
  checkpoint: { dir: ckpt, every: 100 },
  onStep: (r) => {
    if (!horizon.known && r.step - startStep === 10) {
      const perStep = (performance.now() - startTime) / 1000 / 10;
      horizon.steps = r.step + Math.max(1, Math.floor((trainSeconds - (performance.now() - startTime) / 1000) / perStep));
      horizon.known = true;
    }
  },
});
await writePng(join(freshDir, 'loss.png'), await lossCurvePng(parts.trainer.history, { title: 'fresh RIN: training loss (v-prediction MSE)', smoothing: 0.9 }));
const fresh = await parts.ema.withAveraged(model, async () => {
  await save(model, join(freshDir, 'model'));
  return portrait(model, freshDir, 'fresh RIN', 3);
});
const freshMinutes = parts.trainer.history.reduce((a, h) => a + h.ms, 0) / 60_000;
results.fresh = {
  label: `fresh RIN (this run: ${parts.trainer.step} steps, ${freshMinutes.toFixed(1)} min on ${backend.engine})`,
  steps: parts.trainer.step, trainMinutes: freshMinutes, backend: backend.engine, guidance: 3, shapesFD: fresh.fd,
  files: [...fresh.files, join(freshDir, 'loss.png'), join(freshDir, 'model')],
};
console.log(`\n[fresh] ${results.fresh.label}: ${run.steps} steps this call, stopped by ${run.stoppedBy}\n  ${fmt(fresh.fd)}\n${table(fresh.fd)}`);

await writeFile(join(out, 'metrics.json'), `${JSON.stringify({ backend: backend.engine, seconds: Math.round(elapsed()), rows: SHAPE_NAMES, ...results }, null, 2)}\n`);
console.log(`\nshapesFD (lower is better; n=${fdN}, DDIM 25 steps):`);
for (const r of Object.values(results)) console.log(`  ${r.shapesFD.shapesFD.toFixed(1).padStart(7)}  ${r.label}, guidance w=${r.guidance}`);
const ref = Object.values(results)[0]?.shapesFD;
if (ref) console.log(`  ${ref.realVsReal.toFixed(1).padStart(7)}  real vs real (floor)\n  ${ref.noiseVsReal.toFixed(1).padStart(7)}  noise vs real`);
for (const r of Object.values(results)) console.log(`per class, ${r.label}:\n${formatShapesFDClassTable(r.shapesFD.perClass, { indent: '  ' })}`);
console.log(`wrote ${out}/ (metrics.json, shipped/, fresh/) in ${(elapsed() / 60).toFixed(1)} min`);
parts.dispose();
model.dispose();
void tf;
