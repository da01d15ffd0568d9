import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

it('the crw example trains and evaluates in plain Node (bundled), writing eval.json and PNGs', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ssl-crw-'));
  const cache = join(pkg, 'node_modules', '.cache', 'example-test');
  try {
    const { stdout } = await run(
      process.execPath,
      ['scripts/run.mjs', 'scripts/example.ts', 'crw', '--steps', '2', '--videos', '1', '--backend', 'wasm', '--out', out],
      { cwd: pkg, env: { ...process.env, BRICKML_RUN_CACHE_DIR: cache }, timeout: 100_000 },
    );
    expect(stdout).toMatch(/CRW: step 2\/2/);
    const evalJson = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(Object.keys(evalJson.methods)).toEqual(['crw', 'randomEncoder', 'rawPixels', 'copyFirst']);
    for (const m of Object.values(evalJson.methods) as Array<{ J: number; F: number }>) {
      expect(m.J).toBeGreaterThanOrEqual(0);
      expect(m.J).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(out, 'propagation-0.png'))).toBe(true);
    expect(existsSync(join(out, 'model', 'config.json'))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  // a bad flag fails before any work, naming the flag
  await expect(run(process.execPath, ['scripts/run.mjs', 'scripts/example.ts', 'crw', '--steps', 'x'], { cwd: pkg, env: { ...process.env, BRICKML_RUN_CACHE_DIR: cache } }))
    .rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--steps expected an integer/) });
});

it('the transporter example trains and evaluates in plain Node, writing eval.json with three methods and track PNGs', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ssl-transporter-'));
  const cache = join(pkg, 'node_modules', '.cache', 'example-test');
  try {
    const { stdout } = await run(
      process.execPath,
      ['scripts/run.mjs', 'scripts/example.ts', 'transporter', '--steps', '2', '--videos', '2', '--channels', '4', '--backend', 'wasm', '--out', out],
      { cwd: pkg, env: { ...process.env, BRICKML_RUN_CACHE_DIR: cache }, timeout: 100_000 },
    );
    expect(stdout).toMatch(/transporter: step 2\/2/);
    const evalJson = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
    expect(Object.keys(evalJson.results)).toEqual(['transporter', 'untrainedNetwork', 'randomKeypoints']);
    for (const m of Object.values(evalJson.results) as Array<{ meanPixels: number; perFrame: number[] }>) {
      expect(m.meanPixels).toBeGreaterThan(0);
      expect(m.meanPixels).toBeLessThan(16 * Math.SQRT2);
      expect(m.perFrame).toHaveLength(8);
    }
    expect(existsSync(join(out, 'tracks-0.png'))).toBe(true);
    expect(existsSync(join(out, 'model', 'config.json'))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it('the mae and ijepa examples train and write eval.json with per-factor probe, k-NN and diagnostics for every encoder', async () => {
  const cache = join(pkg, 'node_modules', '.cache', 'example-test');
  for (const [name, extra, trained] of [['mae', ['--supervised', 'on'], 'mae'], ['ijepa', ['--supervised', 'off'], 'ijepa']] as const) {
    const out = mkdtempSync(join(tmpdir(), `ssl-${name}-`));
    try {
      const { stdout } = await run(
        process.execPath,
        ['scripts/run.mjs', 'scripts/example.ts', name, '--steps', '2', '--batch', '8', ...extra, '--backend', 'wasm', '--out', out],
        { cwd: pkg, env: { ...process.env, BRICKML_RUN_CACHE_DIR: cache }, timeout: 150_000 },
      );
      expect(stdout).toMatch(/step 2\/2/);
      const evalJson = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8'));
      const encoders = name === 'mae' ? [trained, 'randomEncoder', 'supervised', 'rawPixels'] : [trained, 'randomEncoder', 'rawPixels'];
      expect(Object.keys(evalJson.results)).toEqual(encoders);
      for (const r of Object.values(evalJson.results) as Array<Record<string, { probe: number; knn: number }> & { featureStd: number; participationRatio: number }>) {
        for (const f of ['shape', 'colour', 'size']) {
          expect(r[f]!.probe).toBeGreaterThan(0.2); // above no-skill floors: 3 classes (0.333) or 6 (0.167)
          expect(r[f]!.probe).toBeLessThanOrEqual(1);
          expect(r[f]!.knn).toBeGreaterThan(0.15);
        }
        expect(r.featureStd).toBeGreaterThan(0);
        expect(r.participationRatio).toBeGreaterThanOrEqual(1);
      }
      expect(evalJson.config.patchSize).toBe(2);
      expect(existsSync(join(out, 'model', 'config.json'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
}, 320_000);
