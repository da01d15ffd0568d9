/**
 * Makes sure docs/.vitepress/dist holds a build of the current sources: builds the site (TypeDoc,
 * then VitePress) when the build is missing or older than any input (pages, theme, examples,
 * packages' sources), or always with DOCS_REBUILD=1. In `npm test`, turbo has just run the docs'
 * `build` task, so this finds the build fresh and returns at once.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Newest modification time (ms) of the files under `dir`, skipping `skip` folder names. */
function newest(dir: string, skip: Set<string>): number {
  if (!existsSync(dir)) return 0;
  const s = statSync(dir);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const p = join(dir, entry.name);
    m = Math.max(m, entry.isDirectory() ? newest(p, skip) : statSync(p).mtimeMs);
  }
  return m;
}

/** Why the build is stale, or undefined when it is fresh. */
export function staleReason(docsDir: string): string | undefined {
  const stamp = join(docsDir, '.vitepress', 'dist', 'index.html');
  if (!existsSync(stamp)) return 'no build yet';
  const built = statSync(stamp).mtimeMs;
  const skip = new Set(['node_modules', 'dist', 'cache', 'api', 'out', 'test', '.turbo']);
  const packagesDir = join(docsDir, '..', 'packages');
  const inputs = [
    docsDir,
    ...readdirSync(packagesDir).map((p) => join(packagesDir, p, 'src')),
  ];
  for (const dir of inputs) {
    if (newest(dir, skip) > built) return `${dir} changed after the last build`;
  }
  return undefined;
}

/** Builds the site if needed; returns what it did. */
export async function ensureSiteBuilt(docsDir: string): Promise<string> {
  const reason = process.env.DOCS_REBUILD === '1' ? 'DOCS_REBUILD=1' : staleReason(docsDir);
  if (!reason) return 'build is fresh';
  const t0 = performance.now();
  try {
    await run('npm', ['run', 'build'], { cwd: docsDir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: '0' } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`docs build failed (${reason}):\n${err.stdout?.slice(-4000) ?? ''}\n${err.stderr?.slice(-4000) ?? ''}\n${err.message}`);
  }
  return `built (${reason}) in ${((performance.now() - t0) / 1000).toFixed(0)} s`;
}
