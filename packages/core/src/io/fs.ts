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
  await syncDir(dirname(path));
}

/**
 * Flushes a directory's entries to disk (after a rename or a create in it, so that the change
 * survives a power loss). Not possible everywhere (e.g. Windows), so best effort: never throws.
 */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fs = await nodeFs('syncDir');
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
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

/**
 * Creates `dir` and its parents if missing (no error if it exists). When `dir`, or a folder on the
 * way to it, is a file, the error says so and names the path (`fn` names the caller); the system
 * error's `code` (EEXIST, ENOTDIR) is kept.
 */
export async function ensureDir(dir: string, fn = 'ensureDir'): Promise<void> {
  const fs = await nodeFs(fn);
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw e;
    const why = code === 'EEXIST' ? `'${dir}' is a file, not a directory` : `a part of the path '${dir}' is a file, not a directory`;
    throw Object.assign(new Error(`${fn}: cannot create directory '${dir}': ${why}`, { cause: e }), { code });
  }
}

/** What is at `path`: `'file'`, `'directory'`, `'other'` (a socket, a device…), or `undefined` when nothing is (Node only). */
export async function pathKind(path: string): Promise<'file' | 'directory' | 'other' | undefined> {
  const fs = await nodeFs('pathKind');
  try {
    const st = await fs.stat(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  } catch (e) {
    const code = (e as { code?: unknown })?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}
