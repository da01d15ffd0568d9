/**
 * Sets up the tfjs backend for a live example in the browser through @brickml/backend-web.
 *
 * The wasm backend's binaries are served by Vite (`?url` imports give their hashed URLs) and
 * handed to backend-web's `setWasmPaths`, which applies them before the wasm backend initialises.
 */
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

import type { BackendChoice } from './backend-choices.ts';

/** URLs of the three wasm binaries, keyed by the file names tfjs-backend-wasm asks for. */
export const wasmPaths: Record<string, string> = {
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedSimd,
};

/** What the page shows about the engine in use. */
export interface BackendInfo {
  engine: string;
  device?: string;
  /** One line per engine that was not chosen, with why. */
  skipped: string[];
}

let wasmConfigured = false;

/** Points the wasm backend at Vite's URLs for its binaries (once, before it initialises). */
export async function configureWasm(): Promise<void> {
  if (wasmConfigured) return;
  const { setWasmPaths } = await import('@brickml/backend-web');
  setWasmPaths(wasmPaths);
  wasmConfigured = true;
}

/** Picks and activates a backend with @brickml/backend-web; `auto` lets it choose. */
export async function setupBackend(choice: BackendChoice): Promise<BackendInfo> {
  await configureWasm();
  const { useBackend } = await import('@brickml/backend-web');
  const report = await useBackend(choice === 'auto' ? undefined : choice);
  return {
    engine: report.engine,
    device: report.device,
    skipped: report.attempts
      .filter((a) => a.status !== 'chosen' && a.status !== 'not-tried')
      .map((a) => `${a.engine}: ${a.status}${a.reason ? ` (${a.reason})` : ''}`),
  };
}
