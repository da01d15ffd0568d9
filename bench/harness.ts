/**
 * BrickML vs PyTorch, side by side on this machine: every case in `cases/` runs in BrickML on each
 * backend present and in its PyTorch reference (same weights and inputs via safetensors, same
 * thread count), in one run. Prints a table (median ms, GFLOP/s, fraction of the measured OpenBLAS
 * sgemm peak, BrickML/PyTorch ratio, max abs error vs PyTorch) and writes `out/bench/bench.json`.
 *
 *   npm run bench                                  # bench/run.sh: installs what is missing, then this
 *   npm run bench -- --case rin --backends wasm    # a subset
 *
 * Options: --case a,b (id substrings)  --backends wasm,wasm+ort,cpu,webgpu (wasm+ort joins the
 * default list when onnxruntime-node is installed)  --swiftshader (webgpu on SwiftShader when no GPU
 * adapter: very slow)  --threads N (cores each side may use, default 1: onnxruntime-node's intra-op
 * threads for wasm+ort — tfjs-wasm itself is single-threaded in Node —, and PyTorch's BLAS threads
 * and the sgemm peak's; PyTorch's own intra-op threads are --torch-intra, default 1, because its
 * OpenMP threads and OpenBLAS's spinning threads oversubscribe the cores when both are > 1)
 * --torch-intra T  --torch-threads N (old name of --threads)
 * --max-seconds S (timing budget per row, 20)  --slow-limit S (one run only when the first takes
 * longer, 30)  --profile (per BrickML row, the kernels that take the time: tf.profile of one step)
 * --out path.json  --python path  --torch-device cpu|cuda (cuda: the reference on the GPU, fp32 without
 * TF32, timed with a device synchronize; for a GPU machine, see bench/README.md "On a GPU machine").
 */
import * as tf from '@tensorflow/tfjs-core';
import { encodeTensorMap, decodeToTensors } from '@brickml/core';
import { enableSwiftShader, formatBackendReport, useBackend } from '@brickml/backend-node';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchCase } from './case.js';
import { allCases } from './cases/index.js';
import { importEngineModule } from './engines.js';

