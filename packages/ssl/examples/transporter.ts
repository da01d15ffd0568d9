/**
 * Transporter keypoints on `movingSprites`: trains on pairs of frames of the same video
 * (reconstruct the target frame from the source frame), then measures on held-out videos the mean
 * distance from each sprite's centre to its nearest keypoint over time, beside random keypoints and
 * an untrained network of the same architecture, and draws keypoint tracks over clips.
 *
 *   npm run example -w @brickml/ssl -- transporter [--steps 400] [--size 32 --channels 32]
 *
 * Writes train.jsonl, eval.json, tracks-<v>.png and model/ into out/transporter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AdamW, Rng, Trainer, imageGridPng, movingSprites, save, writePng, type MovingSpritesBatch } from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import {
  Transporter, keypointTrackFrames, keypointTrackingError, randomKeypointTracks, transporterKeypointTracks, type KeypointTracks,
} from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';

const program = 'example transporter';
const flags = parseFlags(
  program,
  {
    steps: { default: '400', help: 'training steps' },
    batch: { default: '16', help: 'frame pairs per step' },
    size: { default: '16', help: 'frame side: 16, 32 or 64' },
    keypoints: { default: '4', help: 'keypoints K' },
    channels: { default: '16', help: 'encoder width' },
    lr: { default: '0.002', help: 'AdamW learning rate' },
    videos: { default: '32', help: 'held-out videos for the evaluation' },
    backend: { help: 'Node engine, e.g. wasm or cpu (default: the best available)' },
    out: { default: 'out/transporter', help: 'output folder' },
    seed: { default: '0', help: 'seed' },
  },
  process.argv.slice(2),
);
const steps = num(program, flags, 'steps', { min: 0, int: true });
const batchSize = num(program, flags, 'batch', { min: 2, int: true });
const size = num(program, flags, 'size', { min: 16, max: 64, int: true });
if (size !== 16 && size !== 32 && size !== 64) {
  console.error(`${program}: --size expected 16, 32 or 64, got ${size}`);
  process.exit(2);
}
const K = num(program, flags, 'keypoints', { min: 1, int: true });
const channels = num(program, flags, 'channels', { min: 1, int: true });
const lr = num(program, flags, 'lr', { min: 0 });
const numVideos = num(program, flags, 'videos', { min: 1, int: true });
const seed = num(program, flags, 'seed', { min: 0, int: true });
const out = flags.out!;
const report = await useBackend(flags.backend);
console.log(`backend: ${formatBackendReport(report)}`);
await mkdir(out, { recursive: true });

const T = 8;
const spriteOptions = { size: size as 16 | 32 | 64, frames: T, layout: 'nhwc' as const };
const config = { numKeypoints: K, channels, downsample: 1, gaussianStd: 0.05 };
const model = new Transporter(config, { rng: new Rng(seed) });
const data = movingSprites({ ...spriteOptions, batchSize, seed: seed + 1 });
const optimizer = new AdamW(model.namedParameters(), { lr, weightDecay: 0 });
console.log(`transporter: ${model.numParameters().toLocaleString()} parameters, ${steps} steps of ${batchSize} frame pairs (${size}×${size})`);

/** Frame t of every video of a [B, T, H, W, C] batch → [B, H, W, C]. */
const frame = (videos: tf.Tensor, t: number) => {
  const [b, , h, w, c] = videos.shape as [number, number, number, number, number];
  return tf.reshape(tf.slice(videos, [0, t, 0, 0, 0], [b, 1, h, w, c]), [b, h, w, c]);
};
const trainer = new Trainer<MovingSpritesBatch>({
  model, optimizer, data, steps, seed, label: 'transporter', logFile: join(out, 'train.jsonl'),
  loss: (b, ctx) => {
    // a random ordered pair of distinct frames of the clip (the same pair for the whole batch)
    const s = ctx.rng.int(0, T);
    const t = (s + 1 + ctx.rng.int(0, T - 1)) % T;
    return model.loss(frame(b.videos, s), frame(b.videos, t));
  },
});
const t0 = performance.now();
await trainer.fit();
const trainSeconds = Math.round((performance.now() - t0) / 1000);
await save(model, join(out, 'model'));

// held-out videos: other seed for the generator and the split
const heldData = movingSprites({ ...spriteOptions, batchSize: 1, seed: seed + 2 });
const held = heldData.fixedSplit(numVideos, seed + 300);
const untrained = new Transporter(config, { rng: new Rng(seed + 9) });
// the untrained network's BatchNorm running statistics are estimated from 8 training batches first
// (training mode, no weight change): the initial ones (0, 1) do not match its activations
for (let i = 0; i < 8; i++) {
  const b = data.next();
  const f = frame(b.videos, 0);
  const kp = untrained.keypoints(f);
  tf.dispose([b, f, kp.coords, kp.maps]);
}
const methods: Record<string, KeypointTracks> = {
  transporter: await transporterKeypointTracks(model, held),
  untrainedNetwork: await transporterKeypointTracks(untrained, held),
  randomKeypoints: randomKeypointTracks(held, K, new Rng(seed + 7)),
};
const results: Record<string, { meanPixels: number; perFrame: number[] }> = {};
for (const [name, tracks] of Object.entries(methods)) {
  const e = keypointTrackingError(tracks, held);
  results[name] = { meanPixels: e.meanPixels, perFrame: e.perFrame };
  console.log(`${name.padEnd(17)} mean distance sprite centre → nearest keypoint: ${e.meanPixels.toFixed(2)} px (over ${e.count} sprite-frames)`);
}

// keypoint tracks over the first held-out clips
const [, , H, W, C] = held.videoShape;
const per = T * H * W * C;
for (let v = 0; v < Math.min(3, held.n); v++) {
  const rows = [methods.transporter!, methods.untrainedNetwork!].map((m) =>
    keypointTrackFrames(held.videos.subarray(v * per, (v + 1) * per), m.tracks.subarray(v * T * K * 2, (v + 1) * T * K * 2), T, H, W, K, { scale: 4 }),
  );
  const all = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  rows.reduce((o, r) => (all.set(r, o), o + r.length), 0);
  const png = await imageGridPng({ data: all, shape: [2 * T, 4 * H, 4 * W, 3] }, { cols: T, range: [0, 1], pad: 2 });
  await writePng(join(out, `tracks-${v}.png`), png);
}

const tail = trainer.history.slice(-20);
const summary = {
  task: `Transporter on ${size}×${size} movingSprites (1–3 sprites, dark background, ${T}-frame videos); mean distance in pixels from each present sprite's centre to the nearest of K = ${K} keypoints, over every frame of ${numVideos} held-out videos`,
  backend: tf.getBackend(),
  steps,
  trainSeconds,
  firstLoss: trainer.history.slice(0, 20).reduce((a, r) => a + r.loss, 0) / Math.max(1, Math.min(20, trainer.history.length)),
  finalLoss: tail.reduce((a, r) => a + r.loss, 0) / Math.max(1, tail.length),
  results,
  pictures: 'tracks-<v>.png: top row the trained keypoints, bottom row the untrained network, one column per frame (crosses: current keypoints; dots: earlier positions)',
  config: model.toConfig(),
};
await writeFile(join(out, 'eval.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(`wrote ${out}/eval.json, ${out}/tracks-*.png, ${out}/model (train ${trainSeconds}s)`);
model.dispose();
untrained.dispose();
optimizer.dispose();
