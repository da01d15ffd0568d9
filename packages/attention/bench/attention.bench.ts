/**
 * Attention benchmark.
 *
 *   npm run bench -w @brickml/attention -- [--backends cpu,wasm] [--reps 3] [--out out/bench/attention.json]
 *     [--scaling-backend wasm] [--max-time-tokens 4096] [--quick] [--replot]
 *
 * 1. Forward and forward+backward time and GFLOP/s of `MultiHeadAttention`, `PerceiverEncoder` and
 *    `RinNetwork` at a small and a medium size on each backend (FLOPs counted analytically from
 *    the matrix products, forward + backward = 3 × forward; see src/flops.ts).
 * 2. Compute scaling of RIN versus a plain transformer over the same interface as the number of
 *    interface tokens grows 256 → 4096: analytic FLOPs at every size (RIN linear, transformer
 *    quadratic) and the measured forward time on one backend where affordable.
 * Writes the table, a JSON file and a PNG plot of the scaling curves (when core's plot helpers are
 * available).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as core from '@brickml/core';
import { Rng, type Module } from '@brickml/core';
import {
  MultiHeadAttention,
  PerceiverEncoder,
  RinNetwork,
  TransformerBlock,
  multiHeadAttentionFlops,
  perceiverEncoderFlops,
  rinNetworkFlops,
  transformerFlops,
  type RinNetworkConfig,
} from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,wasm' },
    reps: { type: 'string', default: '3' },
    out: { type: 'string', default: 'out/bench/attention.json' },
    'scaling-backend': { type: 'string', default: 'wasm' },
    'max-time-tokens': { type: 'string', default: '4096' },
    quick: { type: 'boolean', default: false },
    /** Only redraw the PNG from an existing JSON file (`--out`). */
    replot: { type: 'boolean', default: false },
  },
});
const reps = Math.max(1, Number(args.reps));

interface Case {
  brick: string;
  size: 'small' | 'medium';
  shape: string;
  make: () => Module;
  input: (rng: Rng) => tf.Tensor[];
  run: (m: Module, inputs: tf.Tensor[]) => tf.Tensor;
  flops: (m: Module) => number;
}

interface Row {
  backend: string;
  brick: string;
  size: string;
  shape: string;
  params: number;
  forwardMs: number;
  trainMs: number;
  forwardGflop: number;
  forwardGflops: number;
  trainGflops: number;
}

const cases: Case[] = [];
for (const [size, b, t, dim, heads] of [
  ['small', 4, 256, 128, 4],
  ['medium', 4, 1024, 256, 8],
] as const) {
  cases.push({
    brick: 'MultiHeadAttention',
    size,
    shape: `self, B=${b}, T=${t}, dim=${dim}, heads=${heads}`,
    make: () => new MultiHeadAttention({ dim, heads }, { rng: new Rng(0) }),
    input: (rng) => [rng.normalTensor([b, t, dim])],
    run: (m, [x]) => (m as MultiHeadAttention).forward(x),
    flops: (m) => multiHeadAttentionFlops(m as MultiHeadAttention, b, t),
  });
}
for (const [size, b, mIn, c, n, d, layers] of [
  ['small', 4, 1024, 64, 64, 128, 2],
  ['medium', 4, 4096, 64, 128, 256, 4],
] as const) {
  cases.push({
    brick: 'PerceiverEncoder',
    size,
    shape: `B=${b}, M=${mIn}×${c} → N=${n}×${d}, ${layers} self-attends`,
    make: () =>
      new PerceiverEncoder(
        { inputDim: c, numLatents: n, latentDim: d, crossHeads: 1, selfHeads: 8, selfAttendsPerBlock: layers, selfMlpRatio: 4 },
        { rng: new Rng(0) },
      ),
    input: (rng) => [rng.normalTensor([b, mIn, c])],
    run: (m, [x]) => (m as PerceiverEncoder).forward(x),
    flops: (m) => perceiverEncoderFlops(m as PerceiverEncoder, b, mIn),
  });
}
const rinSmall: RinNetworkConfig = {
  inputSize: [32, 32], patchSize: 2, interfaceDim: 64, latentDim: 128, numLatents: 32, numBlocks: 2, computeLayers: 2,
  readHeads: 4, latentHeads: 4, numClasses: 10,
};
const rinMedium: RinNetworkConfig = {
  inputSize: [64, 64], patchSize: 2, interfaceDim: 128, latentDim: 256, numLatents: 64, numBlocks: 3, computeLayers: 2,
  readHeads: 4, latentHeads: 8, numClasses: 10,
};
for (const [size, b, cfg] of [
  ['small', 4, rinSmall],
  ['medium', 4, rinMedium],
] as const) {
  const [h, w] = cfg.inputSize;
  cases.push({
    brick: 'RinNetwork',
    size,
    shape: `B=${b}, ${h}×${w} patch 2 (${(h / 2) * (w / 2)} tokens×${cfg.interfaceDim}), ${cfg.numLatents}+2 latents×${cfg.latentDim}, ${cfg.numBlocks} blocks×${cfg.computeLayers}`,
    make: () => new RinNetwork(cfg, { rng: new Rng(0) }),
    input: (rng) => [rng.normalTensor([b, 3, h, w]), rng.uniformTensor([b], 0, 1), tf.tensor1d(Array.from({ length: b }, (_, i) => i % 10), 'int32')],
    run: (m, [x, g, y]) => (m as RinNetwork).forward(x, { noiseLevel: g, classLabels: y }).output,
    flops: (m) => rinNetworkFlops(m as RinNetwork, b),
  });
}

