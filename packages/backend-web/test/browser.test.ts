import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import {
  CHROMIUM_MISSING, buildPage, hasChromium, inCI, launch, removeDir, runPage, servePage,
  type PageRun, type PageServer,
} from './harness.js';

// The browser path for real: an esbuild bundle of backend-web + core + tfjs, served on 127.0.0.1,
// in Debian's headless Chromium driven by playwright-core, once with WebGPU on SwiftShader and once
// without WebGPU.

if (!hasChromium && !inCI) console.warn(`[skipped] ${CHROMIUM_MISSING}`);

function expectTrained(run: PageRun) {
  expect(run.error, run.error).toBeUndefined();
  const l = run.losses!;
  expect(l.length).toBe(40);
  expect(l[0]).toBeCloseTo(4 * (11 / 31) + 1, 4); // mean((2x+1)²) over linspace(-1, 1, 32) = 4·E[x²] + 1
  expect(l[l.length - 1]).toBeLessThan(l[0] * 1e-3);
  expect(run.w).toBeCloseTo(2, 2);
  expect(run.b).toBeCloseTo(1, 2);
}

describe.skipIf(!hasChromium && !inCI)('backend-web in headless Chromium', () => {
  let outdir = '';
  let server: PageServer;
  beforeAll(async () => {
    expect(hasChromium, CHROMIUM_MISSING).toBe(true);
    outdir = await buildPage();
    server = await servePage(outdir);
  });
  afterAll(async () => {
    await server?.close();
    if (outdir) removeDir(outdir);
  });

  describe('with WebGPU (SwiftShader)', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launch(true);
    });
    afterAll(async () => browser?.close());

    it('skips software devices by default (wasm wins), uses the WebGPU adapter when asked, trains on it, and passes the conformance suite', async () => {
      const before = server.requests.length;
      const r = await runPage(browser, server.url, 'runs=default|webgpu&conformance=1');
      const [auto, explicit] = r.runs;
      // Default order: SwiftShader behind WebGPU and behind WebGL are software devices, skipped with the reason.
      expect(auto.report!.attempts.map((a) => [a.engine, a.status])).toEqual([
        ['webgpu', 'no-adapter'],
        ['webgl', 'no-adapter'],
        ['wasm', 'chosen'],
        ['cpu', 'not-tried'],
      ]);
      expect(auto.report!.attempts[0].reason).toMatch(/^only a software fallback adapter \(google swiftshader/);
      expect(auto.report!.attempts[1].reason).toMatch(/^only a software WebGL renderer \(.*SwiftShader/);
      // No setWasmPaths and no bundler asset URLs (esbuild): tfjs's default, the binaries next to the page.
      expect(auto.report!.device).toMatch(/SIMD, 1 thread .*; binaries next to the page \(tfjs default\)$/);
      expect(server.requests.slice(before)).toContain('/tfjs-backend-wasm-simd.wasm');
      expectTrained(auto);
      // Asked for explicitly: chosen, described, and it trains.
      expect(explicit.report).toMatchObject({ engine: 'webgpu', tfBackend: 'webgpu' });
      expect(explicit.report!.device).toMatch(/^google swiftshader.*\(software fallback adapter\)$/);
      expect(explicit.report!.attempts[0]).toMatchObject({ engine: 'webgpu', status: 'chosen' });
      expect(explicit.report!.attempts[0].reason).toMatch(/asked for explicitly/);
      expect(explicit.report!.selfTest!.maxAbsError).toBeLessThan(1e-4);
      expectTrained(explicit);
      // The numerical suite on WebGPU in the browser, against cpu.
      const c = r.conformance!;
      expect(c.backend).toBe('webgpu');
      const bad = c.results.filter((x) => x.status !== 'pass' && !(x.name === 'addN/9-inputs' && x.status === 'known-issue'));
      expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
      expect(c.ok).toBe(true);
      expect(r.numTensors).toBe(0);
    });
  });

  describe('without WebGPU', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launch(false);
    });
    afterAll(async () => browser?.close());

    it('errors for an explicit webgpu, runs an explicit webgl, and falls back to wasm with the binaries set by setWasmPaths', async () => {
      const before = server.requests.length;
      const r = await runPage(browser, server.url, 'runs=webgpu|webgl|default&wasmPaths=/wasm/');
      const [webgpu, webgl, auto] = r.runs;
      // Explicit webgpu without an adapter: an error, not a silent fallback.
      expect(webgpu.report).toBeUndefined();
      expect(webgpu.error).toMatch(/engine 'webgpu'.*is not available; no fallback[\s\S]*webgpu: no-adapter: the browser offers no WebGPU adapter/);
      // Explicit webgl: the software renderer is accepted, and says so.
      expect(webgl.report).toMatchObject({ engine: 'webgl', tfBackend: 'webgl' });
      expect(webgl.report!.device).toMatch(/SwiftShader.*\(WebGL 2, float32, software renderer\)$/);
      expect(webgl.report!.attempts[0].reason).toMatch(/software renderer, used because webgl was asked for explicitly/);
      expectTrained(webgl);
      // Default order: webgpu has no adapter, webgl is software, wasm is chosen with the /wasm/ binaries.
      expect(auto.report!.attempts.map((a) => [a.engine, a.status])).toEqual([
        ['webgpu', 'no-adapter'],
        ['webgl', 'no-adapter'],
        ['wasm', 'chosen'],
        ['cpu', 'not-tried'],
      ]);
      expect(auto.report!.device).toMatch(/^tfjs-backend-wasm 4\.22\.0 \(XNNPACK\), SIMD, 1 thread \(threads need a cross-origin isolated page.*; binaries from setWasmPaths$/);
      expectTrained(auto);
      expect(server.requests.slice(before)).toContain('/wasm/tfjs-backend-wasm-simd.wasm');
      expect(server.requests.slice(before)).not.toContain('/tfjs-backend-wasm-simd.wasm');
      expect(r.numTensors).toBe(0);
    });
  });
});

describe('in CI', () => {
  it.runIf(inCI)('requires Chromium for the browser tests', () => {
    expect(hasChromium, CHROMIUM_MISSING).toBe(true);
  });
});
