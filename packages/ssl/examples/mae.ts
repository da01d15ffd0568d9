/**
 * Masked autoencoder on 16×16 `shapes`, then a linear probe of its encoder on the shape and colour
 * factors beside a randomly initialised encoder of the same architecture.
 *
 *   npm run example -w @brickml/ssl -- mae [--steps 1000] [--backend wasm] [--out out/mae]
 *
 * Writes reconstructions.png (rows: image, masked input, reconstruction with the visible patches
 * pasted back), train.jsonl and eval.json (masked-patch MSE on held-out images beside predicting
 * each image's mean visible colour; probe accuracies).
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, Rng, Trainer, imageGridPng, linearProbe, save, shapes, writePng, type ShapesBatch } from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import { MaskedAutoencoder, maeLoss, randomMasking, type MaskedAutoencoderConfig } from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';

const program = 'example mae';
const flags = parseFlags(
  program,
  {
    steps: { default: '1000', help: 'training steps' },
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
const out = flags.out!;
const report = await useBackend(flags.backend);
console.log(`backend: ${formatBackendReport(report)}`);
await mkdir(out, { recursive: true });

const config: MaskedAutoencoderConfig = {
  imageSize: 16, patchSize: 4, dim: 64, depth: 2, heads: 4, decoderDim: 32, decoderDepth: 1, decoderHeads: 4, mlpRatio: 2, maskRatio: 0.75,
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

// Held-out masked-patch MSE, beside predicting every removed patch as the mean visible colour.
mae.eval();
const held = data.toBatch(data.fixedSplit(256, seed + 100));
const masking = randomMasking(256, mae.numPatches, config.maskRatio!, new Rng(seed + 5));
const scores = tf.tidy(() => {
  const r = mae.forward(held.images, { masking });
  const target = mae.patchify(held.images); // [B, L, 3·p²] in (C, ph, pw) order
  const [b, l, p] = target.shape as [number, number, number];
  const keep = tf.sub(1, r.mask); // [B, L]
  const perChannel = tf.reshape(target, [b, l, 3, p / 3]);
  const visibleSum = tf.sum(tf.mul(perChannel, tf.reshape(keep, [b, l, 1, 1])), [1, 3]); // [B, 3]
  const visibleCount = tf.mul(tf.sum(keep, 1, true), p / 3); // [B, 1]
  const meanColour = tf.div(visibleSum, visibleCount); // [B, 3]
  const baseline = tf.reshape(tf.tile(tf.reshape(meanColour, [b, 1, 3, 1]), [1, l, 1, p / 3]), [b, l, p]);
  const recon = tf.add(tf.mul(r.pred, tf.expandDims(r.mask, -1)), tf.mul(target, tf.expandDims(keep, -1)));
  const masked = tf.mul(target, tf.expandDims(keep, -1));
  return { mae: r.loss, baseline: maeLoss(baseline, target, r.mask), recon: mae.unpatchify(recon), masked: mae.unpatchify(masked) };
});
const [maeMse, baseMse] = [(await scores.mae.data())[0], (await scores.baseline.data())[0]];
console.log(`held-out masked-patch MSE: MAE ${maeMse.toFixed(4)}, mean-visible-colour baseline ${baseMse.toFixed(4)}`);

// Reconstructions: 8 images, rows image / masked / reconstruction.
const pick = (t: tf.Tensor) => tf.slice(t, [0, 0, 0, 0], [8, 3, 16, 16]);
const grid = tf.tidy(() => tf.concat([pick(held.images), pick(scores.masked), pick(scores.recon)], 0));
await writePng(join(out, 'reconstructions.png'), await imageGridPng(grid, { cols: 8, scale: 4, pad: 2 }));

// Linear probe on the shape and colour factors: mean-pooled encoder tokens of the whole image.
const probeData = shapes({ size: 16, batchSize: 1, seed: seed + 2 });
const trainSet = probeData.toBatch(probeData.fixedSplit(1000, seed + 200));
const testSet = probeData.toBatch(probeData.fixedSplit(500, seed + 300));
const random = new MaskedAutoencoder(config, { rng: new Rng(seed + 9) });
const encoderOf = (m: MaskedAutoencoder) => (x: tf.Tensor) => tf.tidy(() => tf.mean(m.encoder.forward(x), 1));
const probe: Record<string, Record<string, number>> = {};
for (const [name, model] of [['mae', mae], ['randomEncoder', random]] as const) {
  probe[name] = {};
  for (const factor of ['shape', 'colour'] as const) {
    const r = await linearProbe(encoderOf(model), {
      train: { inputs: trainSet.images, labels: trainSet.labels[factor] },
      test: { inputs: testSet.images, labels: testSet.labels[factor] },
    });
    probe[name][factor] = r.accuracy;
  }
  console.log(`linear probe ${name.padEnd(14)} shape ${probe[name].shape.toFixed(3)}  colour ${probe[name].colour.toFixed(3)}`);
}
const summary = {
  task: 'MAE on 16×16 shapes (patch 4, 16 patches, 75% removed); linear probe of mean-pooled encoder tokens on 1,000 train / 500 held-out images',
  backend: tf.getBackend(),
  steps,
  trainSeconds: Math.round(trainSeconds),
  heldOutMaskedMse: { mae: maeMse, meanVisibleColour: baseMse },
  linearProbe: probe,
  config: mae.toConfig(),
};
await writeFile(join(out, 'eval.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}/eval.json, ${out}/reconstructions.png, ${out}/model (train ${summary.trainSeconds}s)`);
tf.dispose([scores, grid, held, trainSet, testSet]);
mae.dispose();
random.dispose();
optimizer.dispose();
