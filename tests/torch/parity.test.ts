/**
 * BrickML ↔ PyTorch parity through saved files (issue 20): for every mirrored brick, BrickML saves
 * the brick, an input and its output (fixtures.ts); brickml_torch (python/) loads the checkpoint,
 * runs the same input and writes its output; here the two outputs must agree within the stated
 * float32 tolerance, and the checkpoint the mirror saves back must load in BrickML with every
 * parameter bit-exact (TypeScript → safetensors → PyTorch → safetensors → TypeScript).
 *
 * Needs Debian's python3-torch at /usr/bin/python3 (or $BRICKML_TORCH_PYTHON); skips, saying so,
 * where that interpreter has no torch. The Python package's own tests: python/tests (pytest or
 * `python3 -m unittest discover -s python/tests`).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, load, type Module } from '@brickml/core';
import { PARITY_CASES, writeParityFixtures } from './fixtures.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = process.env.BRICKML_TORCH_PYTHON ?? '/usr/bin/python3';

function torchAvailable(): { ok: boolean; why: string } {
  const r = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], {
    encoding: 'utf8',
  });
  if (r.error) return { ok: false, why: `${python} cannot run (${r.error.message})` };
  if (r.status !== 0)
    return { ok: false, why: `${python} has no torch/numpy (apt-get install python3-torch)` };
  return { ok: true, why: `torch ${r.stdout.trim()}` };
}
const torch = torchAvailable();
if (!torch.ok) console.warn(`tests/torch/parity.test.ts skipped: ${torch.why}`);

/**
 * Largest |torch − BrickML| allowed per case, relative to max |BrickML output| (and at least 1e-7
 * absolute): float32 on both sides, different summation orders. Measured on the cpu backend against
 * torch 1.13 (OpenBLAS): at most 2.8e-7 relative for everything but the Perceiver stacks, which
 * reach 1.1e-6, and the spectral bricks (O2PPooling, NormalizedCut: BrickML's float32 Jacobi
 * eigensolver against torch.linalg.eigh in float64), up to 1.7e-6. A real semantic slip is far larger (exact
 * GELU swapped for the tanh form: 1.8e-4).
 */
const TOLERANCE: Record<string, number> = Object.fromEntries(
  PARITY_CASES.map((c) => [
    c.name,
    c.name.startsWith('perceiver-') || /^(o2p|ncut)-/.test(c.name)
      ? 1e-5
      : /^(block-|rin-|transformer-denoiser|unet-|resnet-|basic-block)/.test(c.name)
        ? 5e-6
        : 2e-6,
  ]),
);

let dir: string;
let report: Record<string, Record<string, { max_abs: number; scale: number }>>;

function readOutputs(file: string): Map<string, Float32Array> {
  const d = decodeSafetensors(new Uint8Array(readFileSync(file)));
  return new Map(
    [...d.tensors].map(([k, t]) => [k, Float32Array.from(t.data as ArrayLike<number>)]),
  );
}

describe.skipIf(!torch.ok)(`BrickML ↔ brickml_torch parity (${torch.why})`, () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    // $BRICKML_TORCH_PARITY_DIR keeps the fixtures (and the measured gaps in report.json) for a look.
    dir =
      process.env.BRICKML_TORCH_PARITY_DIR ?? mkdtempSync(join(tmpdir(), 'brickml-torch-parity-'));
    await writeParityFixtures(dir);
    const r = spawnSync(python, ['-m', 'brickml_torch.parity', dir, '--roundtrip'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        PYTHONPATH: join(repoRoot, 'python'),
        PYTHONDONTWRITEBYTECODE: '1',
        OMP_NUM_THREADS: '1',
      },
      encoding: 'utf8',
      timeout: 240_000,
    });
    if (r.status !== 0)
      throw new Error(`brickml_torch.parity failed (${r.status}): ${r.stderr || r.error?.message}`);
    report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    if (process.env.BRICKML_TORCH_PARITY_DIR)
      writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  }, 300_000);
  afterAll(() => {
    if (dir && !process.env.BRICKML_TORCH_PARITY_DIR) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every case', () => {
    expect(Object.keys(report).sort()).toEqual(PARITY_CASES.map((c) => c.name).sort());
  });

  for (const c of PARITY_CASES) {
    it(`${c.name}: forward agrees within ${TOLERANCE[c.name]} (relative to the output scale)`, () => {
      const ts = readOutputs(join(dir, c.name, 'io.safetensors'));
      const pt = readOutputs(join(dir, c.name, 'torch.safetensors'));
      for (const out of c.call.outputs) {
        const a = ts.get(`out.${out}`)!,
          b = pt.get(`out.${out}`)!;
        expect(b.length, `${c.name} ${out} size`).toBe(a.length);
        let maxAbs = 0,
          scale = 0;
        for (let i = 0; i < a.length; i++) {
          maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
          scale = Math.max(scale, Math.abs(a[i]));
        }
        expect(
          scale,
          `${c.name} ${out}: BrickML's output is all zeros, the case tests nothing`,
        ).toBeGreaterThan(0);
        expect(maxAbs, `${c.name} ${out}: max |Δ| ${maxAbs} at scale ${scale}`).toBeLessThanOrEqual(
          Math.max(1e-7, TOLERANCE[c.name] * scale),
        );
        // the Python side computed the same number
        expect(Math.abs(report[c.name][out].max_abs - maxAbs)).toBeLessThanOrEqual(
          1e-6 * Math.max(1, scale),
        );
      }
    });

    it(`${c.name}: TypeScript → PyTorch → TypeScript round trip is bit-exact`, async () => {
      const original = await load<Module>(join(dir, c.name));
      const back = await load<Module>(join(dir, c.name, 'roundtrip'));
      try {
        expect(back.toConfig()).toEqual(original.toConfig());
        const a = new Map(original.namedParameters());
        const b = new Map(back.namedParameters());
        expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
        for (const [name, p] of a) {
          const q = b.get(name)!;
          expect(q.shape, name).toEqual(p.shape);
          const bitsA = new Uint32Array((await p.data<'float32'>()).buffer.slice(0));
          const bitsB = new Uint32Array((await q.data<'float32'>()).buffer.slice(0));
          expect(
            Buffer.from(bitsB.buffer).equals(Buffer.from(bitsA.buffer)),
            `${c.name}: ${name} bits`,
          ).toBe(true);
        }
        // buffers too (BatchNorm's running statistics and its int32 counter)
        const bufA = new Map(original.namedBuffers());
        const bufB = new Map(back.namedBuffers());
        expect([...bufB.keys()].sort()).toEqual([...bufA.keys()].sort());
        for (const [name, t] of bufA) {
          const u = bufB.get(name)!;
          expect(u.dtype, name).toBe(t.dtype);
          expect(u.shape, name).toEqual(t.shape);
          const bytesA = Buffer.from(new Uint8Array((await t.data()).buffer.slice(0)));
          const bytesB = Buffer.from(new Uint8Array((await u.data()).buffer.slice(0)));
          expect(bytesB.equals(bytesA), `${c.name}: buffer ${name} bytes`).toBe(true);
        }
      } finally {
        original.dispose();
        back.dispose();
      }
    });
  }
});
