/**
 * The docs site, tested as a person would use it: build it (if stale), serve it on 127.0.0.1,
 * open it in Debian's chromium through playwright-core, and
 * - load the guide, concept and package pages, each package's API index and a sample of the other
 *   API pages (all of them with DOCS_TEST_ALL_PAGES=1): no console errors, no page errors, no
 *   failed requests;
 * - check every internal link and asset reference of every built page resolves to a file;
 * - press Run on every live example, on WebGPU (SwiftShader) and on wasm, in quick mode: it must
 *   finish (`data-status="done"`) on the engine asked for, draw at least one figure, and no drawn
 *   canvas may be blank. A screenshot of each example page and the example's printed log are
 *   written to out/screenshots/<example>-<backend>.{png,txt} at the repository root.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { exampleNames } from '../examples/index.js';
import { ensureSiteBuilt } from './build.js';
import { serveStatic, type StaticServer } from './serve.js';
import { CHROMIUM, CHROMIUM_ARGS } from './chromium.js';

const docsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const distDir = join(docsDir, '.vitepress', 'dist');
const shotsDir = join(docsDir, '..', 'out', 'screenshots');
const BACKENDS = ['webgpu', 'wasm'] as const;
const EXAMPLE_TIMEOUT_MS = 240_000;

let server: StaticServer;
let browser: Browser;

/** Every file of the built site, as site paths (`/assets/app.abc.js`). */
function builtFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`/${relative(distDir, p).split(sep).join('/')}`);
    }
  };
  walk(distDir);
  return out.sort();
}

/** All built pages (`/guide/getting-started.html`). */
function builtPages(): string[] {
  return builtFiles().filter((p) => p.endsWith('.html') && p !== '/404.html' && !p.startsWith('/assets/'));
}

/**
 * Pages loaded in the browser: all non-API pages, the API index pages and every 20th other API
 * page (the API pages share one layout; their links are all checked statically). All of them with
 * DOCS_TEST_ALL_PAGES=1.
 */
function pagesToVisit(all: string[]): string[] {
  if (process.env.DOCS_TEST_ALL_PAGES === '1') return all;
  const api = all.filter((p) => p.startsWith('/api/'));
  const other = all.filter((p) => !p.startsWith('/api/'));
  const apiIndexes = api.filter((p) => p.endsWith('/index.html'));
  const sample = api.filter((p, i) => i % 20 === 0 && !apiIndexes.includes(p));
  return [...other, ...apiIndexes, ...sample];
}

/** Records console errors, page errors and failed requests of a page. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // ERR_ABORTED: a link prefetch cut short by the next navigation, not a missing resource.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return problems;
}

beforeAll(async () => {
  const built = await ensureSiteBuilt(docsDir);
  console.log(`[docs test] ${built}`);
  server = await serveStatic(distDir);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  mkdirSync(shotsDir, { recursive: true });
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('docs site', () => {
  it('builds the pages the sidebar promises', () => {
    const pages = builtPages();
    for (const p of [
      '/index.html',
      '/guide/getting-started.html',
      '/guide/install.html',
      '/guide/examples.html',
      '/concepts/bricks.html',
      '/concepts/configs.html',
      '/concepts/checkpoints.html',
      '/concepts/backends.html',
      '/packages/core.html',
      '/packages/backends.html',
      '/design.html',
      '/api/index.html',
      '/api/@brickml/core/index.html',
    ]) {
      expect(pages, `missing page ${p}`).toContain(p);
    }
  });

  it('resolves every internal link and asset of every page', () => {
    const files = new Set(builtFiles());
    const pages = builtPages();
    const broken: string[] = [];
    for (const page of pages) {
      const html = readFileSync(join(distDir, page), 'utf8');
      for (const [, attr] of html.matchAll(/\s(?:href|src)="([^"]+)"/g)) {
        if (/^(https?:|mailto:|data:|#|javascript:)/.test(attr) || attr.startsWith('//')) continue;
        const path = decodeURIComponent(new URL(attr, `http://x${page}`).pathname);
        const file = path.endsWith('/') ? `${path}index.html` : path;
        if (!files.has(file) && !files.has(`${file}.html`)) broken.push(`${page} → ${attr}`);
      }
    }
    expect(broken.slice(0, 20), `${broken.length} broken links`).toEqual([]);
  });

  it('loads pages in chromium without console errors', async () => {
    const visit = pagesToVisit(builtPages());
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watch(page);
    const failures: string[] = [];
    for (const p of visit) {
      const before = problems.length;
      await page.goto(`${server.url}${p}`, { waitUntil: 'load' });
      await page.waitForSelector('#app .VPContent, #app .VPHome, #app main', { timeout: 15_000 });
      if (problems.length > before) failures.push(`${p}: ${problems.slice(before).join('; ')}`);
    }
    await context.close();
    expect(failures, `${visit.length} pages visited`).toEqual([]);
    expect(server.notFound).toEqual([]);
  }, 300_000);
});

/** The page that shows each example (first page with its <LiveExample>). */
function examplePages(): Map<string, string> {
  const found = new Map<string, string>();
  for (const p of builtPages().filter((q) => !q.startsWith('/api/'))) {
    const html = readFileSync(join(distDir, p), 'utf8');
    for (const [, name] of html.matchAll(/data-example="([^"]+)"/g)) if (!found.has(name)) found.set(name, p);
  }
  return found;
}