// Run from the repository root (bench/run.sh does); the bundled script's own URL is a cache path.
const root = process.cwd();
const here = join(root, 'bench');
if (!existsSync(join(here, 'harness.ts'))) throw new Error(`bench: run from the repository root (npm run bench), not ${root}`);
const { values: args } = parseArgs({
  options: {
    case: { type: 'string' },
    backends: { type: 'string' },
    swiftshader: { type: 'boolean', default: false },
    threads: { type: 'string' },
    'torch-threads': { type: 'string' },
    'torch-intra': { type: 'string', default: '1' },
    'max-seconds': { type: 'string', default: '20' },
    'min-iters': { type: 'string', default: '3' },
    'slow-limit': { type: 'string', default: '30' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'out/bench/bench.json') },
    python: { type: 'string', default: process.env.BENCH_PYTHON ?? '/usr/bin/python3' },
    'torch-device': { type: 'string', default: 'cpu' },
  },
});
const outFile = resolve(args.out!);
const artifacts = join(dirname(outFile), 'artifacts');
mkdirSync(artifacts, { recursive: true });
const threads = Number(args.threads ?? args['torch-threads'] ?? '1');
const torchIntra = Number(args['torch-intra']);
for (const [flag, v] of [['--threads', threads], ['--torch-intra', torchIntra]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench: ${flag} must be a positive integer, got ${v}`);
}
/** onnxruntime-node (the wasm+ort engine) is an optional peer: its column is there only when it is installed. */
const ortInstalled = (() => {
  try {
    createRequire(join(root, 'package.json')).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
})();
const backendList = args.backends ?? (ortInstalled ? 'wasm,wasm+ort,webgpu,cpu' : 'wasm,webgpu,cpu');
if (!args.backends && !ortInstalled) console.log('wasm+ort: not benchmarked — onnxruntime-node is not installed (ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save onnxruntime-node@1.30.0)');
const maxSeconds = Number(args['max-seconds']);
const minIters = Number(args['min-iters']);
const slowLimit = Number(args['slow-limit']);
const torchDevice = args['torch-device']!;
if (!/^(cpu|cuda(:\d+)?)$/.test(torchDevice)) throw new Error(`bench: --torch-device must be cpu or cuda[:N], got '${torchDevice}'`);
const filters = args.case?.split(',').filter(Boolean);
const cases = allCases().filter((c) => !filters || filters.some((f) => c.id.includes(f)));
if (cases.length === 0) throw new Error(`bench: --case ${args.case} matches none of ${allCases().map((c) => c.id).join(', ')}`);

interface Timing { medianMs: number; minMs: number; runs: number; note?: string }
interface Row {
  case: string;
  title: string;
  impl: string;
  timing?: Timing;
  gflops?: number;
  peakFraction?: number;
  ratio?: number;
  maxAbsErr?: Record<string, number>;
  parity?: 'ok' | 'FAIL' | 'n/a';
  tensorsPerStep?: number;
  /** Kernel time of one step by kernel name (ms, descending), with --profile. */
  profile?: Array<{ kernel: string; ms: number; calls: number }>;
  facts?: Record<string, number | string>;
  skipped?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- machine: the OpenBLAS sgemm peak at the same thread count ----------------------------
function sgemmPeak(): { gflops: number; n: number; threads: number } | { error: string } {
  const bin = join(root, 'out/bench/sgemm');
  try {
    if (!existsSync(bin)) execFileSync('gcc', ['-O2', '-o', bin, join(here, 'sgemm.c'), '-lopenblas'], { stdio: 'pipe' });
    const line = execFileSync(bin, ['1024', '5'], { env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) } }).toString();
    const r = JSON.parse(line) as { gflops: number; n: number };
    return { gflops: r.gflops, n: r.n, threads };
  } catch (e) {
    return { error: `sgemm peak not measured (${(e as Error).message.split('\n')[0]}); install gcc and libopenblas-dev` };
  }
}
const peak = torchDevice === 'cpu' ? sgemmPeak() : { error: `CPU sgemm peak not measured (the reference runs on ${torchDevice}); GFLOP/s are shown, % peak is not` };
console.log('gflops' in peak ? `OpenBLAS sgemm 1024² on ${threads} thread(s): ${peak.gflops.toFixed(1)} GFLOP/s` : peak.error);
console.log(`threads: ${threads} (onnxruntime-node intra-op; PyTorch: torch.set_num_threads(${torchIntra}), OpenBLAS ${threads}); tfjs-wasm runs on 1`);

// ---- BrickML on each backend -----------------------------------------------------------------
const rows: Row[] = [];
const brickOutputs = new Map<string, Map<string, Map<string, { data: Float32Array; shape: number[] }>>>(); // case → impl → name → data
const written = new Set<string>();
const engines: Record<string, string> = {};
/** Best GFLOP/s each backend reached so far (the calibration products run first). */
const backendRate = new Map<string, number>();

for (const engine of backendList.split(',').filter(Boolean)) {
  if (engine === 'webgpu' && args.swiftshader) enableSwiftShader();
  let line: string;
  try {
    const report = await useBackend(engine, { allowFallbackAdapter: args.swiftshader, importModule: importEngineModule, ort: { threads } });
    line = formatBackendReport(report);
    engines[engine] = report.device ?? line;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    console.log(`${engine}: not present — ${why}`);
    for (const c of cases) rows.push({ case: c.id, title: c.title, impl: `BrickML ${engine}`, skipped: why });
    continue;
  }
  console.log(`\n== ${line}`);
  const impl = `BrickML ${engine}`;
  for (const c of cases) rows.push(await runBrick(c, engine, impl));
}

async function runBrick(c: BenchCase, engine: string, impl: string): Promise<Row> {
  const row: Row = { case: c.id, title: c.title, impl };
  const rate = backendRate.get(engine);
  const estimate = rate ? c.flops / (rate * 1e9) : 0;
  if (estimate > 4 * slowLimit) {
    row.skipped = `est. ${estimate.toFixed(0)} s per run at ${rate!.toFixed(2)} GFLOP/s (over 4× --slow-limit ${slowLimit} s)`;
    console.log(`${c.id} ${impl}: skipped, ${row.skipped}`);
    return row;
  }
  const inst = await c.setup();
  try {
    if (!written.has(c.id)) {
      const entries = Object.entries(inst.tensors());
      writeFileSync(join(artifacts, `${c.id}.safetensors`), await encodeTensorMap(entries));
      writeFileSync(join(artifacts, `${c.id}.json`), JSON.stringify(c.meta, null, 2));
      written.add(c.id);
    }
    const t0 = performance.now();
    const outs = await inst.outputs();
    const firstMs = performance.now() - t0;
    const got = new Map<string, { data: Float32Array; shape: number[] }>();
    for (const [name, t] of Object.entries(outs)) {
      got.set(name, { data: Float32Array.from(await t.data()), shape: t.shape });
      t.dispose();
    }
    if (!brickOutputs.has(c.id)) brickOutputs.set(c.id, new Map());
    brickOutputs.get(c.id)!.set(impl, got);
    const times: number[] = [];
    if (firstMs / 1000 > slowLimit) {
      row.timing = { medianMs: firstMs, minMs: firstMs, runs: 1, note: `one run (over --slow-limit ${slowLimit} s)` };
    } else {
      await inst.step(); // warm-up
      const before = tf.memory().numTensors;
      const start = performance.now();
      while (times.length < 50 && (times.length < minIters || performance.now() - start < maxSeconds * 1000)) {
        const s = performance.now();
        await inst.step();
        times.push(performance.now() - s);
        if ((performance.now() - start) / 1000 > slowLimit * minIters) break;
      }
      row.tensorsPerStep = (tf.memory().numTensors - before) / times.length;
      row.timing = { medianMs: median(times), minMs: Math.min(...times), runs: times.length };
    }
    row.facts = inst.facts?.();
    const achieved = c.flops / (row.timing.minMs / 1000) / 1e9;
    backendRate.set(engine, Math.max(backendRate.get(engine) ?? 0, achieved));
    if (args.profile) {
      const info = await tf.profile(async () => {
        await inst.step();
        return [] as tf.Tensor[];
      });
      const byKernel = new Map<string, { ms: number; calls: number }>();
      for (const k of info.kernels) {
        const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
        byKernel.set(k.name, { ms: e.ms + ms, calls: e.calls + 1 });
      }
      row.profile = [...byKernel].map(([kernel, e]) => ({ kernel, ms: +e.ms.toFixed(2), calls: e.calls })).sort((a, b) => b.ms - a.ms);
      const total = row.profile.reduce((a, e) => a + e.ms, 0);
      const calls = row.profile.reduce((a, e) => a + e.calls, 0);
      console.log(`  profile (${calls} kernels, ${total.toFixed(0)} ms of kernel time): ${row.profile.slice(0, 10).map((e) => `${e.kernel} ${e.ms.toFixed(0)} ms/${e.calls}`).join(', ')}`);
    }
    finishRates(row, c);
    console.log(`${c.id.padEnd(28)} ${impl.padEnd(16)} ${row.timing.medianMs.toFixed(1).padStart(10)} ms  (${row.timing.runs} runs)`);
  } catch (e) {
    row.skipped = `failed: ${(e as Error).message.split('\n')[0]}`;
    console.log(`${c.id} ${impl}: ${row.skipped}`);
  } finally {
    inst.dispose();
  }
  return row;
}

function finishRates(row: Row, c: BenchCase): void {
  if (!row.timing) return;
  row.gflops = c.flops / (row.timing.medianMs / 1000) / 1e9;
  if ('gflops' in peak) row.peakFraction = row.gflops / peak.gflops;
}

// ---- PyTorch references ----------------------------------------------------------------------
let torchInfo: Record<string, unknown> = {};
const torchRows = new Map<string, Row>();
for (const c of cases) {
  if (!('module' in c.reference)) continue;
  const row: Row = { case: c.id, title: c.title, impl: torchDevice === 'cpu' ? `PyTorch ${threads}T` : `PyTorch ${torchDevice}` };
  if (torchDevice === 'cpu' && torchIntra !== 1) row.impl = `PyTorch ${torchIntra}+${threads}T`;
  rows.push(row);
  torchRows.set(c.id, row);
  if (!written.has(c.id)) { row.skipped = 'no BrickML backend ran, so no weights to load'; continue; }
  const outPath = join(artifacts, `${c.id}.torch.safetensors`);
  const res = spawnSync(args.python!, [
    join(here, 'torch/driver.py'), c.reference.module, join(artifacts, `${c.id}.safetensors`), join(artifacts, `${c.id}.json`), outPath,
    '--threads', String(torchIntra), '--max-seconds', String(maxSeconds), '--min-iters', String(minIters), '--device', torchDevice,
  ], { env: { ...process.env, OMP_NUM_THREADS: String(torchIntra), OPENBLAS_NUM_THREADS: String(threads) }, encoding: 'utf8' });
  if (res.status !== 0) {
    row.skipped = `python failed: ${(res.stderr || res.error?.message || '').trim().split('\n').slice(-1)[0]}`;
    console.log(`${c.id} PyTorch: ${row.skipped}\n${res.stderr}`);
    continue;
  }
  const info = JSON.parse(res.stdout.trim().split('\n').slice(-1)[0]) as { times_ms: number[]; torch: string; threads: number; blas: string; device: string };
  torchInfo = { version: info.torch, threads: info.threads, blas: info.blas, device: info.device };
  row.timing = { medianMs: median(info.times_ms), minMs: Math.min(...info.times_ms), runs: info.times_ms.length };
  finishRates(row, c);
  console.log(`${c.id.padEnd(28)} ${row.impl.padEnd(16)} ${row.timing.medianMs.toFixed(1).padStart(10)} ms  (${row.timing.runs} runs)`);
  // parity: every BrickML backend's outputs against PyTorch's
  const ref = decodeToTensors(readFileSync(outPath));
  const tol = c.tolerance ?? 1e-3;
  for (const [impl, got] of brickOutputs.get(c.id) ?? []) {
    const brickRow = rows.find((r) => r.case === c.id && r.impl === impl)!;
    brickRow.maxAbsErr = {};
    const problems: string[] = [];
    for (const [name, g] of got) {
      const r = ref.get(name);
      if (!r) {
        problems.push(`the PyTorch module returned no output '${name}'`);
        continue;
      }
      if (r.shape.join() !== g.shape.join()) {
        problems.push(`output '${name}' is [${g.shape}] in BrickML but [${r.shape}] in PyTorch`);
        continue;
      }
      const rd = r.dataSync();
      let m = 0;
      for (let i = 0; i < rd.length; i++) m = Math.max(m, Math.abs(rd[i] - g.data[i]));
      brickRow.maxAbsErr[name] = m;
    }
    brickRow.parity = problems.length === 0 && Object.values(brickRow.maxAbsErr).every((m) => m <= tol) ? 'ok' : 'FAIL';
    if (problems.length) {
      brickRow.skipped = problems.join('; ');
      console.log(`${c.id} ${impl}: parity FAIL — ${brickRow.skipped}`);
    }
  }
  for (const t of ref.values()) t.dispose();
}

// ratios: every BrickML row against its PyTorch row (or the one it names)
for (const row of rows) {
  if (!row.impl.startsWith('BrickML') || !row.timing) continue;
  const c = cases.find((x) => x.id === row.case)!;
  const refId = 'module' in c.reference ? c.id : c.reference.sameAs;
  const t = torchRows.get(refId)?.timing;
  if (t) row.ratio = row.timing.medianMs / t.medianMs;
  if (!('module' in c.reference)) row.parity = 'n/a';
}

// ---- table + JSON ----------------------------------------------------------------------------
const fmt = (x: number | undefined, d = 1) => (x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(d));
/** The largest error over the parity outputs, with the output's name and how many were compared. */
const worst = (errs: Record<string, number>) => {
  const [name, v] = Object.entries(errs).reduce((a, b) => (b[1] > a[1] ? b : a));
  const n = Object.keys(errs).length;
  return `${v.toExponential(1)} (${name}${n > 1 ? ` worst of ${n}` : ''})`.slice(0, 60);
};
const header = ['case', 'implementation', 'median ms', 'min ms', 'runs', 'GFLOP/s', '% peak', '× PyTorch', 'max |Δ| vs PyTorch', 'parity'];
const table = rows.map((r) => [
  r.case, r.impl, fmt(r.timing?.medianMs), fmt(r.timing?.minMs), String(r.timing?.runs ?? '–'), fmt(r.gflops, 2),
  r.peakFraction === undefined ? '–' : `${(100 * r.peakFraction).toFixed(1)}`, r.ratio === undefined ? (r.impl.startsWith('PyTorch') && r.timing ? '1' : '–') : r.ratio.toFixed(2),
  r.maxAbsErr && Object.keys(r.maxAbsErr).length ? worst(r.maxAbsErr) : (r.skipped ?? '').slice(0, 60),
  r.parity ?? (r.skipped ? 'skipped' : '–'),
]);
table.sort((a, b) => cases.findIndex((c) => c.id === a[0]) - cases.findIndex((c) => c.id === b[0]));
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${table.map(line).join('\n')}`);
for (const c of cases) console.log(`  ${c.id}: ${c.title}`);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify({
  date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model }, threads: { ort: threads, torchIntra, blas: threads }, sgemmPeak: peak, torch: torchInfo, engines,
  cases: cases.map((c) => ({ id: c.id, title: c.title, flops: c.flops, meta: c.meta })), rows,
}, null, 2)}\n`);
console.log(`wrote ${outFile}`);
const failed = rows.filter((r) => r.parity === 'FAIL');
if (failed.length) {
  console.error(`parity FAILED: ${failed.map((r) => `${r.case} (${r.impl})`).join(', ')}`);
  process.exitCode = 1;
}
