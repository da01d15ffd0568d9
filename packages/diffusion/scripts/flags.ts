/**
 * Command-line flags of @brickml/diffusion's scripts and examples, validated up front.
 *
 * Every script declares its flags (as for `node:util` parseArgs) and turns them into typed values
 * inside {@link parseCli}; a bad value, an unknown flag or a stray argument prints one line naming
 * the flag, e.g.
 *
 *   flagship: --minutes expected a positive number of minutes, got "abc"
 *
 * and exits with code 2 — before the script loads a backend or touches a file. `--help` prints the
 * flags with their defaults and exits with 0. This module imports nothing but Node built-ins, so
 * that it can run before anything heavy is loaded.
 *
 * @example
 * const opts = parseCli('flagship', { minutes: { type: 'string', default: '8' } }, (f) => ({
 *   minutes: f.positiveNumber('minutes', 'minutes'),
 * }));
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** One flag: a string (validated by {@link Flags}) or a boolean switch, with an optional default and help text. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  default?: string | boolean;
  /** One line for `--help`. */
  help?: string;
}
export type FlagSpecs = Record<string, FlagSpec>;

/** A bad command line; its message names the flag (without the program name). */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

/** The Node engines `--backend` accepts (as @brickml/backend-node's NODE_ENGINES; a test keeps them equal). */
export const BACKEND_ENGINES = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Typed, validated access to parsed flags. Every getter throws a {@link FlagError} naming the flag. */
export class Flags {
  constructor(
    /** The raw values (defaults applied) as parseArgs returns them. */
    readonly values: Readonly<Record<string, string | boolean | undefined>>,
    readonly specs: FlagSpecs,
    /** The flags given on the command line (not from defaults). */
    readonly given: ReadonlySet<string> = new Set(),
  ) {}

  private raw(name: string): string | undefined {
    if (!(name in this.specs)) throw new Error(`flags: --${name} is not declared`);
    const v = this.values[name];
    if (typeof v === 'boolean') throw new Error(`flags: --${name} is a boolean flag`);
    return v;
  }

  private required(name: string, what: string): string {
    const v = this.raw(name);
    if (v === undefined) throw new FlagError(`--${name} is required (${what})`);
    return v;
  }

  /** Whether the flag was given on the command line. */
  has(name: string): boolean {
    return this.given.has(name);
  }

  /** A string flag as given (or its default). */
  string(name: string): string | undefined {
    return this.raw(name);
  }

  /** A boolean switch. */
  boolean(name: string): boolean {
    if (this.specs[name]?.type !== 'boolean') throw new Error(`flags: --${name} is not a boolean flag`);
    return this.values[name] === true;
  }

  /**
   * A finite number within [min, max] (`integer` for whole numbers). `what` completes "expected …",
   * e.g. 'a positive number of minutes'.
   */
  number(name: string, opts: { what: string; min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean }): number {
    const v = this.required(name, opts.what);
    return checkNumber(name, v, opts);
  }

  /** As {@link number}, or undefined when the flag is not given and has no default. */
  optionalNumber(name: string, opts: { what: string; min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean }): number | undefined {
    const v = this.raw(name);
    return v === undefined ? undefined : checkNumber(name, v, opts);
  }

  /** A number > 0, e.g. `positiveNumber('minutes', 'minutes')` → "expected a positive number of minutes". */
  positiveNumber(name: string, unit?: string): number {
    return this.number(name, { what: `a positive number${unit ? ` of ${unit}` : ''}`, min: 0, exclusiveMin: true });
  }

  optionalPositiveNumber(name: string, unit?: string): number | undefined {
    return this.optionalNumber(name, { what: `a positive number${unit ? ` of ${unit}` : ''}`, min: 0, exclusiveMin: true });
  }

  /** A number ≥ 0. */
  nonNegativeNumber(name: string, unit?: string): number {
    return this.number(name, { what: `a non-negative number${unit ? ` of ${unit}` : ''}`, min: 0 });
  }

