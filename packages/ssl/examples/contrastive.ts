/**
 * SimCLR, BYOL or a supervised baseline on `shapes` with core's view presets, then a linear probe
 * and k-NN of the encoder on the shape, colour and size factors, beside a randomly initialised
 * encoder of the same architecture (and, with --objective all, a supervised encoder of the same
 * architecture and budget: cross-entropy on the shape label).
 *
 *   npm run example -w @brickml/ssl -- simclr [--steps 300]
 *   npm run example -w @brickml/ssl -- byol [--steps 300]
 *   npm run example -w @brickml/ssl -- contrastive --objective all   # SimCLR, BYOL, supervised, random
 *
 * Encoders: `resnet` (default; core's `resnetTinyConfig`, channels last, BatchNorm) or `vit`.
 * Writes train-<objective>.jsonl and eval.json into out/<objective>.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AdamW, Linear, Module, Rng, Trainer, build, byolAugment, evaluateRepresentation, resnetTinyConfig, save, shapes, simclrAugment,
  type BrickConfig, type ShapesBatch,
} from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import { BYOL, SimCLR, byolTau, embeddingStd } from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';

const flags = parseFlags(
  'example contrastive',
  {
    objective: { default: 'simclr', help: 'simclr, byol, supervised or all (the three, then one table)' },
    encoder: { default: 'resnet', help: 'resnet (core resnetTinyConfig, BatchNorm) or vit' },
    width: { default: '16', help: 'ResNet first-stage width (stages w, 2w, 4w)' },
    size: { default: '16', help: 'image side: 16 or 32' },
    steps: { default: '300', help: 'training steps per objective' },
    batch: { default: '64', help: 'images per step' },
    lr: { default: '0.002', help: 'AdamW learning rate' },
    tau: { default: '0.5', help: 'SimCLR temperature' },
    ema: { default: '0.99', help: 'BYOL base EMA rate (cosine ramp to 1)' },
    backend: { help: 'Node engine, e.g. wasm or cpu (default: the best available)' },
    out: { help: 'output folder (default out/<objective>)' },
    seed: { default: '0', help: 'seed' },
  },
  process.argv.slice(2),
);
const objectiveFlag = flags.objective!;
const objectives = objectiveFlag === 'all' ? (['simclr', 'byol', 'supervised'] as const) : [objectiveFlag];
for (const o of objectives) {
  if (o !== 'simclr' && o !== 'byol' && o !== 'supervised') {
    console.error(`example contrastive: --objective expected simclr, byol, supervised or all, got ${JSON.stringify(objectiveFlag)}`);
    process.exit(2);
  }
}
if (flags.encoder !== 'resnet' && flags.encoder !== 'vit') {
  console.error(`example contrastive: --encoder expected resnet or vit, got ${JSON.stringify(flags.encoder)}`);
  process.exit(2);
}
const program = `example ${objectiveFlag}`;
const steps = num(program, flags, 'steps', { min: 0, int: true });
const batchSize = num(program, flags, 'batch', { min: 2, int: true });
const lr = num(program, flags, 'lr', { min: 0 });
const tau = num(program, flags, 'tau', { min: 1e-3 });
const emaBase = num(program, flags, 'ema', { min: 0, max: 1 });
const width = num(program, flags, 'width', { min: 1, int: true });
const seed = num(program, flags, 'seed', { min: 0, int: true });
const side = num(program, flags, 'size', { min: 16, max: 32, int: true });
if (side !== 16 && side !== 32) {
  console.error(`${program}: --size expected 16 or 32, got ${side}`);
  process.exit(2);
}
const out = flags.out ?? `out/${objectiveFlag}`;
const report = await useBackend(flags.backend);
console.log(`backend: ${formatBackendReport(report)}`);
await mkdir(out, { recursive: true });

// ResNet takes channels-last images; the ViT takes [B, 3, H, W].
const resnet = flags.encoder === 'resnet';
const layout = resnet ? 'nhwc' : 'nchw';
const encoder: BrickConfig = resnet
  ? { type: 'ResNet', ...resnetTinyConfig({ width }), output: 'pooled' }
  : { type: 'ViTEncoder', imageSize: side, patchSize: 4, dim: 64, depth: 2, heads: 4, mlpRatio: 2 };
const encoderDim = resnet ? 4 * width : 64;
const head = { hidden: 256, projectionDim: 64 };

type Encoded = Module & { represent(x: tf.Tensor): tf.Tensor };

/** The supervised baseline: the same encoder and a Linear classifier, cross-entropy on the shape label. */
class Supervised extends Module {
  readonly encoder: Module & { forward(x: tf.Tensor): tf.Tensor };
  readonly fc: Linear;
  constructor(rng: Rng) {
    super();
    this.encoder = build(encoder, { rng });
    this.fc = new Linear({ inFeatures: encoderDim, outFeatures: 3 }, { rng });
  }
  represent(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.encoder.forward(x);
      return y.rank === 3 ? tf.mean(y, 1) : y;
    });
  }
  loss(x: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, 3), this.fc.forward(this.represent(x))) as tf.Scalar);
  }
}

const make = (objective: string, s: number): Encoded => {
  const rng = new Rng(s);
  if (objective === 'simclr') return new SimCLR({ encoder, encoderDim, ...head, temperature: tau }, { rng });
  if (objective === 'byol') return new BYOL({ encoder, encoderDim, ...head }, { rng });
  return new Supervised(rng);
};

