import * as tf from '@tensorflow/tfjs-core';
import { installWasmFastPaths } from './wasm/fast-paths.js';
import { removeWasmProcessHandlers } from './wasm/process-handlers.js';
import { installWebGPUFastPaths } from './webgpu/fast-paths.js';
import { backendSelfTest, type BackendAttempt, type BackendReport, type BackendStatus } from './backend.js';

export { removeWasmProcessHandlers } from './wasm/process-handlers.js';

/**
 * The selection loop shared by every engine: probe (import the package, find an adapter), then
 * `tf.setBackend`, then the self-test from core; the first engine that passes all three is chosen,
 * and every engine gets a line in the report saying why it was or was not.
 */

/** What an engine's probe found before `tf.setBackend`. */
export type ProbeResult =
  | {
      ok: true;
      /** The tfjs backend name to activate. */
      tfBackend: string;
      /** Adapter/device description known before init. */
      device?: string;
      /** Said in the report next to the chosen engine (e.g. "software fallback adapter"). */
      note?: string;
      /** Device description that needs the backend initialised (e.g. wasm's thread count). */
      describe?: () => Promise<string | undefined>;
    }
  | {
      ok: false;
      status: Exclude<BackendStatus, 'chosen' | 'not-tried' | 'failed-self-test'>;
      reason: string;
      /** For `not-installed`: the install command. */
      install?: string;
    };

/** One engine: its name and how to probe it. */
export interface EngineSpec<Ctx> {
  readonly name: string;
  probe(ctx: Ctx): Promise<ProbeResult>;
}

/** Where the engine preference came from. */
export type PreferenceSource = 'default' | 'argument' | 'env';

/** A {@link BackendReport} plus what was asked for and by whom. */
export interface SelectionReport extends BackendReport {
  /** `default` (the package's order), `argument` (useBackend's argument) or `env` (BRICKML_BACKEND). */
  source: PreferenceSource;
  /** Engines tried, in order. */
  requested: string[];
}

/** Thrown when no requested engine could be set up; `report` says why for each one. */
export class BackendUnavailableError extends Error {
  readonly report: SelectionReport;
  constructor(message: string, report: SelectionReport) {
    super(message);
    this.name = 'BackendUnavailableError';
    this.report = report;
  }
}

/** A parsed preference: which engines to try and whether they were asked for explicitly. */
export interface Preference {
  requested: string[];
  source: PreferenceSource;
  /** The text the preference came from, for messages (`BRICKML_BACKEND=wasm`, `'wasm'`). */
  origin: string;
}

/**
 * Turns `useBackend`'s argument and the override variable into an ordered engine list.
 * The variable wins over the argument; both accept a comma-separated list. Unknown names throw.
 */
export function parsePreference(
  fn: string,
  order: readonly string[],
  preference: string | readonly string[] | undefined,
  envValue: string | undefined,
  envName: string,
): Preference {
  let raw: string[];
  let source: PreferenceSource;
  let origin: string;
  if (envValue !== undefined && envValue.trim() !== '') {
    raw = envValue.split(',');
    source = 'env';
    origin = `${envName}=${envValue}`;
  } else if (preference !== undefined && (typeof preference === 'string' ? preference.trim() !== '' : preference.length > 0)) {
    raw = typeof preference === 'string' ? preference.split(',') : preference.flatMap((p) => p.split(','));
    source = 'argument';
    origin = `${fn}(${JSON.stringify(preference)})`;
  } else {
    return { requested: [...order], source: 'default', origin: 'the default order' };
  }
  const requested: string[] = [];
  for (const name of raw.map((s) => s.trim().toLowerCase()).filter((s) => s !== '')) {
    if (!order.includes(name)) {
      throw new Error(`${fn}: unknown engine '${name}' (from ${origin}); expected one of ${order.join(', ')}`);
    }
    if (!requested.includes(name)) requested.push(name);
  }
  if (requested.length === 0) return { requested: [...order], source: 'default', origin: 'the default order' };
  return { requested, source, origin };
}

function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/**
 * Tries `preference.requested` in order and activates the first engine that probes, initialises
 * and passes the self-test. Engines of `engines` not requested are listed as `not-tried`.
 * Throws {@link BackendUnavailableError} when none works (after restoring the previous backend).
 */