async function median(f: () => Promise<void>, n: number): Promise<number> {
  await f(); // warm-up (kernel compilation, allocations)
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function timeForward(m: Module, inputs: tf.Tensor[], run: Case['run'], n: number): Promise<number> {
  return median(async () => {
    const y = tf.tidy(() => run(m, inputs));
    await y.data();
    y.dispose();
  }, n);
}

async function timeTrain(m: Module, inputs: tf.Tensor[], run: Case['run'], n: number): Promise<number> {
  const params = m.parameters();
  return median(async () => {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.square(run(m, inputs))) as tf.Scalar), params);
    await value.data();
    await Promise.all(Object.values(grads).map((g) => g.data()));
    tf.dispose([value, ...Object.values(grads)]);
  }, n);
}

async function useBackend(name: string): Promise<boolean> {
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
    return true;
  } catch (e) {
    console.log(`backend ${name}: unavailable (${(e as Error).message})`);
    return false;
  }
}

// ---- plot ------------------------------------------------------------------------------------
interface PlotRow {
  tokens: number;
  rinGflop: number;
  transformerGflop: number;
  rinMs?: number;
  transformerMs?: number;
}
async function plotScaling(scaling: PlotRow[], timedOn: string | null, out: string): Promise<void> {
  const plot = core as unknown as {
    linePlotSpec?: (o: { series: Array<{ name: string; x: number[]; y: number[] }>; title?: string; xLabel?: string; yLabel?: string; logY?: boolean }) => unknown;
    renderSpecToPng?: (spec: unknown) => Promise<Uint8Array>;
  };
  if (!plot.linePlotSpec || !plot.renderSpecToPng) {
    console.log('plot skipped: this build of @brickml/core does not export linePlotSpec/renderSpecToPng yet (JSON written)');
    return;
  }
  const xs = scaling.map((r) => r.tokens);
  const series = [
    { name: 'RIN GFLOP', x: xs, y: scaling.map((r) => r.rinGflop) },
    { name: 'transformer GFLOP', x: xs, y: scaling.map((r) => r.transformerGflop) },
  ];
  const timed = scaling.filter((r) => r.rinMs !== undefined && r.transformerMs !== undefined);
  if (timed.length) {
    series.push({ name: 'RIN seconds', x: timed.map((r) => r.tokens), y: timed.map((r) => r.rinMs! / 1e3) });
    series.push({ name: 'transformer seconds', x: timed.map((r) => r.tokens), y: timed.map((r) => r.transformerMs! / 1e3) });
  }
  const spec = plot.linePlotSpec({
    series,
    title: `RIN vs plain transformer over the same interface: forward GFLOP and seconds${timed.length ? ` on ${timedOn}` : ''} (batch 1)`,
    xLabel: 'interface tokens',
    yLabel: 'GFLOP or seconds (log scale)',
    logY: true,
  });
  const png = await plot.renderSpecToPng(spec);
  const pngPath = out.replace(/\.json$/, '') + '-scaling.png';
  mkdirSync(dirname(pngPath), { recursive: true });
  writeFileSync(pngPath, png);
  console.log(`wrote ${pngPath}`);
}

