/**
 * A model moves from TypeScript to PyTorch's trainer and back (issue 20): BrickML saves an MLP and
 * a data file; `python -m brickml_torch.train` trains it for 5 steps from that checkpoint; BrickML
 * loads the result with `load(dir)`, restores the optimizer state the trainer wrote (BrickML's
 * layout) into core's AdamW and takes step 6 itself — which must land where PyTorch's own 6-step
 * run lands (same AdamW formula, decay rule and state). And a BrickML `Trainer` checkpoint with an
 * EMA (`Ema`, warm-up on) continues in PyTorch — optimizer state and EMA — landing where BrickML's own
 * resumed Trainer lands, weights and averaged weights alike.
 *
 * Skips, saying so, where /usr/bin/python3 (or $BRICKML_TORCH_PYTHON) has no torch.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  Ema,
  Trainer,
  build,
  decodeSafetensors,
  encodeSafetensors,
  load,
  manualSeed,
  noDecayForBiasAndNorm,
  save,
  type Module,
  type OptimizerStateJson,
} from '@brickml/core';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = process.env.BRICKML_TORCH_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const hasTorch = !probe.error && probe.status === 0;
if (!hasTorch)
  console.warn(
    `tests/torch/train.test.ts skipped: ${python} has no torch/numpy (apt-get install python3-torch)`,
  );

const OPT = { lr: 1e-2, betas: [0.9, 0.99] as [number, number], eps: 1e-8, weightDecay: 0.1 };
let dir: string | undefined;

function trainInPython(name: string, steps: number, extra: Record<string, unknown> = {}): void {
  const run = {
    init: 'init',
    data: { file: 'data.safetensors', inputs: ['x'], target: 'y' },
    loss: 'mse',
    steps,
    batchSize: 32, // the whole set each step
    seed: 0,
    optimizer: OPT,
    out: name,
    ...extra,
  };
  writeFileSync(join(dir!, `${name}.json`), JSON.stringify(run));
  const r = spawnSync(
    python,
    ['-m', 'brickml_torch.train', '--config', join(dir!, `${name}.json`)],
    {
      env: {
        ...process.env,
        PYTHONPATH: join(repoRoot, 'python'),
        PYTHONDONTWRITEBYTECODE: '1',
        OMP_NUM_THREADS: '1',
      },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (r.status !== 0)
    throw new Error(`brickml_torch.train failed (${r.status}): ${r.stderr || r.error?.message}`);
}

function readTensors(file: string): Map<string, tf.Tensor> {
  const d = decodeSafetensors(new Uint8Array(readFileSync(file)));
  return new Map([...d.tensors].map(([k, t]) => [k, tf.tensor(t.data as Float32Array, t.shape)]));
}

describe.skipIf(!hasTorch)('TypeScript → brickml_torch.train → TypeScript', () => {
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('trains in PyTorch from a BrickML checkpoint and continues in BrickML exactly where PyTorch would', async () => {
    await tf.setBackend('cpu');
    dir = mkdtempSync(join(tmpdir(), 'brickml-torch-train-'));
    const rng = manualSeed(7);
    const m0 = build<Module & { forward(x: tf.Tensor): tf.Tensor }>(
      { type: 'MLP', dim: 4, hidden: 16, outDim: 2 },
      { rng },
    );
    await save(m0, join(dir, 'init'));
    const x = rng.normalTensor([32, 4]);
    const y = tf.tidy(() => tf.sin(tf.matMul(x, rng.normalTensor([4, 2]))));
    const enc = (t: tf.Tensor) => ({ dtype: 'F32' as const, shape: t.shape, data: t.dataSync() });
    writeFileSync(join(dir, 'data.safetensors'), encodeSafetensors({ x: enc(x), y: enc(y) }));
    trainInPython('five', 5);
    trainInPython('six', 6);

    const m = await load<Module & { forward(x: tf.Tensor): tf.Tensor }>(join(dir, 'five'));
    const six = await load<Module>(join(dir, 'six'));
    const opt = new AdamW(m, { ...OPT, noDecay: noDecayForBiasAndNorm });
    const state = readTensors(join(dir, 'five', 'optimizer.safetensors'));
    const json = JSON.parse(
      readFileSync(join(dir, 'five', 'optimizer.json'), 'utf8'),
    ) as OptimizerStateJson;
    try {
      // PyTorch moved the weights away from BrickML's initial ones
      const before = tf.tidy(
        () =>
          tf
            .max(tf.abs(tf.sub(m.namedParameters()[0][1], m0.namedParameters()[0][1])))
            .dataSync()[0],
      );
      expect(before).toBeGreaterThan(1e-3);
      opt.loadState(state, json);
      expect(opt.stateJson().step).toBe(5);
      // step 6 in BrickML: the same full-batch MSE
      const pathOf = new Map(m.namedParameters().map(([path, p]) => [p.name, path]));
      const { value, grads } = tf.variableGrads(
        () => tf.mean(tf.squaredDifference(m.forward(x), y)) as tf.Scalar,
        m.parameters(),
      );
      opt.step(new Map(Object.entries(grads).map(([name, g]) => [pathOf.get(name)!, g])));
      tf.dispose([value, ...Object.values(grads)]);
      expect(opt.stateJson().step).toBe(6);
      const theirs = new Map(six.namedParameters());
      let worst = 0;
      for (const [path, p] of m.namedParameters()) {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(p, theirs.get(path)!))).dataSync()[0]);
        worst = Math.max(worst, d);
      }
      // measured 3e-8: float32 on both sides, different reduction orders
      expect(worst).toBeLessThan(1e-6);
    } finally {
      tf.dispose([x, y, ...state.values()]);
      opt.dispose();
      m.dispose();
      m0.dispose();
      six.dispose();
    }
  }, 240_000);

  it("continues a BrickML Trainer's optimizer and EMA in PyTorch as BrickML's resumed Trainer does", async () => {
    await tf.setBackend('cpu');
    dir ??= mkdtempSync(join(tmpdir(), 'brickml-torch-train-'));
    const rng = manualSeed(11);
    const config = { type: 'MLP', dim: 4, hidden: 16, outDim: 2 };
    const x = rng.normalTensor([32, 4]);
    const y = tf.tidy(() => tf.sin(tf.matMul(x, rng.normalTensor([4, 2]))));
    const enc = (t: tf.Tensor) => ({ dtype: 'F32' as const, shape: t.shape, data: t.dataSync() });
    writeFileSync(join(dir, 'data.safetensors'), encodeSafetensors({ x: enc(x), y: enc(y) }));
    type Mlp = Module & { forward(x: tf.Tensor): tf.Tensor };
    const trainer = (m: Mlp, steps: number) => {
      const optimizer = new AdamW(m, { ...OPT, noDecay: noDecayForBiasAndNorm });
      const ema = new Ema(m, { decay: 0.8, warmup: true });
      const t = new Trainer<null>({
        model: m,
        optimizer,
        ema,
        loss: () => tf.mean(tf.squaredDifference(m.forward(x), y)) as tf.Scalar,
        data: { next: () => null },
        steps,
        progress: 'none',
        seed: 1,
      });
      return { t, optimizer, ema };
    };
    const first = build<Mlp>(config, { rng });
    const a = trainer(first, 3);
    const ckpt = join(dir, 'trainer-ckpt');
    await a.t.fit();
    await a.t.save(ckpt);
    // PyTorch: two more steps from the Trainer checkpoint, with the same EMA settings
    trainInPython('torch-ema', 2, { init: 'trainer-ckpt', ema: { decay: 0.8, warmup: true } });
    // BrickML: the same Trainer checkpoint resumed to step 5
    const second = build<Mlp>(config, { rng });
    const b = trainer(second, 5);
    await b.t.resume(ckpt);
    await b.t.fit();
    const torchModel = await load<Module>(join(dir, 'torch-ema'));
    const torchEma = readTensors(join(dir, 'torch-ema', 'ema.safetensors'));
    const emaJson = JSON.parse(readFileSync(join(dir, 'torch-ema', 'ema.json'), 'utf8')) as {
      updates: number;
    };
    try {
      expect(b.ema.numUpdates).toBe(5);
      expect(emaJson.updates).toBe(5);
      expect([...torchEma.keys()].sort()).toEqual(second.namedParameters().map(([n]) => n).sort());
      const theirs = new Map(torchModel.namedParameters());
      const maxAbs = (u: tf.Tensor, v: tf.Tensor) =>
        tf.tidy(() => tf.max(tf.abs(tf.sub(u, v))).dataSync()[0]);
      let worstWeight = 0;
      let worstEma = 0;
      let lag = 0;
      for (const [path, p] of second.namedParameters()) {
        const avg = b.ema.shadow(path)!;
        worstWeight = Math.max(worstWeight, maxAbs(p, theirs.get(path)!));
        worstEma = Math.max(worstEma, maxAbs(avg, torchEma.get(path)!));
        lag = Math.max(lag, maxAbs(p, avg));
      }
      expect(lag).toBeGreaterThan(1e-3); // the average is not the weights, so the comparison means something
      expect(worstWeight).toBeLessThan(1e-6);
      expect(worstEma).toBeLessThan(1e-6);
    } finally {
      tf.dispose([x, y, ...torchEma.values()]);
      for (const r of [a, b]) {
        r.optimizer.dispose();
        r.ema.dispose();
      }
      first.dispose();
      second.dispose();
      torchModel.dispose();
    }
  }, 240_000);
});
