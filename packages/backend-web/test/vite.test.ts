import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, createServer, type ViteDevServer } from 'vite';
import type { Browser } from 'playwright-core';
import { CHROMIUM_MISSING, hasChromium, inCI, launch, removeDir, runPage, servePage, type PageServer } from './harness.js';

// "wasm binaries are located without extra set-up in a Vite app": a production Vite build of a
// two-line app (test/vite-app) emits the three .wasm files as hashed assets, and in Chromium the wasm
// backend loads them from there (no setWasmPaths, no copying files next to the page).

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, '..');

describe.skipIf(!hasChromium && !inCI)('a Vite app', () => {
  let outDir = '';
  let server: PageServer;
  let browser: Browser;
  beforeAll(async () => {
    expect(hasChromium, CHROMIUM_MISSING).toBe(true);
    outDir = mkdtempSync(join(tmpdir(), 'brickml-vite-'));
    await build({
      root: join(here, 'vite-app'),
      configFile: false,
      logLevel: 'error',
      // The package from source (same code as its dist); core from its build, as an app gets it.
      resolve: { alias: { '@brickml/backend-web': join(here, '..', 'src', 'index.ts') } },
      build: { outDir, emptyOutDir: true, target: 'es2022' },
    });
    server = await servePage(outDir, { wasm: false });
    browser = await launch(false);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (outDir) removeDir(outDir);
  });

  it('emits the wasm binaries as assets and the wasm backend finds them with no set-up', async () => {
    const assets = readdirSync(join(outDir, 'assets'));
    for (const f of ['tfjs-backend-wasm', 'tfjs-backend-wasm-simd', 'tfjs-backend-wasm-threaded-simd']) {
      expect(assets.some((a) => new RegExp(`^${f}-[\\w-]+\\.wasm$`).test(a)), `${f} in ${assets}`).toBe(true);
    }
    const result = (await runPage(browser, server.url, '')) as unknown as { report: { engine: string; device: string }; y: number[] };
    expect(result.report.engine).toBe('wasm');
    expect(result.report.device).toMatch(/SIMD, 1 thread .*; binaries bundler asset URLs$/);
    expect(result.y).toEqual([19, 22, 43, 50]);
    expect(server.requests.some((p) => /^\/assets\/tfjs-backend-wasm-simd-[\w-]+\.wasm$/.test(p)), server.requests.join(' ')).toBe(true);
  });
});

// The dev server pre-bundles a package installed in node_modules (unlike a linked workspace package)
// and then does not rewrite the asset URLs; the package points at the files Vite serves from
// node_modules instead. Here the package is installed for real (package.json + a fresh build) in an
// app outside the repository, whose other dependencies link to the repository's node_modules.
describe.skipIf(!hasChromium && !inCI)('a Vite dev server with the package installed from npm', () => {
  const appDir = mkdtempSync(join(tmpdir(), 'brickml-vite-dev-'));
  let server: ViteDevServer;
  let browser: Browser;
  beforeAll(async () => {
    expect(hasChromium, CHROMIUM_MISSING).toBe(true);
    const repoModules = join(pkgDir, '..', '..', 'node_modules');
    const modules = join(appDir, 'node_modules');
    mkdirSync(join(modules, '@brickml'), { recursive: true });
    for (const entry of readdirSync(repoModules)) {
      if (entry !== '@brickml' && !entry.startsWith('.')) symlinkSync(join(repoModules, entry), join(modules, entry));
    }
    symlinkSync(join(pkgDir, '..', 'core'), join(modules, '@brickml', 'core'));
    const installed = join(modules, '@brickml', 'backend-web');
    mkdirSync(installed, { recursive: true });
    copyFileSync(join(pkgDir, 'package.json'), join(installed, 'package.json'));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(pkgDir, 'tsconfig.json'), '--outDir', join(installed, 'dist')], { stdio: 'inherit' });
    for (const f of ['index.html', 'main.js']) copyFileSync(join(here, 'vite-app', f), join(appDir, f));
    server = await createServer({ root: appDir, configFile: false, logLevel: 'error', server: { host: '127.0.0.1', port: 0 } });
    await server.listen();
    browser = await launch(false);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    rmSync(appDir, { recursive: true, force: true });
  });

  it('finds the wasm binaries with no set-up', async () => {
    const result = (await runPage(browser, server.resolvedUrls!.local[0], '', 60_000)) as unknown as { report: { engine: string; device: string }; y: number[] };
    expect(result.report.engine).toBe('wasm');
    expect(result.report.device).toMatch(/; binaries bundler asset URLs$/);
    expect(result.y).toEqual([19, 22, 43, 50]);
  });
});
