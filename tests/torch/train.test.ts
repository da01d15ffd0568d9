/**
 * A model moves from TypeScript to PyTorch's trainer and back (issue 20): BrickML saves an MLP and
 * a data file; `python -m brickml_torch.train` trains it for 5 steps from that checkpoint; BrickML
 * loads the result with `load(dir)`, restores the optimizer state the trainer wrote (BrickML's
 * layout) into core's AdamW and takes step 6 itself — which must land where PyTorch's own 6-step
 * run lands (same AdamW formula, decay rule and state).
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

function trainInPython(name: string, steps: number): void {
  const run = {
    init: 'init',
    data: { file: 'data.safetensors', inputs: ['x'], target: 'y' },
    loss: 'mse',
    steps,
    batchSize: 32, // the whole set each step
    seed: 0,
    optimizer: OPT,
    out: name,
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
});