if (args.replot) {
  const saved = JSON.parse(readFileSync(args.out!, 'utf8')) as { scaling: { backend: string | null; rows: PlotRow[] } };
  await plotScaling(saved.scaling.rows, saved.scaling.backend, args.out!);
  process.exit(0);
}

const rows: Row[] = [];
const backends = args.backends!.split(',').map((s) => s.trim()).filter(Boolean);
for (const backend of backends) {
  if (!(await useBackend(backend))) continue;
  for (const c of cases) {
    if (args.quick && c.size === 'medium') continue;
    // The plain-JS cpu backend is ~10× slower than wasm: fewer repetitions at the medium size.
    const n = backend === 'cpu' && c.size === 'medium' ? 1 : reps;
    const m = c.make();
    const inputs = c.input(new Rng(1));
    const fwd = await timeForward(m, inputs, c.run, n);
    const train = await timeTrain(m, inputs, c.run, n);
    const gf = c.flops(m) / 1e9;
    const row: Row = {
      backend, brick: c.brick, size: c.size, shape: c.shape, params: m.numParameters(),
      forwardMs: fwd, trainMs: train, forwardGflop: gf, forwardGflops: gf / (fwd / 1e3), trainGflops: (3 * gf) / (train / 1e3),
    };
    rows.push(row);
    console.log(
      `${backend.padEnd(5)} ${c.brick.padEnd(18)} ${c.size.padEnd(7)} fwd ${fwd.toFixed(1).padStart(8)} ms ${row.forwardGflops.toFixed(2).padStart(6)} GFLOP/s` +
        `   fwd+bwd ${train.toFixed(1).padStart(8)} ms ${row.trainGflops.toFixed(2).padStart(6)} GFLOP/s   (${gf.toFixed(3)} GFLOP fwd; ${c.shape})`,
    );
    tf.dispose(inputs);
    m.dispose();
  }
}

