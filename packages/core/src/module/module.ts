import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '../errors.js';
import type { BrickConfig } from './registry.js';

/** A trainable parameter: a `tf.Variable` held in a field of a {@link Module}. */
export type Parameter = tf.Variable;

let parameterCounter = 0;

/**
 * Makes a parameter from an initial value (the tensor is adopted and disposed). tfjs variable
 * names are global, so each gets a unique internal name; BrickML always addresses parameters by
 * their module path (`blocks.0.attn.q.weight`), never by this name.
 */
export function parameter(initial: tf.Tensor, trainable = true): Parameter {
  const v = tf.variable(initial, trainable, `brickml/p${parameterCounter++}`);
  initial.dispose();
  return v;
}

/** A non-trainable state tensor of a module (saved in checkpoints, never given to optimizers). */
export function buffer(initial: tf.Tensor): Parameter {
  return parameter(initial, false);
}

type Walked = { path: string; value: Module | tf.Variable };

/**
 * Base class of every model part. Parameters (`tf.Variable`) and submodules are plain fields, and
 * arrays of them are supported; names come from field names as in PyTorch (`blocks.0.attn.q.weight`).
 * Fields whose names start with `_` are private bookkeeping and are not walked.
 *
 * A *brick* is a Module with a registered `type` and a JSON config (see {@link registerBrick}).
 */
export abstract class Module {
  /** Whether the module is in training mode (dropout active, etc.). */
  protected _training = true;
  /** Dotted path of this module below the root it was last walked from ('' for the root). */
  protected _path = '';

  /** The module's registered brick type (e.g. `Linear`), or its class name. */
  get typeName(): string {
    return (this.constructor as { type?: string }).type ?? this.constructor.name;
  }

  /** Path from the root (set whenever a parent walks its tree). */
  get path(): string {
    return this._path;
  }

  get training(): boolean {
    return this._training;
  }

  /** Config of this brick as plain JSON (`{type, ...fields}`); bricks override. */
  toConfig(): BrickConfig {
    throw new Error(
      `${this.typeName}.toConfig: this module is not a registered brick (register it with registerBrick and implement toConfig)`,
    );
  }

  private *walk(prefix: string, seen: Set<unknown>): Generator<Walked> {
    for (const [key, value] of Object.entries(this)) {
      if (key.startsWith('_')) continue;
      yield* walkValue(value, prefix ? `${prefix}.${key}` : key, seen);
    }
  }

  /** Submodules with their dotted paths (depth first, in field order), not including this one. */
  namedModules(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const w of this.walk('', new Set([this]))) {
      if (w.value instanceof Module) {
        w.value._path = w.path;
        out.push([w.path, w.value]);
      }
    }
    return out;
  }

  /** Direct and nested variables (trainable or not) with dotted names; shared ones appear once. */
  namedState(): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const w of this.walk('', new Set([this]))) {
      if (w.value instanceof Module) w.value._path = w.path;
      else out.push([w.path, w.value]);
    }
    return out;
  }

  /** Trainable parameters with PyTorch-style dotted names. */
  namedParameters(): Array<[string, Parameter]> {
    return this.namedState().filter(([, v]) => v.trainable);
  }

  /** Non-trainable state (buffers) with dotted names. */
  namedBuffers(): Array<[string, tf.Variable]> {
    return this.namedState().filter(([, v]) => !v.trainable);
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Number of trainable scalars. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /** Sets training mode on this module and every submodule. */
  train(on = true): this {
    this._training = on;
    for (const [, m] of this.namedModules()) m._training = on;
    return this;
  }

  /** Sets evaluation mode (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** Frees every variable of the module tree. */
  dispose(): void {
    for (const [, v] of this.namedState()) v.dispose();
  }

  /**
   * Checks a tensor's shape at this brick's boundary. `expected` entries may be a number, `null`
   * (any size) or a string naming a size that must match within the call (`'d'`); a leading
   * `'...'` allows any number of leading dimensions. Returns the bound named sizes.
   */
  protected checkShape(
    argument: string,
    x: tf.Tensor,
    expected: Array<number | string | null>,
    bound: Record<string, number> = {},
  ): Record<string, number> {
    const shape = x.shape;
    let exp = expected;
    let offset = 0;
    if (exp[0] === '...') {
      exp = exp.slice(1);
      offset = shape.length - exp.length;
    }
    const fail = (why: string) =>
      new ShapeError(
        `${this.typeName}${this._path ? ` '${this._path}'` : ''}: argument '${argument}' expected shape ` +
          `${formatShape(expected)}, got ${formatShape(shape)}${why ? ` (${why})` : ''}`,
      );
    if (offset < 0 || (expected[0] !== '...' && shape.length !== exp.length)) throw fail('wrong rank');
    for (let i = 0; i < exp.length; i++) {
      const e = exp[i];
      const got = shape[i + offset];
      if (e === null) continue;
      if (typeof e === 'number') {
        if (got !== e) throw fail(`dimension ${i + offset} must be ${e}`);
      } else if (e in bound) {
        if (got !== bound[e]) throw fail(`${e} must be ${bound[e]}`);
      } else bound[e] = got;
    }
    return bound;
  }
}

function* walkValue(value: unknown, path: string, seen: Set<unknown>): Generator<Walked> {
  if (value === null || typeof value !== 'object') return;
  if (value instanceof tf.Variable) {
    if (seen.has(value)) return;
    seen.add(value);
    yield { path, value };
  } else if (value instanceof Module) {
    if (seen.has(value)) return;
    seen.add(value);
    yield { path, value };
    for (const [key, v] of Object.entries(value)) {
      if (key.startsWith('_')) continue;
      yield* walkValue(v, `${path}.${key}`, seen);
    }
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* walkValue(value[i], `${path}.${i}`, seen);
  }
}
