/**
 * What both backend packages need to know about a WebGPU adapter (Dawn's in Node, the browser's
 * `navigator.gpu`): whether it is a software fallback and how to describe it in a report.
 */

/** The parts of a `GPUAdapter` BrickML reads. */
export interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor?: unknown): Promise<unknown>;
}

/** The parts of a `GPU` (`navigator.gpu`) BrickML uses. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

/** True for a software adapter (SwiftShader, llvmpipe/lavapipe). */
export function isFallbackAdapter(adapter: AdapterLike): boolean {
  const info = adapter.info ?? {};
  if (info.isFallbackAdapter ?? adapter.isFallbackAdapter) return true;
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info.architecture ?? ''} ${info.description ?? ''} ${info.device ?? ''}`);
}

/** "vendor architecture — description" plus " (software fallback adapter)" when `markFallback` and it is one. */
export function describeAdapter(adapter: AdapterLike, markFallback = true): string {
  const info = adapter.info ?? {};
  const head = [info.vendor, info.architecture].filter((s) => s).join(' ') || 'unknown adapter';
  const detail = [info.description, info.device].filter((s) => s).join(', ');
  return `${head}${detail ? ` — ${detail}` : ''}${markFallback && isFallbackAdapter(adapter) ? ' (software fallback adapter)' : ''}`;
}
