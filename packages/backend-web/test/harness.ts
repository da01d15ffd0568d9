import { build } from 'esbuild';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { WASM_BINARIES } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

export const CHROMIUM = '/usr/bin/chromium';
export const inCI = !!process.env.CI && process.env.CI !== 'false';
export const hasChromium = existsSync(CHROMIUM);
export const CHROMIUM_MISSING = `Chromium is not installed at ${CHROMIUM}: install it with \`apt-get install chromium\` (Debian/Ubuntu) to run the browser tests`;

/** Flags for headless Chromium with WebGPU on SwiftShader (checked here: `--enable-unsafe-webgpu` is the one that matters). */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
export const BASE_FLAGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

/** Packages and builtins a browser bundle must not resolve (core loads them lazily, in Node only). */
export const NODE_ONLY = ['cli-progress', '@resvg/resvg-js', 'node:*', 'fs', 'fs/promises', 'path', 'events', 'readline', 'os', 'url'];

/** Bundles test/page/main.ts (backend-web + core + tfjs) with esbuild, code-split like an app bundle. */
export async function buildPage(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'brickml-web-page-'));
  await build({
    entryPoints: [join(here, 'page', 'main.ts')],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir,
    // Node-only packages that core imports lazily on Node paths (progress bars, PNG rendering, files):
    // left as imports that never run in this page.
    external: NODE_ONLY,
    logLevel: 'error',
  });
  return outdir;
}

export interface PageServer {
  url: string;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.map': 'application/json' };

/**
 * Serves `dir` as a static site on 127.0.0.1 (`/` is index.html, or a page loading /main.js), and
 * with `wasm` also the wasm binaries from node_modules next to the page and under /wasm/.
 */
export async function servePage(dir: string, { wasm = true } = {}): Promise<PageServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    requests.push(path);
    const send = (type: string, body: Buffer | string) => {
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    };
    const name = basename(path);
    if (path === '/') {
      if (existsSync(join(dir, 'index.html'))) return send('text/html', readFileSync(join(dir, 'index.html')));
      return send('text/html', '<!doctype html><meta charset="utf-8"><title>brickml</title><script type="module" src="/main.js"></script>');
    }
    if (wasm && (path === `/${name}` || path === `/wasm/${name}`) && (WASM_BINARIES as readonly string[]).includes(name)) {
      return send('application/wasm', readFileSync(join(wasmDir, name)));
    }
    const file = join(dir, normalize(path));
    if (file.startsWith(dir) && existsSync(file) && statSync(file).isFile()) return send(MIME[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Launches the system Chromium with or without WebGPU. */
export function launch(webgpu: boolean): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : [])] });
}

/** Opens `query` on the page and waits for its result (or its error). */
export async function runPage(browser: Browser, url: string, query: string, timeoutMs = 150_000): Promise<PageResult> {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  try {
    await page.goto(`${url}?${query}`);
    await page.waitForFunction(() => (window as any).__result || (window as any).__error, null, { timeout: timeoutMs });
    const { result, error } = await page.evaluate(() => ({ result: (window as any).__result, error: (window as any).__error }));
    if (error) throw new Error(`page failed: ${error}\n${logs.join('\n')}`);
    return { ...(result as Omit<PageResult, 'logs'>), logs };
  } finally {
    await page.close();
  }
}

export interface Attempt {
  engine: string;
  status: string;
  reason?: string;
  install?: string;
}
export interface PageRun {
  preference: string;
  report?: { engine: string; tfBackend: string; device?: string; attempts: Attempt[]; selfTest?: { maxAbsError: number } };
  error?: string;
  losses?: number[];
  w?: number;
  b?: number;
}
export interface PageResult {
  runs: PageRun[];
  conformance?: { ok: boolean; backend: string; results: { name: string; status: string; message?: string; maxAbsError?: number }[] };
  numTensors: number;
  crossOriginIsolated: boolean;
  logs: string[];
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
