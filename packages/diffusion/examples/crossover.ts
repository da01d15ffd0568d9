/**
 * The crossover: does RIN overtake a transformer of the same forward FLOPs as the token count grows?
 * RIN (the flagship's shape: 16 latents × 80, interface 48, 2 blocks × 1 layer), a plain
 * transformer whose width (and depth 2–4) is chosen at each size so that its forward FLOPs per
 * image match the RIN's (`matchTransformerFlops`; the ratio is in every row), and the conv U-Net
 * (the strong baseline, its own cost) are each trained for the same CPU time on `shapes` at 16, 32
 * and 64 px with one patch size, so the token count grows 4× per size (patch 4: 16, 64, 256
 * tokens), then scored with shapesFD and per-class accuracy (DDIM 25 steps, w = 3).
 *
 *   npm run crossover -w @brickml/diffusion -- --minutes 2 --sizes 16,32,64 --seeds 0 --backend wasm
 *   npm run crossover -w @brickml/diffusion -- --redraw        # table + plot from results/crossover.json
 *
 * Every finished (model, size, patch, seed) run appends one row to `--results` (default
 * results/crossover.json in this package) and is skipped when the command is run again, so a long
 * sweep survives the session that starts it; `--redraw` re-draws the table (means over seeds) and
 * the plot (results/crossover.png: shapesFD and mean per-class accuracy vs tokens) without training.
 *
 * Options: --minutes (per run, default 2), --clock cpu|wall (default cpu), --sizes, --patch (default
 * 4), --seeds (comma-separated), --models (RIN,transformer,unet), --batch (default 32), --fd-n
 * (default 96), --sample-steps (default 25), --backend, --results, --plot, --redraw, --help.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, renderShapes, renderSpecToPng, shapes, writePng, type BatchSource, type BrickConfig, type ShapesBatch } from '@brickml/core';
import {
  GaussianDiffusion, ShapesFD, budgetClock, denoiserFlops, diffusionTrainer, evaluateShapesFDPerClass, matchTransformerFlops, trainWithBudget,
  type DataBatch,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';
import { FlagError, parseCli, type FlagSpecs } from '../scripts/flags.js';

const MODELS = ['RIN', 'transformer', 'unet'] as const;
type ModelName = (typeof MODELS)[number];
const SIZES = [16, 32, 64] as const;
type Size = (typeof SIZES)[number];
// this package's folder (scripts/run.mjs runs a bundled copy from node_modules/.cache and says where the package is)
const runPackage = (globalThis as { __brickmlRunPackage?: URL }).__brickmlRunPackage;
const pkg = runPackage ? fileURLToPath(runPackage) : join(dirname(fileURLToPath(import.meta.url)), '..');

const specs: FlagSpecs = {
  minutes: { type: 'string', default: '2', help: 'training budget per run, in minutes' },
  clock: { type: 'string', default: 'cpu', help: "cpu (this process's CPU time) or wall" },
  sizes: { type: 'string', default: '16,32,64', help: 'image sides, comma-separated (16, 32, 64)' },
  patch: { type: 'string', default: '4', help: 'patch side of RIN and transformer at every size' },
  seeds: { type: 'string', default: '0', help: 'seeds, comma-separated' },
  models: { type: 'string', default: MODELS.join(','), help: `comma-separated subset of ${MODELS.join(',')}` },
  batch: { type: 'string', default: '32', help: 'training batch size' },
  'fd-n': { type: 'string', default: '96', help: 'samples for shapesFD (at least 64)' },
  'sample-steps': { type: 'string', default: '25', help: 'DDIM steps for the shapesFD samples' },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm' },
  results: { type: 'string', default: join(pkg, 'results', 'crossover.json'), help: 'the JSON the rows are appended to' },
  plot: { type: 'string', default: join(pkg, 'results', 'crossover.png'), help: 'the PNG plot written from the rows' },
  redraw: { type: 'boolean', help: 'only re-draw the table and plot from --results (no training)' },
};
const args = parseCli('crossover', specs, (f) => ({
  minutes: f.positiveNumber('minutes', 'minutes'),
  clock: f.choice('clock', ['cpu', 'wall'] as const),
  sizes: f.list('sizes', SIZES.map(String)).map(Number) as Size[],
  patch: f.positiveInt('patch', 'pixels'),
  seeds: (f.string('seeds') ?? '0').split(',').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 0) throw new FlagError(`--seeds expected comma-separated non-negative integers, got ${JSON.stringify(s)}`);
    return v;
  }),
  models: f.list('models', MODELS) as ModelName[],
  batch: f.positiveInt('batch', 'images'),
  fdN: f.positiveInt('fd-n', 'samples; shapesFD needs 2 × its 32 features', 64),
  sampleSteps: f.positiveInt('sample-steps', 'steps'),
  backend: f.backend(),
  results: f.string('results')!,
  plot: f.string('plot')!,
  redraw: f.boolean('redraw'),
}));

/** One finished run. */
interface Row {
  model: ModelName;
  size: Size;
  patch: number;
  /** Patch tokens (the U-Net has none: the RIN's, for the x axis). */
  tokens: number;
  seed: number;
  backend: string;
  clock: 'cpu' | 'wall';
  /** Budget minutes and what the run used (on `clock`), and its wall minutes. */
  budgetMinutes: number;
  minutes: number;
  wallMinutes: number;
  batch: number;
  steps: number;
  parameters: number;
  /** Forward FLOPs per image, and per training step (≈ 3 × forward × batch). */
  forwardMFlopsPerImage: number;
  trainGFlopsPerStep: number;
  /** Forward FLOPs relative to the RIN's at this size and patch. */
  flopsVsRin: number;
  /** The transformer's width and depth (null for the others). */
  dim: number | null;
  depth: number | null;
  /** Median wall ms per training step (inflated on a busy machine; the table adds CPU ms per step = minutes / steps under the cpu clock). */
  msPerStepMedian: number;
  finalLoss: number;
  shapesFD: number;
  realVsReal: number;
  noiseVsReal: number;
  fdN: number;
  /** Per class (circle/square/triangle): the classifier's accuracy against the requested class, and coverage (real coverage beside). */
  accuracy: number[];
  meanAccuracy: number;
  coverage: number[];
  realCoverage: number[];
  finishedAt: string;
}
interface ResultsFile {
  description: string;
  rows: Row[];
}

