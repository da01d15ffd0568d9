/**
 * Diagnostic runs for MAE / I-JEPA on 16×16 shapes (development tool behind the README's MAE and
 * I-JEPA tables, not an example; wasm backend):
 * trains one model with the given settings, then probes (linear + k-NN) per factor on several
 * feature readouts beside a random encoder of the same architecture and raw pixels, and prints
 * feature std / participation ratio. One JSON line per run is appended to --log.
 *
 *   node scripts/run.mjs scripts/mim-diag.ts --model mae --steps 1000 --patch 4 --normpix 1
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendFile } from 'node:fs/promises';
import { AdamW, Rng, Trainer, extractFeatures, knnClassify, probeFeatures, shapes, type Features, type ShapesBatch } from '@brickml/core';
import { useBackend } from '@brickml/backend-node';
import { IJEPA, MaskedAutoencoder, ijepaMomentum, sampleIJepaMasks } from '../src/index.js';
import { num, parseFlags } from './cli.js';

const program = 'mim-diag';
const flags = parseFlags(program, {
  model: { default: 'mae', help: 'mae or ijepa' },
  steps: { default: '1000', help: 'steps' },
  batch: { default: '32', help: 'batch' },
  lr: { default: '0.002', help: 'lr' },
  wd: { default: '0.05', help: 'weight decay' },
  warmup: { default: '0', help: 'warmup steps (linear) then cosine to 0; 0 = constant lr' },
  patch: { default: '4', help: 'patch size' },
  dim: { default: '64', help: 'encoder width' },
  depth: { default: '2', help: 'encoder depth' },
  ddim: { default: '32', help: 'decoder / predictor width' },
  ddepth: { default: '1', help: 'decoder / predictor depth' },
  ratio: { default: '0.75', help: 'MAE mask ratio' },
  normpix: { default: '0', help: 'MAE normPixLoss' },
  tscale: { default: '0.15,0.2', help: 'I-JEPA target scale' },
  cscale: { default: '0.85,1', help: 'I-JEPA context scale' },
  ntargets: { default: '4', help: 'I-JEPA targets' },
  minkeep: { default: '2', help: 'I-JEPA minKeep' },
  ema: { default: '0.996', help: 'I-JEPA EMA start' },
  seed: { default: '0', help: 'seed' },
  tag: { default: '', help: 'tag' },
  flat: { default: '1', help: 'also probe the flattened tokens' },
  log: { default: 'out/mim-diag.jsonl', help: 'log' },
}, process.argv.slice(2));
const n = (k: string, o: { min?: number; int?: boolean } = {}) => num(program, flags, k, o);
const pair = (k: string) => flags[k]!.split(',').map(Number) as [number, number];
const steps = n('steps', { int: true });
const seed = n('seed', { int: true });
const patch = n('patch', { int: true });
await useBackend('wasm');
const g = 16 / patch;

const common = { imageSize: 16, patchSize: patch, dim: n('dim', { int: true }), depth: n('depth', { int: true }), heads: 4, mlpRatio: 2 };
const isMae = flags.model === 'mae';
const make = (s: number) => isMae
  ? new MaskedAutoencoder({ ...common, decoderDim: n('ddim', { int: true }), decoderDepth: n('ddepth', { int: true }), decoderHeads: 4, maskRatio: n('ratio'), normPixLoss: n('normpix') === 1 }, { rng: new Rng(s) })
  : new IJEPA({ ...common, predictorDim: n('ddim', { int: true }), predictorDepth: n('ddepth', { int: true }), predictorHeads: 4 }, { rng: new Rng(s) });
const model = make(seed);
const data = shapes({ size: 16, batchSize: n('batch', { int: true }), seed: seed + 1 });
const lr = n('lr');
const warmup = n('warmup', { int: true });
const schedule = (s: number) => (s < warmup ? (lr * (s + 1)) / warmup : 0.5 * lr * (1 + Math.cos((Math.PI * (s - warmup)) / Math.max(1, steps - warmup))));
const optimizer = new AdamW(model.namedParameters(), { lr: warmup > 0 ? schedule : lr, betas: [0.9, 0.95], weightDecay: n('wd') });
const maskRng = new Rng(seed + 5);
const maskOptions = { numTargets: n('ntargets', { int: true }), minKeep: n('minkeep', { int: true }), targetScale: pair('tscale'), contextScale: pair('cscale') };
const emaStart = n('ema');
const trainer = new Trainer<ShapesBatch>({
  model, optimizer, data, steps, seed, label: flags.model!, progress: 'none',
  loss: (b, ctx) => (model instanceof MaskedAutoencoder ? model.forward(b.images, { rng: ctx.rng }).loss : model.loss(b.images, sampleIJepaMasks(g, g, b.images.shape[0], maskRng, maskOptions))),
  onStep: (r) => {
    if (model instanceof IJEPA) model.updateTarget(ijepaMomentum(r.step, steps, emaStart));
  },
});
const t0 = performance.now();
await trainer.fit();
const trainSeconds = Math.round((performance.now() - t0) / 1000);
const hist = trainer.history;
const avg = (a: { loss: number }[]) => a.reduce((s, r) => s + r.loss, 0) / Math.max(1, a.length);

const probeData = shapes({ size: 16, batchSize: 1, seed: seed + 2 });
const trainSet = probeData.toBatch(probeData.fixedSplit(1000, seed + 200));
const testSet = probeData.toBatch(probeData.fixedSplit(500, seed + 300));
const sizeBin = async (t: tf.Tensor) => Int32Array.from(await t.data(), (v) => Math.min(2, Math.max(0, Math.floor((v - 0.35) / (0.4 / 3)))));
const labels = {
  shape: [await trainSet.labels.shape.data(), await testSet.labels.shape.data()],
  colour: [await trainSet.labels.colour.data(), await testSet.labels.colour.data()],
  size: [await sizeBin(trainSet.labels.size), await sizeBin(testSet.labels.size)],
} as Record<string, [ArrayLike<number>, ArrayLike<number>]>;
const classes: Record<string, number> = { shape: 3, colour: 6, size: 3 };

function participation(f: Features): number {
  const { data: x, n: rows, dim } = f;
  const mean = new Float64Array(dim);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) mean[j] += x[i * dim + j] / rows;
  const c = new Float64Array(dim * dim);
  for (let i = 0; i < rows; i++) for (let a = 0; a < dim; a++) { const va = x[i * dim + a] - mean[a]; for (let b = 0; b < dim; b++) c[a * dim + b] += (va * (x[i * dim + b] - mean[b])) / rows; }
  let tr = 0; let fro = 0;
  for (let a = 0; a < dim; a++) tr += c[a * dim + a];
  for (const v of c) fro += v * v;
  return (tr * tr) / fro;
}
function normStd(f: Features): number {
  const { data: x, n: rows, dim } = f;
  const y = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) { let s = 0; for (let j = 0; j < dim; j++) s += x[i * dim + j] ** 2; s = Math.sqrt(s) || 1; for (let j = 0; j < dim; j++) y[i * dim + j] = x[i * dim + j] / s; }
  let tot = 0;
  for (let j = 0; j < dim; j++) { let m = 0; for (let i = 0; i < rows; i++) m += y[i * dim + j] / rows; let v = 0; for (let i = 0; i < rows; i++) v += (y[i * dim + j] - m) ** 2 / rows; tot += Math.sqrt(v); }
  return tot / dim;
}

const encoderOf = (m: MaskedAutoencoder | IJEPA) => (m instanceof MaskedAutoencoder ? m.encoder : m.target_encoder);
const readouts: Record<string, (m: MaskedAutoencoder | IJEPA) => (x: tf.Tensor) => tf.Tensor> = {
  mean: (m) => (x) => tf.tidy(() => tf.mean(encoderOf(m).forward(x), 1)),
  flat: (m) => (x) => tf.tidy(() => tf.reshape(encoderOf(m).forward(x), [x.shape[0], -1])),
};
const random = make(seed + 9);
model.eval();
const results: Record<string, unknown> = {};
for (const [name, m] of [['trained', model], ['random', random], ['pixels', model]] as const) {
  for (const [rname, r0] of Object.entries(readouts)) {
    if ((name === 'pixels' || flags.flat === '0') && rname === 'flat') continue;
    const r = name === 'pixels' ? () => (x: tf.Tensor) => tf.reshape(x, [x.shape[0], -1]) : r0;
    const trF = await extractFeatures(r(m), trainSet.images);
    const teF = await extractFeatures(r(m), testSet.images);
    const row: Record<string, number> = { std: +normStd(teF).toFixed(4), pr: +participation(teF).toFixed(2), dim: teF.dim };
    for (const f of ['shape', 'colour', 'size']) {
      const [ytr, yte] = labels[f]!;
      row[`${f}Probe`] = (await probeFeatures(trF, ytr, teF, yte, classes[f]!)).accuracy;
      if (rname === 'mean') {
        const pred = await knnClassify(trF, ytr, teF, classes[f]!);
        let ok = 0; for (let i = 0; i < pred.length; i++) if (pred[i] === yte[i]) ok++;
        row[`${f}Knn`] = ok / pred.length;
      }
    }
    results[`${name}.${rname}`] = row;
    console.log(`${name}.${rname}`, JSON.stringify(row));
  }
}
const line = { tag: flags.tag, flags, trainSeconds, firstLoss: avg(hist.slice(0, 20)), lastLoss: avg(hist.slice(-20)), results };
console.log(JSON.stringify({ trainSeconds, firstLoss: line.firstLoss, lastLoss: line.lastLoss }));
await appendFile(flags.log!, `${JSON.stringify(line)}\n`);
