/**
 * MoE layer benchmark: forward + backward time of one MoE layer (gradients for the input and every
 * parameter) for `dense`, `capacity` (C = 1.0, 1.25, 2.0) and `dropless`, at 8 and 16 experts,
 * top-1 and top-2, on every backend present; with the token copies dropped and the FLOPs spent on
 * padding (rows computed that carry no kept token copy, forward + backward = 3 × forward).
 *
 *   npm run bench -w @brickml/moe -- [--backends wasm,cpu,webgpu] [--reps 2] [--out out/bench/moe.json]
 *     [--experts 8,16] [--topk 1,2] [--size tokens,dim,hidden,blockSize] [--layers dense --merge]
 *
 * Sizes per backend (the issue's size where the backend can run it in minutes):
 * - wasm: 4096 tokens, width 512, hidden 1024, block 128 (the issue's size);
 * - cpu (plain JS kernels, ~10× slower than wasm): 1024 tokens, width 256, hidden 512, block 32;
 * - webgpu: 4096 × 512 × 1024, block 128 on a real GPU; under SwiftShader (a CPU emulation, no GPU
 *   here) 256 tokens, width 64, hidden 128, block 16.
 * The block size shrinks with the token count so that a group (≈ T·k/E copies) spans several blocks,
 * as it does at full size. Routing comes from a freshly initialised router (std 0.02) on N(0, 1)
 * tokens, i.e. nearly uniform, as at the start of training.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '@brickml/core';
import { MoE, readMoEStats, type MoEConfig, type MoEStats } from '../src/index.js';

interface Size {
  tokens: number;
  dim: number;
  hidden: number;
  blockSize: number;
  note: string;
}

interface Row {
  backend: string;
  tokens: number;
  dim: number;
  hidden: number;
  blockSize: number;
  experts: number;
  topK: number;
  layer: string;
  /** Fastest of the timed repetitions, ms. */
  ms: number;
  droppedCopies: number;
  fractionDropped: number;
  computedRows: number;
  paddingRows: number;
  /** Forward + backward FLOPs on padding rows (3 × forward). */
  paddingGflop: number;
  /** Forward + backward FLOPs of all computed expert rows. */
  computedGflop: number;
  sparseImpl?: string;
}

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: 'wasm,cpu,webgpu' },
    reps: { type: 'string', default: '2' },
    out: { type: 'string', default: 'out/bench/moe.json' },
    experts: { type: 'string', default: '8,16' },
    topk: { type: 'string', default: '1,2' },
    /** Override the size on every backend: tokens,dim,hidden,blockSize. */
    size: { type: 'string' },
    /** Only these layers (comma list of names as in the table, e.g. `dense`). */
    layers: { type: 'string' },
    /** Replace the matching rows of the existing `--out` file instead of overwriting it. */
    merge: { type: 'boolean', default: false },
    /** Internal: run one job (JSON) and print its row. */
    child: { type: 'string' },
  },
});
const reps = Number(args.reps);

/** Sets up WebGPU through Dawn (SwiftShader when no GPU); returns the adapter description or null. */
async function setUpWebGPU(): Promise<string | null> {
  const chromium = '/usr/lib/chromium';
  process.env.VK_ICD_FILENAMES ??= join(chromium, 'vk_swiftshader_icd.json');
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `brickml-moe-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  try {
    const { RTLD_NOW, RTLD_GLOBAL } = constants.dlopen as { RTLD_NOW: number; RTLD_GLOBAL: number };
    process.dlopen(
      { exports: {} } as NodeJS.Module,
      join(chromium, 'libvulkan.so.1'),
      RTLD_NOW | RTLD_GLOBAL | 0x1000,
    );
  } catch {
    // not a Node addon: expected
  }
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]) };
    const adapter = await (globalThis as any).navigator.gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info ?? {};
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return null;
    return (
      `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.trim() ||
      'unknown adapter'
    );
  } catch (e) {
    console.warn(`webgpu unavailable: ${(e as Error).message}`);
    return null;
  }
}

/** One forward + backward step; resolves when every gradient is computed. */
async function step(moe: MoE, x: tf.Variable, R: tf.Tensor): Promise<void> {
  const params = [x, ...moe.parameters()];
  const sums = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(moe.forward(x).y, R)) as tf.Scalar,
      params,
    );
    return [value, ...Object.values(grads).map((g) => tf.sum(g))];
  });
  await Promise.all(sums.map((s) => s.data()));
  tf.dispose(sums);
}

