/**
 * Runs browser snippets as a Vite app would: each snippet becomes one page of a Vite build (the
 * snippet is the page's module, imported as written; `?url` imports and the wasm binaries are
 * handled by Vite), the build is served on 127.0.0.1 and every page is opened in Debian's
 * chromium (playwright-core) with a SwiftShader WebGPU adapter, as the docs site's tests do.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type ConsoleMessage } from 'playwright-core';
import { build } from 'vite';
import { serveStatic } from '../../docs/test/serve.js';
import { repoRoot, type Snippet } from './extract.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../../docs/test/chromium.js';

/** Wall-clock limit of one page. */
const PAGE_LIMIT_MS = 120_000;

/** How a browser snippet went. */
export interface BrowserResult {
  status: 'done' | 'error' | 'timeout';
  /** Page errors, console errors, failed requests, the module's rejection. */
  errors: string[];
  /** What the snippet printed with console.log / console.table. */
  log: string[];
  ms: number;
}

/** Builds the snippets into `dir` (an app root inside the repository) and runs each page. */
export async function runBrowserSnippets(
  snippets: Snippet[],
  dir: string,
): Promise<Map<string, BrowserResult>> {
  const input: Record<string, string> = {};
  snippets.forEach((s, i) => {
    writeFileSync(join(dir, `snippet-${i}.${s.lang}`), s.code);
    const page = join(dir, `page-${i}.html`);
    writeFileSync(
      page,
      `<!doctype html>\n<meta charset="utf-8" />\n<title>${s.id}</title>\n<body></body>\n<script type="module">\n` +
        `window.__snippet = { status: 'running' };\n` +
        `import('./snippet-${i}.${s.lang}').then(\n` +
        `  () => { window.__snippet.status = 'done'; },\n` +
        `  (e) => { window.__snippet.status = 'error'; window.__snippet.error = String((e && e.stack) || e); },\n` +
        `);\n</script>\n`,
    );
    input[`page-${i}`] = page;
  });
  const outDir = join(dir, 'dist');
  await build({
    root: dir,
    configFile: false,
    logLevel: 'error',
    resolve: {
      // The workspace packages from their sources, as the docs site builds them (no package build needed).
      conditions: ['source'],
      // Native Node module behind core's renderSpecToPng (a lazy import never taken in a page): the docs site's stub.
      alias: [
        {
          find: /^@resvg\/resvg-js$/,
          replacement: join(repoRoot, 'docs', '.vitepress', 'theme', 'stubs', 'resvg.ts'),
        },
      ],
    },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      chunkSizeWarningLimit: 8192,
      rollupOptions: {
        input,
        onwarn(warning, warn) {
          if (warning.code === 'INVALID_ANNOTATION' || warning.code === 'EVAL') return;
          warn(warning);
        },
      },
    },
  });

  const server = await serveStatic(outDir);
  let browser: Browser | undefined;
  const results = new Map<string, BrowserResult>();
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    for (const [i, s] of snippets.entries()) {
      const page = await browser.newPage();
      const errors: string[] = [];
      const log: string[] = [];
      page.on('console', (m: ConsoleMessage) => {
        if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico'))
          errors.push(`console.error: ${m.text()} (${m.location().url})`);
        else log.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) =>
        errors.push(`request failed: ${r.url()} (${r.failure()?.errorText})`),
      );
      page.on('response', (r) => {
        if (r.status() >= 400 && !r.url().endsWith('/favicon.ico'))
          errors.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      const start = performance.now();
      let status: BrowserResult['status'] = 'timeout';
      try {
        await page.goto(`${server.url}/page-${i}.html`);
        await page.waitForFunction(
          () =>
            (window as unknown as { __snippet?: { status: string } }).__snippet?.status !==
            'running',
          undefined,
          {
            timeout: PAGE_LIMIT_MS,
            polling: 100,
          },
        );
        const state = (await page.evaluate(
          () => (window as unknown as { __snippet: { status: string; error?: string } }).__snippet,
        )) as { status: string; error?: string };
        status = state.status === 'done' ? 'done' : 'error';
        if (state.error) errors.push(`the snippet's module failed: ${state.error}`);
      } catch (e) {
        errors.push(
          `no result within ${PAGE_LIMIT_MS / 1000} s: ${(e as Error).message.split('\n')[0]}`,
        );
      }
      results.set(s.id, { status, errors, log, ms: performance.now() - start });
      await page.close();
    }
  } finally {
    await browser?.close();
    await server.close();
  }
  return results;
}
