import { existsSync, mkdirSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * WebGPU without a GPU on Linux: SwiftShader, the software Vulkan driver Debian's `chromium` package
 * ships in /usr/lib/chromium, gives Dawn (the `webgpu` package) a real, if slow, WebGPU adapter.
 *
 * Three things must hold before Dawn loads:
 * - `VK_ICD_FILENAMES` points at SwiftShader's ICD file (`vk_swiftshader_icd.json`);
 * - `XDG_RUNTIME_DIR` names a writable folder;
 * - a Vulkan loader (`libvulkan.so.1`) can be found: the system's (`apt-get install libvulkan1`),
 *   or the copy next to Chromium's SwiftShader, which {@link enableSwiftShader} (and `useBackend`,
 *   when `VK_ICD_FILENAMES` is set) loads into the process when the system has none.
 *
 * SwiftShader runs WebGPU about 100× slower than the wasm backend: a path for tests and CI, which is
 * why `useBackend()` skips a fallback adapter in its default order and uses it only when `webgpu` is
 * asked for explicitly.
 */

/** Where Debian/Ubuntu's chromium package puts SwiftShader. */
export const DEFAULT_CHROMIUM_DIR = '/usr/lib/chromium';

/** Options for {@link swiftShaderEnv} and {@link enableSwiftShader}. */
export interface SwiftShaderOptions {
  /** Folder holding `vk_swiftshader_icd.json` (default /usr/lib/chromium). */
  chromiumDir?: string;
  /** Writable runtime folder (default: `$XDG_RUNTIME_DIR`, else `<tmpdir>/brickml-xdg-<uid>`, created 0700). */
  runtimeDir?: string;
}

let systemLoader: boolean | undefined;
let preloaded: string | null = null;
let dawnLoaded = false;

/** Marks that Dawn is now loaded in this process (set by the webgpu engine). */
export function markDawnLoaded(): void {
  dawnLoaded = true;
}

/**
 * Whether the dynamic linker finds a Vulkan loader (`libvulkan.so.1`) by itself (Linux only).
 * Probed with `process.dlopen`: a found library that is not a Node addon fails with
 * "did not self-register", a missing one with "cannot open shared object file".
 */
export function hasSystemVulkanLoader(): boolean {
  if (process.platform !== 'linux') return false;
  if (systemLoader === undefined) {
    try {
      process.dlopen({ exports: {} } as NodeJS.Module, 'libvulkan.so.1');
      systemLoader = true;
    } catch (e) {
      systemLoader = !/cannot open shared object file|no such file/i.test(String((e as Error)?.message ?? e));
    }
  }
  return systemLoader;
}

/** glibc's RTLD_NODELETE (not in `os.constants.dlopen`): keeps a library loaded after dlclose. */
const RTLD_NODELETE = 0x1000;

/**
 * Loads `<dir>/libvulkan.so.1` into the process (once, never unloaded) so that Dawn's
 * `dlopen("libvulkan.so.1")` finds it by its soname. No-op unless on Linux, without a system
 * loader, with the file present. Returns the path loaded, or null.
 */
export function preloadVulkanLoader(dir: string): string | null {
  if (preloaded) return preloaded;
  if (process.platform !== 'linux' || hasSystemVulkanLoader()) return null;
  const lib = join(dir, 'libvulkan.so.1');
  if (!existsSync(lib)) return null;
  const { RTLD_NOW, RTLD_GLOBAL } = constants.dlopen as { RTLD_NOW: number; RTLD_GLOBAL: number };
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, lib, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
  } catch (e) {
    // Expected: a Vulkan loader is not a Node addon. With RTLD_NODELETE it stays loaded.
    if (!/did not self-register/i.test(String((e as Error)?.message ?? e))) return null;
  }
  preloaded = lib;
  return lib;
}

/**
 * The environment variables that make Dawn use SwiftShader, for a child process or a shell:
 * `VK_ICD_FILENAMES`, `XDG_RUNTIME_DIR` (the folder is created), and `LD_LIBRARY_PATH` (Chromium's
 * folder first) when the system has no Vulkan loader. Null when SwiftShader is not there (not Linux,
 * or Chromium not installed: `apt-get install chromium`).
 *
 * @example
 * // child process
 * spawn('node', ['train.js'], { env: { ...process.env, ...swiftShaderEnv() } });
 * // shell: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp/xdg node train.js
 */
export function swiftShaderEnv(options: SwiftShaderOptions = {}): Record<string, string> | null {
  if (process.platform !== 'linux') return null;
  const dir = options.chromiumDir ?? DEFAULT_CHROMIUM_DIR;
  const icd = join(dir, 'vk_swiftshader_icd.json');
  if (!existsSync(icd)) return null;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  const runtimeDir = options.runtimeDir ?? process.env.XDG_RUNTIME_DIR ?? join(tmpdir(), `brickml-xdg-${uid}`);
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  const env: Record<string, string> = { VK_ICD_FILENAMES: icd, XDG_RUNTIME_DIR: runtimeDir };
  if (!hasSystemVulkanLoader() && existsSync(join(dir, 'libvulkan.so.1'))) {
    env.LD_LIBRARY_PATH = [dir, process.env.LD_LIBRARY_PATH].filter((p) => p).join(':');
  }
  return env;
}

/**
 * Makes this process's Dawn use SwiftShader: sets `VK_ICD_FILENAMES` and `XDG_RUNTIME_DIR` in
 * `process.env` and, where the system has no Vulkan loader, loads Chromium's. Call it before the
 * first `useBackend` that tries `webgpu`; it throws if Dawn is already loaded. Returns the variables
 * set, or null when SwiftShader is not installed.
 *
 * Note: `VK_ICD_FILENAMES` hides every other Vulkan driver, so do not call this on a machine whose
 * GPU you want to use.
 *
 * @example
 * import { enableSwiftShader, useBackend } from '@brickml/backend-node';
 * enableSwiftShader();
 * const report = await useBackend('webgpu'); // report.device: 'google swiftshader … (software fallback adapter)'
 */
export function enableSwiftShader(options: SwiftShaderOptions = {}): Record<string, string> | null {
  if (dawnLoaded) {
    throw new Error(
      'enableSwiftShader: Dawn (the `webgpu` package) is already loaded in this process, so the Vulkan driver can no longer change; ' +
        'call it before the first useBackend() that tries webgpu, or start the process with the variables from swiftShaderEnv()',
    );
  }
  const env = swiftShaderEnv(options);
  if (!env) return null;
  process.env.VK_ICD_FILENAMES = env.VK_ICD_FILENAMES;
  process.env.XDG_RUNTIME_DIR = env.XDG_RUNTIME_DIR;
  preloadVulkanLoader(dirname(env.VK_ICD_FILENAMES));
  return env;
}

/**
 * Called before Dawn loads: when `VK_ICD_FILENAMES` is set (by the user's shell or by
 * {@link enableSwiftShader}) and the system has no Vulkan loader, loads the one beside the ICD file.
 */
export function prepareVulkanFromEnv(): string | null {
  const icd = process.env.VK_ICD_FILENAMES;
  if (process.platform !== 'linux' || !icd) return null;
  return preloadVulkanLoader(dirname(icd.split(':')[0]));
}