async function benchOne(
  backend: string,
  size: Size,
  experts: number,
  topK: number,
  layer: string,
  config: Partial<MoEConfig>,
): Promise<Row> {
  const moe = new MoE(
    {
      dim: size.dim,
      ffnHidden: size.hidden,
      numExperts: experts,
      topK,
      blockSize: size.blockSize,
      kind: 'dropless',
      ...config,
    } as MoEConfig,
    { rng: new Rng(1) },
  );
  const rng = new Rng(2);
  const x = tf.variable(rng.normalTensor([size.tokens, size.dim]));
  const R = rng.normalTensor([size.tokens, size.dim]);
  await step(moe, x, R); // warm-up: kernels, shader compilation, allocations
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await step(moe, x, R);
    times.push(performance.now() - t0);
  }
  // The fastest repetition: the machine may be shared, and interference only ever adds time.
  const ms = Math.min(...times);
  const out = moe.forward(x);
  const s: MoEStats = await readMoEStats(out);
  tf.dispose(out as unknown as tf.TensorContainer);
  moe.dispose();
  tf.dispose([x, R]);
  return {
    backend,
    tokens: size.tokens,
    dim: size.dim,
    hidden: size.hidden,
    blockSize: size.blockSize,
    experts,
    topK,
    layer,
    ms,
    droppedCopies: s.droppedCopies,
    fractionDropped: s.fractionDropped,
    computedRows: s.computedRows,
    paddingRows: s.paddingRows,
    paddingGflop: (3 * s.paddingFlops) / 1e9,
    computedGflop: (3 * s.computedFlops) / 1e9,
    sparseImpl: out.info.sparseImpl,
  };
}

const layers: Array<[string, Partial<MoEConfig>]> = [
  ['dense', { kind: 'dense' }],
  ['capacity C=1.0', { kind: 'capacity', capacityFactor: 1.0 }],
  ['capacity C=1.25', { kind: 'capacity', capacityFactor: 1.25 }],
  ['capacity C=2.0', { kind: 'capacity', capacityFactor: 2.0 }],
  ['dropless', { kind: 'dropless' }],
];

/** Position of a backend in the default order (for sorting merged rows). */
function wantedOrder(backend: string): number {
  const i = ['wasm', 'cpu', 'webgpu'].indexOf(backend);
  return i < 0 ? 99 : i;
}

function table(rows: Row[]): string {
  const head =
    '| backend | E | k | layer | time (ms) | copies dropped | rows computed | padding rows | padding GFLOP (fwd+bwd) | vs cap 1.25 | vs dense |';
  const lines = [head, '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const same = (l: string) =>
      rows.find(
        (o) =>
          o.backend === r.backend && o.experts === r.experts && o.topK === r.topK && o.layer === l,
      );
    const cap = same('capacity C=1.25');
    const dense = same('dense');
    const ratio = (o?: Row) => (r.layer === 'dropless' && o ? `${(r.ms / o.ms).toFixed(2)}×` : '');
    lines.push(
      `| ${r.backend} | ${r.experts} | ${r.topK} | ${r.layer}${r.sparseImpl ? ` (${r.sparseImpl})` : ''} | ${r.ms.toFixed(0)} | ` +
        `${r.droppedCopies} (${(100 * r.fractionDropped).toFixed(1)}%) | ${r.computedRows} | ${r.paddingRows} | ${r.paddingGflop.toFixed(2)} | ${ratio(cap)} | ${ratio(dense)} |`,
    );
  }
  return lines.join('\n');
}

/** One configuration, run in its own process (a fresh wasm heap; an out-of-memory abort stays contained). */
interface Job {
  backend: string;
  size: Size;
  experts: number;
  topK: number;
  layer: string;
}

/** Child: set up the backend, run one configuration, print its row as a `RESULT` line. */
async function child(job: Job): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  if (job.backend === 'webgpu') {
    if (!(await setUpWebGPU())) throw new Error('webgpu: no adapter');
  } else if (!(await tf.setBackend(job.backend))) {
    throw new Error(`${job.backend}: unavailable`);
  }
  const config = layers.find(([name]) => name === job.layer)![1];
  const row = await benchOne(job.backend, job.size, job.experts, job.topK, job.layer, config);
  process.stdout.write(`RESULT ${JSON.stringify(row)}\n`);
}

