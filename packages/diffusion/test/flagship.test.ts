// The flagship CLI (`npm start`) refuses a bad command line at once: one line naming the flag, exit
// code 2, before any backend is loaded (nothing on stdout). Runs the real entry point through
// scripts/run.mjs in a child process; its bundle goes to a folder of its own.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cache = join(pkgRoot, 'node_modules', '.cache', `brickml-run-test-${process.pid}`);
mkdirSync(cache, { recursive: true });
afterAll(() => rmSync(cache, { recursive: true, force: true }));

function flagship(...args: string[]): { status: number | null; stdout: string; stderr: string; seconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['scripts/run.mjs', 'examples/flagship.ts', ...args], {
    cwd: pkgRoot,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, BRICKML_RUN_CACHE_DIR: cache },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

describe('flagship CLI flags', () => {
  it('a bad flag stops it with one line naming the flag and exit code 2, before any backend loads', () => {
    const file = join(cache, 'a-file');
    writeFileSync(file, 'not a directory');
    const cases: Array<[string[], string]> = [
      [['--minutes', 'abc'], 'flagship: --minutes expected a positive number of minutes, got "abc"'],
      [['--minutes=-1'], 'flagship: --minutes expected a positive number of minutes, got "-1"'],
      [['--steps', 'abc'], 'flagship: --steps expected a positive integer (training steps), got "abc"'],
      [['--out', file], `flagship: --out expected a directory to write into, got ${JSON.stringify(file)}, which is a file`],
      [['--minuts', '3'], 'flagship: unknown flag --minuts (known: --minutes, --steps, --size, --backend, --out, --resume, --fd-n, --per-class, --seed, --help)'],
    ];
    for (const [args, line] of cases) {
      const r = flagship(...args);
      expect(r.stderr.trim(), args.join(' ')).toBe(line);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe(''); // no "backend: ..." line: it stopped first
      expect(r.seconds).toBeLessThan(30);
    }
  });

  it('--help lists the flags and exits with 0', () => {
    const r = flagship('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: flagship \[flags\]/);
    for (const f of ['--minutes', '--steps', '--size', '--backend', '--out', '--resume', '--fd-n', '--per-class', '--seed']) expect(r.stdout).toContain(f);
  });
});
