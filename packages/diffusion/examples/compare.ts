/**
 * RIN against a plain transformer denoiser of the same forward FLOPs (±1%), each trained for the
 * same wall-clock time on 16×16 `shapes` with the same recipe, data and seed, then scored with
 * shapesFD (DDIM 25 steps, guidance 3). Does RIN's adaptive computation win at this scale? A small
 * conv U-Net (`shapesUNetConfig`) is the third row, the strong baseline.
 *
 *   node packages/diffusion/scripts/run.mjs packages/diffusion/examples/compare.ts --minutes 5 --backend wasm
 *
 * Options: --minutes (per model, default 5), --clock cpu|wall (default cpu: the same CPU time for both
 * models, fair on a shared machine), --backend, --out (default out/compare), --fd-n (128), --seed,
 * --models (comma-separated subset of RIN,transformer,unet; default all three), --help.
 * Beside each model's shapesFD: per class, the shapes classifier's accuracy against the requested
 * class and the coverage of the samples (the table's "acc c/s/t" and "cover c/s/t" columns, in %),
 * and a per-class table (also in compare.json, perClass).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, SHAPE_NAMES, lossCurvePng, writePng, type BrickConfig } from '@brickml/core';
import {
  GaussianDiffusion, budgetClock, ShapesFD, classGridPng, denoiserFlops, diffusionTrainer, evaluateShapesFDPerClass, formatShapesFDClassTable,
  sampleClassGrid, shapesDiffusionConfig, shapesRinConfig, shapesTrainingData, shapesTransformerConfig, shapesUNetConfig, trainWithBudget,
  type ShapesFDClassReport,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';
import { parseCli, type FlagSpecs } from '../scripts/flags.js';

const MODELS = ['RIN', 'transformer', 'unet'] as const;
const specs: FlagSpecs = {
  minutes: { type: 'string', default: '5', help: 'training budget per model, in minutes' },
  clock: { type: 'string', default: 'cpu', help: 'cpu (this process\'s CPU time) or wall' },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm or webgpu,wasm' },
  out: { type: 'string', default: 'out/compare', help: 'output directory' },
  'fd-n': { type: 'string', default: '128', help: 'samples for shapesFD (split over the classes; at least 64)' },
  seed: { type: 'string', default: '0', help: 'seed' },
  models: { type: 'string', default: MODELS.join(','), help: `comma-separated subset of ${MODELS.join(',')}` },
};
const args = parseCli('compare', specs, (f) => ({
  minutes: f.positiveNumber('minutes', 'minutes'),
  clock: f.choice('clock', ['cpu', 'wall'] as const),
  backend: f.backend(),
  out: f.outputDir('out'),
  fdN: f.positiveInt('fd-n', 'samples; shapesFD needs 2 × its 32 features', 64),
  seed: f.nonNegativeInt('seed'),
  models: f.list('models', MODELS),
}));
const seconds = args.minutes * 60;
const out = args.out;
const seed = args.seed;
const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
await mkdir(out, { recursive: true });
const metric = await ShapesFD.load();
const allModels: Array<[(typeof MODELS)[number], BrickConfig]> = [['RIN', shapesRinConfig()], ['transformer', shapesTransformerConfig()], ['unet', shapesUNetConfig()]];
const wanted: readonly string[] = args.models;

const rows: Array<Record<string, unknown>> = [];
const perClass: Record<string, ShapesFDClassReport[]> = {};
const series = [];
for (const [name, denoiser] of allModels.filter(([n]) => wanted.includes(n))) {
  const model = new GaussianDiffusion(shapesDiffusionConfig({ denoiser }), { rng: new Rng(seed) });
  const { data, toData } = shapesTrainingData(16, 64, seed + 1);
  // Cosine horizon: what the budget allows at the speed of the first 10 steps.
  const horizon = { steps: 1_000_000 };
  const schedule = (s: number) => (s < 100 ? (3e-3 * (s + 1)) / 100 : 1.5e-3 * (1 + Math.cos(Math.PI * Math.min(1, (s - 100) / Math.max(1, horizon.steps - 100)))));
  const parts = diffusionTrainer({ model, data, toData, steps: 1_000_000, schedule, seed });
  const clock = args.clock;
  const now = budgetClock(clock);
  const t0 = now();
  const wall0 = performance.now();
  const run = await trainWithBudget(parts.trainer, parts.batches, {
    steps: 1_000_000, seconds, label: name, clock,
    onStep: (r) => {
      if (r.step === 10) horizon.steps = 10 + Math.floor((seconds - (now() - t0) / 1000) / ((now() - t0) / 10_000));
    },
  });
  const wallMinutes = (performance.now() - wall0) / 60_000;
  const fd = await parts.ema.withAveraged(model, async () => {
    const grid = await sampleClassGrid(model, { perClass: 8, seed });
    await writePng(join(out, `${name}-samples.png`), await classGridPng(grid.samples, 8, { labels: SHAPE_NAMES, title: `${name}, ${args.minutes} ${clock}-min` }));
    grid.samples.dispose();
    return evaluateShapesFDPerClass(model, { n: args.fdN, metric, seed: seed + 100 });
  });
  const ms = parts.trainer.history.map((h) => h.ms).sort((a, b) => a - b);
  rows.push({
    model: name, parameters: model.denoiser.numParameters(), forwardMFlopsPerImage: +(denoiserFlops(model.denoiser, 1) / 1e6).toFixed(2),
    steps: run.steps, [`${clock}Minutes`]: +(run.seconds / 60).toFixed(2), wallMinutes: +wallMinutes.toFixed(2), msPerStepMedian: Math.round(ms[Math.floor(ms.length / 2)]),
    finalLoss: +(parts.trainer.history.slice(-50).reduce((a, h) => a + h.loss, 0) / Math.min(50, parts.trainer.history.length)).toFixed(4),
    shapesFD: +fd.shapesFD.toFixed(1), realVsReal: +fd.realVsReal.toFixed(1), noiseVsReal: +fd.noiseVsReal.toFixed(1), n: fd.n,
    // per class (circle/square/triangle): the classifier's accuracy against the requested class, and coverage
    [`acc ${fd.perClass.map((c) => c.name[0]).join('/')}`]: fd.perClass.map((c) => (c.accuracy === null ? '-' : (100 * c.accuracy).toFixed(0))).join('/'),
    [`cover ${fd.perClass.map((c) => c.name[0]).join('/')}`]: fd.perClass.map((c) => (100 * c.coverage).toFixed(0)).join('/'),
  });
  perClass[name] = fd.perClass;
  series.push({ name, x: parts.trainer.history.map((h) => h.step), y: parts.trainer.history.map((h) => h.loss) });
  parts.dispose();
  model.dispose();
}
await writePng(join(out, 'loss.png'), await lossCurvePng(series, { title: `${rows.map((r) => r.model).join(' vs ')}, ${args.minutes} min each`, smoothing: 0.9 }));
await writeFile(join(out, 'compare.json'), `${JSON.stringify({ backend: backend.engine, minutesEach: args.minutes, clock: args.clock, rows, perClass }, null, 2)}\n`);
console.table(rows);
for (const [name, pc] of Object.entries(perClass)) console.log(`${name} per class:\n${formatShapesFDClassTable(pc)}`);
const ranked = [...(rows as Array<{ model: string; shapesFD: number }>)].sort((a, b) => a.shapesFD - b.shapesFD);
console.log(ranked.length > 1 ? `${ranked[0].model} wins: shapesFD ${ranked.map((r) => `${r.model} ${r.shapesFD}`).join(', ')}` : `${ranked[0].model}: shapesFD ${ranked[0].shapesFD}`);
console.log(`wrote ${out}/ (compare.json, loss.png, *-samples.png)`);
void tf;
