/**
 * Node-only file helpers. `node:fs/promises` and `node:path` are imported lazily inside each
 * function, through a computed specifier so that browser bundlers (esbuild, webpack, Vite) do
 * not try to resolve them: importing this module (and the core bundle) stays browser-safe;
 * calling a helper outside Node throws an error naming it.
 */

type FsPromises = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

/**
 * Imports a module at run time through a computed specifier, invisible to bundlers: for Node-only
 * dependencies (`node:fs/promises`, `cli-progress`, `@resvg/resvg-js`) of otherwise browser-safe code.
 */
export function importAtRuntime<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}

/** Imports a Node built-in (`node:<name>`) at run time, invisible to bundlers. */
function importBuiltin<T>(name: string): Promise<T> {
  return importAtRuntime<T>(`node:${name}`);
}

/** Throws a clear error naming `fn` unless running in Node.js. */
export function assertNode(fn: string): void {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) {
    throw new Error(`${fn}: needs Node.js (it uses node:fs); in a browser, encode/decode bytes with saveWeights/loadWeights instead`);
  }
}

async function nodeFs(fn: string): Promise<FsPromises> {
  assertNode(fn);
  return importBuiltin<FsPromises>('fs/promises');
}

/** Joins path segments with Node's `path.join` (Node only). */
export async function joinPath(...parts: string[]): Promise<string> {
  assertNode('joinPath');
  return (await importBuiltin<NodePath>('path')).join(...parts);
}

/** Wraps a system error so its message names the function and path; keeps `code` and `cause`. */
function wrap(fn: string, path: string, e: unknown): Error {
  const err = new Error(`${fn}: cannot write '${path}': ${(e as Error)?.message ?? String(e)}`, { cause: e });
  const code = (e as { code?: unknown })?.code;
  if (code !== undefined) (err as Error & { code?: unknown }).code = code;
  return err;
}

/**
 * Writes `data` to `path` atomically: writes `path.tmp-<pid>-<random>` in the same directory,
 * fsyncs it, then renames it over `path` (and fsyncs the directory where the platform allows).
 * Readers see either the old file or the complete new one; on failure the temp file is removed
 * and the previous file is untouched.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const fs = await nodeFs('writeFileAtomic');
  const { dirname } = await importBuiltin<NodePath>('path');
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  let handle: Awaited<ReturnType<typeof fs.open>> | undefined;
  try {
    handle = await fs.open(tmp, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw wrap('writeFileAtomic', path, e);
  }
  // Make the rename itself durable; not possible everywhere (e.g. Windows), so best effort.
  try {
    const dir = await fs.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    /* directory fsync unsupported */
  }
}

/** Reads a whole file as bytes. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const fs = await nodeFs('readFileBytes');
  const buf = await fs.readFile(path);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Creates `dir` and its parents if missing (no error if it exists). */
export async function ensureDir(dir: string): Promise<void> {
  const fs = await nodeFs('ensureDir');
  await fs.mkdir(dir, { recursive: true });
}