describe('live examples', () => {
  it('every registered example is on a page', () => {
    const pages = examplePages();
    expect([...pages.keys()].sort()).toEqual([...exampleNames].sort());
  });

  for (const name of exampleNames) {
    for (const backend of BACKENDS) {
      it(`${name} runs on ${backend}`, async () => {
        const pagePath = examplePages().get(name);
        expect(pagePath, `no page shows example ${name}`).toBeDefined();
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        const problems = watch(page);
        try {
          await page.goto(`${server.url}${pagePath}?backend=${backend}&quick=1`, { waitUntil: 'load' });
          const root = page.locator(`.live-example[data-example="${name}"]`);
          await root.locator('.le-run').click();
          await root.and(page.locator('[data-status="done"], [data-status="error"]')).waitFor({ timeout: EXAMPLE_TIMEOUT_MS });
          const status = await root.getAttribute('data-status');
          // allTextContents() does not wait for elements that are not there (no log, no error).
          const log = (await root.locator('.le-log').allTextContents()).join('\n');
          const error = (await root.locator('.le-error').allTextContents()).join('\n');
          writeFileSync(join(shotsDir, `${name}-${backend}.txt`), `${log}${error ? `\nERROR: ${error}` : ''}\n`);
          // Screenshot the page at the example: a viewport tall enough for the example and the
          // text above it, scrolled so the example sits under the nav bar.
          const box = await root.boundingBox();
          const height = Math.max(900, Math.min(2400, Math.ceil((box?.height ?? 800) + 360)));
          await page.setViewportSize({ width: 1280, height });
          await root.evaluate((el) => window.scrollTo(0, Math.max(0, el.getBoundingClientRect().top + window.scrollY - 280)));
          await page.screenshot({ path: join(shotsDir, `${name}-${backend}.png`) });
          expect(error).toBe('');
          expect(status).toBe('done');
          expect(await root.getAttribute('data-engine')).toBe(backend);
          // Every drawn canvas (images and vega plots) has more than one colour.
          const canvases = await root.locator('.le-figures canvas').evaluateAll((els) =>
            (els as HTMLCanvasElement[]).map((c) => {
              const g = c.getContext('2d');
              if (!g || c.width === 0 || c.height === 0) return { w: c.width, h: c.height, colours: 0 };
              const d = g.getImageData(0, 0, c.width, c.height).data;
              const seen = new Set<number>();
              for (let i = 0; i < d.length && seen.size < 16; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
              return { w: c.width, h: c.height, colours: seen.size };
            }),
          );
          expect(canvases.length, 'figures drawn').toBeGreaterThan(0);
          for (const c of canvases) expect(c.colours, `a ${c.w}×${c.h} canvas is blank`).toBeGreaterThan(1);
          expect(problems).toEqual([]);
        } finally {
          await context.close();
        }
      }, EXAMPLE_TIMEOUT_MS + 60_000);
    }
  }
});
