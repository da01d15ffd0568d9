import { z } from 'zod';
import { BrickConfigError } from '../errors.js';
import type { Module } from './module.js';
import type { Rng } from '../rng.js';

/** A brick's JSON config: its registered `type` plus its fields. */
export interface BrickConfig {
  type: string;
  [field: string]: unknown;
}

/** Options every brick constructor takes besides its config. */
export interface BrickOptions {
  /** Generator for parameter initialisation (default: the global one, see `manualSeed`). */
  rng?: Rng;
}

/** A brick class: constructible from its config, with a registered type and a zod schema. */
export interface BrickClass<C = any> {
  new (config: C, options?: BrickOptions): Module;
  readonly type: string;
  readonly schema: z.ZodType<any>;
}

const registry = new Map<string, BrickClass>();

/**
 * Bricks provided by BrickML packages other than core, so building one whose package is not
 * imported names the package to install and import.
 */
const knownElsewhere: Record<string, string> = {
  MultiHeadAttention: '@brickml/attention',
  TransformerBlock: '@brickml/attention',
  PerceiverEncoder: '@brickml/attention',
  PerceiverDecoder: '@brickml/attention',
  PerceiverIO: '@brickml/attention',
  RinBlock: '@brickml/attention',
  RinNetwork: '@brickml/attention',
  FourierPositionEncoding: '@brickml/attention',
  SinCosPositionEncoding: '@brickml/attention',
  LearnedPositionEncoding: '@brickml/attention',
  RotaryEmbedding: '@brickml/attention',
  Router: '@brickml/moe',
  ExpertMLP: '@brickml/moe',
  MoE: '@brickml/moe',
  GaussianDiffusion: '@brickml/diffusion',
};

/**
 * Registers a brick class under its `type` (importing a package registers its bricks).
 * Registering the same class twice is a no-op; a different class under a taken type is an error.
 */
export function registerBrick(cls: BrickClass): void {
  const existing = registry.get(cls.type);
  if (existing && existing !== cls) {
    throw new Error(`registerBrick: type '${cls.type}' is already registered by another class (${existing.name})`);
  }
  registry.set(cls.type, cls);
}

/** The registered class for a type, or undefined. */
export function brickClass(type: string): BrickClass | undefined {
  return registry.get(type);
}

/** Registered brick types. */
export function registeredBricks(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Validates `config` against the brick's schema and returns the parsed config with defaults
 * filled. Throws {@link BrickConfigError} naming the brick, the field, what was expected and what
 * came. Bricks call this first in their constructor, so a bad config fails before any tensor.
 */
export function parseConfig<T>(cls: { type: string; schema: z.ZodType<T> }, config: unknown, path = ''): T {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new BrickConfigError(`${cls.type}${path ? ` '${path}'` : ''}: config must be an object, got ${describe(config)}`);
  }
  const { type: _type, ...fields } = config as Record<string, unknown>;
  const result = cls.schema.safeParse(fields);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.join('.') || '(config)';
    const got = issue.path.reduce<any>((v, k) => (v == null ? v : v[k as any]), fields);
    throw new BrickConfigError(
      `${cls.type}${path ? ` '${path}'` : ''}: config field '${field}' ${issue.message.replace(/^Invalid input: /, '')}` +
        ` (got ${describe(got)})`,
    );
  }
  return result.data;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s && s.length > 80 ? `${s.slice(0, 77)}...` : String(s);
  } catch {
    return String(v);
  }
}

function brickClassOrThrow(type: string, path = ''): BrickClass {
  const cls = registry.get(type);
  if (cls) return cls;
  const pkg = knownElsewhere[type];
  const where = path ? ` (at '${path}')` : '';
  throw new BrickConfigError(
    pkg
      ? `build: brick type '${type}'${where} is provided by ${pkg}; install it (npm install ${pkg}) and import it before building`
      : `build: unknown brick type '${type}'${where}; registered types: ${registeredBricks().join(', ')}`,
  );
}

/**
 * Validates a config and every brick config nested in it (fields holding `{type, ...}` objects
 * or arrays of them), so that a bad leaf fails before any sibling allocates a tensor.
 */
export function validateBrickConfig(config: BrickConfig, path = ''): void {
  const cls = brickClassOrThrow(config.type, path);
  parseConfig(cls, config, path);
  for (const [key, value] of Object.entries(config)) {
    const items = Array.isArray(value) ? value.map((v, i) => [`${key}.${i}`, v] as const) : [[key, value] as const];
    for (const [sub, v] of items) {
      if (v && typeof v === 'object' && typeof (v as BrickConfig).type === 'string' && registry.has((v as BrickConfig).type)) {
        validateBrickConfig(v as BrickConfig, path ? `${path}.${sub}` : sub);
      }
    }
  }
}

/**
 * Builds a module from its JSON config (the inverse of `module.toConfig()`). Nested brick
 * configs are built by the bricks themselves through this function.
 */
export function build<M extends Module = Module>(config: BrickConfig, options: BrickOptions = {}): M {
  if (config === null || typeof config !== 'object' || typeof config.type !== 'string') {
    throw new BrickConfigError(`build: config must be an object with a string 'type', got ${describe(config)}`);
  }
  validateBrickConfig(config);
  const cls = brickClassOrThrow(config.type);
  const module = new cls(config, options) as M;
  module.namedModules(); // assign paths for error messages
  return module;
}

/** Schema helpers shared by brick schemas. */
export const schemas = {
  positiveInt: z.number().int().positive(),
  nonNegativeInt: z.number().int().nonnegative(),
  probability: z.number().min(0).max(1),
  positive: z.number().positive(),
  /** A nested brick config. */
  brick: z.object({ type: z.string() }).passthrough(),
};
