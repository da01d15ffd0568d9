import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@brickml/core';
import {
  BackendUnavailableError, WEB_ENGINES, bundledWasmPaths, setWasmPaths, useBackend, webBackendProvider,
} from '../src/index.js';

// The selection logic of the browser package, run in Node (no navigator.gpu, no WebGL): the browser
// itself is covered by browser.test.ts and vite.test.ts.

const V = tf.version_core;
const missing = (spec: string) => async () => {
  const e = new Error(`Cannot find package '${spec}' imported from /app/main.js`) as Error & { code: string };
  e.code = 'ERR_MODULE_NOT_FOUND';
  throw e;
};

describe('useBackend (web) outside a browser', () => {
  it('tries webgpu, webgl, wasm, cpu and says why the GPU engines are not there', async () => {
    const r = await useBackend();
    expect(webBackendProvider.order).toEqual(['webgpu', 'webgl', 'wasm', 'cpu']);
    expect(r.attempts.map((a) => [a.engine, a.status])).toEqual([
      ['webgpu', 'no-adapter'],
      ['webgl', 'no-adapter'],
      ['wasm', 'chosen'],
      ['cpu', 'not-tried'],
    ]);
    expect(r.attempts[0].reason).toBe('navigator.gpu is missing: this browser has no WebGPU, or it is turned off');
    expect(r.attempts[1].reason).toBe('no WebGL context (WebGL is turned off, or there is no GPU driver)');
    expect(r.engine).toBe('wasm');
    // Not bundled: the `new URL` asset expressions were not rewritten, so tfjs's default location is used.
    expect(bundledWasmPaths()).toBeNull();
    expect(r.device).toMatch(/; binaries next to the page \(tfjs default\)$/);
  });

  it('reports a missing engine package with the npm command, and throws for it when asked explicitly', async () => {
    const importers = { wasm: missing('@tensorflow/tfjs-backend-wasm') };
    const r = await useBackend(undefined, { importers });
    expect(r.engine).toBe('cpu');
    expect(r.attempts[2]).toEqual({
      engine: 'wasm',
      status: 'not-installed',
      reason: '@tensorflow/tfjs-backend-wasm is not installed',
      install: `npm install @tensorflow/tfjs-backend-wasm@${V}`,
    });
    const err = await useBackend('wasm', { importers }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toMatch(/engine 'wasm' .*not available; no fallback[\s\S]*npm install @tensorflow\/tfjs-backend-wasm@/);
    expect(tf.getBackend()).toBe('cpu'); // unchanged by the failed request
  });

  it('takes lists and an override string (e.g. from a URL parameter)', async () => {
    expect((await useBackend(['webgl', 'cpu'])).engine).toBe('cpu');
    const r = await useBackend('wasm', { override: 'webgpu, cpu' });
    expect(r).toMatchObject({ engine: 'cpu', source: 'env', requested: ['webgpu', 'cpu'] });
    await expect(useBackend('metal')).rejects.toThrow(`unknown engine 'metal' (from useBackend("metal")); expected one of ${WEB_ENGINES.join(', ')}`);
  });
});

describe('setWasmPaths', () => {
  it('rejects a file map without all three binaries, naming the missing ones', () => {
    expect(() => setWasmPaths({ 'tfjs-backend-wasm.wasm': '/a.wasm' })).toThrow(
      'setWasmPaths: a file map must give all three binaries; missing tfjs-backend-wasm-simd.wasm, tfjs-backend-wasm-threaded-simd.wasm',
    );
    expect(() => setWasmPaths('')).toThrow(/empty string/);
  });
});
