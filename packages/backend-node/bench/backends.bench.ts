/**
 * Backend benchmark: for each engine this machine has (cpu, wasm, webgpu), square matmul GFLOP/s at
 * N = 256/512/1024 and the training step (forward + backward) of one transformer block
 * (batch 8, 256 tokens, width 256, 4 heads, MLP 1024, causal, pre-LN, tanh-GELU) built from core's
 * ops (`linear`, `layerNorm`, `matmul` with their own gradients). Prints a table and writes JSON.
 *
 *   npm run bench -w @brickml/backend-node                 # cpu, wasm, and webgpu if Dawn finds a GPU
 *   npm run bench -w @brickml/backend-node -- --swiftshader  # + webgpu on SwiftShader (slow: minutes)
 *   options: --only=wasm,cpu  --out=path/to/file.json
 *
 * webgpu also runs when VK_ICD_FILENAMES is set in the environment. Every result is read with
 * `await data()`; times are min / median over repetitions after warm-up.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng, geluTanh, layerNorm, linear, matmul } from '@brickml/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { enableSwiftShader, useBackend, type NodeBackendReport } from '../src/index.js';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'] as const;
  }),
);
const outFile = resolve(args.get('out') ?? 'out/bench/backends.json');
const only = args.get('only')?.split(',');
if (args.has('swiftshader') && !enableSwiftShader()) {
  console.error('--swiftshader: Chromium\'s SwiftShader is not installed (apt-get install chromium); webgpu runs only on a GPU');
}

/** A single matmul call may take at most this long before a size is skipped (cpu and SwiftShader at 1024). */
const MAX_CALL_S = 4;

interface Timing {
  minMs: number;
  medianMs: number;
  reps: number;
}
interface MatmulResult {
  n: number;
  gflopsMin?: number;
  gflopsMedian?: number;
  timing?: Timing;
  skipped?: string;
}
interface BlockResult {
  stepMs?: Timing;
  forwardMs?: Timing;
  gflops?: number;
  loss?: number;
  skipped?: string;
}
interface EngineResult {
  engine: string;
  device?: string;
  matmul: MatmulResult[];
  block: BlockResult;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function time(f: () => Promise<void>, warmup: number, reps: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await f();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    ms.push(performance.now() - t0);
  }
  return { minMs: Math.min(...ms), medianMs: median(ms), reps };
}

// ---------------------------------------------------------------------------------------------
// Square matmul.

async function benchMatmul(engine: string): Promise<MatmulResult[]> {
  const out: MatmulResult[] = [];
  let lastGflops = Infinity;
  for (const n of [256, 512, 1024]) {
    const flop = 2 * n ** 3;
    const predictedS = flop / (lastGflops * 1e9);
    if (predictedS > MAX_CALL_S) {
      out.push({ n, skipped: `skipped: ≈${predictedS.toFixed(0)} s per call at ${lastGflops.toFixed(2)} GFLOP/s` });
      continue;
    }
    const rng = new Rng(n);
    const a = tf.tensor2d(rng.normalArray(n * n), [n, n]);
    const b = tf.tensor2d(rng.normalArray(n * n), [n, n]);
    const call = async () => {
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
    };
    // Fewer repetitions where one call is slow.
    const t0 = performance.now();
    await call();
    const firstS = (performance.now() - t0) / 1000;
    const reps = firstS > 1 ? 2 : firstS > 0.2 ? 4 : 10;
    const timing = await time(call, engine === 'webgpu' ? 2 : 1, reps);
    tf.dispose([a, b]);
    const gflopsMin = flop / (timing.minMs * 1e6);
    lastGflops = flop / (timing.medianMs * 1e6);
    out.push({ n, gflopsMin, gflopsMedian: lastGflops, timing });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Transformer block.

const B = 8, T = 256, D = 256, H = 4, F = 1024, DH = D / H;
/** Matmul FLOPs of one forward pass: QKV+O projections, scores and mixing, MLP. */
const FORWARD_FLOP = 4 * 2 * B * T * D * D + 2 * 2 * B * H * T * T * DH + 2 * 2 * B * T * D * F;
/** A training step counted as 3× the forward (as PyTorch-side figures usually are). */
const STEP_FLOP = 3 * FORWARD_FLOP;

interface BlockParams {
  [name: string]: tf.Variable;
}

function makeParams(): BlockParams {
  const rng = new Rng(1234);
  const w = (name: string, shape: number[], std: number) =>
    tf.variable(tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1), 0, std), shape), true, `bench/${name}`);
  const c = (name: string, shape: number[], v: number) => tf.variable(tf.fill(shape, v), true, `bench/${name}`);
  return {
    ln1g: c('ln1g', [D], 1), ln1b: c('ln1b', [D], 0),
    wq: w('wq', [D, D], 0.02), bq: c('bq', [D], 0),
    wk: w('wk', [D, D], 0.02), bk: c('bk', [D], 0),
    wv: w('wv', [D, D], 0.02), bv: c('bv', [D], 0),
    wo: w('wo', [D, D], 0.02), bo: c('bo', [D], 0),
    ln2g: c('ln2g', [D], 1), ln2b: c('ln2b', [D], 0),
    w1: w('w1', [F, D], 0.02), b1: c('b1', [F], 0),
    w2: w('w2', [D, F], 0.02), b2: c('b2', [D], 0),
  };
}

// [B,T,D] → [B·H, T, DH]
function splitHeads(x: tf.Tensor): tf.Tensor {
  return tf.reshape(tf.transpose(tf.reshape(x, [B, T, H, DH]), [0, 2, 1, 3]), [B * H, T, DH]);
}
// [B·H, T, DH] → [B,T,D]
function mergeHeads(x: tf.Tensor): tf.Tensor {
  return tf.reshape(tf.transpose(tf.reshape(x, [B, H, T, DH]), [0, 2, 1, 3]), [B, T, D]);
}

