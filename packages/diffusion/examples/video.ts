/**
 * Video frame prediction on `movingSprites` (16×16, 6 frames: 2 clean context frames, 4 predicted)
 * with a video RIN, trained for a time budget, then scored with per-frame PSNR on held-out clips
 * next to the copy-the-last-frame baseline; writes a GIF of context + predicted frames.
 *
 *   node packages/diffusion/scripts/run.mjs packages/diffusion/examples/video.ts --minutes 5 --backend wasm
 *
 * Options: --minutes (default 5), --patch (the RIN's patch side, default videoRinConfig's 4), --clock wall|cpu (cpu: this process's CPU time, for a shared machine), --backend, --out (default out/video), --clips (held-out clips, 32), --seed,
 * --residual-from lastContext|none (diffuse the residual from the last context frame, GaussianDiffusion residualFrom; default lastContext),
 * --context-channels m (concatenate the last m context frames along channels to every frame's input, 0–2; default 2),
 * --objective eps|x0|v (default x0),
 * --attn-clips (held-out clips for the read-attention table, default 16), --results (the JSON the read-attention
 * record is appended to, default results/read-attention.json in this package).
 *
 * Where the RIN reads: on held-out clips it predicts the future frames with read maps at every DDIM
 * step and tables, per block and step, the share of the read-attention mass on patches covered by a
 * sprite (the clips' masks on the patch grid, `spritePatchMask`) beside those patches' share (uniform
 * reading), for the context and the predicted frames (`readAttentionMass`); the record is appended to
 * `--results`, and overlays of the read maps on the true frames are written beside it
 * (read-attention-step*.png) and in `--out`.
 * The defaults won a 15-CPU-minute run against copy-last-frame on every predicted frame (README); the library's
 * `videoDiffusionConfig` keeps its own defaults (v, no residual, no context channels):
 *   --residual-from none --context-channels 0 --objective v   reproduces the plain video RIN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, movingSprites, save, videoGif, writePng, imageGridPng } from '@brickml/core';
import {
  GaussianDiffusion, type Objective, budgetClock, diffusionTrainer, videoRinConfig, evaluateVideoPSNR, predictFrames, readMapsPng, trainWithBudget, videoDiffusionConfig, videoTrainingData,
  formatReadMassTable, readAttentionMass, spritePatchMask, type ReadMassRow,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';
import { parseCli, type FlagSpecs } from '../scripts/flags.js';

// this package's folder (scripts/run.mjs runs a bundled copy from node_modules/.cache and says where the package is)
const runPackage = (globalThis as { __brickmlRunPackage?: URL }).__brickmlRunPackage;
const pkg = runPackage ? fileURLToPath(runPackage) : join(dirname(fileURLToPath(import.meta.url)), '..');
const specs: FlagSpecs = {
  minutes: { type: 'string', default: '5', help: 'training budget in minutes' },
  clock: { type: 'string', default: 'wall', help: "wall or cpu (this process's CPU time)" },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm or webgpu,wasm' },
  out: { type: 'string', default: 'out/video', help: 'output directory' },
  clips: { type: 'string', default: '32', help: 'held-out clips for PSNR' },
  patch: { type: 'string', help: "the RIN's patch side (default videoRinConfig's)" },
  'residual-from': { type: 'string', default: 'lastContext', help: 'lastContext or none' },
  'context-channels': { type: 'string', default: '2', help: 'last m context frames concatenated to every frame, 0-2' },
  objective: { type: 'string', default: 'x0', help: 'eps, x0 or v' },
  seed: { type: 'string', default: '0', help: 'seed' },
  'attn-clips': { type: 'string', default: '16', help: 'held-out clips for the read-attention table' },
  results: { type: 'string', default: join(pkg, 'results', 'read-attention.json'), help: 'JSON the read-attention record is appended to' },
};
const args = parseCli('video', specs, (f) => ({
  minutes: f.positiveNumber('minutes', 'minutes'),
  clock: f.choice('clock', ['wall', 'cpu'] as const),
  backend: f.backend(),
  out: f.outputDir('out'),
  clips: f.positiveInt('clips', 'held-out clips'),
  patch: f.optionalPositiveInt('patch', 'pixels'),
  residualFrom: f.choice('residual-from', ['lastContext', 'none'] as const),
  contextChannels: f.choice('context-channels', [0, 1, 2] as const),
  objective: f.choice('objective', ['eps', 'x0', 'v'] as const) satisfies Objective,
  seed: f.nonNegativeInt('seed'),
  attnClips: f.positiveInt('attn-clips', 'clips'),
  results: f.string('results')!,
}));
const seconds = args.minutes * 60;
const out = args.out;
const seed = args.seed;
const task = { size: 16 as const, frames: 6, context: 2 };
const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
await mkdir(out, { recursive: true });

const conditioning = { residual: args.residualFrom === 'lastContext', contextChannels: args.contextChannels };
const denoiser = { ...videoRinConfig({ ...task, ...conditioning }), ...(args.patch !== undefined ? { patchSize: args.patch } : {}) };
const objective: Objective = args.objective;
const model = new GaussianDiffusion(videoDiffusionConfig({ ...task, ...conditioning, denoiser, objective }), { rng: new Rng(seed) });
const { data, toData } = videoTrainingData({ ...task, batchSize: 16, seed: seed + 1 });
const horizon = { steps: 1_000_000 };
const schedule = (s: number) => (s < 100 ? (2e-3 * (s + 1)) / 100 : 1e-3 * (1 + Math.cos(Math.PI * Math.min(1, (s - 100) / Math.max(1, horizon.steps - 100)))));
const parts = diffusionTrainer({ model, data, toData, steps: 1_000_000, schedule, seed });
console.log(
  `video RIN: ${model.denoiser.numParameters().toLocaleString()} parameters, ${task.context} context → ${task.frames - task.context} predicted frames` +
    `, objective ${model.config.objective}, residualFrom ${model.config.residualFrom}, contextChannels ${model.config.contextChannels}`,
);
const clock = args.clock;
const now = budgetClock(clock);
const t0 = now();
const run = await trainWithBudget(parts.trainer, parts.batches, {
  steps: 1_000_000, seconds, label: 'video RIN', clock,
  onStep: (r) => {
    if (r.step === 10) horizon.steps = 10 + Math.floor((seconds - (now() - t0) / 1000) / ((now() - t0) / 10_000));
  },
});
const report = await parts.ema.withAveraged(model, async () => {
  await save(model, join(out, 'model'));
  const s = movingSprites({ size: 16, frames: task.frames, batchSize: 1, seed: 0 }).fixedSplit(6, 99);
  const videos = tf.tensor(s.videos, s.videoShape);
  const context = tf.slice(videos, [0, 0, 0, 0, 0], [-1, task.context, -1, -1, -1]);
  const r = await predictFrames(model, context, { seed, readMaps: true });
  const full = tf.concat([context, r.samples], 1);
  await writePng(join(out, 'truth.png'), await imageGridPng(tf.reshape(videos, [-1, 3, 16, 16]), { cols: task.frames, scale: 3 }));
  await writePng(join(out, 'predicted.png'), await imageGridPng(tf.reshape(full, [-1, 3, 16, 16]), { cols: task.frames, scale: 3 }));
  await writePng(join(out, 'predicted.gif'), await videoGif(full, { scale: 4 }));
  if (r.readMaps) await writePng(join(out, 'read-maps.png'), await readMapsPng(r.readMaps, full, { indices: [0, 1], rowLabels: ['clip 1', 'clip 2'], scale: 4 }));
  tf.dispose([videos, context, r.samples, full]);
  return evaluateVideoPSNR(model, { n: args.clips, seed });
});

// Where the RIN reads, on held-out clips (not the training stream: a fixed split of its own seed).
const attn = await parts.ema.withAveraged(model, async () => {
  const s = movingSprites({ size: 16, frames: task.frames, batchSize: 1, seed: 0 }).fixedSplit(args.attnClips, 4243);
  const videos = tf.tensor(s.videos, s.videoShape);
  const context = tf.slice(videos, [0, 0, 0, 0, 0], [-1, task.context, -1, -1, -1]);
  const r = await predictFrames(model, context, { seed: seed + 7, readMaps: true });
  if (!r.readMaps) throw new Error('video example: the sampler returned no read maps (is the denoiser a RinNetwork?)');
  const patch = denoiser.patchSize as number;
  const minCoverage = 0.25;
  const mask = spritePatchMask(s.masks, s.maskShape, { patchSize: patch, tubelet: 1, minCoverage });
  const rows = readAttentionMass(r.readMaps, mask, { contextCells: task.context });
  const resultsDir = dirname(args.results);
  await mkdir(resultsDir, { recursive: true });
  const n = Math.min(3, args.attnClips);
  const steps = r.readMaps.maps.length;
  const pngs: string[] = [];
  for (const step of [0, Math.floor(steps / 2), steps - 1]) {
    const png = await readMapsPng(r.readMaps, videos, { step, indices: Array.from({ length: n }, (_, i) => i), rowLabels: Array.from({ length: n }, (_, i) => `clip ${i + 1}`), scale: 4, title: true });
    const name = `read-attention-step${step + 1}.png`;
    await writePng(join(out, name), png);
    await writePng(join(resultsDir, name), png);
    pngs.push(name);
  }
  tf.dispose([videos, context, r.samples]);
  return { rows, minCoverage, clips: args.attnClips, samplerSteps: steps, pngs };
});
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const summary = (['context', 'predicted', 'all'] as const).flatMap((frames) =>
  [...new Set(attn.rows.map((r) => r.block))].map((block) => {
    const sel = attn.rows.filter((r: ReadMassRow) => r.frames === frames && r.block === block);
    return { block, frames, mass: +mean(sel.map((r) => r.mass)).toFixed(4), uniform: +mean(sel.map((r) => r.uniform)).toFixed(4), lift: +(mean(sel.map((r) => r.mass)) / mean(sel.map((r) => r.uniform))).toFixed(3), frameMass: +mean(sel.map((r) => r.frameMass)).toFixed(4), frameShare: +sel[0].frameShare.toFixed(4) };
  }),
);
const existing = existsSync(args.results) ? (JSON.parse(await readFile(args.results, 'utf8')) as { description: string; records: unknown[] }) : {
  description: 'Read-attention mass of the video RIN on sprite patches vs their share (uniform reading), per block, DDIM step and kind of frame, on held-out movingSprites clips; one record per run of examples/video.ts',
  records: [],
};
existing.records.push({
  finishedAt: new Date().toISOString(), backend: backend.engine, clock, minutes: +(run.seconds / 60).toFixed(2), steps: run.steps, seed,
  task, patchSize: denoiser.patchSize, objective: model.config.objective, residualFrom: model.config.residualFrom, contextChannels: model.config.contextChannels,
  clips: attn.clips, minCoverage: attn.minCoverage, samplerSteps: attn.samplerSteps, overlays: attn.pngs,
  meanOverSteps: summary,
  rows: attn.rows.map((r) => ({ ...r, mass: +r.mass.toFixed(4), uniform: +r.uniform.toFixed(4), lift: +r.lift.toFixed(3), frameMass: +r.frameMass.toFixed(4), frameShare: +r.frameShare.toFixed(4) })),
});
await writeFile(args.results, `${JSON.stringify(existing, null, 2)}\n`);
console.log(`read attention on sprite patches (${attn.clips} held-out clips, patch ≥ ${100 * attn.minCoverage}% sprite), selected DDIM steps:`);
console.log(formatReadMassTable(attn.rows));
console.log('mean over all steps:');
for (const r of summary) console.log(`  block ${r.block + 1} ${r.frames.padEnd(10)} on sprites ${(100 * r.mass).toFixed(1)}%  uniform ${(100 * r.uniform).toFixed(1)}%  lift ${r.lift.toFixed(2)}  frame mass ${(100 * r.frameMass).toFixed(0)}% (share ${(100 * r.frameShare).toFixed(0)}%)`);
console.log(`appended to ${args.results}; overlays ${attn.pngs.join(', ')} in ${dirname(args.results)} and ${out}`);

const result = { backend: backend.engine, patchSize: denoiser.patchSize, objective: model.config.objective, residualFrom: model.config.residualFrom, contextChannels: model.config.contextChannels, steps: run.steps, clock, minutes: +(run.seconds / 60).toFixed(2), ...report };
await writeFile(join(out, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`PSNR per predicted frame (dB), ${report.clips} held-out clips:`);
console.log(`  model          ${report.model.map((v) => v.toFixed(2)).join('  ')}   mean ${report.meanModel.toFixed(2)}`);
console.log(`  copy last frame ${report.copyLastFrame.map((v) => v.toFixed(2)).join('  ')}   mean ${report.meanCopyLastFrame.toFixed(2)}`);
console.log(`wrote ${out}/ (metrics.json, predicted.gif, truth.png, predicted.png, read-maps.png, model/)`);
parts.dispose();
model.dispose();
