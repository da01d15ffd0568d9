/**
 * The flagship `npm start` (until @brickml/diffusion takes it over): trains a small patch
 * classifier on the bundled `shapes` images on the best backend present, with a progress bar,
 * and writes a loss curve, a labelled sample grid, metrics and a checkpoint under `out/`.
 *
 *   npm start -- --steps 300 --backend wasm --out out
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AdamW, Ema, LayerNorm, Linear, MLP, Module, PatchEmbed, Rng, Trainer, imageGridPng, lossCurvePng, parameter,
  registerBrick, save, schemas, parseConfig, shapes, writePng, type ShapesBatch, type BrickOptions,
} from '@brickml/core';
import { useBackend } from '@brickml/backend-node';
import { z } from 'zod';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '300' },
    backend: { type: 'string' },
    out: { type: 'string', default: 'out' },
    seed: { type: 'string', default: '0' },
  },
});

// A tiny ViT-style classifier: patches → tokens → residual MLP blocks → mean pool → class logits.
const ShapeClassifierSchema = z
  .object({ size: schemas.positiveInt, patch: schemas.positiveInt, dim: schemas.positiveInt, depth: schemas.positiveInt, classes: schemas.positiveInt })
  .strict();

class ShapeClassifier extends Module {
  static readonly type = 'ShapeClassifier';
  static readonly schema = ShapeClassifierSchema;
  readonly config: z.output<typeof ShapeClassifierSchema>;
  readonly patches: PatchEmbed;
  readonly pos: tf.Variable;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(config: z.input<typeof ShapeClassifierSchema>, { rng = new Rng(0) }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ShapeClassifier, config));
    const tokens = (c.size / c.patch) ** 2;
    this.patches = new PatchEmbed({ channels: 3, patchSize: c.patch, dim: c.dim }, { rng });
    this.pos = parameter(rng.truncatedNormalTensor([tokens, c.dim], 0.02));
    this.blocks = Array.from({ length: c.depth }, () => new Block(c.dim, rng));
    this.norm = new LayerNorm({ dim: c.dim });
    this.head = new Linear({ inFeatures: c.dim, outFeatures: c.classes }, { rng });
  }

  /** images [B, 3, H, W] → logits [B, classes] */
  forward(images: tf.Tensor): tf.Tensor {
    let h = tf.add(this.patches.forward(images), this.pos); // [B, N, dim]
    for (const b of this.blocks) h = tf.add(h, b.mlp.forward(b.norm.forward(h)));
    return this.head.forward(this.norm.forward(tf.mean(h, 1))); // [B, classes]
  }

  override toConfig() {
    return { type: ShapeClassifier.type, ...this.config };
  }
}
class Block extends Module {
  readonly norm: LayerNorm;
  readonly mlp: MLP;
  constructor(dim: number, rng: Rng) {
    super();
    this.norm = new LayerNorm({ dim });
    this.mlp = new MLP({ dim, hidden: 2 * dim, zeroInitOutput: true }, { rng });
  }
}
registerBrick(ShapeClassifier);

const t0 = performance.now();
const out = resolve(args.out!);
mkdirSync(out, { recursive: true });
const report = await useBackend(args.backend ? args.backend.split(',') : undefined);
console.log(`backend: ${report.engine}${report.device ? ` (${report.device})` : ''}`);
for (const a of report.attempts.filter((x) => x.status !== 'chosen')) console.log(`  not ${a.engine}: ${a.status}${a.reason ? ` — ${a.reason}` : ''}`);

const steps = Number(args.steps);
const seed = Number(args.seed);
const model = new ShapeClassifier({ size: 16, patch: 4, dim: 64, depth: 2, classes: 3 }, { rng: new Rng(seed) });
const optimizer = new AdamW(model, { lr: { kind: 'warmupCosine', peakLr: 3e-3, warmupSteps: 20, totalSteps: steps }, weightDecay: 0.01 });
const ema = new Ema(model, { decay: 0.99 });
const data = shapes({ size: 16, batchSize: 64, seed: seed + 1, background: 'noise' });
console.log(`model: ShapeClassifier, ${model.numParameters().toLocaleString()} parameters; task: shape type of 16×16 'shapes' images`);

const trainer = new Trainer<ShapesBatch>({
  model, optimizer, ema, data, steps, seed: seed + 2, clipGradNorm: 1, label: 'shapes',
  logFile: join(out, 'train-log.jsonl'),
  loss: (b) => {
    const logits = model.forward(b.images);
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(b.labels.shape, 3), logits) as tf.Scalar;
    const acc = tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), b.labels.shape), 'float32'));
    return { loss, metrics: { acc } };
  },
});
await trainer.fit();

// Held-out accuracy with the EMA weights, against chance (1/3).
const held = data.toBatch(data.fixedSplit(512, 12345));
const accuracy = await ema.withAveraged(model, async () => {
  const acc = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(model.eval().forward(held.images), -1), held.labels.shape), 'float32')));
  const v = (await acc.data())[0];
  acc.dispose();
  return v;
});

const grid = tf.tidy(() => held.images.slice([0, 0, 0, 0], [32, 3, 16, 16]));
await writePng(join(out, 'samples.png'), await imageGridPng(grid, { cols: 8, scale: 4 }));
grid.dispose();
tf.dispose(held as any);
await writePng(join(out, 'loss.png'), await lossCurvePng(trainer.history.map((r) => ({ step: r.step, loss: r.loss })), { title: 'shapes classifier: training loss' }));
await save(model, join(out, 'checkpoint'));
const metrics = {
  task: 'shapes 16x16, classify shape type (3 classes)',
  backend: report.engine,
  device: report.device,
  steps,
  parameters: model.numParameters(),
  finalLoss: trainer.history.at(-1)?.loss,
  heldOutAccuracy: accuracy,
  chance: 1 / 3,
  msPerStep: trainer.history.reduce((s, r) => s + r.ms, 0) / Math.max(1, trainer.history.length),
  wallSeconds: (performance.now() - t0) / 1000,
};
writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
console.log(`held-out accuracy ${(accuracy * 100).toFixed(1)}% (chance 33.3%) · wrote ${['loss.png', 'samples.png', 'metrics.json', 'train-log.jsonl', 'checkpoint/'].map((f) => join(args.out!, f)).join(', ')}`);