/** Size for a backend (the issue's, or reduced where the backend is slow), or null if absent. */
async function sizeFor(backend: string): Promise<Size | null> {
  if (args.size) {
    const [tokens, dim, hidden, blockSize] = args.size.split(',').map(Number);
    return { tokens, dim, hidden, blockSize, note: 'size from --size' };
  }
  if (backend === 'webgpu') {
    const adapter = await setUpWebGPU();
    if (!adapter) return null;
    return /swiftshader/i.test(adapter)
      ? {
          tokens: 256,
          dim: 64,
          hidden: 128,
          blockSize: 16,
          note: `SwiftShader (${adapter}), a CPU emulation: reduced size`,
        }
      : { tokens: 4096, dim: 512, hidden: 1024, blockSize: 128, note: adapter };
  }
  await import('@tensorflow/tfjs-backend-cpu');
  await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) return null;
  return backend === 'cpu'
    ? { tokens: 1024, dim: 256, hidden: 512, blockSize: 32, note: 'plain JS kernels: reduced size' }
    : { tokens: 4096, dim: 512, hidden: 1024, blockSize: 128, note: "the issue's size" };
}

async function main(): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const wanted = args.backends!.split(',');
  const expertsList = args.experts!.split(',').map(Number);
  const topKs = args.topk!.split(',').map(Number);
  const rows: Row[] = [];
  const failures: Array<Job & { error: string }> = [];
  const meta: Record<string, string> = {};
  for (const backend of wanted) {
    const size = await sizeFor(backend);
    if (!size) {
      console.log(`${backend}: unavailable, skipped`);
      continue;
    }
    meta[backend] =
      `${size.tokens} tokens × ${size.dim} width × ${size.hidden} hidden, block ${size.blockSize}: ${size.note}`;
    console.log(`${backend}: ${meta[backend]}`);
    for (const experts of expertsList) {
      for (const topK of topKs) {
        for (const [layer] of layers) {
          if (args.layers && !args.layers.split(',').includes(layer)) continue;
          const job: Job = { backend, size, experts, topK, layer };
          const argv = [
            ...process.execArgv,
            fileURLToPath(import.meta.url),
            '--child',
            JSON.stringify(job),
            '--reps',
            String(reps),
          ];
          const r = spawnSync(process.execPath, argv, {
            encoding: 'utf8',
            maxBuffer: 64 * 2 ** 20,
          });
          const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('RESULT '));
          if (r.status === 0 && line) {
            const row = JSON.parse(line.slice(7)) as Row;
            rows.push(row);
            console.log(
              `  E=${experts} k=${topK} ${layer}: ${row.ms.toFixed(0)} ms, dropped ${row.droppedCopies}, ` +
                `padding rows ${row.paddingRows} (${row.paddingGflop.toFixed(2)} GFLOP)`,
            );
          } else {
            const err =
              `${r.stderr ?? ''}`
                .split('\n')
                .map((l) => l.slice(0, 200))
                .filter((l) => /Error|Abort/.test(l))[0] ?? `exit ${r.status}`;
            failures.push({ ...job, error: err });
            console.log(`  E=${experts} k=${topK} ${layer}: FAILED (${err})`);
          }
        }
      }
    }
  }
  if (args.merge && existsSync(args.out!)) {
    // Keep the earlier rows and failures that this run did not redo.
    const old = JSON.parse(readFileSync(args.out!, 'utf8')) as {
      sizes: Record<string, string>;
      rows: Row[];
      failures: typeof failures;
    };
    const key = (r: { backend: string; experts: number; topK: number; layer: string }) =>
      `${r.backend}/${r.experts}/${r.topK}/${r.layer}`;
    const redone = new Set([...rows, ...failures].map(key));
    rows.unshift(...old.rows.filter((r) => !redone.has(key(r))));
    failures.unshift(...old.failures.filter((f) => !redone.has(key(f))));
    Object.assign(meta, { ...old.sizes, ...meta });
    const order = (r: Row) => [
      wantedOrder(r.backend),
      r.experts,
      r.topK,
      layers.findIndex(([l]) => l === r.layer),
    ];
    rows.sort((a, b) => {
      const [x, y] = [order(a), order(b)];
      return x.reduce((d, v, i) => d || v - y[i], 0);
    });
  }
  const failed = failures
    .map((f) => `| ${f.backend} | ${f.experts} | ${f.topK} | ${f.layer} | failed: ${f.error} |`)
    .join('\n');
  const md = table(rows);
  console.log(
    `\n${Object.entries(meta)
      .map(([b, m]) => `- ${b}: ${m}`)
      .join('\n')}\n\n${md}${failed ? `\n\nFailed:\n${failed}` : ''}`,
  );
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(
    args.out!,
    `${JSON.stringify({ date: new Date().toISOString(), reps, sizes: meta, rows, failures }, null, 2)}\n`,
  );
  console.log(`\nwrote ${args.out}`);
}

if (args.child) await child(JSON.parse(args.child) as Job);
else await main();
