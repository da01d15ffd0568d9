/**
 * Install only what you need, tested as a user would: every package is packed with `npm pack`, and
 * each technique package is installed **alone** — its tarball, the tarballs of its declared
 * @brickml dependencies, and the engine (`@tensorflow/tfjs-core`, `-backend-cpu`) from the npm
 * cache when it holds them, else the registry (`npm install --prefer-offline`, no workspace links; `npm ci` caches tarballs but not the registry metadata that an offline install needs, so `--offline` fails on a new machine) — into a fresh temporary project, where its
 * README snippet runs with plain `node`. A package that is not installed fails to import with a
 * message naming it.
 *
 * Runs from the docs package's vitest (docs/vitest.config.ts includes this folder), after turbo
 * has built every package; packages whose build is missing or stale are built first.
 * PACK_TECHNIQUES=@brickml/attention,@brickml/moe chooses the packages installed alone.
 */
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, internalDeps, pack, readmeSnippet, sh, workspacePackages, type PackResult, type WorkspacePackage } from './helpers.js';

/** Technique packages installed alone; their README snippets must run in seconds. */
const TECHNIQUES = (process.env.PACK_TECHNIQUES ?? '@brickml/attention,@brickml/moe').split(',').map((s) => s.trim()).filter(Boolean);
/** The engine a Node user installs next to a technique package. */
const ENGINE = ['@tensorflow/tfjs-core@4.22.0', '@tensorflow/tfjs-backend-cpu@4.22.0'];
/** What a tarball may hold. */
const ALLOWED = /^(dist\/|src\/|assets\/)|^(README\.md|CHANGELOG\.md|LICENSE(\.md)?|package\.json)$/;

const packages = workspacePackages();
const packed = new Map<string, PackResult>();
let work: string;

/** Environment for child npm commands: without the npm_* variables of the `npm test` that runs us. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('npm_') || k === 'npm_config_cache') env[k] = v;
  return env;
}

/** The package and its @brickml dependencies, transitively. */
function closure(name: string): WorkspacePackage[] {
  const byName = new Map(packages.map((p) => [p.name, p]));
  const out = new Map<string, WorkspacePackage>();
  const visit = (n: string) => {
    const p = byName.get(n);
    if (!p) throw new Error(`no workspace package ${n}`);
    if (out.has(n)) return;
    out.set(n, p);
    for (const d of internalDeps(p)) visit(d);
  };
  visit(name);
  return [...out.values()];
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'brickml-pack-'));
  const built = await ensureBuilt(packages);
  if (built.length) console.log(`[packaging] built ${built.join(', ')}`);
  const dest = join(work, 'tarballs');
  await sh('mkdir', ['-p', dest], work);
  for (const p of packages) packed.set(p.name, await pack(p, dest));
}, 900_000);

afterAll(() => {
  if (work && process.env.KEEP_PACK_DIR !== '1') rmSync(work, { recursive: true, force: true });
});

