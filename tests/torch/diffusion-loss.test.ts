/**
 * The diffusion objective in PyTorch equals BrickML's (issue 20): BrickML evaluates one
 * `GaussianDiffusion` training loss — the shipped flagship (v objective, sigmoid schedule, class
 * dropout, U-Net) on `shapes` images, and a self-conditioning MLP model (eps objective, cosine
 * schedule, normalised noisy input) — and writes the batch with its random draws (t, γ, noise,
 * class-dropout and self-conditioning uniforms, replayed from the same seed in the documented
 * order); `python -m brickml_torch.diffusion_check` evaluates the mirror's loss on the same weights
 * and draws. Skips, saying so, where /usr/bin/python3 (or $BRICKML_TORCH_PYTHON) has no torch.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors, load, manualSeed, save, shapes, type Module } from '@brickml/core';
import { GaussianDiffusion } from '@brickml/diffusion';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FLAGSHIP = join(repoRoot, 'packages', 'diffusion', 'assets', 'flagship');
const python = process.env.BRICKML_TORCH_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const hasTorch = !probe.error && probe.status === 0;
if (!hasTorch)
  console.warn(
    `tests/torch/diffusion-loss.test.ts skipped: ${python} has no torch/numpy (apt-get install python3-torch)`,
  );

let dir: string | undefined;

interface PyResult {
  loss: number;
  loss_from_t: number;
  gamma_max_abs: number;
}

/**
 * BrickML's loss on `x0`/`classes` with draws from `manualSeed(seed)`, and the batch file holding
 * the same draws replayed from that seed: per example t, then the noise, then (class-conditional)
 * the dropout uniforms, then (self-conditioning) the keep uniforms.
 */
async function lossAndBatch(
  model: GaussianDiffusion,
  x0: tf.Tensor,
  classes: tf.Tensor | null,
  seed: number,
  file: string,
) {
  const batch = model.prepareBatch(x0, { classes, rng: manualSeed(seed) });
  const lossTs = (await model.loss(batch).data())[0];
  const replay = manualSeed(seed);
  const b = x0.shape[0];
  const t = Float32Array.from({ length: b }, () => replay.float());
  const noise = replay.normalTensor(x0.shape);
  const extra: Record<
    string,
    { dtype: 'F32' | 'I32'; shape: number[]; data: Float32Array | Int32Array }
  > = {};
  if (model.numClasses > 0 && classes)
    extra.drop = {
      dtype: 'F32',
      shape: [b],
      data: Float32Array.from({ length: b }, () => replay.float()),
    };
  if (model.selfConditioning)
    extra.keep = {
      dtype: 'F32',
      shape: [b],
      data: Float32Array.from({ length: b }, () => replay.float()),
    };
  if (classes)
    extra.classes = { dtype: 'I32', shape: [b], data: Int32Array.from(await classes.data()) };
  writeFileSync(
    file,
    encodeSafetensors({
      x0: { dtype: 'F32', shape: x0.shape, data: Float32Array.from(await x0.data()) },
      t: { dtype: 'F32', shape: [b], data: t },
      noise_level: {
        dtype: 'F32',
        shape: [b],
        data: Float32Array.from(await batch.noiseLevel.data()),
      },
      noise: { dtype: 'F32', shape: noise.shape, data: Float32Array.from(await noise.data()) },
      ...extra,
    }),
  );
  tf.dispose([
    noise,
    ...Object.values(batch).filter((v): v is tf.Tensor => v instanceof tf.Tensor),
  ]);
  return lossTs;
}

function pythonLoss(checkpoint: string, file: string): PyResult {
  const r = spawnSync(python, ['-m', 'brickml_torch.diffusion_check', checkpoint, file], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PYTHONPATH: join(repoRoot, 'python'),
      PYTHONDONTWRITEBYTECODE: '1',
      OMP_NUM_THREADS: '1',
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0)
    throw new Error(
      `brickml_torch.diffusion_check failed (${r.status}): ${r.stderr || r.error?.message}`,
    );
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PyResult;
}

describe.skipIf(!hasTorch)(
  'GaussianDiffusion loss: BrickML = brickml_torch on the same weights, batch and draws',
  () => {
    beforeAll(async () => {
      await tf.setBackend('cpu');
      dir = mkdtempSync(join(tmpdir(), 'brickml-torch-diffusion-'));
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('the shipped flagship (U-Net, v objective, sigmoid schedule, class dropout) on shapes', async () => {
      const model = await load<GaussianDiffusion>(FLAGSHIP);
      const { images, labels } = shapes({ size: 16, batchSize: 12, seed: 3 }).next();
      const file = join(dir!, 'flagship-batch.safetensors');
      const lossTs = await lossAndBatch(model, images, labels.shape, 11, file);
      const py = pythonLoss(FLAGSHIP, file);
      expect(lossTs).toBeGreaterThan(0.005); // a real loss, not a degenerate case
      expect(
        Math.abs(py.loss - lossTs),
        `torch ${py.loss} vs BrickML ${lossTs}`,
      ).toBeLessThanOrEqual(2e-6 * lossTs + 1e-7);
      // γ from t (float32 here, float64 in BrickML) stays within float32 rounding
      expect(py.gamma_max_abs).toBeLessThan(1e-6);
      expect(Math.abs(py.loss_from_t - lossTs)).toBeLessThanOrEqual(1e-4 * lossTs);
      tf.dispose([images, ...Object.values(labels)]);
      model.dispose();
    });

    it('a self-conditioning MLP model (eps objective, cosine schedule, normalised noisy input)', async () => {
      const model = new GaussianDiffusion(
        {
          denoiser: {
            type: 'MlpDenoiser',
            channels: 3,
            inputSize: [4, 4],
            hidden: 24,
            noiseEmbedDim: 8,
            numClasses: 2,
            selfCondition: true,
          },
          objective: 'eps',
          schedule: { kind: 'cosine' },
          normalizeNoisyInput: true,
          selfConditionRate: 0.5,
          classDropout: 0.3,
          inputScale: 0.7,
        },
        { rng: manualSeed(4) },
      );
      const ckpt = join(dir!, 'mlp-diffusion');
      await save(model, ckpt);
      const rng = manualSeed(9);
      const x0 = tf.clipByValue(rng.normalTensor([10, 3, 4, 4]), -1, 1);
      const classes = tf.tensor1d([0, 1, 1, 0, 1, 0, 0, 1, 1, 0], 'int32');
      const file = join(dir!, 'mlp-batch.safetensors');
      const lossTs = await lossAndBatch(model, x0, classes, 21, file);
      const py = pythonLoss(ckpt, file);
      expect(
        Math.abs(py.loss - lossTs),
        `torch ${py.loss} vs BrickML ${lossTs}`,
      ).toBeLessThanOrEqual(2e-6 * lossTs + 1e-7);
      tf.dispose([x0, classes]);
      model.dispose();
    });
  },
);

export type { Module };
