/**
 * `npm run bench -w @brickml/ssl [-- --backend wasm] [--reps 5]`: step time per objective and
 * label-propagation frames per second, with tensor memory, on the chosen backend. Prints one JSON
 * object. Configs are the examples' (CRW: MLP window encoder, stride-2 grid on 32×32 4-frame clips,
 * batch 4; MAE: 16×16 shapes, batch 32; BYOL: ViTEncoder on 16×16 shapes, batch 32).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, movingSprites, shapes, type Module } from '@brickml/core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';
import { BYOL, ContrastiveRandomWalk, MaskedAutoencoder, channelStats, crwNodeFeatures, propagateLabels } from '../src/index.js';
import { num, parseFlags } from '../scripts/cli.js';

const program = 'bench ssl';
const flags = parseFlags(program, { backend: { help: 'Node engine' }, reps: { default: '5', help: 'timed steps per objective (after 2 warm-up steps)' } }, process.argv.slice(2));
const reps = num(program, flags, 'reps', { min: 1, int: true });
const report = await useBackend(flags.backend);
console.error(`backend: ${formatBackendReport(report)}`);

/** Median ms of `reps` optimizer steps after 2 warm-up steps, and the tensor bytes alive right after the backward pass (parameters, optimizer state, gradients; not the peak inside it). */
async function timeSteps(model: Module, loss: () => tf.Scalar): Promise<{ msPerStep: number; liveMBAfterBackward: number }> {
  const opt = new AdamW(model.namedParameters(), { lr: 1e-4 });
  const times: number[] = [];
  let peak = 0;
  for (let i = 0; i < reps + 2; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(loss, model.parameters());
    peak = Math.max(peak, tf.memory().numBytes);
    opt.step(new Map(model.namedParameters().map(([n, v]) => [n, grads[v.name]])));
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
    if (i >= 2) times.push(performance.now() - t0);
  }
  opt.dispose();
  times.sort((a, b) => a - b);
  return { msPerStep: Math.round(times[Math.floor(times.length / 2)]), liveMBAfterBackward: Number((peak / 2 ** 20).toFixed(1)) };
}

const results: Record<string, unknown> = { backend: tf.getBackend(), reps };

// CRW
const sprites = movingSprites({ size: 32, frames: 4, batchSize: 4, seed: 0, background: 'noise', noiseStd: 0.1 });
const clip = sprites.next();
const stats = await channelStats(clip.videos);
const crw = new ContrastiveRandomWalk(
  {
    encoder: { type: 'MLP', dim: 192, hidden: 256, outDim: 128 }, encoderDim: 128, encoderInput: 'flat',
    patchSize: 8, stride: 2, jitter: false, pixelMean: stats.mean, pixelStd: stats.std,
  },
  { rng: new Rng(0) },
);
const rng = new Rng(1);
results.crwStep = { ...(await timeSteps(crw, () => crw.loss(clip.videos, { rng }).loss)), batch: '4 clips × 4 frames × 256 nodes' };

// Label propagation: 8-frame 32×32 video, stride 2 (256 nodes), context 20, top-k 10.
const video = movingSprites({ size: 32, frames: 8, batchSize: 1, seed: 1, background: 'noise', noiseStd: 0.1 }).next();
const { nodes, grid } = crwNodeFeatures(crw, { stride: 2 })(video.videos);
const feats = tf.squeeze(nodes, [0]);
const first = tf.softmax(new Rng(2).normalTensor([grid.rows * grid.cols, 4]));
propagateLabels(feats, first, grid, { radius: 4 }).dispose(); // warm-up
const p0 = performance.now();
const before = tf.memory().numBytes;
const out = propagateLabels(feats, first, grid, { radius: 4 });
await out.data();
const propMs = performance.now() - p0;
results.labelPropagation = { framesPerSecond: Number((7 / (propMs / 1000)).toFixed(1)), nodesPerFrame: grid.rows * grid.cols, keptMB: Number(((tf.memory().numBytes - before) / 2 ** 20).toFixed(2)) };
tf.dispose([out, feats, first, nodes, video, clip]);
crw.dispose();

// MAE
const images = shapes({ size: 16, batchSize: 32, seed: 3 }).next();
const mae = new MaskedAutoencoder({ imageSize: 16, patchSize: 4, dim: 64, depth: 2, heads: 4, decoderDim: 32, decoderDepth: 1, decoderHeads: 4, mlpRatio: 2 }, { rng: new Rng(0) });
const maeRng = new Rng(4);
results.maeStep = { ...(await timeSteps(mae, () => mae.forward(images.images, { rng: maeRng }).loss)), batch: 32 };
mae.dispose();

// BYOL (two views: flip + noise)
const byol = new BYOL({ encoder: { type: 'ViTEncoder', imageSize: 16, patchSize: 4, dim: 64, depth: 2, heads: 4, mlpRatio: 2 }, encoderDim: 64, hidden: 256, projectionDim: 64 }, { rng: new Rng(0) });
const v2 = tf.reverse(images.images, 3);
results.byolStep = { ...(await timeSteps(byol, () => byol.loss(images.images, v2))), batch: 32 };
byol.dispose();
tf.dispose([images, v2]);

console.log(JSON.stringify(results, null, 2));
