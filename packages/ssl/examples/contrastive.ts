/**
 * SimCLR or BYOL on 16×16 `shapes` with core's view presets, then a linear probe (and k-NN) of the
 * encoder on the shape and colour factors beside a randomly initialised encoder of the same
 * architecture.
 *
 *   npm run example -w @brickml/ssl -- simclr [--steps 300]
 *   npm run example -w @brickml/ssl -- byol [--steps 150]
 *
 * Writes train.jsonl and eval.json into out/<objective>.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, Rng, Trainer, byolAugment, evaluateRepresentation, save, shapes, simclrAugment, type ShapesBatch } from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import { BYOL, SimCLR, byolTau } from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';

const flags = parseFlags(
  'example contrastive',
  {
    objective: { default: 'simclr', help: 'simclr or byol' },
    steps: { help: 'training steps (default 300 for simclr, 150 for byol)' },
    batch: { default: '32', help: 'images per step' },
    lr: { default: '0.001', help: 'AdamW learning rate' },
    backend: { help: 'Node engine, e.g. wasm or cpu (default: the best available)' },
    out: { help: 'output folder (default out/<objective>)' },
    seed: { default: '0', help: 'seed' },
  },
  process.argv.slice(2),
);
const objective = flags.objective;
if (objective !== 'simclr' && objective !== 'byol') {
  console.error(`example contrastive: --objective expected simclr or byol, got ${JSON.stringify(objective)}`);
  process.exit(2);
}
const program = `example ${objective}`;
if (flags.steps === undefined) flags.steps = objective === 'simclr' ? '300' : '150';
const steps = num(program, flags, 'steps', { min: 0, int: true });
const batchSize = num(program, flags, 'batch', { min: 2, int: true });
const lr = num(program, flags, 'lr', { min: 0 });
const seed = num(program, flags, 'seed', { min: 0, int: true });
const out = flags.out ?? `out/${objective}`;
const report = await useBackend(flags.backend);
console.log(`backend: ${formatBackendReport(report)}`);
await mkdir(out, { recursive: true });

const encoder = { type: 'ViTEncoder', imageSize: 16, patchSize: 4, dim: 64, depth: 2, heads: 4, mlpRatio: 2 };
const make = (s: number) =>
  objective === 'simclr'
    ? new SimCLR({ encoder, encoderDim: 64, hidden: 256, projectionDim: 64, temperature: 0.5 }, { rng: new Rng(s) })
    : new BYOL({ encoder, encoderDim: 64, hidden: 256, projectionDim: 64 }, { rng: new Rng(s) });
const model = make(seed);
// SimCLR applies one pipeline twice; BYOL has an asymmetric pair (blur 1.0 / 0.1, solarize 0 / 0.2).
const pair = objective === 'simclr' ? (() => { const a = simclrAugment({ size: 16 }); return { view1: a, view2: a }; })() : byolAugment({ size: 16 });
const views = (images: tf.Tensor4D, rng: Rng): [tf.Tensor, tf.Tensor] => [pair.view1(images, rng), pair.view2(images, rng)];
const data = shapes({ size: 16, batchSize, seed: seed + 1 });
const optimizer = new AdamW(model.namedParameters(), { lr, weightDecay: 1e-4 });
console.log(`${objective}: ${model.numParameters().toLocaleString()} trainable parameters, ${steps} steps of ${batchSize} images`);
const trainer = new Trainer<ShapesBatch>({
  model, optimizer, data, steps, seed, label: objective, logFile: join(out, 'train.jsonl'),
  loss: (b, ctx) => {
    const [v1, v2] = views(b.images as tf.Tensor4D, ctx.rng);
    return model.loss(v1, v2);
  },
  onStep: (r) => {
    if (model instanceof BYOL) model.updateTarget(byolTau(r.step, steps, 0.99));
  },
});
const t0 = performance.now();
await trainer.fit();
const trainSeconds = (performance.now() - t0) / 1000;
await save(model, join(out, 'model'));

const probeData = shapes({ size: 16, batchSize: 1, seed: seed + 2 });
const trainSet = probeData.toBatch(probeData.fixedSplit(1000, seed + 200));
const testSet = probeData.toBatch(probeData.fixedSplit(500, seed + 300));
const random = make(seed + 9);
const results: Record<string, Record<string, { probe: number; knn: number }>> = {};
for (const [name, m] of [[objective, model], ['randomEncoder', random]] as const) {
  results[name] = {};
  for (const factor of ['shape', 'colour'] as const) {
    const r = await evaluateRepresentation((x: tf.Tensor) => m.represent(x), {
      train: { inputs: trainSet.images, labels: trainSet.labels[factor] },
      test: { inputs: testSet.images, labels: testSet.labels[factor] },
    });
    results[name][factor] = { probe: r.probe.accuracy, knn: r.knn.accuracy };
  }
  console.log(
    `${name.padEnd(14)} shape probe ${results[name].shape.probe.toFixed(3)} k-NN ${results[name].shape.knn.toFixed(3)} · ` +
      `colour probe ${results[name].colour.probe.toFixed(3)} k-NN ${results[name].colour.knn.toFixed(3)}`,
  );
}
const summary = {
  task: `${objective} on 16×16 shapes with core's ${objective} view preset; linear probe and k-NN (k 20, cosine) of the encoder's mean-pooled tokens on 1,000 train / 500 held-out images`,
  backend: tf.getBackend(),
  steps,
  trainSeconds: Math.round(trainSeconds),
  finalLoss: trainer.history.slice(-20).reduce((a, r) => a + r.loss, 0) / Math.max(1, Math.min(20, trainer.history.length)),
  results,
  config: model.toConfig(),
};
await writeFile(join(out, 'eval.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}/eval.json, ${out}/model (train ${summary.trainSeconds}s)`);
tf.dispose([trainSet, testSet]);
model.dispose();
random.dispose();
optimizer.dispose();
