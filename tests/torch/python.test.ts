/**
 * Runs brickml-torch's own test suite (python/tests) as part of `npm test`: with pytest where the
 * interpreter has it (CI installs python3-pytest), else with unittest (the tests are unittest
 * cases, which pytest also runs). Skips, saying so, where /usr/bin/python3 (or
 * $BRICKML_TORCH_PYTHON) has no torch.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = process.env.BRICKML_TORCH_PYTHON ?? '/usr/bin/python3';
const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const hasTorch = !probe.error && probe.status === 0;
const hasPytest =
  hasTorch && spawnSync(python, ['-c', 'import pytest'], { encoding: 'utf8' }).status === 0;
if (!hasTorch)
  console.warn(
    `tests/torch/python.test.ts skipped: ${python} has no torch/numpy (apt-get install python3-torch)`,
  );

describe.skipIf(!hasTorch)(`python/tests (${hasPytest ? 'pytest' : 'unittest'})`, () => {
  it('passes', () => {
    const args = hasPytest
      ? ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests']
      : ['-m', 'unittest', 'discover', '-s', 'tests'];
    const r = spawnSync(python, args, {
      cwd: join(repoRoot, 'python'),
      env: {
        ...process.env,
        PYTHONPATH: join(repoRoot, 'python'),
        PYTHONDONTWRITEBYTECODE: '1',
        OMP_NUM_THREADS: '1',
      },
      encoding: 'utf8',
      timeout: 280_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out.slice(-4000)).toBe(0);
    // the suite ran (a collection problem would report no tests)
    expect(out).toMatch(hasPytest ? /\d+ passed/ : /Ran \d+ tests/);
  }, 300_000);
});
