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
 * --models (comma-separated subset of RIN,transformer,unet; default all three).
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Rng, lossCurvePng, writePng, type BrickConfig } from '@brickml/core';
import {
  GaussianDiffusion, budgetClock, ShapesFD, classGridPng, denoiserFlops, diffusionTrainer, evaluateShapesFD, sampleClassGrid, shapesDiffusionConfig,
  shapesRinConfig, shapesTrainingData, shapesTransformerConfig, shapesUNetConfig, trainWithBudget,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    clock: { type: 'string', default: 'cpu' },
    backend: { type: 'string' },
    out: { type: 'string', default: 'out/compare' },
    'fd-n': { type: 'string', default: '128' },
    seed: { type: 'string', default: '0' },
    models: { type: 'string', default: 'RIN,transformer,unet' },
  },
});
const seconds = Number(args.minutes) * 60;
const out = resolve(args.out);
const seed = Number(args.seed);
const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
await mkdir(out, { recursive: true });
const metric = await ShapesFD.load();
const allModels: Array<[string, BrickConfig]> = [['RIN', shapesRinConfig()], ['transformer', shapesTransformerConfig()], ['unet', shapesUNetConfig()]];
const wanted = (args.models ?? '').split(',').map((m) => m.trim()).filter((m) => m.length > 0);
const unknown = wanted.filter((m) => !allModels.some(([name]) => name === m));
if (unknown.length > 0 || wanted.length === 0) {
  throw new Error(`compare: option --models expected a comma-separated subset of ${allModels.map(([n]) => n).join(',')}, got '${args.models}'`);
}

const rows: Array<Record<string, unknown>> = [];
const series = [];
for (const [name, denoiser] of allModels.filter(([n]) => wanted.includes(n))) {
  const model = new GaussianDiffusion(shapesDiffusionConfig({ denoiser }), { rng: new Rng(seed) });
  const { data, toData } = shapesTrainingData(16, 64, seed + 1);
  // Cosine horizon: what the budget allows at the speed of the first 10 steps.
  const horizon = { steps: 1_000_000 };
  const schedule = (s: number) => (s < 100 ? (3e-3 * (s + 1)) / 100 : 1.5e-3 * (1 + Math.cos(Math.PI * Math.min(1, (s - 100) / Math.max(1, horizon.steps - 100)))));
  const parts = diffusionTrainer({ model, data, toData, steps: 1_000_000, schedule, seed });
  const clock = args.clock === 'wall' ? 'wall' : 'cpu';
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
    await writePng(join(out, `${name}-samples.png`), await classGridPng(grid.samples, 8));
    grid.samples.dispose();
    return evaluateShapesFD(model, { n: Number(args['fd-n']), metric, seed: seed + 100 });
  });
  const ms = parts.trainer.history.map((h) => h.ms).sort((a, b) => a - b);
  rows.push({
    model: name, parameters: model.denoiser.numParameters(), forwardMFlopsPerImage: +(denoiserFlops(model.denoiser, 1) / 1e6).toFixed(2),
    steps: run.steps, [`${clock}Minutes`]: +(run.seconds / 60).toFixed(2), wallMinutes: +wallMinutes.toFixed(2), msPerStepMedian: Math.round(ms[Math.floor(ms.length / 2)]),
    finalLoss: +(parts.trainer.history.slice(-50).reduce((a, h) => a + h.loss, 0) / Math.min(50, parts.trainer.history.length)).toFixed(4),
    shapesFD: +fd.shapesFD.toFixed(1), realVsReal: +fd.realVsReal.toFixed(1), noiseVsReal: +fd.noiseVsReal.toFixed(1), n: fd.n,
  });
  series.push({ name, x: parts.trainer.history.map((h) => h.step), y: parts.trainer.history.map((h) => h.loss) });
  parts.dispose();
  model.dispose();
}
await writePng(join(out, 'loss.png'), await lossCurvePng(series, { title: `${rows.map((r) => r.model).join(' vs ')}, ${args.minutes} min each`, smoothing: 0.9 }));
await writeFile(join(out, 'compare.json'), `${JSON.stringify({ backend: backend.engine, minutesEach: Number(args.minutes), clock: args.clock, rows }, null, 2)}\n`);
console.table(rows);
const ranked = [...(rows as Array<{ model: string; shapesFD: number }>)].sort((a, b) => a.shapesFD - b.shapesFD);
console.log(ranked.length > 1 ? `${ranked[0].model} wins: shapesFD ${ranked.map((r) => `${r.model} ${r.shapesFD}`).join(', ')}` : `${ranked[0].model}: shapesFD ${ranked[0].shapesFD}`);
console.log(`wrote ${out}/ (compare.json, loss.png, *-samples.png)`);
void tf;