// ---- RIN vs plain transformer scaling over the interface -------------------------------------
const tokenCounts = [256, 512, 1024, 2048, 4096];
const scaleDims = { interfaceDim: 64, latentDim: 128, numLatents: 64, numBlocks: 2, computeLayers: 2, heads: 4, depth: 4 };
function rinFor(tokens: number): RinNetwork {
  // patch 2 on an H×W image with (H/2)·(W/2) = tokens
  const side = Math.sqrt(tokens);
  const [gh, gw] = Number.isInteger(side) ? [side, side] : [Math.sqrt(tokens / 2), 2 * Math.sqrt(tokens / 2)];
  return new RinNetwork(
    {
      inputSize: [2 * gh, 2 * gw], patchSize: 2, interfaceDim: scaleDims.interfaceDim, latentDim: scaleDims.latentDim,
      numLatents: scaleDims.numLatents, numBlocks: scaleDims.numBlocks, computeLayers: scaleDims.computeLayers,
      readHeads: scaleDims.heads, latentHeads: scaleDims.heads, noiseCondition: false,
    },
    { rng: new Rng(0) },
  );
}
const patchFlops = (tokens: number) => 2 * 2 * tokens * 12 * scaleDims.interfaceDim; // stem + readout, batch 1
interface ScaleRow {
  tokens: number;
  rinGflop: number;
  transformerGflop: number;
  rinMs?: number;
  transformerMs?: number;
}
const scaling: ScaleRow[] = [];
const scalingBackend = args['scaling-backend']!;
const maxTimeTokens = Number(args['max-time-tokens']);
const canTime = await useBackend(scalingBackend);
console.log(
  `\nRIN (${scaleDims.numLatents} latents×${scaleDims.latentDim}, ${scaleDims.numBlocks} blocks×${scaleDims.computeLayers}) vs plain transformer ` +
    `(depth ${scaleDims.depth}, width ${scaleDims.interfaceDim}, ${scaleDims.heads} heads, MLP×4) over the same interface, batch 1; forward time on ${canTime ? scalingBackend : '(none)'}`,
);
for (const tokens of tokenCounts) {
  const rin = rinFor(tokens);
  const row: ScaleRow = {
    tokens,
    rinGflop: rinNetworkFlops(rin, 1) / 1e9,
    transformerGflop:
      (transformerFlops({ batch: 1, tokens, dim: scaleDims.interfaceDim, heads: scaleDims.heads, depth: scaleDims.depth }) + patchFlops(tokens)) / 1e9,
  };
  if (canTime && tokens <= maxTimeTokens && !(args.quick && tokens > 1024)) {
    const [gh, gw] = [rin.grid.rows, rin.grid.cols];
    const x = new Rng(2).normalTensor([1, 3, 2 * gh, 2 * gw]);
    row.rinMs = await timeForward(rin, [x], (m, [i]) => (m as RinNetwork).forward(i).output, Math.min(reps, 2));
    x.dispose();
    const blocks = Array.from({ length: scaleDims.depth }, () =>
      new TransformerBlock({ dim: scaleDims.interfaceDim, heads: scaleDims.heads }, { rng: new Rng(0) }),
    );
    const tok = new Rng(3).normalTensor([1, tokens, scaleDims.interfaceDim]);
    row.transformerMs = await median(async () => {
      const y = tf.tidy(() => blocks.reduce((h, blk) => blk.forward(h), tok));
      await y.data();
      y.dispose();
    }, Math.min(reps, 2));
    tok.dispose();
    blocks.forEach((b) => b.dispose());
  }
  rin.dispose();
  scaling.push(row);
  console.log(
    `tokens ${String(tokens).padStart(5)}   RIN ${row.rinGflop.toFixed(3).padStart(8)} GFLOP ${row.rinMs !== undefined ? `${row.rinMs.toFixed(1).padStart(8)} ms` : '        -   '}` +
      `   transformer ${row.transformerGflop.toFixed(3).padStart(8)} GFLOP ${row.transformerMs !== undefined ? `${row.transformerMs.toFixed(1).padStart(8)} ms` : '      -'}`,
  );
}
const first = scaling[0], last = scaling[scaling.length - 1];
const growth = (a: number, b: number) => Math.log(b / a) / Math.log(last.tokens / first.tokens);
const summary = {
  tokenRatio: last.tokens / first.tokens,
  rinFlopRatio: last.rinGflop / first.rinGflop,
  transformerFlopRatio: last.transformerGflop / first.transformerGflop,
  /** Exponent of the power law between the end points: 1 = linear, 2 = quadratic. */
  rinFlopExponent: growth(first.rinGflop, last.rinGflop),
  transformerFlopExponent: growth(first.transformerGflop, last.transformerGflop),
  /**
   * Marginal cost per interface token between consecutive sizes (GFLOP per 1,000 tokens): constant
   * for RIN (its cost is a + b·N, linear in N), growing ∝ N for the transformer (quadratic).
   */
  rinGflopPer1kTokens: scaling.slice(1).map((r, i) => (1e3 * (r.rinGflop - scaling[i].rinGflop)) / (r.tokens - scaling[i].tokens)),
  transformerGflopPer1kTokens: scaling
    .slice(1)
    .map((r, i) => (1e3 * (r.transformerGflop - scaling[i].transformerGflop)) / (r.tokens - scaling[i].tokens)),
  /** Power-law exponents of the measured forward times between the end points (when both are timed). */
  timedExponents:
    first.rinMs !== undefined && last.rinMs !== undefined && first.transformerMs !== undefined && last.transformerMs !== undefined
      ? { rin: growth(first.rinMs, last.rinMs), transformer: growth(first.transformerMs, last.transformerMs) }
      : null,
};
console.log(
  `\nmarginal GFLOP per 1k interface tokens, per interval: RIN ${summary.rinGflopPer1kTokens.map((v) => v.toFixed(3)).join(', ')} (constant: linear); ` +
    `transformer ${summary.transformerGflopPer1kTokens.map((v) => v.toFixed(3)).join(', ')} (doubling with N: quadratic)`,
);
console.log(
  `tokens ×${summary.tokenRatio}: RIN FLOPs ×${summary.rinFlopRatio.toFixed(1)} (end-point exponent ${summary.rinFlopExponent.toFixed(2)}: a fixed latent cost plus a linear term), ` +
    `transformer FLOPs ×${summary.transformerFlopRatio.toFixed(1)} (exponent ${summary.transformerFlopExponent.toFixed(2)}, heading to 2)` +
    (summary.timedExponents ? `; measured time exponents RIN ${summary.timedExponents.rin.toFixed(2)}, transformer ${summary.timedExponents.transformer.toFixed(2)}` : ''),
);

mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(
  args.out!,
  `${JSON.stringify({ date: new Date().toISOString(), reps, rows, scaling: { dims: scaleDims, backend: canTime ? scalingBackend : null, rows: scaling, summary } }, null, 2)}\n`,
);
console.log(`wrote ${args.out}`);

await plotScaling(scaling, canTime ? scalingBackend : null, args.out!);