export async function selectBackend<Ctx>(args: {
  fn: string;
  engines: readonly EngineSpec<Ctx>[];
  preference: Preference;
  ctx: Ctx;
  selfTestTolerance: number;
}): Promise<SelectionReport> {
  const { fn, engines, preference, ctx, selfTestTolerance } = args;
  const byName = new Map(engines.map((e) => [e.name, e]));
  const attempts: BackendAttempt[] = [];
  const previous = currentBackendName();
  let chosen: { engine: string; tfBackend: string; device?: string; selfTest: { maxAbsError: number; ms: number } } | null = null;

  for (const name of preference.requested) {
    if (chosen) {
      attempts.push({ engine: name, status: 'not-tried', reason: `'${chosen.engine}' was chosen first` });
      continue;
    }
    const spec = byName.get(name)!;
    let probe: ProbeResult;
    try {
      probe = await spec.probe(ctx);
    } catch (e) {
      probe = { ok: false, status: 'failed-init', reason: message(e) };
    }
    if (!probe.ok) {
      attempts.push({ engine: name, status: probe.status, reason: probe.reason, ...(probe.install ? { install: probe.install } : {}) });
      continue;
    }
    let set = false;
    let setError = '';
    try {
      set = await tf.setBackend(probe.tfBackend);
    } catch (e) {
      setError = message(e);
    }
    // tfjs-backend-wasm's glue rethrows every later uncaught error from a process listener, which
    // prints its whole minified source above the error: drop those listeners (even if init failed).
    if (probe.tfBackend === 'wasm') removeWasmProcessHandlers();
    if (!set) {
      attempts.push({
        engine: name,
        status: 'failed-init',
        reason: setError || `tf.setBackend('${probe.tfBackend}') returned false: the backend's initialisation failed (tfjs logged the cause)`,
      });
      continue;
    }
    if (probe.tfBackend === 'wasm') installWasmFastPaths();
    if (probe.tfBackend === 'webgpu') installWebGPUFastPaths();
    let test: { ok: boolean; maxAbsError: number; ms: number };
    try {
      test = await backendSelfTest(selfTestTolerance);
    } catch (e) {
      attempts.push({ engine: name, status: 'failed-self-test', reason: `the self-test matmul threw: ${message(e)}` });
      continue;
    }
    if (!test.ok) {
      attempts.push({
        engine: name,
        status: 'failed-self-test',
        reason: `a 64×48·48×32 matmul differs from the float64 host result by ${test.maxAbsError} (tolerance ${selfTestTolerance})`,
      });
      continue;
    }
    let device = probe.device;
    if (probe.describe) {
      try {
        device = (await probe.describe()) ?? device;
      } catch {
        // A description is nice to have; the engine works.
      }
    }
    chosen = { engine: name, tfBackend: probe.tfBackend, device, selfTest: { maxAbsError: test.maxAbsError, ms: test.ms } };
    attempts.push({ engine: name, status: 'chosen', ...(probe.note ? { reason: probe.note } : {}) });
  }
  for (const e of engines) {
    if (!preference.requested.includes(e.name)) {
      attempts.push({ engine: e.name, status: 'not-tried', reason: `not requested (${preference.origin})` });
    }
  }

  const base = { source: preference.source, requested: [...preference.requested], attempts };
  if (chosen) {
    return {
      engine: chosen.engine,
      tfBackend: tf.getBackend(),
      ...(chosen.device ? { device: chosen.device } : {}),
      selfTest: chosen.selfTest,
      ...base,
    };
  }
  if (previous && previous !== currentBackendName()) {
    try {
      await tf.setBackend(previous);
    } catch {
      // Nothing better to restore.
    }
  }
  const report: SelectionReport = { engine: '', tfBackend: currentBackendName() ?? '', ...base };
  const tried = attempts.filter((a) => preference.requested.includes(a.engine));
  const lines = tried.map((a) => `  - ${a.engine}: ${a.status}: ${a.reason ?? ''}${a.install ? ` — install it with \`${a.install}\`` : ''}`);
  const head =
    preference.requested.length === 1
      ? `${fn}: engine '${preference.requested[0]}' (asked for by ${preference.origin}) is not available; no fallback is made for an explicit request`
      : preference.source === 'default'
        ? `${fn}: no engine could be set up`
        : `${fn}: none of the engines asked for by ${preference.origin} is available`;
  throw new BackendUnavailableError(`${head}:\n${lines.join('\n')}`, report);
}

/** `tf.getBackend()` without initialising a backend as a side effect. */
function currentBackendName(): string | null {
  const engine = tf.engine() as unknown as { backendName?: string | null };
  return engine.backendName ?? null;
}

/** True when `e` says the module `spec` itself could not be found (not one of its dependencies). */
export function isModuleNotFound(e: unknown, spec: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const msg = message(e);
  if (!msg.includes(spec)) return false;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return true;
  return /cannot find (package|module)|failed to (resolve|load|fetch)|could not resolve/i.test(msg);
}
