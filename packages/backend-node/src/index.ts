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
import { NODE_ENGINES, NODE_OPT_IN_ENGINES, nodeEngineSpecs, nodeOptInEngineSpecs, type NodeEngine, type NodeProbeContext } from './engines.js';
import type { OrtEngineOptions } from './ort/runtime.js';
import { setOrtRuntime } from './ort/kernels.js';
import { availableParallelism } from 'node:os';
import { parsePreference, selectBackend, type SelectionReport } from '@brickml/core';
import { preProbeDawn } from './dawn-probe.js';

export { NODE_ENGINES, NODE_OPT_IN_ENGINES, NODE_ENGINE_PACKAGES, installCommand, type NodeEngine } from './engines.js';
export { ORT_TESTED_VERSION, ORT_INSTALL_COMMAND, type OrtEngineOptions } from './ort/runtime.js';
export { ortEngineStatus, type OrtEngineStatus } from './ort/status.js';
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

/** The environment variable that sets the `wasm+ort` engine's intra-op threads when `ort.threads` is not given. */
export const ORT_THREADS_ENV_VAR = 'BRICKML_ORT_THREADS';

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
  /**
   * The `wasm+ort` engine: ORT intra-op `threads` (default `BRICKML_ORT_THREADS`, else the machine's
   * logical cores), `minMacs` (smaller products stay on tfjs-wasm, default 32768), `minElements`
   * (smaller sums and transposes stay on tfjs-wasm, default 16384), `maxSessions` (cached per-shape sessions, default 256).
   */
  ort?: OrtEngineOptions;
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
  const named = [...NODE_ENGINES, ...NODE_OPT_IN_ENGINES];
  let pref = parsePreference('useBackend', named, preference, env[BACKEND_ENV_VAR], BACKEND_ENV_VAR);
  // Opt-in engines are tried only when asked for by name.
  if (pref.source === 'default') pref = { ...pref, requested: [...NODE_ENGINES] };
  const ctx: NodeProbeContext = {
    // Checked (and BRICKML_ORT_THREADS read) only when wasm+ort is asked for.
    ort: pref.requested.includes('wasm+ort') ? ortOptions(options.ort, env) : ortOptions(undefined, {}),
    importModule: options.importModule ?? nativeImport,
    allowFallbackAdapter: options.allowFallbackAdapter ?? (pref.source !== 'default' && pref.requested.includes('webgpu')),
    webgpuFlags: options.webgpuFlags ?? [],
    // A custom importer (tests, custom loaders) may not load Dawn from where a child process would.
    preProbeWebGPU: options.importModule ? null : preProbeDawn,
  };
  const report = await selectBackend({
    fn: 'useBackend',
    engines: pref.source === 'default' ? nodeEngineSpecs : [...nodeEngineSpecs, ...nodeOptInEngineSpecs],
    preference: pref,
    ctx,
    selfTestTolerance: options.selfTestTolerance ?? 1e-3,
  });
  // Another engine chosen: tfjs-wasm's kernels stop routing to onnxruntime-node (if wasm+ort was active).
  if (report.engine !== 'wasm+ort') setOrtRuntime(null);
  return report as NodeBackendReport;
}

function ortOptions(o: OrtEngineOptions | undefined, env: Readonly<Record<string, string | undefined>>): Required<OrtEngineOptions> {
  const fromEnv = env[ORT_THREADS_ENV_VAR];
  const threads = o?.threads ?? (fromEnv !== undefined && fromEnv.trim() !== '' ? Number(fromEnv) : availableParallelism());
  const where = o?.threads !== undefined ? 'options.ort.threads' : `${ORT_THREADS_ENV_VAR}=${fromEnv}`;
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`useBackend: ${where} must be a positive integer (ORT intra-op threads), got ${o?.threads ?? fromEnv}`);
  }
  const minMacs = o?.minMacs ?? 32768;
  if (!Number.isFinite(minMacs) || minMacs < 0) throw new Error(`useBackend: options.ort.minMacs must be a number ≥ 0, got ${minMacs}`);
  const minElements = o?.minElements ?? 16384;
  if (!Number.isFinite(minElements) || minElements < 0) throw new Error(`useBackend: options.ort.minElements must be a number ≥ 0, got ${minElements}`);
  const maxSessions = o?.maxSessions ?? 256;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new Error(`useBackend: options.ort.maxSessions must be a positive integer, got ${maxSessions}`);
  return { threads, minMacs, minElements, maxSessions };
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