async function readResults(path: string): Promise<ResultsFile> {
  if (!existsSync(path)) {
    return {
      description: 'RIN vs a same-forward-FLOPs transformer vs a conv U-Net on shapes at equal CPU time, one row per (model, size, patch, seed); written by examples/crossover.ts',
      rows: [],
    };
  }
  return JSON.parse(await readFile(path, 'utf8')) as ResultsFile;
}

function rinConfig(size: Size, patch: number): BrickConfig {
  return {
    type: 'RinNetwork', channels: 3, inputSize: [size, size], patchSize: patch, numLatents: 16, numBlocks: 2, computeLayers: 1,
    latentDim: 80, interfaceDim: 48, readHeads: 4, latentHeads: 4, numClasses: 3, writeDepthwiseConv: true, selfCondition: false,
  };
}
function unetConfig(size: Size): BrickConfig {
  return { type: 'UNetDenoiser', channels: 3, inputSize: [size, size], widths: [24, 48], blocksPerLevel: 1, numClasses: 3 };
}

/** The transformer matched to the RIN's forward FLOPs at this size (width over multiples of 4, depth 2–4). */
function matchedTransformer(size: Size, patch: number): { config: BrickConfig; ratio: number } {
  const rin = new GaussianDiffusion({ denoiser: rinConfig(size, patch), schedule: { kind: 'cosine' }, objective: 'v' }, { rng: new Rng(0) });
  const target = denoiserFlops(rin.denoiser, 1);
  rin.dispose();
  const m = matchTransformerFlops(target, { channels: 3, inputSize: [size, size], patchSize: patch, heads: 4, mlpRatio: 2, numClasses: 3, depth: 3 }, { depths: [2, 3, 4], dimStep: 4 });
  return { config: { type: 'TransformerDenoiser', ...m.config }, ratio: m.ratio };
}