describe.each(packages.map((p) => [p.name, p] as const))('%s tarball', (name, pkg) => {
  it('holds only what it needs: dist, src, README', () => {
    const files = packed.get(name)!.files;
    expect(files.filter((f) => !ALLOWED.test(f))).toEqual([]);
    expect(files.filter((f) => /\.test\.[cm]?[jt]s$|\.tsbuildinfo$|(^|\/)(test|bench)\//.test(f))).toEqual([]);
    expect(files).toContain('README.md');
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
  });

  it('has an ESM exports map whose targets are in the tarball', () => {
    const files = new Set(packed.get(name)!.files);
    const j = pkg.json;
    expect(j.type).toBe('module');
    const root = j.exports?.['.'];
    expect(root, 'exports["."]').toBeTypeOf('object');
    for (const cond of ['types', 'import'] as const) {
      expect(root[cond], `exports["."].${cond}`).toBeTypeOf('string');
      expect(files.has(root[cond].replace(/^\.\//, '')), `${root[cond]} in the tarball`).toBe(true);
    }
    expect(j.exports['./package.json']).toBe('./package.json');
  });

  it('declares tfjs-core as a peer and its @brickml dependencies by semver range', () => {
    const j = pkg.json;
    expect(j.peerDependencies?.['@tensorflow/tfjs-core']).toMatch(/^\^4\./);
    expect(j.dependencies?.['@tensorflow/tfjs-core'], 'tfjs-core must not be a regular dependency (one engine per app)').toBeUndefined();
    for (const d of internalDeps(pkg)) {
      const range: string = j.dependencies[d];
      const dep = packages.find((p) => p.name === d)!;
      expect(range, `${d} range`).toBe(`^${dep.version}`);
    }
  });
});

describe.each(TECHNIQUES.map((t) => [t] as const))('%s installed alone', (name) => {
  let project: string;

  beforeAll(async () => {
    const pkgs = closure(name);
    project = join(work, name.replace('@brickml/', 'alone-'));
    await sh('mkdir', ['-p', project], work);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'brickml-install-test', private: true, type: 'module' }, null, 2)}\n`);
    const tarballs = pkgs.map((p) => packed.get(p.name)!.tarball);
    await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs, ...ENGINE], project, 600_000, cleanEnv());
  }, 900_000);

  it('installs only the package and its declared dependencies, from tarballs', () => {
    const installed = readdirSync(join(project, 'node_modules', '@brickml')).map((d) => `@brickml/${d}`).sort();
    expect(installed).toEqual(closure(name).map((p) => p.name).sort());
    for (const d of installed) {
      // A real folder inside the project, not a link back into the workspace.
      expect(realpathSync(join(project, 'node_modules', d)).startsWith(realpathSync(project))).toBe(true);
    }
  });

  it('runs its README snippet with plain node', async () => {
    const pkg = packages.find((p) => p.name === name)!;
    const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8');
    const snippet = readmeSnippet(readme);
    expect(snippet, `${name}'s README has no \`\`\`ts or \`\`\`js snippet`).toBeDefined();
    // A TypeScript snippet is compiled the way a user's build would (types erased), then run as is.
    const js = snippet!.lang === 'ts'
      ? ts.transpileModule(snippet!.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } }).outputText
      : snippet!.code;
    const file = join(project, 'readme-snippet.mjs');
    writeFileSync(file, js);
    const { stdout } = await sh(process.execPath, [file], project, 180_000, cleanEnv());
    writeFileSync(join(project, 'readme-snippet.out.txt'), stdout);
    console.log(`[packaging] ${name} README snippet printed:\n${stdout.trim()}`);
    expect(stdout.trim().length).toBeGreaterThan(0);
  }, 240_000);

  it('names a package that is not installed when it is imported or built', async () => {
    const missing = packages.map((p) => p.name).find((n) => !closure(name).some((p) => p.name === n) && n !== '@brickml/backend-node' && n !== '@brickml/backend-web')!;
    expect(missing).toBeDefined();
    const importer = join(project, 'import-missing.mjs');
    writeFileSync(importer, `await import(${JSON.stringify(missing)});\n`);
    const r = await sh(process.execPath, [importer], project, 60_000, cleanEnv()).then(
      () => ({ ok: true, stderr: '' }),
      (e: Error) => ({ ok: false, stderr: e.message }),
    );
    expect(r.ok).toBe(false);
    expect(r.stderr).toContain(`Cannot find package '${missing}'`);
    // Building a brick whose package is missing says which package to install.
    const type = ({ '@brickml/moe': 'MoE', '@brickml/attention': 'RinNetwork', '@brickml/diffusion': 'GaussianDiffusion' } as Record<string, string>)[missing];
    if (type) {
      const builder = join(project, 'build-missing.mjs');
      writeFileSync(
        builder,
        `import '@tensorflow/tfjs-backend-cpu';\nimport { build } from '@brickml/core';\nimport ${JSON.stringify(name)};\n` +
          `try { build({ type: ${JSON.stringify(type)} }); console.log('built?!'); } catch (e) { console.log(e.message); }\n`,
      );
      const { stdout } = await sh(process.execPath, [builder], project, 60_000, cleanEnv());
      expect(stdout).toContain(`npm install ${missing}`);
    }
  }, 120_000);

  it('does not depend on files left in the workspace', () => {
    // The snippet ran from the project folder; nothing in it resolves outside the project.
    expect(existsSync(join(project, 'node_modules', '@tensorflow', 'tfjs-core'))).toBe(true);
  });
});
