/**
 * Masked autoencoder on 16×16 `shapes`, then a linear probe and k-NN of its encoder (mean-pooled
 * tokens of the full, unmasked image) on the shape, colour and size factors beside a randomly
 * initialised encoder of the same architecture, a supervised encoder of the same architecture and
 * budget (cross-entropy on the shape label) and raw pixels.
 *
 *   npm run example -w @brickml/ssl -- mae [--steps 1000] [--patch 2] [--norm-pix on] [--backend wasm] [--out out/mae]
 *
 * Defaults (measured, README): 2×2 patches (64 tokens; 4×4 patches leave 4 visible tokens of 16
 * and the encoder learned little shape) and normalised-pixel targets (`normPixLoss`, as the paper
 * recommends for representations).
 *
 * Writes reconstructions.png (rows: image, masked input, reconstruction with the visible patches
 * pasted back; with normalised-pixel targets each predicted patch is shown de-normalised with the
 * true patch's mean and variance, as MAE's visualisation does), train.jsonl and eval.json
 * (held-out loss on removed patches beside a baseline; probe and k-NN per factor; feature std and
 * participation ratio).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, Rng, Trainer, imageGridPng, save, shapes, writePng, type ShapesBatch } from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import { MaskedAutoencoder, maeLoss, randomMasking, type MaskedAutoencoderConfig } from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';
import { evaluateOnShapes, rawPixels, shapesProbeSplits, trainSupervisedViT, type EncoderReport } from './shapes-probe.js';

const program = 'example mae';
const flags = parseFlags(
  program,
  {
    steps: { default: '1000', help: 'training steps' },
    patch: { default: '2', help: 'patch side in pixels (2 or 4; 16 must be divisible by it)' },
    'norm-pix': { default: 'on', help: 'normalised-pixel targets (on/off)' },
    supervised: { default: 'on', help: 'also train the supervised baseline (on/off)' },
    batch: { default: '32', help: 'images per step' },
    lr: { default: '0.002', help: 'AdamW learning rate' },
    backend: { help: 'Node engine, e.g. wasm or cpu (default: the best available)' },
    out: { default: 'out/mae', help: 'output folder' },
    seed: { default: '0', help: 'seed' },
  },
  process.argv.slice(2),
);
const steps = num(program, flags, 'steps', { min: 0, int: true });
const batchSize = num(program, flags, 'batch', { min: 1, int: true });
const lr = num(program, flags, 'lr', { min: 0 });
const seed = num(program, flags, 'seed', { min: 0, int: true });
const patch = num(program, flags, 'patch', { min: 1, max: 16, int: true });
if (16 % patch !== 0) {
  console.error(`${program}: --patch expected a divisor of 16, got ${patch}`);
  process.exit(2);
}
const onOff = (name: string): boolean => {
  if (flags[name] !== 'on' && flags[name] !== 'off') {
    console.error(`${program}: --${name} expected on or off, got ${JSON.stringify(flags[name])}`);
    process.exit(2);
  }
  return flags[name] === 'on';
};
const normPix = onOff('norm-pix');
const withSupervised = onOff('supervised');
const out = flags.out!;
const report = await useBackend(flags.backend);
console.log(`backend: ${formatBackendReport(report)}`);
await mkdir(out, { recursive: true });

const config: MaskedAutoencoderConfig = {
  imageSize: 16, patchSize: patch, dim: 64, depth: 2, heads: 4, decoderDim: 32, decoderDepth: 1, decoderHeads: 4, mlpRatio: 2, maskRatio: 0.75, normPixLoss: normPix,
};
const mae = new MaskedAutoencoder(config, { rng: new Rng(seed) });
const data = shapes({ size: 16, batchSize, seed: seed + 1 });
const optimizer = new AdamW(mae.namedParameters(), { lr, betas: [0.9, 0.95], weightDecay: 0.05 });
console.log(`MAE: ${mae.numParameters().toLocaleString()} parameters, ${steps} steps of ${batchSize} images, mask ratio ${config.maskRatio}`);
const trainer = new Trainer<ShapesBatch>({
  model: mae, optimizer, data, steps, seed, label: 'MAE', logFile: join(out, 'train.jsonl'),
  loss: (b, ctx) => mae.forward(b.images, { rng: ctx.rng }).loss,
});
const t0 = performance.now();
await trainer.fit();
const trainSeconds = (performance.now() - t0) / 1000;
await save(mae, join(out, 'model'));

// Held-out loss on the removed patches, beside a baseline that knows no shape: without normalised
// targets every removed patch = the image's mean visible colour; with them, every removed patch = its
// own mean (0 in normalised units).
mae.eval();
const held = data.toBatch(data.fixedSplit(256, seed + 100));
const masking = randomMasking(256, mae.numPatches, config.maskRatio!, new Rng(seed + 5));
const scores = tf.tidy(() => {
  const r = mae.forward(held.images, { masking });
  const target = mae.patchify(held.images); // [B, L, 3·p²] in (C, ph, pw) order
  const [b, l, p] = target.shape as [number, number, number];
  const keep = tf.sub(1, r.mask); // [B, L]
  let baseline: tf.Tensor;
  if (normPix) {
    baseline = tf.zerosLike(target);
  } else {
    const perChannel = tf.reshape(target, [b, l, 3, p / 3]);
    const visibleSum = tf.sum(tf.mul(perChannel, tf.reshape(keep, [b, l, 1, 1])), [1, 3]); // [B, 3]
    const visibleCount = tf.mul(tf.sum(keep, 1, true), p / 3); // [B, 1]
    const meanColour = tf.div(visibleSum, visibleCount); // [B, 3]
    baseline = tf.reshape(tf.tile(tf.reshape(meanColour, [b, 1, 3, 1]), [1, l, 1, p / 3]), [b, l, p]);
  }
  // pixel-space predictions: de-normalised with each true patch's statistics under normPix (for viewing)
  let pred = r.pred;
  if (normPix) {
    const { mean, variance } = tf.moments(target, -1, true);
    pred = tf.add(tf.mul(pred, tf.sqrt(tf.add(variance, 1e-6))), mean);
  }
  const recon = tf.add(tf.mul(pred, tf.expandDims(r.mask, -1)), tf.mul(target, tf.expandDims(keep, -1)));
  const masked = tf.mul(target, tf.expandDims(keep, -1));
  return { mae: r.loss, baseline: maeLoss(baseline, target, r.mask, normPix), recon: mae.unpatchify(recon), masked: mae.unpatchify(masked) };
});
const [maeLossHeld, baseLossHeld] = [(await scores.mae.data())[0]!, (await scores.baseline.data())[0]!];
const baselineName = normPix ? 'patch mean' : 'mean visible colour';
console.log(`held-out loss on removed patches (${normPix ? 'normalised-pixel' : 'pixel'} targets): MAE ${maeLossHeld.toFixed(4)}, ${baselineName} baseline ${baseLossHeld.toFixed(4)}`);

// Reconstructions: 8 images, rows image / masked / reconstruction.
const pick = (t: tf.Tensor) => tf.slice(t, [0, 0, 0, 0], [8, 3, 16, 16]);
const grid = tf.tidy(() => tf.concat([pick(held.images), pick(scores.masked), tf.clipByValue(pick(scores.recon), -1, 1)], 0));
await writePng(join(out, 'reconstructions.png'), await imageGridPng(grid, { cols: 8, scale: 4, pad: 2 }));

// Probe and k-NN per factor on the mean-pooled encoder tokens of the full (unmasked) image.
const splits = shapesProbeSplits(seed);
const pooled = (m: { forward(x: tf.Tensor): tf.Tensor }) => (x: tf.Tensor) => tf.tidy(() => tf.mean(m.forward(x), 1));
const results: Record<string, EncoderReport> = {};
results.mae = await evaluateOnShapes('mae', pooled(mae.encoder), splits);
const random = new MaskedAutoencoder(config, { rng: new Rng(seed + 9) });
results.randomEncoder = await evaluateOnShapes('randomEncoder', pooled(random.encoder), splits);
random.dispose();
let supervised: { trainSeconds: number; finalLoss: number | null } | undefined;
if (withSupervised) {
  const s = await trainSupervisedViT(mae.encoder.config, { steps, batchSize, lr, seed });
  s.encoder.eval();
  results.supervised = await evaluateOnShapes('supervised', pooled(s.encoder), splits);
  supervised = { trainSeconds: s.trainSeconds, finalLoss: s.finalLoss };
  s.encoder.dispose();
}
results.rawPixels = await evaluateOnShapes('rawPixels', rawPixels, splits);
const summary = {
  task: `MAE on 16×16 shapes (patch ${patch}, ${mae.numPatches} patches, ${Math.round(config.maskRatio! * 100)}% removed${normPix ? ', normalised-pixel targets' : ''}); linear probe (core's logistic regression) and k-NN (k 20, cosine) of the mean-pooled encoder tokens of the full image on 1,000 train / 500 held-out images; size = 3 equal-width bins of [0.35, 0.75]; supervised = the same encoder trained on the shape label for the same steps and batch`,
  backend: tf.getBackend(),
  steps,
  trainSeconds: Math.round(trainSeconds),
  heldOutLoss: { mae: maeLossHeld, baseline: baseLossHeld, baselineName, targets: normPix ? 'normalised pixels' : 'pixels in [-1, 1]' },
  results,
  ...(supervised ? { supervised } : {}),
  config: mae.toConfig(),
};
await writeFile(join(out, 'eval.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}/eval.json, ${out}/reconstructions.png, ${out}/model (train ${summary.trainSeconds}s)`);
tf.dispose([scores, grid, held]);
splits.dispose();
mae.dispose();
optimizer.dispose();
