/**
 * @brickml/backend-web: picks and sets up the best TensorFlow.js backend in a browser.
 *
 * Order: `webgpu` › `webgl` › `wasm` › `cpu`. Each engine package is an optional peer dependency,
 * loaded with a dynamic `import()` only when tried (bundlers put each in its own chunk); an engine is
 * accepted only after a self-test matmul. The wasm binaries are found without set-up in a Vite app
 * (see {@link setWasmPaths} for other set-ups).
 * @packageDocumentation
 */
import type { BackendProvider } from '@brickml/core';
import { WEB_ENGINES, defaultImporters, webEngineSpecs, type WebEngine, type WebImporters, type WebProbeContext } from './engines.js';
import { parsePreference, selectBackend, type SelectionReport } from '@brickml/core';

export { WEB_ENGINES, WEB_ENGINE_PACKAGES, installCommand, type WebEngine, type WebImporters } from './engines.js';
export { describeAdapter, isFallbackAdapter } from '@brickml/core';
export { BackendUnavailableError, type SelectionReport, type PreferenceSource } from '@brickml/core';
export { setWasmPaths, bundledWasmPaths, WASM_BINARIES, type WasmPaths } from './wasm-paths.js';

/** Options of {@link useBackend}. */
export interface WebBackendOptions {
  /**
   * Accept software devices: a fallback WebGPU adapter (SwiftShader) and a software WebGL renderer
   * (SwiftShader behind ANGLE), both several to 30× slower than wasm. Default: only for an engine
   * asked for explicitly, never in the default order.
   */
  allowFallbackAdapter?: boolean;
  /** Max abs error the self-test matmul may show (default 1e-3; WebGL without float32 textures fails it). */
  selfTestTolerance?: number;
  /**
   * Overrides the engine choice like Node's `BRICKML_BACKEND` (a comma-separated list), e.g. from a
   * URL parameter: `useBackend(undefined, { override: new URLSearchParams(location.search).get('backend') ?? undefined })`.
   */
  override?: string;
  /** How engine packages are loaded (default: dynamic imports of the four tfjs backend packages). */
  importers?: Partial<WebImporters>;
}

/** The report of {@link useBackend}. */
export interface WebBackendReport extends SelectionReport {
  engine: WebEngine;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Picks and activates a tfjs backend in the browser, returning what was chosen and why the others
 * were not.
 *
 * - No argument: `webgpu, webgl, wasm, cpu`; software devices (a fallback WebGPU adapter, a
 *   software WebGL renderer, as on a machine without a GPU) are skipped: wasm is faster there.
 * - `'wasm'`: that engine or an error naming it (and the npm command when it is not installed).
 * - `['webgpu', 'wasm']` or `'webgpu,wasm'`: the first of these that works.
 *
 * @example
 * import { useBackend } from '@brickml/backend-web';
 * const report = await useBackend();
 * console.log(report.engine, report.device, report.attempts);
 */
export function useBackend(preference?: string | readonly string[], options: WebBackendOptions = {}): Promise<WebBackendReport> {
  const run = queue.then(() => useBackendNow(preference, options));
  queue = run.catch(() => undefined);
  return run;
}

async function useBackendNow(preference: string | readonly string[] | undefined, options: WebBackendOptions): Promise<WebBackendReport> {
  const pref = parsePreference('useBackend', WEB_ENGINES, preference, options.override, 'override');
  const ctx: WebProbeContext = {
    importers: { ...defaultImporters, ...options.importers },
    allowSoftware: new Set(
      (options.allowFallbackAdapter ?? pref.source !== 'default') ? (pref.requested as WebEngine[]) : [],
    ),
  };
  const report = await selectBackend({
    fn: 'useBackend',
    engines: webEngineSpecs,
    preference: pref,
    ctx,
    selfTestTolerance: options.selfTestTolerance ?? 1e-3,
  });
  return report as WebBackendReport;
}

/** One-line summary of a report. */
export function formatBackendReport(report: SelectionReport): string {
  const others = report.attempts
    .filter((a) => a.status !== 'chosen')
    .map((a) => `${a.engine} ${a.status}${a.reason ? ` (${a.reason})` : ''}${a.install ? ` [${a.install}]` : ''}`);
  return `${report.engine}${report.device ? ` — ${report.device}` : ''}${others.length ? `; others: ${others.join('; ')}` : ''}`;
}

/** This package as a {@link BackendProvider} (the contract in @brickml/core). */
export const webBackendProvider: BackendProvider = {
  platform: 'web',
  order: WEB_ENGINES,
  useBackend: (preference) => useBackend(preference),
};
