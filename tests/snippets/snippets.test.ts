/**
 * Examples that run as written: every ```ts / ```js block of the READMEs (root, packages/*,
 * bench/) and of the docs pages (docs/**\/*.md) is run, as it is in the markdown, and must exit
 * cleanly within its time limit.
 *
 * - Node snippets are written to a `.mts` file under out/snippets/ (so the workspace packages and
 *   their dependencies resolve as in a user's project) and run with tsx
 *   (`--conditions=source`: the packages from their sources, no build needed) from a fresh
 *   temporary folder, so files they write (`out/…`) land there.
 * - Browser snippets (those that import `@brickml/backend-web`) are built together as a Vite app
 *   (one page per snippet) and run in Debian's chromium through playwright-core; a snippet passes
 *   when its module finishes without a page error or console error.
 * - All of them are also type-checked together with the repository's strict compiler options, so a
 *   TypeScript user can paste them as they are.
 * - A block that is deliberately not runnable carries `<!-- snippet: skip (reason) -->` on the
 *   line before its fence (see extract.ts); the test lists those marks and requires a reason.
 *
 * Runs from the docs package's vitest (docs/vitest.config.ts includes this folder), so `npm test`
 * runs it. SNIPPETS=README.md,docs/concepts runs only the snippets whose id contains one of those.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSnippets, repoRoot, type Snippet } from './extract.js';
import { runBrowserSnippets, type BrowserResult } from './browser.js';

/** Wall-clock limit of one Node snippet. */
const NODE_LIMIT_MS = 120_000;
/** Where snippets are written: inside the repository (so packages resolve), git-ignored. */
const workDir = join(repoRoot, 'out', 'snippets');
const tsxCli = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const hooks = join(repoRoot, 'docs', 'examples', 'node-hooks.mjs');

const filter = (process.env.SNIPPETS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const all = allSnippets();
const selected = all.filter((s) => !filter.length || filter.some((f) => s.id.includes(f)));
const slug = (s: Snippet) => s.id.replace(/[^A-Za-z0-9]+/g, '-');

/** Runs a command; resolves with its exit code and output, killing it after `limitMs`. */
function run(
  cmd: string,
  args: string[],
  cwd: string,
  limitMs: number,
): Promise<{ code: number | null; signal: string | null; output: string; ms: number }> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, ms: performance.now() - start });
    });
  });
}

const work: string[] = [];
afterAll(() => {
  for (const d of work) rmSync(d, { recursive: true, force: true });
});

describe('snippets', () => {
  it('finds the snippets, and every skip mark gives its reason', () => {
    expect(all.length).toBeGreaterThan(20);
    const skipped = all.filter((s) => s.skip !== undefined);
    for (const s of skipped)
      expect(s.skip, `${s.id}: a skip mark needs a reason: <!-- snippet: skip (why) -->`).not.toBe(
        '',
      );
    // Marks are for type signatures and the like: rare, never a way around a failing example.
    expect(skipped.length, skipped.map((s) => s.id).join(', ')).toBeLessThanOrEqual(3);
    console.log(
      `[snippets] ${all.length} snippets, ${all.length - skipped.length} run, skipped: ${skipped.map((s) => `${s.id} (${s.skip})`).join('; ') || 'none'}`,
    );
  });

  describe.each(selected.filter((s) => s.env === 'node').map((s) => [s.id, s] as const))(
    '%s',
    (_id, s) => {
      it.skipIf(s.skip !== undefined)(
        'runs as written (node)',
        async () => {
          mkdirSync(workDir, { recursive: true });
          const file = join(workDir, `${slug(s)}.mts`);
          writeFileSync(file, s.code);
          const cwd = mkdtempSync(join(tmpdir(), 'brickml-snippet-'));
          work.push(cwd);
          const r = await run(
            process.execPath,
            [tsxCli, '--conditions=source', '--import', hooks, file],
            cwd,
            NODE_LIMIT_MS,
          );
          console.log(`[snippets] ${s.id}: ${(r.ms / 1000).toFixed(1)} s`);
          const why = r.signal
            ? `killed after ${NODE_LIMIT_MS / 1000} s (make the example smaller as written)`
            : `exit code ${r.code}`;
          expect(
            r.code,
            `${s.id} failed: ${why}\n--- output (tail)\n${r.output.slice(-4000)}`,
          ).toBe(0);
        },
        NODE_LIMIT_MS + 30_000,
      );
    },
  );

  it('type-checks as written (tsc, strict)', async () => {
    const run0 = selected.filter((s) => s.skip === undefined);
    const dir = join(workDir, 'typecheck');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = run0.map((s) => {
      const name = `${slug(s)}.mts`;
      writeFileSync(join(dir, name), s.code);
      return name;
    });
    // The repository's compiler options (strict, NodeNext, the packages' sources through the
    // `source` condition), DOM types for the browser snippets and Vite's for their `?url` imports.
    const tsconfig = {
      extends: '../../../tsconfig.base.json',
      compilerOptions: {
        noEmit: true,
        declaration: false,
        declarationMap: false,
        sourceMap: false,
        types: ['node', 'vite/client'],
      },
      files,
    };
    writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = await run(
      process.execPath,
      [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'],
      repoRoot,
      300_000,
    );
    console.log(
      `[snippets] type-checked ${files.length} snippets in ${(r.ms / 1000).toFixed(1)} s`,
    );
    // Errors in the snippets, named by their markdown file and line. Errors in the packages'
    // sources belong to each package's own `typecheck` task: reported here, not failed on.
    const byFile = new Map(run0.map((s) => [`${slug(s)}.mts`, s]));
    const lines = r.output.split('\n').filter((l) => /error TS\d+/.test(l));
    const errors: string[] = [];
    const elsewhere: string[] = [];
    for (const l of lines) {
      const m = /^(?:.*[/\\])?([^/\\]+\.mts)\((\d+),(\d+)\)/.exec(l);
      const s = m ? byFile.get(m[1]) : undefined;
      if (s && m)
        errors.push(`${s.file}:${s.line + Number(m[2])}: ${l.slice(l.indexOf('error TS'))}`);
      else elsewhere.push(l);
    }
    if (elsewhere.length) {
      console.warn(
        `[snippets] tsc also reported errors outside the snippets:\n${elsewhere.join('\n')}`,
      );
    }
    expect(errors).toEqual([]);
    if (!elsewhere.length) expect(r.code, r.output.slice(-4000)).toBe(0);
  }, 360_000);

  const browser = selected.filter((s) => s.env === 'browser');
  describe.runIf(browser.some((s) => s.skip === undefined))('in chromium', () => {
    let results: Map<string, BrowserResult>;
    beforeAll(async () => {
      mkdirSync(workDir, { recursive: true });
      const dir = mkdtempSync(join(workDir, 'web-'));
      work.push(dir);
      results = await runBrowserSnippets(
        browser.filter((s) => s.skip === undefined),
        dir,
      );
    }, 600_000);

    describe.each(browser.map((s) => [s.id, s] as const))('%s', (_id, s) => {
      it.skipIf(s.skip !== undefined)('runs as written (browser)', () => {
        const r = results.get(s.id);
        expect(r, `${s.id}: no result`).toBeDefined();
        console.log(
          `[snippets] ${s.id}: ${r!.status} in ${(r!.ms / 1000).toFixed(1)} s${r!.log.length ? `\n  ${r!.log.join('\n  ')}` : ''}`,
        );
        expect(r!.errors, `${s.id} failed in chromium`).toEqual([]);
        expect(r!.status).toBe('done');
      });
    });
  });
});
