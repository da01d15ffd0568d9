import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { NODE_ENGINES } from '@brickml/backend-node';
import { BACKEND_ENGINES, FlagError, parseCli, parseFlags, usage, type FlagSpecs } from '../scripts/flags.js';

const specs: FlagSpecs = {
  minutes: { type: 'string', default: '8', help: 'budget' },
  steps: { type: 'string' },
  seed: { type: 'string', default: '0' },
  size: { type: 'string', default: '16' },
  models: { type: 'string', default: 'RIN,unet' },
  backend: { type: 'string' },
  out: { type: 'string', default: 'out' },
  fresh: { type: 'boolean', default: false },
};

/** The FlagError message of `fn`, or '' when it does not throw one. */
function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof FlagError) return e.message;
    throw e;
  }
  return '';
}

describe('flag parsing (scripts/flags.ts)', () => {
  it('reads valid values and defaults', () => {
    const f = parseFlags(specs, ['--minutes', '2.5', '--steps=40', '--fresh', '--size', '32', '--models', 'unet, RIN,unet', '--backend', 'webgpu,wasm']);
    expect(f.positiveNumber('minutes', 'minutes')).toBe(2.5);
    expect(f.optionalPositiveInt('steps')).toBe(40);
    expect(f.nonNegativeInt('seed')).toBe(0);
    expect(f.choice('size', [16, 32] as const)).toBe(32);
    expect(f.list('models', ['RIN', 'transformer', 'unet'] as const)).toEqual(['unet', 'RIN']);
    expect(f.backend()).toBe('webgpu,wasm');
    expect(f.boolean('fresh')).toBe(true);
    expect(f.has('minutes')).toBe(true);
    expect(f.has('seed')).toBe(false);
    const d = parseFlags(specs, []);
    expect(d.optionalPositiveInt('steps')).toBeUndefined();
    expect(d.backend()).toBeUndefined();
    expect(d.boolean('fresh')).toBe(false);
    expect(d.outputDir('out')).toBe(resolve('out'));
    expect(parseFlags(specs, ['--seed', '1e3']).nonNegativeInt('seed')).toBe(1000);
  });

  it('bad numbers name the flag and quote the value', () => {
    const m = (argv: string[], get: (f: ReturnType<typeof parseFlags>) => unknown) => message(() => get(parseFlags(specs, argv)));
    expect(m(['--minutes', 'abc'], (f) => f.positiveNumber('minutes', 'minutes'))).toBe('--minutes expected a positive number of minutes, got "abc"');
    expect(m(['--minutes=-1'], (f) => f.positiveNumber('minutes', 'minutes'))).toBe('--minutes expected a positive number of minutes, got "-1"');
    // "--minutes -1" is read as --minutes=-1, so the number check (not parseArgs) answers
    expect(m(['--minutes', '-1'], (f) => f.positiveNumber('minutes', 'minutes'))).toBe('--minutes expected a positive number of minutes, got "-1"');
    for (const bad of ['0', '', ' ', 'Infinity', 'NaN', '0x10', '1,5', '2 min']) {
      expect(m(['--minutes', bad], (f) => f.positiveNumber('minutes', 'minutes'))).toMatch(/^--minutes expected a positive number of minutes, got "/);
    }
    expect(m(['--steps', 'abc'], (f) => f.optionalPositiveInt('steps'))).toBe('--steps expected a positive integer, got "abc"');
    expect(m(['--steps', '2.5'], (f) => f.optionalPositiveInt('steps'))).toBe('--steps expected a positive integer, got "2.5"');
    expect(m(['--steps', '0'], (f) => f.optionalPositiveInt('steps'))).toBe('--steps expected a positive integer, got "0"');
    expect(m(['--steps', '10'], (f) => f.optionalPositiveInt('steps', 'samples', 64))).toBe('--steps expected an integer ≥ 64 (samples), got "10"');
    expect(m(['--seed', '-3'], (f) => f.nonNegativeInt('seed'))).toBe('--seed expected a non-negative integer, got "-3"');
    expect(m(['--size', '24'], (f) => f.choice('size', [16, 32] as const))).toBe('--size expected one of 16, 32, got "24"');
    expect(m(['--models', 'RIN,gan'], (f) => f.list('models', ['RIN', 'unet'] as const))).toBe('--models expected a comma-separated subset of RIN,unet, got "RIN,gan" (unknown: gan)');
    expect(m(['--models', ','], (f) => f.list('models', ['RIN', 'unet'] as const))).toMatch(/^--models expected a comma-separated subset/);
    expect(m(['--backend', 'gpu'], (f) => f.backend())).toMatch(/^--backend expected one or more of tensorflow-gpu, tensorflow, webgpu, wasm, cpu .*got "gpu"$/);
  });

  it('unknown flags, missing values, values on switches and stray arguments are errors naming the flag', () => {
    expect(message(() => parseFlags(specs, ['--minuts', '3']))).toMatch(/^unknown flag --minuts \(known: --minutes, --steps, .*--help\)$/);
    expect(message(() => parseFlags(specs, ['-m']))).toMatch(/^unknown flag -m /);
    expect(message(() => parseFlags(specs, ['--minutes']))).toBe('--minutes needs a value');
    expect(message(() => parseFlags(specs, ['--minutes', '--fresh']))).toMatch(/^--minutes needs a value/);
    expect(message(() => parseFlags(specs, ['--fresh=yes']))).toBe('--fresh is a switch and takes no value');
    expect(message(() => parseFlags(specs, ['8']))).toBe('unexpected argument "8": this command takes only --flags');
  });

  it('output directories: a file (or a file as a parent) is refused; a missing folder is fine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'brickml-flags-'));
    try {
      const file = join(dir, 'a-file');
      writeFileSync(file, 'x');
      expect(parseFlags(specs, ['--out', join(dir, 'new', 'deeper')]).outputDir('out')).toBe(join(dir, 'new', 'deeper'));
      expect(parseFlags(specs, ['--out', dir]).outputDir('out')).toBe(dir);
      expect(message(() => parseFlags(specs, ['--out', file]).outputDir('out'))).toBe(`--out expected a directory to write into, got ${JSON.stringify(file)}, which is a file`);
      expect(message(() => parseFlags(specs, ['--out', join(file, 'sub')]).outputDir('out'))).toBe(
        `--out expected a directory to write into, got ${JSON.stringify(join(file, 'sub'))}, but ${JSON.stringify(file)} is a file`,
      );
      expect(message(() => parseFlags(specs, ['--steps', file]).inputDir('steps'))).toMatch(/^--steps expected an existing directory, got ".*", which is a file$/);
      expect(message(() => parseFlags(specs, ['--steps', join(dir, 'nope')]).inputDir('steps'))).toMatch(/which does not exist$/);
      expect(message(() => parseFlags(specs, []).inputDir('steps', 'a checkpoint folder'))).toBe('--steps is required (a checkpoint folder)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--backend accepts exactly the engines of @brickml/backend-node', () => {
    expect([...BACKEND_ENGINES]).toEqual([...NODE_ENGINES]);
  });

  describe('parseCli', () => {
    afterEach(() => vi.restoreAllMocks());

    it('prints one line "<prog>: <message>" and exits with 2; --help prints the flags and exits with 0', () => {
      const exit = vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
        throw new Error(`exit ${code}`);
      }) as never);
      const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      expect(() => parseCli('flagship', specs, (f) => f.positiveNumber('minutes', 'minutes'), ['--minutes', 'abc'])).toThrow('exit 2');
      expect(err).toHaveBeenCalledTimes(1);
      expect(err).toHaveBeenCalledWith('flagship: --minutes expected a positive number of minutes, got "abc"');
      expect(() => parseCli('flagship', specs, () => 0, ['--help'])).toThrow('exit 0');
      expect(log.mock.calls[0][0]).toBe(usage('flagship', specs));
      expect(usage('flagship', specs)).toMatch(/--minutes <value> +budget \(default 8\)/);
      expect(exit).toHaveBeenCalledTimes(2);
      expect(parseCli('flagship', specs, (f) => f.positiveNumber('minutes'), ['--minutes', '3'])).toBe(3);
      // other errors are not swallowed
      expect(() => parseCli('flagship', specs, () => {
        throw new TypeError('boom');
      }, [])).toThrow('boom');
    });
  });
});
