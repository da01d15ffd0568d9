/**
 * Command-line flags of @brickml/ssl's examples, validated up front with `node:util` parseArgs: a
 * bad value or an unknown flag prints one line naming the flag and exits with code 2, before a
 * backend is loaded. `--help` prints the flags with their defaults.
 */
import { parseArgs } from 'node:util';

/** One string flag with its default and help line. */
export interface FlagSpec {
  default?: string;
  help: string;
}

/** Parses `argv` against `specs`; exits on `--help` or a bad flag. Values stay strings; see {@link num}. */
export function parseFlags(program: string, specs: Record<string, FlagSpec>, argv: string[]): Record<string, string | undefined> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string }> = { help: { type: 'boolean' } };
  for (const [k, s] of Object.entries(specs)) options[k] = { type: 'string', ...(s.default !== undefined ? { default: s.default } : {}) };
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    if (values.help) {
      console.log(`usage: ${program} [flags]`);
      for (const [k, s] of Object.entries(specs)) console.log(`  --${k.padEnd(12)} ${s.help}${s.default !== undefined ? ` (default ${s.default})` : ''}`);
      process.exit(0);
    }
    return values as Record<string, string | undefined>;
  } catch (e) {
    console.error(`${program}: ${(e as Error).message}`);
    process.exit(2);
  }
}

/** A numeric flag: exits with a line naming the flag when it is not a number in [min, max] (or not an integer when `int`). */
export function num(program: string, flags: Record<string, string | undefined>, name: string, { min = -Infinity, max = Infinity, int = false } = {}): number {
  const raw = flags[name];
  const v = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    console.error(`${program}: --${name} expected ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return v;
}
