/**
 * I-JEPA on 16×16 `shapes` (ViT encoder, multi-block masks on the 4×4 patch grid), then a linear
 * probe and k-NN of the target encoder's mean-pooled tokens on shape, colour and size beside a
 * randomly initialised encoder of the same architecture.
 *
 *   npm run example -w @brickml/ssl -- ijepa [--steps 600]
 *
 * Writes train.jsonl and eval.json into out/ijepa.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, Rng, Trainer, evaluateRepresentation, save, shapes, type ShapesBatch } from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import { IJEPA, ijepaMomentum, sampleIJepaMasks } from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';

const program = 'example ijepa';
const flags = parseFlags(
  program,
  {
    steps: { default: '600', help: 'training steps' },
    batch: { default: '32', help: 'images per step' },
    lr: { default: '0.001', help: 'AdamW learning rate' },
    backend: { help: 'Node engine, e.g. wasm or cpu (default: the best available)' },
    out: { default: 'out/ijepa', help: 'output folder' },
    seed: { default: '0', help: 'seed' },
  },
  process.argv.slice(2),
);
const steps = num(program, flags, 'steps', { min: 0, int: true });
const batchSize = num(program, flags, 'batch', { min: 2, int: true });
const lr = num(program, flags, 'lr', { min: 0 });
const seed = num(program, flags, 'seed', { min: 0, int: true });
const out = flags.out!;
const report = await useBackend(flags.backend);
console.log(`backend: ${formatBackendReport(report)}`);
await mkdir(out, { recursive: true });

// 4×4 grid of 4×4 patches; on 16 patches the paper's block scales give 2×2 targets (M = 4) and a 3×3 or 4×4 context
const config = { imageSize: 16, patchSize: 4, dim: 64, depth: 2, heads: 4, predictorDim: 32, predictorDepth: 1, predictorHeads: 4, mlpRatio: 2 };
const maskOptions = { numTargets: 4, minKeep: 2 };
const model = new IJEPA(config, { rng: new Rng(seed) });
const data = shapes({ size: 16, batchSize, seed: seed + 1 });
const optimizer = new AdamW(model.namedParameters(), { lr, weightDecay: 0.04 });
const maskRng = new Rng(seed + 5);
console.log(`ijepa: ${model.numParameters().toLocaleString()} trainable parameters, ${steps} steps of ${batchSize} images`);
const trainer = new Trainer<ShapesBatch>({
  model, optimizer, data, steps, seed, label: 'ijepa', logFile: join(out, 'train.jsonl'),
  loss: (b) => model.loss(b.images, sampleIJepaMasks(4, 4, b.images.shape[0], maskRng, maskOptions)),
  onStep: (r) => model.updateTarget(ijepaMomentum(r.step, steps)),
});
const t0 = performance.now();
await trainer.fit();
const trainSeconds = Math.round((performance.now() - t0) / 1000);
await save(model, join(out, 'model'));

const probeData = shapes({ size: 16, batchSize: 1, seed: seed + 2 });
const trainSet = probeData.toBatch(probeData.fixedSplit(1000, seed + 200));
const testSet = probeData.toBatch(probeData.fixedSplit(500, seed + 300));
const sizeClass = (t: tf.Tensor) => tf.tidy(() => tf.cast(tf.clipByValue(tf.floor(tf.div(tf.sub(t, 0.35), 0.4 / 3)), 0, 2), 'int32'));
const factors = { shape: [trainSet.labels.shape, testSet.labels.shape], colour: [trainSet.labels.colour, testSet.labels.colour], size: [sizeClass(trainSet.labels.size), sizeClass(testSet.labels.size)] };
const random = new IJEPA(config, { rng: new Rng(seed + 9) });
const results: Record<string, Record<string, { probe: number; knn: number }>> = {};
for (const [name, m] of [['ijepa', model], ['randomEncoder', random]] as const) {
  results[name] = {};
  for (const [factor, [ytr, yte]] of Object.entries(factors)) {
    const e = await evaluateRepresentation((x: tf.Tensor) => m.represent(x), { train: { inputs: trainSet.images, labels: ytr! }, test: { inputs: testSet.images, labels: yte! } });
    results[name]![factor] = { probe: e.probe.accuracy, knn: e.knn.accuracy };
  }
  console.log(`${name.padEnd(14)} ${Object.entries(results[name]!).map(([f, v]) => `${f} probe ${v.probe.toFixed(3)} k-NN ${v.knn.toFixed(3)}`).join(' · ')}`);
}
const tail = trainer.history.slice(-20);
const summary = {
  task: 'I-JEPA on 16×16 shapes (4×4 patch grid, 4 target blocks, context minus targets); linear probe and k-NN (k 20, cosine) of the target encoder\'s mean-pooled tokens, 1,000 train / 500 held-out; size = 3 equal-width bins',
  backend: tf.getBackend(),
  steps,
  trainSeconds,
  firstLoss: trainer.history.slice(0, 20).reduce((a, r) => a + r.loss, 0) / Math.max(1, Math.min(20, trainer.history.length)),
  finalLoss: tail.reduce((a, r) => a + r.loss, 0) / Math.max(1, tail.length),
  results,
  config: model.toConfig(),
};
await writeFile(join(out, 'eval.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}/eval.json, ${out}/model (train ${trainSeconds}s)`);
tf.dispose([trainSet, testSet, ...factors.size]);
model.dispose();
random.dispose();
optimizer.dispose();
