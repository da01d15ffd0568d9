import { activeOrtRuntime, ortDisabledReason } from './kernels.js';

/** Where the `wasm+ort` engine stands: whether products go through ORT now, and its counters. */
export interface OrtEngineStatus {
  /** True while tfjs-wasm's matrix products run in onnxruntime-node. */
  active: boolean;
  /** onnxruntime-node's version, when active. */
  version?: string;
  /** ORT intra-op threads, when active. */
  threads?: number;
  /** Products run through ORT since the engine was selected. */
  runs: number;
  /** Per-shape sessions created (cache misses) and kept now. */
  sessionsCreated: number;
  sessionsCached: number;
  /** Why the engine turned itself off after a failure (it warned once), if it did. */
  disabledReason?: string;
}

/** The `wasm+ort` engine's state (inactive unless `useBackend('wasm+ort')` chose it). */
export function ortEngineStatus(): OrtEngineStatus {
  const rt = activeOrtRuntime();
  const reason = ortDisabledReason();
  if (!rt) return { active: false, runs: 0, sessionsCreated: 0, sessionsCached: 0, ...(reason ? { disabledReason: reason } : {}) };
  return { active: true, version: rt.version, threads: rt.threads, runs: rt.runs, sessionsCreated: rt.created, sessionsCached: rt.cachedSessions };
}