function blockLoss(p: BlockParams, x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  const h = layerNorm(x, p.ln1g, p.ln1b); // [B,T,D]
  const q = splitHeads(linear(h, p.wq, p.bq));
  const k = splitHeads(linear(h, p.wk, p.bk));
  const v = splitHeads(linear(h, p.wv, p.bv));
  const scores = tf.add(tf.mul(matmul(q, k, false, true), 1 / Math.sqrt(DH)), mask); // [B·H,T,T]
  const attn = mergeHeads(matmul(tf.softmax(scores), v)); // [B,T,D]
  const x1 = tf.add(x, linear(attn, p.wo, p.bo));
  const h2 = layerNorm(x1, p.ln2g, p.ln2b);
  const x2 = tf.add(x1, linear(geluTanh(linear(h2, p.w1, p.b1)), p.w2, p.b2));
  return tf.mean(tf.square(x2)) as tf.Scalar;
}

async function benchBlock(engine: string, slow: boolean): Promise<BlockResult> {
  const rng = new Rng(99);
  const x = tf.tensor3d(rng.normalArray(B * T * D), [B, T, D]);
  const mask = tf.tensor2d(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? -1e9 : 0)), [T, T]);
  const p = makeParams();
  const vars = Object.values(p);
  let loss = NaN;
  const forward = async () => {
    const l = tf.tidy(() => blockLoss(p, x, mask));
    loss = (await l.data())[0];
    l.dispose();
  };
  const step = async () => {
    const { value, grads } = tf.variableGrads(() => blockLoss(p, x, mask), vars);
    loss = (await value.data())[0];
    await Promise.all(Object.values(grads).map((g) => g.data()));
    tf.dispose([value, ...Object.values(grads)]);
  };
  const before = tf.memory().numTensors;
  // Slow backends (cpu, SwiftShader): one forward, then one warm-up step (webgpu compiles its shaders) or none, one timed step.
  const forwardMs = await time(forward, slow ? 0 : 1, slow ? 1 : 3);
  const stepMs = await time(step, slow ? (engine === 'webgpu' ? 1 : 0) : 1, slow ? 1 : 5);
  const leaked = tf.memory().numTensors - before;
  tf.dispose([x, mask, ...vars]);
  if (leaked !== 0) console.warn(`${engine}: ${leaked} tensors left behind by the block benchmark`);
  return { forwardMs, stepMs, gflops: STEP_FLOP / (stepMs.minMs * 1e6), loss };
}

// ---------------------------------------------------------------------------------------------

async function runEngine(engine: string): Promise<EngineResult | { engine: string; skipped: string }> {
  let report: NodeBackendReport;
  try {
    report = await useBackend(engine, { env: {} });
  } catch (e) {
    return { engine, skipped: (e as Error).message.split('\n').slice(-1)[0].trim() };
  }
  const slow = engine === 'cpu' || (engine === 'webgpu' && /fallback/.test(report.device ?? ''));
  console.error(`[bench] ${engine}: ${report.device ?? ''}`);
  const mm = await benchMatmul(engine);
  console.error(`[bench] ${engine}: matmul done; transformer block (${slow ? 'reduced iterations' : 'full'})…`);
  const block = await benchBlock(engine, slow);
  return { engine: slow && engine === 'webgpu' ? 'webgpu (SwiftShader)' : engine, device: report.device, matmul: mm, block };
}

function fmt(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits);
}

async function main() {
  const engines = only ?? ['cpu', 'wasm', 'webgpu'];
  const results: (EngineResult | { engine: string; skipped: string })[] = [];
  for (const e of engines) results.push(await runEngine(e));

  const rows = [
    '| engine | matmul N=256 GFLOP/s (min / med) | N=512 | N=1024 | block fwd ms (min) | block fwd+bwd ms (min / med, reps) | step GFLOP/s | loss |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if ('skipped' in r) {
      rows.push(`| ${r.engine} | not run: ${r.skipped} | | | | | | |`);
      continue;
    }
    const cell = (m: MatmulResult) => (m.skipped ? m.skipped : `${fmt(m.gflopsMin)} / ${fmt(m.gflopsMedian)}`);
    const s = r.block.stepMs;
    rows.push(
      `| ${r.engine} | ${r.matmul.map(cell).join(' | ')} | ${fmt(r.block.forwardMs?.minMs, 0)} | ${fmt(s?.minMs, 0)} / ${fmt(s?.medianMs, 0)} (${s?.reps}) | ${fmt(r.block.gflops)} | ${fmt(r.block.loss, 5)} |`,
    );
  }
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus()[0]?.model?.trim()} × ${cpus().length}`,
    tfjs: tf.version_core,
    block: { batch: B, tokens: T, width: D, heads: H, mlp: F, forwardGflop: FORWARD_FLOP / 1e9, stepGflop: STEP_FLOP / 1e9 },
  };
  console.log(`\nBackends on ${meta.cpu}, Node ${meta.node}, tfjs ${meta.tfjs}`);
  console.log(`Transformer block: B${B} T${T} D${D} H${H} MLP${F}, causal, pre-LN, tanh-GELU, core ops; step = ${meta.block.stepGflop.toFixed(2)} GFLOP (3× forward)\n`);
  console.log(rows.join('\n'));
  for (const r of results) if (!('skipped' in r)) console.log(`\n${r.engine}: ${r.device ?? ''}`);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify({ meta, results }, null, 2));
  console.log(`\nwrote ${outFile}`);
}

await main();
// End promptly, whatever handles an engine keeps open.
process.exit(0);
