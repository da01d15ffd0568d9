/**
 * Checkpoint directories (Node only): `config.json` (the brick config, `module.toConfig()`) plus
 * `model.safetensors` (every parameter and buffer by dotted name). `load` rebuilds the module
 * from the config through the brick registry and loads the weights all-or-nothing.
 */
import { BrickConfigError, CheckpointError } from '../errors.js';
import { Module } from '../module/module.js';
import { build, type BrickConfig, type BrickOptions } from '../module/registry.js';
import { describeValue } from './describe.js';
import { assertNode, ensureDir, joinPath, pathKind, readFileBytes, writeFileAtomic } from './fs.js';
import { decodeSafetensors, type DecodedSafetensors } from './safetensors.js';
import { loadWeights, saveWeights, type LoadWeightsOptions } from './weights.js';

/** File name of a checkpoint's brick config. */
export const CONFIG_FILE = 'config.json';
/** File name of a checkpoint's weights. */
export const WEIGHTS_FILE = 'model.safetensors';

/** Options of {@link save}. */
export interface SaveOptions {
  /** Extra `__metadata__` strings; `format` ("brickml") and `brickml_type` are always set by save. */
  metadata?: Record<string, string>;
}

/** Where {@link save} wrote. */
export interface SavedCheckpoint {
  configPath: string;
  weightsPath: string;
}

/**
 * Saves `module` to directory `dir` (created if missing): `config.json` (pretty JSON of
 * `module.toConfig()`) and `model.safetensors` (metadata `{format: "brickml", brickml_type}` plus
 * `options.metadata`). Each file is written atomically (temp file, fsync, rename), weights first;
 * other files in `dir` are left alone. A wrong argument (a path where the module goes, a `dir`
 * that is an existing file) is reported before anything is written.
 */
export async function save(module: Module, dir: string, options: SaveOptions = {}): Promise<SavedCheckpoint> {
  assertNode('save');
  if (!(module instanceof Module)) {
    throw new TypeError(`save: argument 'module' expected a Module (save(module, dir)), got ${describeValue(module)}`);
  }
  if (typeof dir !== 'string' || dir === '') {
    throw new TypeError(`save: argument 'dir' expected a directory path string, got ${describeValue(dir)}`);
  }
  const kind = await pathKind(dir);
  if (kind !== undefined && kind !== 'directory') {
    throw new CheckpointError(
      `save: '${dir}' is a ${kind === 'file' ? 'file' : 'special file'}, not a directory; save writes a checkpoint directory ` +
        `(${CONFIG_FILE} + ${WEIGHTS_FILE}), so pass the path of a directory (it is created if missing)`,
    );
  }
  const config = module.toConfig(); // throws for a module that is not a registered brick
  const weights = await saveWeights(module, { ...options.metadata, format: 'brickml', brickml_type: config.type });
  const configPath = await joinPath(dir, CONFIG_FILE);
  const weightsPath = await joinPath(dir, WEIGHTS_FILE);
  await ensureDir(dir, 'save');
  await writeFileAtomic(weightsPath, weights);
  await writeFileAtomic(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return { configPath, weightsPath };
}

/** Options of {@link load}. */
export interface LoadOptions extends LoadWeightsOptions, BrickOptions {}

/**
 * Loads a checkpoint saved by {@link save}: reads `config.json`, builds the module with
 * `build(config)` (the brick's package must be imported), then loads `model.safetensors` into
 * it. Fails with a {@link CheckpointError} naming the file when a file is missing, unreadable,
 * malformed, or does not match the model; the partly built module is then disposed.
 */
export async function load<M extends Module = Module>(dir: string, options: LoadOptions = {}): Promise<M> {
  assertNode('load');
  if (typeof dir !== 'string' || dir === '') {
    throw new TypeError(`load: argument 'dir' expected a checkpoint directory path string (load(dir)), got ${describeValue(dir)}`);
  }
  const kind = await pathKind(dir);
  if (kind === undefined) throw new CheckpointError(`load: checkpoint directory '${dir}' does not exist`);
  if (kind !== 'directory') {
    const base = dir.split(/[\\/]/).pop();
    const hint = base === CONFIG_FILE || base === WEIGHTS_FILE ? `; pass the directory that holds it` : '';
    throw new CheckpointError(`load: '${dir}' is a file, not a checkpoint directory (${CONFIG_FILE} + ${WEIGHTS_FILE})${hint}`);
  }
  const configPath = await joinPath(dir, CONFIG_FILE);
  const weightsPath = await joinPath(dir, WEIGHTS_FILE);

  const configBytes = await readOrFail(configPath);
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(configBytes));
  } catch (e) {
    throw new CheckpointError(`load: '${configPath}' is not valid UTF-8 JSON (${(e as Error).message})`, { cause: e });
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config) || typeof (config as BrickConfig).type !== 'string') {
    throw new CheckpointError(`load: '${configPath}' must hold a brick config object with a string "type"`);
  }
  const type = (config as BrickConfig).type;

  let decoded: DecodedSafetensors;
  try {
    decoded = decodeSafetensors(await readOrFail(weightsPath), options);
  } catch (e) {
    if (e instanceof CheckpointError && !e.message.startsWith('load:')) {
      throw new CheckpointError(`load: '${weightsPath}': ${e.message}`, { cause: e });
    }
    throw e;
  }
  const savedType = decoded.metadata.brickml_type;
  if (savedType !== undefined && savedType !== type) {
    throw new CheckpointError(`load: '${configPath}' describes a ${type} but '${weightsPath}' was saved from a ${savedType}`);
  }

  let module: M;
  try {
    module = build<M>(config as BrickConfig, options);
  } catch (e) {
    if (e instanceof BrickConfigError) {
      throw new BrickConfigError(`load: '${configPath}': ${e.message}`, { cause: e });
    }
    throw e;
  }
  try {
    loadWeights(module, decoded, options);
  } catch (e) {
    module.dispose();
    if (e instanceof CheckpointError) throw new CheckpointError(`load: '${weightsPath}': ${e.message}`, { cause: e });
    throw e;
  }
  return module;
}

async function readOrFail(path: string): Promise<Uint8Array> {
  try {
    return await readFileBytes(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'file not found' : (e as Error).message;
    throw new CheckpointError(`load: cannot read '${path}': ${why}`, { cause: e });
  }
}