/** `shapes` batches at `size`; 64 px renders the 32-px stream's labels at 64 px (the `shapes` stream draws 16/32). */
function shapesBatches(size: Size, batch: number, seed: number): BatchSource<ShapesBatch> {
  const ds = shapes({ size: size === 64 ? 32 : size, batchSize: batch, seed });
  if (size !== 64) return ds;
  return {
    next(): ShapesBatch {
      const s = ds.sample(batch);
      const b = ds.toBatch({ ...s, images: renderShapes(s.labels, { size: 64 }), shape: [batch, 3, 64, 64] });
      return b;
    },
    getState: () => ds.getState(),
    setState: (st: unknown) => ds.setState(st as Parameters<typeof ds.setState>[0]),
  };
}

function diffusionConfig(denoiser: BrickConfig) {
  return { denoiser, schedule: { kind: 'sigmoid' as const, start: -3, end: 3, tau: 0.9 }, objective: 'v' as const, classDropout: 0.1, selfConditionRate: 0.9 };
}

async function runOne(model: ModelName, size: Size, seed: number, metric: ShapesFD, engine: string): Promise<Row> {
  const patch = args.patch;
  const matched = model === 'transformer' ? matchedTransformer(size, patch) : null;
  const denoiser = model === 'RIN' ? rinConfig(size, patch) : model === 'transformer' ? matched!.config : unetConfig(size);
  const diffusion = new GaussianDiffusion(diffusionConfig(denoiser), { rng: new Rng(seed) });
  const rinRef = new GaussianDiffusion(diffusionConfig(rinConfig(size, patch)), { rng: new Rng(0) });
  const rinFlops = denoiserFlops(rinRef.denoiser, 1);
  rinRef.dispose();
  const data = shapesBatches(size, args.batch, seed + 1);
  const toData = (b: ShapesBatch): DataBatch => ({ x0: b.images, classes: b.labels.shape });
  const seconds = args.minutes * 60;
  const horizon = { steps: 1_000_000 };
  const schedule = (s: number) => (s < 100 ? (3e-3 * (s + 1)) / 100 : 1.5e-3 * (1 + Math.cos(Math.PI * Math.min(1, (s - 100) / Math.max(1, horizon.steps - 100)))));
  const parts = diffusionTrainer({ model: diffusion, data, toData, steps: 1_000_000, schedule, seed });
  const now = budgetClock(args.clock);
  const t0 = now();
  const wall0 = performance.now();
  const label = `${model} ${size}px p${patch} s${seed}`;
  const run = await trainWithBudget(parts.trainer, parts.batches, {
    steps: 1_000_000, seconds, label, clock: args.clock,
    onStep: (r) => {
      if (r.step === 10) horizon.steps = 10 + Math.floor((seconds - (now() - t0) / 1000) / ((now() - t0) / 10_000));
    },
  });
  const wallMinutes = (performance.now() - wall0) / 60_000;
  const fd = await parts.ema.withAveraged(diffusion, () => evaluateShapesFDPerClass(diffusion, { n: args.fdN, metric, seed: seed + 100, steps: args.sampleSteps, batch: 48 }));
  const ms = parts.trainer.history.map((h) => h.ms).sort((a, b) => a - b);
  const flops = denoiserFlops(diffusion.denoiser, 1);
  const hist = parts.trainer.history;
  const tail = hist.slice(-50);
  const row: Row = {
    model, size, patch, tokens: (size / patch) ** 2, seed, backend: engine, clock: args.clock,
    budgetMinutes: args.minutes, minutes: +(run.seconds / 60).toFixed(2), wallMinutes: +wallMinutes.toFixed(2), batch: args.batch,
    steps: run.steps, parameters: diffusion.denoiser.numParameters(),
    forwardMFlopsPerImage: +(flops / 1e6).toFixed(3), trainGFlopsPerStep: +((3 * flops * args.batch) / 1e9).toFixed(3), flopsVsRin: +(flops / rinFlops).toFixed(3),
    dim: matched ? (matched.config.dim as number) : null, depth: matched ? (matched.config.depth as number) : null,
    msPerStepMedian: Math.round(ms[Math.floor(ms.length / 2)] ?? NaN),
    finalLoss: +(tail.reduce((a, h) => a + h.loss, 0) / Math.max(1, tail.length)).toFixed(4),
    shapesFD: +fd.shapesFD.toFixed(2), realVsReal: +fd.realVsReal.toFixed(2), noiseVsReal: +fd.noiseVsReal.toFixed(2), fdN: fd.n,
    accuracy: fd.perClass.map((c) => +(c.accuracy ?? NaN).toFixed(3)),
    meanAccuracy: +(fd.perClass.reduce((a, c) => a + (c.accuracy ?? 0), 0) / fd.perClass.length).toFixed(3),
    coverage: fd.perClass.map((c) => +c.coverage.toFixed(3)),
    realCoverage: fd.perClass.map((c) => +c.realCoverage.toFixed(3)),
    finishedAt: new Date().toISOString(),
  };
  parts.dispose();
  diffusion.dispose();
  return row;
}

