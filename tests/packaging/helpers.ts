/**
 * Shared helpers of the packaging tests: the workspace's packages, their builds, `npm pack`, and
 * running commands with a clear error.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A workspace package under packages/. */
export interface WorkspacePackage {
  dir: string;
  name: string;
  version: string;
  json: Record<string, any>;
}

/** Every package under packages/ (not private), with its package.json. */
export function workspacePackages(): WorkspacePackage[] {
  const root = join(repoRoot, 'packages');
  return readdirSync(root)
    .filter((d) => existsSync(join(root, d, 'package.json')))
    .map((d) => {
      const json = JSON.parse(readFileSync(join(root, d, 'package.json'), 'utf8'));
      return { dir: join(root, d), name: json.name as string, version: json.version as string, json };
    })
    .filter((p) => !p.json.private)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Runs a command; on failure the error carries its output. */
export async function sh(cmd: string, args: string[], cwd: string, timeoutMs = 300_000, env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileP(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string; code?: unknown };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed (${err.code}): ${err.message}\n--- stdout\n${err.stdout?.slice(-3000)}\n--- stderr\n${err.stderr?.slice(-3000)}`);
  }
}

function newestMtime(dir: string): number {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    m = Math.max(m, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return m;
}

/** Workspace @brickml dependencies of a package (regular dependencies only). */
export function internalDeps(pkg: WorkspacePackage): string[] {
  return Object.keys(pkg.json.dependencies ?? {}).filter((d) => d.startsWith('@brickml/'));
}

/**
 * Builds the packages whose `dist/index.js` is missing or older than their `src/` (turbo has
 * usually built them already), dependencies first.
 */
export async function ensureBuilt(packages: WorkspacePackage[]): Promise<string[]> {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const done = new Set<string>();
  const built: string[] = [];
  const visit = async (p: WorkspacePackage) => {
    if (done.has(p.name)) return;
    done.add(p.name);
    for (const d of internalDeps(p)) {
      const dep = byName.get(d);
      if (dep) await visit(dep);
    }
    const out = join(p.dir, 'dist', 'index.js');
    if (!existsSync(out) || statSync(out).mtimeMs < newestMtime(join(p.dir, 'src'))) {
      await sh('npm', ['run', 'build', '-w', p.name], repoRoot, 600_000);
      built.push(p.name);
    }
  };
  for (const p of packages) await visit(p);
  return built;
}

/** What `npm pack --json` reports for one package. */
export interface PackResult {
  name: string;
  version: string;
  /** Absolute path of the tarball. */
  tarball: string;
  /** Paths inside the package (`dist/index.js`, `README.md`, …). */
  files: string[];
}

/** `npm pack` of a package into `dest`. */
export async function pack(pkg: WorkspacePackage, dest: string): Promise<PackResult> {
  const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', dest], pkg.dir, 120_000);
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { name: string; version: string; filename: string; files: { path: string }[] }[];
  return { name: info.name, version: info.version, tarball: join(dest, info.filename), files: info.files.map((f) => f.path) };
}

/**
 * The first fenced code block of a README in TypeScript or JavaScript (its runnable snippet), and
 * its language.
 */
export function readmeSnippet(readme: string): { lang: 'ts' | 'js'; code: string } | undefined {
  const m = /```(ts|typescript|js|javascript)\n([\s\S]*?)```/.exec(readme);
  if (!m) return undefined;
  return { lang: m[1].startsWith('t') ? 'ts' : 'js', code: m[2] };
}
