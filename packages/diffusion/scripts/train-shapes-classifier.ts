/**
 * Trains the feature network of shapesFD (`ShapesClassifier`) on the `shapes` labels and writes
 * it to packages/diffusion/assets/shapes-classifier/ (config.json + model.safetensors +
 * metrics.json with its held-out accuracy and the shapesFD reference values).
 *
 *   npm run train:classifier -w @brickml/diffusion -- --steps 4000 --backend wasm
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdamW, Rng, Trainer, noDecayForBiasAndNorm, save, shapes, type ShapesBatch } from '@brickml/core';
import { ShapesClassifier, ShapesFD } from '../src/index.js';
import { setupBackend } from './backend.js';
import { FlagError, parseCli, type FlagSpecs } from './flags.js';

const here = dirname(process.argv[1] ?? fileURLToPath(import.meta.url));
const specs: FlagSpecs = {
  steps: { type: 'string', default: '4000', help: 'training steps' },
  batch: { type: 'string', default: '128', help: 'batch size' },
  lr: { type: 'string', default: '2e-3', help: 'peak learning rate' },
  backend: { type: 'string', help: 'Node engine(s), e.g. wasm or webgpu,wasm' },
  out: { type: 'string', help: 'output directory (default assets/shapes-classifier)' },
  seed: { type: 'string', default: '0', help: 'seed' },
};
const args = parseCli('train-shapes-classifier', specs, (f) => {
  const o = {
    steps: f.positiveInt('steps', 'training steps'),
    batch: f.positiveInt('batch', 'images per batch'),
    lr: f.positiveNumber('lr'),
    backend: f.backend(),
    out: f.outputDir('out', join(here, '..', 'assets', 'shapes-classifier')),
    seed: f.nonNegativeInt('seed'),
  };
  // the warm-up is 100 steps (below)
  if (o.steps < 100) throw new FlagError(`--steps expected at least 100 training steps (the warm-up), got "${f.string('steps')}"`);
  return o;
});
const outDir = args.out;
const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}`);
const steps = args.steps;
const seed = args.seed;

const model = new ShapesClassifier({}, { rng: new Rng(seed) });
const optimizer = new AdamW(model, {
  lr: { kind: 'warmupCosine', peakLr: args.lr, warmupSteps: 100, totalSteps: steps },
  weightDecay: 1e-4,
  noDecay: noDecayForBiasAndNorm,
});
// Mix 16 and 32 px images? No: the network sees 16 px; 32 px inputs are pooled to 16 at use time.
const data = shapes({ size: 16, batchSize: args.batch, seed: seed + 1 });
const trainer = new Trainer<ShapesBatch>({
  model,
  optimizer,
  data,
  steps,
  seed,
  label: 'shapes classifier',
  loss: (b) => model.loss(b.images, b.labels),
});
const t0 = performance.now();
await trainer.fit();
const wall = (performance.now() - t0) / 1000;

model.eval();
const fd = new ShapesFD(model);
const acc16 = await fd.accuracy(16, 4000, 777);
const acc32 = await fd.accuracy(32, 2000, 778);
const refs: Record<string, { realVsReal: number; noiseVsReal: number }> = {};
for (const n of [256, 1000]) {
  const r = await fd.references(16, n);
  refs[`16px_n${n}`] = { realVsReal: r.realVsReal, noiseVsReal: r.noiseVsReal };
}
await save(model, outDir, { metadata: { description: 'shapesFD feature network (BrickML)' } });
const metrics = {
  steps,
  batchSize: args.batch,
  seed,
  backend: backend.engine,
  wallSeconds: Math.round(wall),
  finalLoss: trainer.history.at(-1)?.loss,
  heldOut16: { images: 4000, seed: 777, shapeAccuracy: acc16.shape, colourAccuracy: acc16.colour, factorRmse: acc16.factorRmse },
  heldOut32: { images: 2000, seed: 778, shapeAccuracy: acc32.shape, colourAccuracy: acc32.colour, factorRmse: acc32.factorRmse },
  references: refs,
  createdBy: 'packages/diffusion/scripts/train-shapes-classifier.ts',
};
await writeFile(join(outDir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
console.log(JSON.stringify(metrics, null, 2));
console.log(`wrote ${outDir}`);
void tf;
