/**
 * Versioning with changesets: `npx changeset status` works in the repository, and in a scratch
 * copy of the workspace's manifests a changeset bumps only the packages it names (plus, for a
 * change that leaves a dependent's semver range, the dependents that must follow), and never the
 * private docs package.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, sh, workspacePackages } from './helpers.js';

let scratch: string;

/** Releases `changeset status` plans for one changeset in the scratch copy. */
async function plan(releases: Record<string, 'patch' | 'minor' | 'major'>): Promise<Record<string, string>> {
  const body = Object.entries(releases).map(([n, t]) => `'${n}': ${t}`).join('\n');
  writeFileSync(join(scratch, '.changeset', 'test-change.md'), `---\n${body}\n---\n\nA change.\n`);
  const out = join(scratch, 'status.json');
  rmSync(out, { force: true });
  await sh(process.execPath, [join(repoRoot, 'node_modules', '@changesets', 'cli', 'bin.js'), 'status', `--output=${out}`], scratch, 60_000);
  const json = JSON.parse(readFileSync(out, 'utf8')) as { releases: { name: string; type: string }[] };
  return Object.fromEntries(json.releases.filter((r) => r.type !== 'none').map((r) => [r.name, r.type]));
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'brickml-changesets-'));
  mkdirSync(join(scratch, '.changeset'));
  cpSync(join(repoRoot, 'package.json'), join(scratch, 'package.json'));
  cpSync(join(repoRoot, '.changeset', 'config.json'), join(scratch, '.changeset', 'config.json'));
  for (const p of workspacePackages()) {
    const rel = p.dir.slice(repoRoot.length + 1);
    mkdirSync(join(scratch, rel), { recursive: true });
    cpSync(join(p.dir, 'package.json'), join(scratch, rel, 'package.json'));
  }
  if (existsSync(join(repoRoot, 'docs', 'package.json'))) {
    mkdirSync(join(scratch, 'docs'));
    cpSync(join(repoRoot, 'docs', 'package.json'), join(scratch, 'docs', 'package.json'));
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(scratch, 'node_modules'));
  await sh('git', ['init', '-q', '-b', 'main'], scratch);
  await sh('git', ['add', '-A'], scratch);
  await sh('git', ['-c', 'user.email=test@example.invalid', '-c', 'user.name=test', 'commit', '-qm', 'scratch'], scratch);
}, 120_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('changesets', () => {
  it('`npx changeset status` works in the repository', async () => {
    const { stdout, stderr } = await sh('npx', ['changeset', 'status'], repoRoot, 120_000);
    expect(`${stdout}${stderr}`).toMatch(/Packages to be bumped|NO packages/);
  }, 180_000);

  it('a patch changeset bumps only the package it names', async () => {
    expect(await plan({ '@brickml/moe': 'patch' })).toEqual({ '@brickml/moe': 'patch' });
    expect(await plan({ '@brickml/core': 'patch' })).toEqual({ '@brickml/core': 'patch' });
  }, 120_000);

  it('a minor changeset of a 0.x package bumps it and only the dependents whose range it leaves; never the private docs', async () => {
    const planned = await plan({ '@brickml/attention': 'minor' });
    expect(planned['@brickml/attention']).toBe('minor');
    // ^0.1.0 does not admit 0.2.0, so diffusion and ssl (which depend on attention) must follow.
    expect(Object.keys(planned).sort()).toEqual(['@brickml/attention', '@brickml/diffusion', '@brickml/ssl']);
  }, 120_000);
});