  /** A whole number ≥ 1 (or ≥ `min`). */
  positiveInt(name: string, unit?: string, min = 1): number {
    const what = min === 1 ? `a positive integer${unit ? ` (${unit})` : ''}` : `an integer ≥ ${min}${unit ? ` (${unit})` : ''}`;
    return this.number(name, { what, min, integer: true });
  }

  optionalPositiveInt(name: string, unit?: string, min = 1): number | undefined {
    const what = min === 1 ? `a positive integer${unit ? ` (${unit})` : ''}` : `an integer ≥ ${min}${unit ? ` (${unit})` : ''}`;
    return this.optionalNumber(name, { what, min, integer: true });
  }

  /** A whole number ≥ 0. */
  nonNegativeInt(name: string, unit?: string): number {
    return this.number(name, { what: `a non-negative integer${unit ? ` (${unit})` : ''}`, min: 0, integer: true });
  }

  /** One of `choices` (compared as strings; numbers come back as numbers when the choices are numbers). */
  choice<const C extends string | number>(name: string, choices: readonly C[]): C {
    const v = this.required(name, `one of ${choices.join(', ')}`);
    const hit = choices.find((c) => String(c) === v);
    if (hit === undefined) throw new FlagError(`--${name} expected one of ${choices.join(', ')}, got ${JSON.stringify(v)}`);
    return hit;
  }

  /** A comma-separated, non-empty subset of `choices`, in the order given (duplicates dropped). */
  list<const C extends string>(name: string, choices: readonly C[]): C[] {
    const v = this.required(name, `a comma-separated subset of ${choices.join(',')}`);
    const items = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const bad = items.filter((s) => !choices.includes(s as C));
    if (items.length === 0 || bad.length > 0) {
      throw new FlagError(`--${name} expected a comma-separated subset of ${choices.join(',')}, got ${JSON.stringify(v)}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}`);
    }
    return [...new Set(items as C[])];
  }

  /** `--backend`: undefined (the default order) or a comma-separated list of Node engines. */
  backend(name = 'backend'): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim());
    const bad = items.filter((s) => !(BACKEND_ENGINES as readonly string[]).includes(s));
    if (bad.length > 0 || items.length === 0) {
      throw new FlagError(`--${name} expected one or more of ${BACKEND_ENGINES.join(', ')} (comma-separated), got ${JSON.stringify(v)}`);
    }
    return items.join(',');
  }

  /**
   * A directory to write into, resolved against the working directory (`fallback` when the flag is
   * not given): it may not exist yet, but neither it nor any existing parent may be a file.
   */
  outputDir(name: string, fallback?: string): string {
    const v = this.raw(name) ?? fallback;
    if (v === undefined || v === '') throw new FlagError(`--${name} expected a directory to write into${v === '' ? ', got ""' : ' (it is required)'}`);
    const dir = resolve(v);
    for (let p = dir; ; p = dirname(p)) {
      const st = statOrUndefined(p);
      if (st) {
        if (!st.isDirectory()) {
          throw new FlagError(p === dir
            ? `--${name} expected a directory to write into, got ${JSON.stringify(v)}, which is a file`
            : `--${name} expected a directory to write into, got ${JSON.stringify(v)}, but ${JSON.stringify(p)} is a file`);
        }
        return dir;
      }
      if (dirname(p) === p) return dir;
    }
  }

  /** An existing directory to read from (resolved). */
  inputDir(name: string, what = 'an existing directory'): string {
    const v = this.required(name, what);
    const dir = resolve(v);
    const st = statOrUndefined(dir);
    if (!st) throw new FlagError(`--${name} expected ${what}, got ${JSON.stringify(v)}, which does not exist`);
    if (!st.isDirectory()) throw new FlagError(`--${name} expected ${what}, got ${JSON.stringify(v)}, which is a file`);
    return dir;
  }
}

