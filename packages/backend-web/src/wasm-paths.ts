/**
 * Where the wasm backend's binaries come from in a browser.
 *
 * tfjs-backend-wasm fetches one of three `.wasm` files at init; by default it looks next to the
 * page/script, which a bundled app does not have. Here:
 * 1. {@link setWasmPaths} (ours: records the choice and applies it before the backend initialises)
 *    wins — the way for any bundler or a CDN.
 * 2. Otherwise, when the bundler turned the `new URL('@tensorflow/tfjs-backend-wasm/dist/…wasm',
 *    import.meta.url)` expressions below into emitted asset URLs (Vite does, in dev and build), those
 *    URLs are used: no set-up in a Vite app. Vite's dev server pre-bundles an installed package
 *    without rewriting them; there the files are served from its node_modules.
 * 3. Otherwise (no bundler asset handling, e.g. esbuild), tfjs's default: the files next to the page,
 *    as tfjs's README describes.
 */

/** The three binaries tfjs-backend-wasm 4.x may load. */
export const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

/** A prefix (folder URL ending in `/`) or a URL for each of {@link WASM_BINARIES}. */
export type WasmPaths = string | Partial<Record<(typeof WASM_BINARIES)[number], string>>;

let userPaths: { paths: WasmPaths; usePlatformFetch: boolean } | null = null;

/**
 * Tells the wasm backend where its `.wasm` binaries are (a folder URL ending in `/`, or a map with a
 * URL for each of the three files). Call it before `useBackend`; it replaces the bundler/default
 * location. Same arguments as tfjs-backend-wasm's `setWasmPaths`, which it calls when the wasm
 * engine is loaded (so importing this package does not pull the wasm backend into every bundle).
 *
 * @example
 * setWasmPaths('https://cdn.jsdelivr.net/npm/@tensorflow/tfjs-backend-wasm@4.22.0/dist/');
 * await useBackend('wasm');
 */
export function setWasmPaths(prefixOrFileMap: WasmPaths, usePlatformFetch = false): void {
  if (typeof prefixOrFileMap === 'string') {
    if (prefixOrFileMap === '') throw new Error('setWasmPaths: expected a folder URL ending in "/" or a file map, got an empty string');
  } else {
    const missing = WASM_BINARIES.filter((f) => !prefixOrFileMap[f]);
    if (missing.length) {
      throw new Error(`setWasmPaths: a file map must give all three binaries; missing ${missing.join(', ')}`);
    }
  }
  userPaths = { paths: prefixOrFileMap, usePlatformFetch };
}

/** The paths set with {@link setWasmPaths}, if any. */
export function userWasmPaths(): { paths: WasmPaths; usePlatformFetch: boolean } | null {
  return userPaths;
}

/**
 * The binaries' URLs as emitted by the bundler, or null when no bundler rewrote the `new URL`
 * expressions (they then point next to this module, where nothing is served).
 */
export function bundledWasmPaths(): Record<(typeof WASM_BINARIES)[number], string> | null {
  try {
    // Vite's dev server pre-bundles an installed package into node_modules/.vite/deps and resolves
    // the expressions below as if they were relative paths; it serves node_modules itself, so point there.
    const vite = /^(.*?\/node_modules\/)\.vite\/deps\//.exec(import.meta.url);
    if (vite) {
      const dir = `${vite[1]}@tensorflow/tfjs-backend-wasm/dist/`;
      return {
        'tfjs-backend-wasm.wasm': `${dir}tfjs-backend-wasm.wasm`,
        'tfjs-backend-wasm-simd.wasm': `${dir}tfjs-backend-wasm-simd.wasm`,
        'tfjs-backend-wasm-threaded-simd.wasm': `${dir}tfjs-backend-wasm-threaded-simd.wasm`,
      };
    }
    const urls = {
      'tfjs-backend-wasm.wasm': new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', import.meta.url).href,
      'tfjs-backend-wasm-simd.wasm': new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', import.meta.url).href,
      'tfjs-backend-wasm-threaded-simd.wasm': new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm', import.meta.url)
        .href,
    };
    // Built at run time, so no bundler rewrites it: what an untouched expression resolves to.
    const untouched = new URL(['@tensorflow', 'tfjs-backend-wasm', 'dist', 'tfjs-backend-wasm.wasm'].join('/'), import.meta.url).href;
    return urls['tfjs-backend-wasm.wasm'] === untouched ? null : urls;
  } catch {
    // import.meta.url is unavailable (e.g. an IIFE bundle).
    return null;
  }
}
