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
 * --objective eps|x0|v (default x0).
 * The defaults won a 15-CPU-minute run against copy-last-frame on every predicted frame (README); the library's
 * `videoDiffusionConfig` keeps its own defaults (v, no residual, no context channels):
 *   --residual-from none --context-channels 0 --objective v   reproduces the plain video RIN.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, movingSprites, save, videoGif, writePng, imageGridPng } from '@brickml/core';
import {
  GaussianDiffusion, type Objective, budgetClock, diffusionTrainer, videoRinConfig, evaluateVideoPSNR, predictFrames, readMapsPng, trainWithBudget, videoDiffusionConfig, videoTrainingData,
} from '../src/index.js';
import { setupBackend } from '../scripts/backend.js';
import { parseCli, type FlagSpecs } from '../scripts/flags.js';

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
const result = { backend: backend.engine, patchSize: denoiser.patchSize, objective: model.config.objective, residualFrom: model.config.residualFrom, contextChannels: model.config.contextChannels, steps: run.steps, clock, minutes: +(run.seconds / 60).toFixed(2), ...report };
await writeFile(join(out, 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(`PSNR per predicted frame (dB), ${report.clips} held-out clips:`);
console.log(`  model          ${report.model.map((v) => v.toFixed(2)).join('  ')}   mean ${report.meanModel.toFixed(2)}`);
console.log(`  copy last frame ${report.copyLastFrame.map((v) => v.toFixed(2)).join('  ')}   mean ${report.meanCopyLastFrame.toFixed(2)}`);
console.log(`wrote ${out}/ (metrics.json, predicted.gif, truth.png, predicted.png, read-maps.png, model/)`);
parts.dispose();
model.dispose();
