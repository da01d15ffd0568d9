/**
 * Trains the class-conditional diffusion model shipped with @brickml/diffusion (the flagship model)
 * on 16×16 `shapes`, resumably, and exports its EMA weights with a record of the run to
 * packages/diffusion/assets/flagship/ (config.json, model.safetensors, training.json).
 *
 * `--denoiser unet` (the default, and the shipped model) trains the small conv U-Net
 * (`shapesUNetConfig`); `--denoiser rin` the RIN of the recipe below. At 16×16 (64 tokens) and CPU
 * budgets the U-Net is the one that draws every class (see the package README, "Which denoiser").
 *
 *   npm run train:flagship -w @brickml/diffusion                     # full run (6,000 steps), resumes if interrupted
 *   npm run train:flagship -w @brickml/diffusion -- --minutes 30     # add 30 minutes to the run, then export
 *   npm run train:flagship -w @brickml/diffusion -- --steps 20 --warmup 5 --work /tmp/fs --assets /tmp/fs-assets --eval-n 128
 *
 * Recipe (the flagship experiments in the diffusion README): RIN with interface width 48, latent width 80, 16
 * latents, 2 blocks × 1 latent layer, patch 2, class token with label dropout 0.1, 3×3 depthwise
 * conv in the write step; v-prediction, sigmoid@-3,3,0.9; AdamW 3e-3, 200 warm-up steps, cosine
 * decay over the whole run, weight decay 0.01, clip 1; EMA 0.999; batch 64; samples with 25 DDIM
 * steps and guidance w = 3. The resumable trainer checkpoint lives in --work (default
 * packages/diffusion/out/flagship-train, git-ignored); training time adds up over resumes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { appendFile, readFile, writeFile, mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Rng, Trainer, save } from '@brickml/core';
import {
  GaussianDiffusion, ShapesFD, shapesRinConfig, shapesUNetConfig, diffusionTrainer, evaluateShapesFDPerClass, formatShapesFDClassTable, shapesDiffusionConfig, shapesTrainingData,
  trainWithBudget,
} from '../src/index.js';
import { setupBackend } from './backend.js';
import { FlagError, parseCli, type FlagSpecs } from './flags.js';

const specs: FlagSpecs = {
  steps: { type: 'string', default: '6000', help: 'target step of the whole run (cosine decay ends here)' },
  batch: { type: 'string', default: '64', help: 'batch size' },
  lr: { type: 'string', default: '3e-3', help: 'peak learning rate' },
  warmup: { type: 'string', default: '200', help: 'warm-up steps' },
  minutes: { type: 'string', help: 'train for this many minutes in this call, then export (default: to --steps)' },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm or webgpu,wasm' },
  work: { type: 'string', help: 'resumable trainer checkpoint (default out/flagship-train)' },
  assets: { type: 'string', help: 'export folder (default assets/flagship)' },
  every: { type: 'string', default: '250', help: 'checkpoint every n steps' },
  'eval-every': { type: 'string', default: '0', help: 'shapesFD (n=256) every n steps; 0 = never' },
  'eval-n': { type: 'string', default: '1000', help: 'samples for the final shapesFD' },
  seed: { type: 'string', default: '0', help: 'seed' },
  fresh: { type: 'boolean', default: false, help: 'ignore an existing checkpoint in --work' },
  denoiser: { type: 'string', default: 'unet', help: 'unet (the shipped model) or rin' },
  guidance: { type: 'string', default: '3', help: 'classifier-free guidance w of the evaluations (recorded for npm start)' },
};
const pkgRoot = resolve(dirname(process.argv[1]), '..');
const args = parseCli('train-flagship', specs, (f) => {
  const o = {
    steps: f.positiveInt('steps', 'training steps'),
    batch: f.positiveInt('batch', 'images per batch'),
    lr: f.positiveNumber('lr'),
    warmup: f.nonNegativeInt('warmup', 'steps'),
    minutes: f.optionalPositiveNumber('minutes', 'minutes'),
    backend: f.backend(),
    work: f.outputDir('work', join(pkgRoot, 'out', 'flagship-train')),
    assets: f.outputDir('assets', join(pkgRoot, 'assets', 'flagship')),
    every: f.positiveInt('every', 'steps'),
    evalEvery: f.nonNegativeInt('eval-every', 'steps; 0 = never'),
    evalN: f.positiveInt('eval-n', 'samples; shapesFD needs 2 × its 32 features', 64),
    seed: f.nonNegativeInt('seed'),
    fresh: f.boolean('fresh'),
    denoiser: f.choice('denoiser', ['unet', 'rin'] as const),
    guidance: f.nonNegativeNumber('guidance'),
  };
  if (o.warmup > o.steps) throw new FlagError(`--warmup expected at most --steps (${o.steps}) warm-up steps, got "${f.string('warmup')}"`);
  return o;
});

const work = args.work;
const assets = args.assets;
const steps = args.steps;
const seed = args.seed;
const evalEvery = args.evalEvery;
const evalN = args.evalN;

const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);

const denoiserName = args.denoiser === 'unet' ? 'U-Net' : 'RIN';
const config = shapesDiffusionConfig({ size: 16, denoiser: args.denoiser === 'unet' ? shapesUNetConfig() : shapesRinConfig() });
const model = new GaussianDiffusion(config, { rng: new Rng(seed) });
const { data, toData } = shapesTrainingData(16, args.batch, seed + 1);
const parts = diffusionTrainer({
  model, data, toData, steps,
  lr: args.lr, warmupSteps: args.warmup, decaySteps: steps, seed,
  logFile: join(work, '..', 'flagship-train.log.jsonl'),
});
// The newest complete checkpoint, also when a kill interrupted a save (Trainer.latestCheckpoint).
if (!args.fresh && (await Trainer.latestCheckpoint(work)) !== undefined) {
  await parts.trainer.resume(work);
  console.log(`resumed from ${work} at step ${parts.trainer.step}`);
}
console.log(`${denoiserName}: ${model.denoiser.numParameters().toLocaleString()} parameters; training to step ${steps}`);
const startStep = parts.trainer.step;

const metric = await ShapesFD.load();
const curveFile = join(work, '..', 'flagship-fd-curve.json');
const curve: Array<{ step: number; shapesFD: number; n: number; perClass?: Array<{ name: string; accuracy: number | null; shapesFD: number; coverage: number }> }> = existsSync(curveFile) ? JSON.parse(await readFile(curveFile, 'utf8')) : [];
const evaluate = (n: number) => parts.ema.withAveraged(model, () => evaluateShapesFDPerClass(model, { n, metric, seed: 999, guidance: args.guidance }));

const budget = args.minutes !== undefined ? args.minutes * 60 : undefined;
const run = await trainWithBudget(parts.trainer, parts.batches, {
  steps,
  seconds: budget,
  label: `flagship ${denoiserName}`,
  checkpoint: { dir: work, every: args.every },
  onStep: async (r) => {
    if (evalEvery > 0 && r.step % evalEvery === 0) {
      const rep = await evaluate(256);
      const perClass = rep.perClass.map((c) => ({ name: c.name, accuracy: c.accuracy, shapesFD: +c.shapesFD.toFixed(2), coverage: +c.coverage.toFixed(3) }));
      curve.push({ step: r.step, shapesFD: rep.shapesFD, n: rep.n, perClass });
      await mkdir(dirname(curveFile), { recursive: true });
      await writeFile(curveFile, JSON.stringify(curve, null, 2));
      console.log(`\nstep ${r.step}: shapesFD ${rep.shapesFD.toFixed(1)} (n=${rep.n}; real-vs-real ${rep.realVsReal.toFixed(1)}, noise ${rep.noiseVsReal.toFixed(1)})\n${formatShapesFDClassTable(rep.perClass)}`);
    }
  },
});
console.log(`this run: ${run.steps} steps in ${run.seconds.toFixed(0)} s (stopped by ${run.stoppedBy}); at step ${parts.trainer.step}/${steps}`);

// Each call that trained appends its step range and cosine horizon beside the checkpoint
// (`<work>.stages.jsonl`): a run resumed with a larger --steps restarts the cosine there, so the
// exported record lists every stage and the command of each, which together reproduce the weights.
type Stage = { from: number; to: number; targetSteps: number; lr: number; warmup: number; batch: number; seconds: number; date: string };
const stagesFile = `${work}.stages.jsonl`;
if (run.steps > 0) {
  const stage: Stage = { from: startStep, to: parts.trainer.step, targetSteps: steps, lr: args.lr, warmup: args.warmup, batch: args.batch, seconds: Math.round(run.seconds), date: new Date().toISOString() };
  await appendFile(stagesFile, `${JSON.stringify(stage)}\n`);
}
const stages: Stage[] = existsSync(stagesFile)
  ? (await readFile(stagesFile, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Stage)
  : [];
const commandFor = (target: number) => `npm run train:flagship -w @brickml/diffusion -- --denoiser ${args.denoiser} --steps ${target} --seed ${seed}`;
const commands = [...new Set(stages.map((s) => s.targetSteps))].map(commandFor);

// Export the EMA weights and the record of the run.
const history = parts.trainer.history;
const trainSeconds = history.reduce((a, h) => a + h.ms, 0) / 1000;
const recent = history.slice(-100).map((h) => h.ms).sort((a, b) => a - b);
const msPerStep = recent.length ? recent[Math.floor(recent.length / 2)] : NaN;
await parts.ema.withAveraged(model, () => save(model, assets, { metadata: { description: `BrickML flagship: class-conditional ${denoiserName} on 16x16 shapes (EMA weights)` } }));
const final = await evaluate(evalN);
const record = {
  model: `class-conditional ${denoiserName} diffusion on 16×16 shapes (EMA weights)`,
  denoiser: args.denoiser,
  seed,
  parameters: model.denoiser.numParameters(),
  steps: parts.trainer.step,
  targetSteps: steps,
  batchSize: args.batch,
  trainSeconds: Math.round(trainSeconds),
  msPerStepMedianLast100: Math.round(msPerStep),
  backend: backend.engine,
  machine: `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}`,
  recipe: {
    optimizer: 'AdamW', lr: args.lr, warmupSteps: args.warmup, decay: `cosine to 0 at step ${steps}`, weightDecay: 0.01,
    clipGradNorm: 1, ema: { decay: 0.999, warmup: true }, objective: 'v', schedule: 'sigmoid@-3,3,0.9', classDropout: 0.1,
  },
  sampling: { sampler: 'DDIM', steps: final.steps, guidance: final.guidance, eta: 0 },
  shapesFD: {
    value: final.shapesFD, realVsReal: final.realVsReal, noiseVsReal: final.noiseVsReal, n: final.n, sampleSeconds: Math.round(final.sampleSeconds),
    perClass: final.perClass,
  },
  fdCurve: curve,
  lossLast100: history.slice(-100).reduce((a, h) => a + h.loss, 0) / Math.max(1, Math.min(100, history.length)),
  date: new Date().toISOString(),
  stages,
  // Run in order on one --work folder (each resumes the last), then the export at the guidance shipped.
  commands: [...commands, `${commandFor(steps)} --guidance ${args.guidance}`],
};
await writeFile(join(assets, 'training.json'), `${JSON.stringify(record, null, 2)}\n`);
await appendFile(join(work, '..', 'flagship-exports.jsonl'), `${JSON.stringify({ step: record.steps, shapesFD: final.shapesFD, date: record.date })}\n`);
console.log(JSON.stringify(record, null, 2));
console.log(`shapesFD per class (n=${final.n}):\n${formatShapesFDClassTable(final.perClass)}`);
console.log(`exported to ${assets}`);
parts.dispose();
model.dispose();
void tf;