/** stat, or undefined where nothing is there (ENOENT; ENOTDIR: a parent is a file, found by the caller's walk up). */
function statOrUndefined(p: string): ReturnType<typeof statSync> {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

function checkNumber(name: string, v: string, opts: { what: string; min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean }): number {
  const x = DECIMAL.test(v.trim()) ? Number(v) : NaN;
  const ok = Number.isFinite(x)
    && (!opts.integer || Number.isInteger(x))
    && (opts.min === undefined || (opts.exclusiveMin ? x > opts.min : x >= opts.min))
    && (opts.max === undefined || x <= opts.max);
  if (!ok) throw new FlagError(`--${name} expected ${opts.what}, got ${JSON.stringify(v)}`);
  return x;
}

/**
 * Parses `argv` strictly against `specs` (unknown flags and positional arguments are errors) and
 * returns {@link Flags}. `--name -1` is read as `--name=-1` for string flags, so that a negative
 * number reaches the flag's own check. Throws {@link FlagError}; `--help` is not handled here.
 */
export function parseFlags(specs: FlagSpecs, argv: readonly string[] = process.argv.slice(2)): Flags {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const spec = a.startsWith('--') && !a.includes('=') ? specs[a.slice(2)] : undefined;
    if (spec?.type === 'string' && i + 1 < argv.length && NEGATIVE_NUMBER.test(argv[i + 1])) {
      args.push(`${a}=${argv[i + 1]}`);
      i++;
    } else args.push(a);
  }
  const options: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> = {};
  for (const [k, s] of Object.entries(specs)) options[k] = s.default === undefined ? { type: s.type } : { type: s.type, default: s.default };
  let parsed: { values: Record<string, string | boolean | undefined>; tokens?: Array<{ kind: string; name?: string }> };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: false, tokens: true }) as typeof parsed;
  } catch (e) {
    throw new FlagError(describeParseError(e, specs));
  }
  const given = new Set((parsed.tokens ?? []).filter((t) => t.kind === 'option' && t.name).map((t) => t.name!));
  return new Flags(parsed.values, specs, given);
}

function describeParseError(e: unknown, specs: FlagSpecs): string {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  const quoted = /'([^']*)'/.exec(msg)?.[1] ?? '';
  const flag = quoted.split(' ')[0];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag} (known: ${Object.keys(specs).map((k) => `--${k}`).join(', ')}, --help)`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(quoted)}: this command takes only --flags`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(msg)) return `${flag} is a switch and takes no value`;
      if (/ambiguous/.test(msg)) return `${flag} needs a value (write ${flag}=<value> for a value starting with "-")`;
      return `${flag} needs a value`;
    default:
      return msg;
  }
}

/** The `--help` text: one line per flag with its default and help. */
export function usage(prog: string, specs: FlagSpecs): string {
  const lines = Object.entries(specs).map(([k, s]) => {
    const head = s.type === 'boolean' ? `--${k}` : `--${k} <value>`;
    const def = s.default !== undefined && s.type === 'string' ? ` (default ${s.default})` : '';
    return `  ${head.padEnd(26)} ${s.help ?? ''}${def}`.trimEnd();
  });
  return [`usage: ${prog} [flags]`, ...lines, `  ${'--help'.padEnd(26)} this text`].join('\n');
}

/**
 * Parses and validates a script's command line in one go: `build` turns {@link Flags} into the
 * script's options. A {@link FlagError} prints `<prog>: <message>` on stderr and exits with code 2;
 * `--help` prints {@link usage} and exits with 0.
 */
export function parseCli<T>(prog: string, specs: FlagSpecs, build: (f: Flags) => T, argv: readonly string[] = process.argv.slice(2)): T {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage(prog, specs));
    process.exit(0);
  }
  try {
    return build(parseFlags(specs, argv));
  } catch (e) {
    if (e instanceof FlagError) {
      console.error(`${prog}: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}