const ORDER: Record<ModelName, number> = { RIN: 0, transformer: 1, unet: 2 };

/** Means over seeds per (model, size, patch), as a text table. */
function table(rows: readonly Row[]): string {
  const groups = new Map<string, Row[]>();
  for (const r of [...rows].sort((a, b) => a.tokens - b.tokens || a.size - b.size || ORDER[a.model] - ORDER[b.model])) {
    const k = `${r.model}|${r.size}|${r.patch}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const head = `${'model'.padEnd(12)} ${'px'.padStart(3)} ${'patch'.padStart(5)} ${'tokens'.padStart(6)} ${'seeds'.padStart(5)} ${'params'.padStart(8)} ${'fwd MFLOP'.padStart(9)} ${'vs RIN'.padStart(6)} ${'GFLOP/step'.padStart(10)} ${'ms/step'.padStart(7)} ${'cpu ms/step'.padStart(11)} ${'steps'.padStart(6)} ${'shapesFD'.padStart(8)} ${'(real, noise)'.padStart(15)} ${'acc c/s/t %'.padStart(12)} ${'mean acc'.padStart(8)}`;
  const lines = [...groups.values()].map((g) => {
    const r = g[0];
    const acc = [0, 1, 2].map((c) => (100 * mean(g.map((x) => x.accuracy[c]))).toFixed(0)).join('/');
    const fd = mean(g.map((x) => x.shapesFD));
    const sd = g.length > 1 ? Math.sqrt(mean(g.map((x) => (x.shapesFD - fd) ** 2))) : NaN;
    return `${(r.model + (r.dim ? ` d${r.dim}×${r.depth}` : '')).padEnd(12)} ${String(r.size).padStart(3)} ${String(r.patch).padStart(5)} ${String(r.tokens).padStart(6)} ${String(g.length).padStart(5)} ${r.parameters.toLocaleString('en-US').padStart(8)} ${r.forwardMFlopsPerImage.toFixed(2).padStart(9)} ${r.flopsVsRin.toFixed(2).padStart(6)} ${mean(g.map((x) => x.trainGFlopsPerStep)).toFixed(2).padStart(10)} ${Math.round(mean(g.map((x) => x.msPerStepMedian))).toString().padStart(7)} ${(r.clock === 'cpu' ? Math.round(mean(g.map((x) => (60_000 * x.minutes) / x.steps))).toString() : '-').padStart(11)} ${Math.round(mean(g.map((x) => x.steps))).toString().padStart(6)} ${(fd.toFixed(1) + (Number.isFinite(sd) ? `±${sd.toFixed(1)}` : '')).padStart(8)} ${`(${mean(g.map((x) => x.realVsReal)).toFixed(1)}, ${mean(g.map((x) => x.noiseVsReal)).toFixed(0)})`.padStart(15)} ${acc.padStart(12)} ${(100 * mean(g.map((x) => x.meanAccuracy))).toFixed(0).padStart(8)}`;
  });
  return [head, ...lines].join('\n');
}

/** shapesFD and mean per-class accuracy vs tokens (log axis), one line per model through the seed means, the seeds as points. */
async function plot(rows: readonly Row[], path: string): Promise<void> {
  const values = rows.map((r) => ({ model: r.model, tokens: r.tokens, size: `${r.size}px`, shapesFD: r.shapesFD, accuracy: 100 * r.meanAccuracy }));
  const panel = (field: string, title: string, log: boolean) => ({
    width: 320, height: 240,
    layer: [
      { mark: { type: 'line', point: true }, encoding: {
        x: { field: 'tokens', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'patch tokens (16 / 32 / 64 px at patch 4)' },
        y: { aggregate: 'mean', field, type: 'quantitative', title, scale: log ? { type: 'log' } : { zero: true } },
        color: { field: 'model', type: 'nominal' } } },
      { mark: { type: 'point', opacity: 0.5, size: 20 }, encoding: {
        x: { field: 'tokens', type: 'quantitative', scale: { type: 'log', base: 2 } },
        y: { field, type: 'quantitative', scale: log ? { type: 'log' } : { zero: true } },
        color: { field: 'model', type: 'nominal' } } },
    ],
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `shapes: RIN vs same-FLOPs transformer vs U-Net at equal ${rows[0]?.clock ?? 'cpu'} time (${rows[0]?.budgetMinutes ?? '?'} min per run)`,
    background: 'white',
    data: { values },
    hconcat: [panel('shapesFD', 'shapesFD (lower is better, log)', true), panel('accuracy', 'per-class accuracy, mean % (higher is better)', false)],
  };
  await writePng(path, await renderSpecToPng(spec));
}

const results = await readResults(args.results);
if (!args.redraw) {
  const backend = await setupBackend(args.backend);
  console.log(`backend: ${backend.line}`);
  const metric = await ShapesFD.load();
  await mkdir(dirname(args.results), { recursive: true });
  for (const size of args.sizes) {
    for (const seed of args.seeds) {
      for (const model of args.models) {
        const done = results.rows.find((r) => r.model === model && r.size === size && r.patch === args.patch && r.seed === seed);
        if (done) {
          console.log(`skip ${model} ${size}px patch ${args.patch} seed ${seed}: in ${args.results} (${done.finishedAt})`);
          continue;
        }
        const row = await runOne(model, size, seed, metric, backend.engine);
        console.log(`${model} ${size}px (${row.tokens} tokens) seed ${seed}: shapesFD ${row.shapesFD} (real ${row.realVsReal}, noise ${row.noiseVsReal}), acc ${row.accuracy.map((a) => (100 * a).toFixed(0)).join('/')} %, ${row.steps} steps, ${row.msPerStepMedian} ms/step, FLOPs ×${row.flopsVsRin} RIN's`);
        // re-read before appending, so two sweeps writing the same file do not drop each other's rows
        const fresh = await readResults(args.results);
        fresh.rows.push(row);
        results.rows = fresh.rows;
        await writeFile(args.results, `${JSON.stringify(fresh, null, 2)}\n`);
      }
    }
  }
  metric.classifier.dispose();
}
if (results.rows.length === 0) {
  console.log(`no rows in ${args.results} yet`);
} else {
  console.log(table(results.rows));
  await mkdir(dirname(args.plot), { recursive: true });
  await plot(results.rows, args.plot);
  console.log(`wrote ${args.plot} from ${results.rows.length} rows of ${args.results}`);
}
void tf;
