/**
 * Module weights ⇄ safetensors bytes. Names are the module's dotted state names
 * (`blocks.0.attn.q.weight`), so files map one-to-one onto PyTorch `state_dict` names.
 * Loading is all-or-nothing: every problem is found first and reported together, and only a
 * checkpoint that matches the model completely is assigned.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, formatShape } from '../errors.js';
import type { Module } from '../module/module.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  type DecodableDtype,
  type DecodedSafetensors,
  type DecodedTensor,
  type DecodeSafetensorsOptions,
  type EncodableDtype,
  type EncodableTensor,
} from './safetensors.js';

/** Safetensors dtypes that load into a tfjs tensor of each dtype. */
const ACCEPTS: Partial<Record<tf.DataType, readonly DecodableDtype[]>> = {
  float32: ['F32', 'F16', 'BF16', 'F64'],
  int32: ['I32', 'I64', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8'],
  bool: ['BOOL'],
};

/** The tfjs dtype a safetensors dtype decodes to. */
export function tfDtypeOf(dtype: DecodableDtype): 'float32' | 'int32' | 'bool' {
  if (ACCEPTS.float32!.includes(dtype)) return 'float32';
  if (dtype === 'BOOL') return 'bool';
  return 'int32';
}

/** The safetensors dtype a tfjs dtype is saved as (float32 → F32, int32 → I32, bool → BOOL). */
export function safetensorsDtypeOf(dtype: tf.DataType, what = 'tensor'): EncodableDtype {
  switch (dtype) {
    case 'float32':
      return 'F32';
    case 'int32':
      return 'I32';
    case 'bool':
      return 'BOOL';
    default:
      throw new CheckpointError(`${what}: dtype ${dtype} cannot be saved to safetensors (float32, int32 and bool can)`);
  }
}

/**
 * Encodes named tfjs tensors as safetensors bytes (float32 → F32, int32 → I32, bool → BOOL),
 * reading each with `await t.data()`. The tensors are not disposed.
 * @param entries `[name, tensor]` pairs; names must be unique.
 */
export async function encodeTensorMap(
  entries: ReadonlyArray<readonly [string, tf.Tensor]>,
  metadata?: Record<string, string>,
): Promise<Uint8Array> {
  const out: Array<[string, EncodableTensor]> = [];
  for (const [name, t] of entries) {
    const dtype = safetensorsDtypeOf(t.dtype, `encodeTensorMap: tensor '${name}'`);
    const data = (await t.data()) as Float32Array | Int32Array | Uint8Array;
    out.push([name, { dtype, shape: t.shape, data }]);
  }
  return encodeSafetensors(out, metadata);
}

/**
 * Makes a tfjs tensor from one decoded entry (F16/BF16/F64 → float32, integer dtypes → int32,
 * BOOL → bool). The caller owns (and disposes) it.
 */
export function toTfTensor(entry: DecodedTensor): tf.Tensor {
  const dtype = tfDtypeOf(entry.dtype);
  const data = dtype === 'int32' && !(entry.data instanceof Int32Array) ? Int32Array.from(entry.data) : entry.data;
  return tf.tensor(data, entry.shape, dtype);
}

/**
 * Decodes safetensors bytes into tfjs tensors (see {@link toTfTensor}); the caller owns them.
 * Nothing is left allocated if decoding fails.
 */
export function decodeToTensors(bytes: Uint8Array | DecodedSafetensors, options?: DecodeSafetensorsOptions): Map<string, tf.Tensor> {
  const decoded = bytes instanceof Uint8Array ? decodeSafetensors(bytes, options) : bytes;
  const out = new Map<string, tf.Tensor>();
  try {
    for (const [name, entry] of decoded.tensors) out.set(name, toTfTensor(entry));
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Saves every variable of `module.namedState()` (parameters and buffers) as safetensors bytes:
 * float32 as F32, int32 as I32, bool as BOOL.
 * @param metadata optional string→string map stored in the header's `__metadata__`.
 */
export async function saveWeights(module: Module, metadata?: Record<string, string>): Promise<Uint8Array> {
  const out: Array<[string, EncodableTensor]> = [];
  for (const [name, v] of module.namedState()) {
    const dtype = safetensorsDtypeOf(v.dtype, `saveWeights: ${module.typeName} variable '${name}'`);
    out.push([name, { dtype, shape: v.shape, data: (await v.data()) as Float32Array | Int32Array | Uint8Array }]);
  }
  return encodeSafetensors(out, metadata);
}

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions extends DecodeSafetensorsOptions {
  /** Reject tensors in the checkpoint that the model does not have (default true). */
  strict?: boolean;
  /**
   * Allow model variables the checkpoint lacks; they keep their current values (default false,
   * e.g. true to fine-tune with a new head).
   */
  allowMissing?: boolean;
}

/** What {@link loadWeights} did. */
export interface LoadWeightsResult {
  /** Model variables that were assigned. */
  loaded: string[];
  /** Model variables the checkpoint lacked (only non-empty with `allowMissing`). */
  missing: string[];
  /** Checkpoint tensors the model does not have (only non-empty with `strict: false`). */
  unexpected: string[];
  /** The checkpoint's `__metadata__`. */
  metadata: Record<string, string>;
}

/**
 * A validated load, ready to assign (see {@link prepareLoadWeights}): `commit()` assigns (nothing
 * is left to fail but the assignment itself); `abort()` frees what the preparation holds and
 * changes nothing (it does nothing after a commit, so it can sit in a `finally`).
 */
export interface PreparedLoad<R = void> {
  commit(): R;
  abort(): void;
}

/**
 * Loads safetensors weights into `module`'s variables by name. Everything is checked first:
 * every model variable present (unless `allowMissing`), no extra tensors (unless `strict: false`),
 * and each shape and dtype matching (F16/BF16/F64 load into float32 variables, any integer dtype
 * into int32 ones). All problems are reported in one {@link CheckpointError}, and then nothing has
 * been assigned; otherwise all values are assigned.
 *
 * @param source the file's bytes, or an already decoded file.
 */
export function loadWeights(module: Module, source: Uint8Array | DecodedSafetensors, options: LoadWeightsOptions = {}): LoadWeightsResult {
  return prepareLoadWeights(module, source, options).commit();
}

/**
 * The checking half of {@link loadWeights}: validates the checkpoint against `module` (throwing
 * the same {@link CheckpointError}) and makes every new value, but assigns nothing until
 * `commit()`. Lets a caller validate several pieces (weights, optimizer and EMA state) before
 * changing any of them; `abort()` disposes the prepared values.
 */
export function prepareLoadWeights(
  module: Module,
  source: Uint8Array | DecodedSafetensors,
  options: LoadWeightsOptions = {},
): PreparedLoad<LoadWeightsResult> {
  const { strict = true, allowMissing = false } = options;
  const decoded = source instanceof Uint8Array ? decodeSafetensors(source, options) : source;
  const state = module.namedState();
  const modelNames = new Set(state.map(([n]) => n));

  const missing: string[] = [];
  const mismatched: string[] = [];
  const plan: Array<[tf.Variable, DecodedTensor]> = [];
  const loaded: string[] = [];
  for (const [name, v] of state) {
    const entry = decoded.tensors.get(name);
    if (!entry) {
      missing.push(name);
      continue;
    }
    const shapeOk = entry.shape.length === v.shape.length && entry.shape.every((d, i) => d === v.shape[i]);
    const dtypeOk = ACCEPTS[v.dtype]?.includes(entry.dtype) ?? false;
    if (!shapeOk || !dtypeOk) {
      mismatched.push(`'${name}': model ${v.dtype} ${formatShape(v.shape)}, checkpoint ${entry.dtype} ${formatShape(entry.shape)}`);
      continue;
    }
    plan.push([v, entry]);
    loaded.push(name);
  }
  const unexpected = [...decoded.tensors.keys()].filter((n) => !modelNames.has(n));

  const problems: string[] = [];
  if (missing.length && !allowMissing) {
    problems.push(`missing from the checkpoint (${missing.length}): ${missing.map((n) => `'${n}'`).join(', ')}`);
  }
  if (unexpected.length && strict) {
    problems.push(`unexpected in the checkpoint (${unexpected.length}): ${unexpected.map((n) => `'${n}'`).join(', ')}`);
  }
  if (mismatched.length) problems.push(`shape/dtype mismatch (${mismatched.length}): ${mismatched.join('; ')}`);
  if (problems.length) {
    const where = module.path ? `${module.typeName} '${module.path}'` : module.typeName;
    throw new CheckpointError(
      `loadWeights: checkpoint does not match ${where}; nothing was loaded:\n  ${problems.join('\n  ')}`,
    );
  }

  // Make every new value first, so a failure here (e.g. out of memory) still leaves the model untouched.
  const values: tf.Tensor[] = [];
  try {
    for (const [, entry] of plan) values.push(toTfTensor(entry));
  } catch (e) {
    for (const t of values) t.dispose();
    throw e;
  }
  let done = false;
  return {
    commit() {
      if (done) throw new Error('prepareLoadWeights: commit() after the load was already committed or aborted');
      done = true;
      plan.forEach(([v], i) => {
        v.assign(values[i]); // the variable takes its own reference to the data
        values[i].dispose();
      });
      return { loaded, missing, unexpected, metadata: decoded.metadata };
    },
    abort() {
      if (done) return;
      done = true;
      for (const t of values) t.dispose();
    },
  };
}