const data = shapes({ size: side as 16 | 32, batchSize, seed: seed + 1, layout });
const probeData = shapes({ size: side as 16 | 32, batchSize: 1, seed: seed + 2, layout });
const trainSet = probeData.toBatch(probeData.fixedSplit(1000, seed + 200));
const testSet = probeData.toBatch(probeData.fixedSplit(500, seed + 300));
// size factor as 3 classes: equal-width bins of the data set's size range [0.35, 0.75]
const sizeClass = (t: tf.Tensor) => tf.tidy(() => tf.cast(tf.clipByValue(tf.floor(tf.div(tf.sub(t, 0.35), 0.4 / 3)), 0, 2), 'int32'));
const factors = {
  shape: [trainSet.labels.shape, testSet.labels.shape],
  colour: [trainSet.labels.colour, testSet.labels.colour],
  size: [sizeClass(trainSet.labels.size), sizeClass(testSet.labels.size)],
} as const;

type Row = { steps: number; trainSeconds: number; finalLoss: number | null; representationStd?: number; projectionStd?: number } & Record<string, { probe: number; knn: number } | number | null | undefined>;
const results: Record<string, Row> = {};

async function evaluate(name: string, m: Encoded): Promise<Record<string, { probe: number; knn: number }>> {
  m.eval();
  const r: Record<string, { probe: number; knn: number }> = {};
  for (const [factor, [ytr, yte]] of Object.entries(factors)) {
    const e = await evaluateRepresentation((x: tf.Tensor) => m.represent(x), {
      train: { inputs: trainSet.images, labels: ytr },
      test: { inputs: testSet.images, labels: yte },
    });
    r[factor] = { probe: e.probe.accuracy, knn: e.knn.accuracy };
  }
  console.log(`${name.padEnd(14)} ${Object.entries(r).map(([f, v]) => `${f} probe ${v.probe.toFixed(3)} k-NN ${v.knn.toFixed(3)}`).join(' · ')}`);
  return r;
}

/** Collapse diagnostic: std of the L2-normalised representations (and projections) of 256 held-out images, eval mode. */
async function collapse(m: Encoded): Promise<{ representationStd: number; projectionStd?: number }> {
  m.eval();
  const x = tf.slice(testSet.images, 0, 256);
  const h = m.represent(x);
  const representationStd = await embeddingStd(h);
  let projectionStd: number | undefined;
  if (m instanceof BYOL || m instanceof SimCLR) {
    const z = m instanceof BYOL ? m.online_projector.forward(h) : m.projector.forward(h);
    projectionStd = await embeddingStd(z);
    z.dispose();
  }
  tf.dispose([x, h]);
  return { representationStd, projectionStd };
}

for (const objective of objectives) {
  const model = make(objective, seed);
  const pair = objective === 'byol' ? byolAugment({ size: side, layout }) : (() => { const a = simclrAugment({ size: side, layout }); return { view1: a, view2: a }; })();
  const optimizer = new AdamW(model.namedParameters(), { lr, weightDecay: 1e-4 });
  console.log(`${objective}: ${model.numParameters().toLocaleString()} trainable parameters, ${steps} steps of ${batchSize} images`);
  const trainer = new Trainer<ShapesBatch>({
    model, optimizer, data, steps, seed, label: objective, logFile: join(out, `train-${objective}.jsonl`),
    loss: (b, ctx) => {
      if (model instanceof Supervised) return model.loss(pair.view1(b.images, ctx.rng), b.labels.shape);
      const v1 = pair.view1(b.images, ctx.rng);
      const v2 = pair.view2(b.images, ctx.rng);
      return (model as SimCLR | BYOL).loss(v1, v2);
    },
    onStep: (r) => {
      if (model instanceof BYOL) model.updateTarget(byolTau(r.step, steps, emaBase));
    },
  });
  const t0 = performance.now();
  await trainer.fit();
  const trainSeconds = Math.round((performance.now() - t0) / 1000);
  if (!(model instanceof Supervised)) await save(model, join(out, `model-${objective}`));
  const tail = trainer.history.slice(-20);
  const row: Row = { steps, trainSeconds, finalLoss: tail.length ? tail.reduce((a, r) => a + r.loss, 0) / tail.length : null, ...(await collapse(model)), ...(await evaluate(objective, model)) };
  results[objective] = row;
  model.dispose();
  optimizer.dispose();
}

// The random encoder: fresh weights of the same architecture; its BatchNorm running statistics are
// first estimated from 8 batches of clean images in training mode (no weights change), since the
// initial ones (mean 0, variance 1) do not match the data.
const random = make(objectives[0] === 'supervised' ? 'supervised' : objectives[0]!, seed + 9);
random.train();
for (let i = 0; i < 8; i++) {
  const b = data.next();
  tf.dispose(random.represent(b.images));
  tf.dispose(b);
}
results.randomEncoder = { steps: 0, trainSeconds: 0, finalLoss: null, ...(await collapse(random)), ...(await evaluate('randomEncoder', random)) };
random.dispose();

const summary = {
  task: `${objectives.join(', ')} on ${side}×${side} shapes with core's view presets (SimCLR's for SimCLR and the supervised baseline, BYOL's pair for BYOL); linear probe (core's logistic regression) and k-NN (k 20, cosine) of the encoder's pooled features on 1,000 train / 500 held-out images; size = 3 equal-width bins of [0.35, 0.75]`,
  backend: tf.getBackend(),
  encoder,
  batchSize,
  lr,
  results,
};
await writeFile(join(out, 'eval.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}/eval.json`);
tf.dispose([trainSet, testSet, ...factors.size]);
