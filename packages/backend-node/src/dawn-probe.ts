import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/**
 * A quiet look for a WebGPU adapter before Dawn asks for one in this process.
 *
 * Dawn (the `webgpu` package) writes its warnings straight to the native stderr — "Couldn't load
 * Vulkan: libvulkan.so.1: cannot open shared object file", the Vulkan loader's "Found no
 * drivers!" — when `requestAdapter()` runs on a machine without a usable Vulkan driver. Node cannot
 * redirect its own native stderr, so the first request runs in a short-lived child process whose
 * stderr is captured: without an adapter, this process never asks Dawn and prints nothing, and the
 * report quotes Dawn's message instead.
 */

/** What the child found. */
export interface DawnPreProbe {
  /** Whether Dawn returned an adapter. */
  adapter: boolean;
  /** Dawn's stderr, condensed to one line (stack lines dropped); '' when it printed nothing. */
  messages: string;
}

/** The child: loads Dawn, asks for an adapter as the webgpu engine does, prints `{"adapter":…}`. */
const CHILD = `
const [url, flags] = process.argv.slice(1);
const { create } = await import(url);
const gpu = create(JSON.parse(flags));
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
process.stdout.write('\\n' + JSON.stringify({ adapter: !!adapter }) + '\\n', () => process.exit(0));
`;

const cache = new Map<string, Promise<DawnPreProbe | null>>();

/** Where `import('webgpu')` from this package loads from, or null. */
function resolveDawn(): string | null {
  try {
    const resolve = (import.meta as { resolve?: (specifier: string) => string }).resolve;
    if (typeof resolve === 'function') return resolve('webgpu');
  } catch {
    // fall through
  }
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return null;
  }
}

/** Dawn's stderr as one line: warnings without their `at …` lines, each once. */
export function condenseDawnMessages(stderr: string, max = 400): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^at\s/.test(l))
    .map((l) => l.replace(/^Warning:\s*/, ''));
  const text = [...new Set(lines)].join('; ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Asks Dawn for an adapter in a child process with this process's environment (plus
 * `loaderDir` first on `LD_LIBRARY_PATH`: a Vulkan loader this process preloaded, see
 * swiftshader.ts). Returns null when the child could not answer (then the caller asks in-process).
 * Cached per flags and Vulkan-related environment.
 */
export function preProbeDawn(flags: readonly string[], loaderDir: string | null, timeoutMs = 60_000): Promise<DawnPreProbe | null> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (loaderDir) env.LD_LIBRARY_PATH = [loaderDir, env.LD_LIBRARY_PATH].filter((p) => p).join(':');
  const key = JSON.stringify([
    flags,
    ...['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES', 'LD_LIBRARY_PATH', 'XDG_RUNTIME_DIR'].map((k) => env[k] ?? null),
  ]);
  let pending = cache.get(key);
  if (!pending) {
    pending = run(flags, env, timeoutMs);
    cache.set(key, pending);
  }
  return pending;
}

function run(flags: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<DawnPreProbe | null> {
  const url = resolveDawn();
  if (!url) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', CHILD, url, JSON.stringify(flags)],
      { env, timeout: timeoutMs, maxBuffer: 1 << 20, windowsHide: true },
      (error, stdout, stderr) => {
        const line = String(stdout)
          .split(/\r?\n/)
          .reverse()
          .find((l) => l.startsWith('{"adapter":'));
        if (error || !line) return resolve(null);
        try {
          const { adapter } = JSON.parse(line) as { adapter: boolean };
          resolve({ adapter: adapter === true, messages: condenseDawnMessages(String(stderr)) });
        } catch {
          resolve(null);
        }
      },
    );
  });
}
