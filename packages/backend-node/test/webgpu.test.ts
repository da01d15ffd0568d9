import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@brickml/core';
import { enableSwiftShader, useBackend } from '../src/index.js';
import { formatConformance, runConformance } from '@brickml/core';
import { CHROMIUM_MISSING, hasSwiftShader, inCI, skipUnlessPresentOrCI } from './presence.js';

// WebGPU for real without a GPU: Dawn (the `webgpu` package) on SwiftShader's Vulkan driver from
// Debian's chromium. The variables must be in the environment before Dawn loads, so this file sets
// them first thing (each test file runs in its own process). SwiftShader is slow: sizes stay small.
const swiftShader = hasSwiftShader ? enableSwiftShader() : null;

describe.skipIf(skipUnlessPresentOrCI(hasSwiftShader, CHROMIUM_MISSING))('webgpu through Dawn + SwiftShader', () => {
  it('has SwiftShader set up (a failure in CI when Chromium is missing)', () => {
    expect(swiftShader, CHROMIUM_MISSING).not.toBeNull();
    expect(process.env.VK_ICD_FILENAMES).toBe('/usr/lib/chromium/vk_swiftshader_icd.json');
    expect(process.env.XDG_RUNTIME_DIR).toBeTruthy();
  });

  it('skips the software adapter in the default order and chooses wasm (SwiftShader is ~100× slower)', async () => {
    const r = await useBackend(undefined, { env: {} });
    const webgpu = r.attempts.find((a) => a.engine === 'webgpu')!;
    expect(webgpu.status).toBe('no-adapter');
    expect(webgpu.reason).toMatch(/^only a software fallback adapter \(google swiftshader/);
    expect(webgpu.reason).toMatch(/about 100× slower than wasm.*useBackend\('webgpu'\)/);
    expect(r.engine).toBe('wasm');
  });

  it("uses it when asked for explicitly, and says what it is", async () => {
    const r = await useBackend('webgpu', { env: {} });
    expect(r.engine).toBe('webgpu');
    expect(r.tfBackend).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(r.device).toMatch(/^google swiftshader — SwiftShader driver .*\(software fallback adapter\)$/);
    expect(r.attempts[0]).toMatchObject({ engine: 'webgpu', status: 'chosen' });
    expect(r.attempts[0].reason).toMatch(/asked for explicitly; about 100× slower than wasm/);
    expect(r.selfTest!.maxAbsError).toBeLessThan(1e-4);
  });

  it('BRICKML_BACKEND=webgpu is an explicit request too', async () => {
    const r = await useBackend(undefined, { env: { BRICKML_BACKEND: 'webgpu,wasm' } });
    expect(r.engine).toBe('webgpu');
    expect(r.source).toBe('env');
  });

  it('passes the conformance suite (reading with await data()); addN of 9 inputs is the known WebGPU issue', async () => {
    await useBackend('webgpu', { env: {} });
    const report = await runConformance();
    expect(report.backend).toBe('webgpu');
    expect(report.ok, formatConformance(report)).toBe(true);
    for (const r of report.results) {
      if (r.name === 'addN/9-inputs') expect(r.status).toBe('known-issue');
      else expect([r.name, r.status, r.leakedTensors]).toEqual([r.name, 'pass', 0]);
    }
    // webgpu has UnsortedSegmentSum: gather's gradient runs here.
    expect(report.results.find((r) => r.name === 'gather/gather')!.status).toBe('pass');
  });

  it('cannot switch Vulkan drivers once Dawn is loaded', () => {
    expect(() => enableSwiftShader()).toThrow(/Dawn .* is already loaded/);
  });
});

describe('in CI', () => {
  it.runIf(inCI)('requires Chromium for the WebGPU tests', () => {
    expect(hasSwiftShader, CHROMIUM_MISSING).toBe(true);
  });
});
