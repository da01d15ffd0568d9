/**
 * @brickml/backend-node: picks and sets up the best TensorFlow.js backend in Node.
 *
 * Order: `tensorflow-gpu` (@tensorflow/tfjs-node-gpu, CUDA) › `tensorflow` (@tensorflow/tfjs-node) ›
 * `webgpu` (Dawn from the `webgpu` package + @tensorflow/tfjs-backend-webgpu) › `wasm`
 * (@tensorflow/tfjs-backend-wasm, SIMD) › `cpu`. Every engine is an optional peer dependency, loaded
 * with a dynamic `import()` only when tried; an engine is accepted only after a self-test matmul.
 * @packageDocumentation
 */
import type { BackendProvider } from '@brickml/core';
import { NODE_ENGINES, nodeEngineSpecs, type NodeEngine, type NodeProbeContext } from './engines.js';
import { parsePreference, selectBackend, type SelectionReport } from '@brickml/core';
import { preProbeDawn } from './dawn-probe.js';

export { NODE_ENGINES, NODE_ENGINE_PACKAGES, installCommand, type NodeEngine } from './engines.js';
export { describeAdapter, isFallbackAdapter } from '@brickml/core';
export { BackendUnavailableError, type SelectionReport, type PreferenceSource } from '@brickml/core';
export {
  swiftShaderEnv,
  enableSwiftShader,
  hasSystemVulkanLoader,
  DEFAULT_CHROMIUM_DIR,
  type SwiftShaderOptions,
} from './swiftshader.js';

/** The environment variable that overrides the engine choice (a comma-separated list). */
export const BACKEND_ENV_VAR = 'BRICKML_BACKEND';

/** Options of {@link useBackend}. */
export interface NodeBackendOptions {
  /** Environment to read `BRICKML_BACKEND` from (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Accept a software (fallback) WebGPU adapter such as SwiftShader. Default: only when `webgpu`
   * was asked for explicitly (argument or BRICKML_BACKEND), never in the default order.
   */
  allowFallbackAdapter?: boolean;
  /** Max abs error the self-test matmul may show (default 1e-3). */
  selfTestTolerance?: number;
  /** Options for Dawn's `create()`, e.g. `['enable-dawn-features=allow_unsafe_apis']`. */
  webgpuFlags?: readonly string[];
  /** How optional engine packages are imported (default: dynamic `import()`); for tests and custom loaders. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/** The report of {@link useBackend}: the chosen engine, its device, and why every other engine was not chosen. */
export interface NodeBackendReport extends SelectionReport {
  engine: NodeEngine;
}

const nativeImport = (specifier: string): Promise<unknown> => import(specifier);

let queue: Promise<unknown> = Promise.resolve();

/**
 * Picks and activates a tfjs backend for Node, returning what was chosen and why the others were not.
 *
 * - No argument: the default order `tensorflow-gpu, tensorflow, webgpu, wasm, cpu`. A software
 *   (SwiftShader) WebGPU adapter is skipped here: it is about 100× slower than wasm.
 * - `'wasm'`: that engine or an error (naming the engine and the npm command that installs it); no
 *   silent fallback.
 * - `['webgpu', 'wasm']` or `'webgpu,wasm'`: the first of these that works; an error if none does.
 * - `BRICKML_BACKEND=webgpu,wasm` in the environment overrides the argument.
 *
 * Each engine is accepted only after `tf.setBackend` succeeds and core's self-test matmul matches a
 * float64 host product. Calls are serialised.
 *
 * @example
 * import { useBackend } from '@brickml/backend-node';
 * const report = await useBackend();
 * console.log(report.engine, report.device);
 * for (const a of report.attempts) console.log(a.engine, a.status, a.reason ?? '', a.install ?? '');
 */
export function useBackend(preference?: string | readonly string[], options: NodeBackendOptions = {}): Promise<NodeBackendReport> {
  const run = queue.then(() => useBackendNow(preference, options));
  queue = run.catch(() => undefined);
  return run;
}

async function useBackendNow(preference: string | readonly string[] | undefined, options: NodeBackendOptions): Promise<NodeBackendReport> {
  const env = options.env ?? process.env;
  const pref = parsePreference('useBackend', NODE_ENGINES, preference, env[BACKEND_ENV_VAR], BACKEND_ENV_VAR);
  const ctx: NodeProbeContext = {
    importModule: options.importModule ?? nativeImport,
    allowFallbackAdapter: options.allowFallbackAdapter ?? (pref.source !== 'default' && pref.requested.includes('webgpu')),
    webgpuFlags: options.webgpuFlags ?? [],
    // A custom importer (tests, custom loaders) may not load Dawn from where a child process would.
    preProbeWebGPU: options.importModule ? null : preProbeDawn,
  };
  const report = await selectBackend({
    fn: 'useBackend',
    engines: nodeEngineSpecs,
    preference: pref,
    ctx,
    selfTestTolerance: options.selfTestTolerance ?? 1e-3,
  });
  return report as NodeBackendReport;
}

/** One-line summary of a report, e.g. for logs: `wasm (tfjs-backend-wasm …); skipped: tensorflow-gpu not-installed, …`. */
export function formatBackendReport(report: SelectionReport): string {
  const others = report.attempts
    .filter((a) => a.status !== 'chosen')
    .map((a) => `${a.engine} ${a.status}${a.reason ? ` (${a.reason})` : ''}${a.install ? ` [${a.install}]` : ''}`);
  return `${report.engine}${report.device ? ` — ${report.device}` : ''}${others.length ? `; others: ${others.join('; ')}` : ''}`;
}

/** This package as a {@link BackendProvider} (the contract in @brickml/core). */
export const nodeBackendProvider: BackendProvider = {
  platform: 'node',
  order: NODE_ENGINES,
  useBackend: (preference) => useBackend(preference),
};
