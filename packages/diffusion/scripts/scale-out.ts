/**
 * `npm run scale-out`: the flagship diffusion model leaves TypeScript, trains under PyTorch's
 * distributed engine and comes back (issue 20).
 *
 * 1. TypeScript writes the training data: `shapes` images (16×16, the flagship's data) and their
 *    shape labels as a safetensors file, and a `brickml_torch.train` run config.
 * 2. `torchrun --standalone --nproc_per_node=<procs>` runs `python -m brickml_torch.train` (DDP; gloo
 *    on CPU, NCCL on GPUs): the same continuous-time Gaussian diffusion loss (v objective, sigmoid
 *    schedule, class dropout), AdamW formula, warmup-cosine schedule and gradient clipping as the
 *    flagship's recipe, starting from the shipped flagship weights (`--init flagship`, default) or
 *    from a fresh model (`--init fresh`).
 * 3. TypeScript loads the checkpoint the trainer wrote (`load(dir)`) and writes DDIM samples, one
 *    row per class, as a PNG grid.
 *
 *   npm run scale-out                                  # 300 steps, 2 CPU processes: a few minutes
 *   npm run scale-out -- --steps 1000 --procs 4 --out out/scale-out-long
 *
 * Needs Python with torch and numpy (`/usr/bin/python3` or --python / $BRICKML_TORCH_PYTHON); run it
 * from the repository root. Not part of `npm test`. No EMA is kept on the PyTorch side, so the
 * samples come from the raw weights.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SHAPE_NAMES, encodeSafetensors, load, shapes, writePng } from '@brickml/core';
import { GaussianDiffusion, classGridPng, sampleClassGrid } from '../src/index.js';
import { setupBackend } from './backend.js';
import { FlagError, parseCli, type FlagSpecs } from './flags.js';

const specs: FlagSpecs = {
  steps: { type: 'string', default: '300', help: 'optimizer steps in PyTorch' },
  procs: { type: 'string', default: '2', help: 'torchrun processes (--nproc_per_node)' },
  batch: { type: 'string', default: '64', help: 'global batch (split over the processes)' },
  examples: { type: 'string', default: '4096', help: 'shapes images in the data file' },
  lr: { type: 'string', default: '0.0005', help: 'peak learning rate (fresh models: try 0.003)' },
  init: { type: 'string', default: 'flagship', help: "'flagship' (continue the shipped weights) or 'fresh'" },
  out: { type: 'string', default: 'out/scale-out', help: 'output folder (data, run config, checkpoint, samples)' },
  'per-class': { type: 'string', default: '8', help: 'samples per class in the grid' },
  'sample-steps': { type: 'string', default: '25', help: 'DDIM steps for the samples' },
  guidance: { type: 'string', default: '2.5', help: 'classifier-free guidance weight' },
  seed: { type: 'string', default: '0', help: 'seed of the data, the trainer and the samples' },
  threads: { type: 'string', default: '1', help: 'torch threads per process' },
  python: { type: 'string', help: 'Python with torch (default $BRICKML_TORCH_PYTHON or /usr/bin/python3)' },
  backend: { type: 'string', help: 'Node engine(s) for sampling, e.g. wasm or cpu' },
};

const args = parseCli('scale-out', specs, (f) => {
  const init = f.string('init');
  if (init !== 'flagship' && init !== 'fresh') throw new FlagError(`--init expected 'flagship' or 'fresh', got ${JSON.stringify(init)}`);
  const procs = f.positiveInt('procs', 'processes');
  const batch = f.positiveInt('batch', 'images');
  if (batch % procs !== 0) throw new FlagError(`--batch expected a multiple of --procs (${procs}), got ${batch}`);
  return {
    steps: f.positiveInt('steps', 'steps'),
    procs,
    batch,
    examples: f.positiveInt('examples', 'images'),
    lr: f.positiveNumber('lr'),
    init,
    out: resolve(f.outputDir('out')),
    perClass: f.positiveInt('per-class', 'samples'),
    sampleSteps: f.positiveInt('sample-steps', 'steps'),
    guidance: f.nonNegativeNumber('guidance'),
    seed: f.nonNegativeInt('seed'),
    threads: f.positiveInt('threads', 'threads'),
    python: f.string('python') ?? process.env.BRICKML_TORCH_PYTHON ?? '/usr/bin/python3',
    backend: f.backend(),
  };
});

const repoRoot = process.cwd();
const flagship = join(repoRoot, 'packages', 'diffusion', 'assets', 'flagship');
const pythonPath = join(repoRoot, 'python');
if (!existsSync(join(flagship, 'config.json')) || !existsSync(join(pythonPath, 'brickml_torch'))) {
  console.error(`scale-out: run it from the repository root (no ${flagship} or ${pythonPath}/brickml_torch under ${repoRoot})`);
  process.exit(2);
}
const probe = spawnSync(args.python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error(`scale-out: ${args.python} has no torch/numpy (apt-get install python3-torch python3-numpy, or pass --python)`);
  process.exit(2);
}

const backend = await setupBackend(args.backend);
console.log(`backend: ${backend.line}; torch ${probe.stdout.trim()} at ${args.python}`);
mkdirSync(args.out, { recursive: true });

// 1. data and run config, from TypeScript
const flagshipConfig = JSON.parse(readFileSync(join(flagship, 'config.json'), 'utf8')) as Record<string, unknown>;
const data = shapes({ size: 16, batchSize: args.examples, seed: args.seed }).sample(args.examples);
const dataFile = join(args.out, 'data.safetensors');
writeFileSync(
  dataFile,
  encodeSafetensors({
    images: { dtype: 'F32', shape: [args.examples, 3, 16, 16], data: data.images },
    labels: { dtype: 'I32', shape: [args.examples], data: Int32Array.from(data.labels.shape) },
  }),
);
const checkpoint = join(args.out, 'checkpoint');
rmSync(checkpoint, { recursive: true, force: true }); // a fresh run (the trainer would resume from a finished save)
const run = {
  ...(args.init === 'flagship' ? { init: flagship } : { model: flagshipConfig }),
  data: { file: dataFile, inputs: ['images'], kwargs: { classes: 'labels' } },
  loss: 'diffusion',
  steps: args.steps,
  batchSize: args.batch,
  seed: args.seed,
  threads: args.threads,
  clipGradNorm: 1,
  optimizer: {
    lr: { kind: 'warmupCosine', peakLr: args.lr, warmupSteps: Math.min(50, Math.floor(args.steps / 5)), totalSteps: args.steps },
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0.01,
    noDecay: 'biasAndNorm',
  },
  out: checkpoint,
  saveEvery: 100,
};
const runFile = join(args.out, 'run.json');
writeFileSync(runFile, `${JSON.stringify(run, null, 2)}\n`);
console.log(`wrote ${dataFile} (${args.examples} shapes images + labels) and ${runFile}`);

// 2. torchrun (python -m torch.distributed.run): DDP over the processes
const torchrun = [
  '-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${args.procs}`,
  // torch 1.13 under Python 3.11 crashes with torchrun's default --redirects 0 / --tee 0 (see python/README.md)
  '--redirects', '2', '--tee', '1',
  '-m', 'brickml_torch.train', '--config', runFile,
];
console.log(`${args.python} ${torchrun.join(' ')}`);
const t0 = performance.now();
const losses: number[] = [];
let tail = '';
const status = await new Promise<number | null>((done, fail) => {
  const child = spawn(args.python, torchrun, {
    cwd: args.out,
    env: { ...process.env, PYTHONPATH: [pythonPath, process.env.PYTHONPATH].filter(Boolean).join(':'), OMP_NUM_THREADS: String(args.threads) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    tail = `${tail}${line}\n`.slice(-3000);
    const json = line.slice(Math.max(0, line.indexOf('{')));
    if (!json.startsWith('{"step"')) return;
    try {
      const rec = JSON.parse(json) as { step: number; loss: number };
      losses[rec.step - 1] = rec.loss;
      if (rec.step % 25 === 0 || rec.step === args.steps) {
        const s = (performance.now() - t0) / 1000;
        console.log(`  step ${rec.step}/${args.steps}: loss ${rec.loss.toFixed(4)} (${s.toFixed(0)} s)`);
      }
    } catch {
      // a line interleaved with another rank's output: the per-step losses are in torch_train.json too
    }
  });
  child.on('error', fail);
  child.on('close', done);
});
const trainSeconds = (performance.now() - t0) / 1000;
if (status !== 0 || !existsSync(join(checkpoint, 'torch_train.json'))) {
  console.error(`scale-out: torchrun failed (exit ${status}); its output ends:\n${tail}`);
  process.exit(1);
}
const state = JSON.parse(readFileSync(join(checkpoint, 'torch_train.json'), 'utf8')) as { step: number; losses: number[]; worldSize: number };
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const k = Math.max(1, Math.min(20, Math.floor(state.losses.length / 4)));
console.log(
  `trained ${state.step} steps on ${state.worldSize} processes in ${trainSeconds.toFixed(0)} s; ` +
    `mean loss of the first ${k} steps ${mean(state.losses.slice(0, k)).toFixed(4)}, of the last ${k} ${mean(state.losses.slice(-k)).toFixed(4)}`,
);

// 3. back in TypeScript: load the checkpoint and sample
const model = await load<GaussianDiffusion>(checkpoint);
if (!(model instanceof GaussianDiffusion)) throw new Error(`scale-out: ${checkpoint} holds a ${(model as { typeName: string }).typeName}, not a GaussianDiffusion`);
model.eval();
const t1 = performance.now();
const samples = await sampleClassGrid(model, { perClass: args.perClass, guidance: args.guidance, steps: args.sampleSteps, eta: 0, seed: args.seed });
const names = Array.from({ length: model.numClasses }, (_, c) => SHAPE_NAMES[c] ?? `class ${c}`);
const png = join(args.out, 'samples.png');
const title = `after ${state.step} PyTorch steps on ${state.worldSize} processes (DDIM ${args.sampleSteps}, w=${args.guidance})`;
await writePng(png, await classGridPng(samples.samples, args.perClass, { labels: names, title }));
samples.samples.dispose();
console.log(`sampled in TypeScript (${backend.engine}) in ${((performance.now() - t1) / 1000).toFixed(1)} s; wrote ${png}`);
writeFileSync(
  join(args.out, 'scale-out.json'),
  `${JSON.stringify({ steps: state.step, worldSize: state.worldSize, trainSeconds, init: args.init, firstLosses: state.losses.slice(0, k), lastLosses: state.losses.slice(-k), samples: png }, null, 2)}\n`,
);
model.dispose();
