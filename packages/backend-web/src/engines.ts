import * as tf from '@tensorflow/tfjs-core';
import { describeAdapter, isFallbackAdapter, isModuleNotFound, type EngineSpec, type GpuLike, type ProbeResult } from '@brickml/core';
import { bundledWasmPaths, userWasmPaths } from './wasm-paths.js';

/** Browser engines in default preference order. */
export const WEB_ENGINES = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;

/** A BrickML engine name in browsers. */
export type WebEngine = (typeof WEB_ENGINES)[number];

/** The npm package of each engine (optional peer dependencies of this package). */
export const WEB_ENGINE_PACKAGES: Readonly<Record<WebEngine, string>> = {
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  webgl: '@tensorflow/tfjs-backend-webgl',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** The command that installs `pkg`, pinned to the tfjs-core version in use. */
export function installCommand(pkg: string): string {
  return `npm install ${pkg}@${tf.version_core}`;
}

/** How each engine's package is loaded. Literal specifiers, so bundlers split each into its own chunk. */
export type WebImporters = Readonly<Record<WebEngine, () => Promise<unknown>>>;

export const defaultImporters: WebImporters = {
  webgpu: () => import('@tensorflow/tfjs-backend-webgpu'),
  webgl: () => import('@tensorflow/tfjs-backend-webgl'),
  wasm: () => import('@tensorflow/tfjs-backend-wasm'),
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
};

/** What the browser engines' probes need. */
export interface WebProbeContext {
  importers: WebImporters;
  /** Engines allowed to run on a software device (a fallback WebGPU adapter, a software WebGL renderer). */
  allowSoftware: ReadonlySet<WebEngine>;
}

type Imported = { ok: true; module: Record<string, unknown> } | { ok: false; result: ProbeResult };

async function importEngine(ctx: WebProbeContext, engine: WebEngine): Promise<Imported> {
  const spec = WEB_ENGINE_PACKAGES[engine];
  try {
    return { ok: true, module: (await ctx.importers[engine]()) as Record<string, unknown> };
  } catch (e) {
    if (isModuleNotFound(e, spec)) {
      return { ok: false, result: { ok: false, status: 'not-installed', reason: `${spec} is not installed`, install: installCommand(spec) } };
    }
    return { ok: false, result: { ok: false, status: 'failed-init', reason: `importing ${spec} failed: ${(e as Error)?.message ?? e}` } };
  }
}

// ---------------------------------------------------------------------------------------------
// WebGPU.



const webgpuEngine: EngineSpec<WebProbeContext> = {
  name: 'webgpu',
  async probe(ctx) {
    const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
    if (!gpu) {
      const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
      return {
        ok: false,
        status: 'no-adapter',
        reason:
          secure === false
            ? 'navigator.gpu is missing: WebGPU needs a secure context (https:// or http://localhost)'
            : 'navigator.gpu is missing: this browser has no WebGPU, or it is turned off',
      };
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      return { ok: false, status: 'no-adapter', reason: 'the browser offers no WebGPU adapter (no usable GPU, or the GPU is blocklisted)' };
    }
    const device = describeAdapter(adapter);
    const fallback = isFallbackAdapter(adapter);
    if (fallback && !ctx.allowSoftware.has('webgpu')) {
      return {
        ok: false,
        status: 'no-adapter',
        reason:
          `only a software fallback adapter (${describeAdapter(adapter, false)}); it runs far slower than wasm, so the default order skips it — ` +
          "ask for it with useBackend('webgpu') (or allowFallbackAdapter: true)",
      };
    }
    // tfjs-backend-webgpu registers its backend only if navigator.gpu exists when it is evaluated.
    const m = await importEngine(ctx, 'webgpu');
    if (!m.ok) return m.result;
    if (!tf.findBackendFactory('webgpu')) {
      return { ok: false, status: 'failed-init', reason: '@tensorflow/tfjs-backend-webgpu loaded but registered no webgpu backend' };
    }
    return {
      ok: true,
      tfBackend: 'webgpu',
      device,
      ...(fallback ? { note: 'software fallback adapter, used because webgpu was asked for explicitly; far slower than wasm' } : {}),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// WebGL.

interface GLLike {
  getExtension(name: string): unknown;
  getParameter(p: number): unknown;
  RENDERER: number;
  VERSION: number;
}

/** The renderer string of a throwaway WebGL context, or null when there is no WebGL. */
function probeWebGL(): { renderer: string; version: string } | null {
  const g = globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string): unknown }; document?: { createElement(tag: string): { getContext(kind: string): unknown } } };
  const canvas = g.OffscreenCanvas ? new g.OffscreenCanvas(1, 1) : g.document?.createElement('canvas');
  if (!canvas) return null;
  let version = 'WebGL 2';
  let gl = canvas.getContext('webgl2') as GLLike | null;
  if (!gl) {
    gl = canvas.getContext('webgl') as GLLike | null;
    version = 'WebGL 1';
  }
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info') as { UNMASKED_RENDERER_WEBGL: number } | null;
  const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? 'unknown renderer');
  (gl.getExtension('WEBGL_lose_context') as { loseContext(): void } | null)?.loseContext();
  return { renderer, version };
}

const webglEngine: EngineSpec<WebProbeContext> = {
  name: 'webgl',
  async probe(ctx) {
    const gl = probeWebGL();
    if (!gl) return { ok: false, status: 'no-adapter', reason: 'no WebGL context (WebGL is turned off, or there is no GPU driver)' };
    const software = /swiftshader|llvmpipe|software/i.test(gl.renderer);
    if (software && !ctx.allowSoftware.has('webgl')) {
      return {
        ok: false,
        status: 'no-adapter',
        reason:
          `only a software WebGL renderer (${gl.renderer}); it runs several times slower than wasm, so the default order skips it — ` +
          "ask for it with useBackend('webgl') (or allowFallbackAdapter: true)",
      };
    }
    const m = await importEngine(ctx, 'webgl');
    if (!m.ok) return m.result;
    return {
      ok: true,
      tfBackend: 'webgl',
      device: `${gl.renderer} (${gl.version}${software ? ', software renderer' : ''})`,
      ...(software ? { note: 'software renderer, used because webgl was asked for explicitly; several times slower than wasm' } : {}),
      describe: async () => {
        const f32 = tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
        return `${gl.renderer} (${gl.version}, ${f32 ? 'float32' : 'float16 only'}${software ? ', software renderer' : ''})`;
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// wasm and cpu.

/** tfjs's "already initialised" state: the wasm backend instance exists. */
function wasmInitialised(): boolean {
  const registry = (tf.engine() as unknown as { registry?: Record<string, unknown> }).registry;
  return registry?.wasm != null;
}

const wasmEngine: EngineSpec<WebProbeContext> = {
  name: 'wasm',
  async probe(ctx) {
    const m = await importEngine(ctx, 'wasm');
    if (!m.ok) return m.result;
    let source = 'next to the page (tfjs default)';
    if (!wasmInitialised()) {
      const setPaths = m.module.setWasmPaths as (p: unknown, usePlatformFetch?: boolean) => void;
      const user = userWasmPaths();
      const bundled = bundledWasmPaths();
      if (user) {
        setPaths(user.paths, user.usePlatformFetch);
        source = 'from setWasmPaths';
      } else if (bundled) {
        setPaths(bundled);
        source = 'bundler asset URLs';
      }
    } else {
      source = 'already initialised';
    }
    return {
      ok: true,
      tfBackend: 'wasm',
      describe: async () => {
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        const getThreads = m.module.getThreadsCount as (() => number) | undefined;
        const threads = getThreads ? getThreads() : 1;
        const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
        return (
          `tfjs-backend-wasm ${tf.version_core} (XNNPACK), ${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}` +
          `${isolated ? '' : ' (threads need a cross-origin isolated page: COOP same-origin + COEP require-corp)'}; binaries ${source}`
        );
      },
    };
  },
};

const cpuEngine: EngineSpec<WebProbeContext> = {
  name: 'cpu',
  async probe(ctx) {
    const m = await importEngine(ctx, 'cpu');
    if (!m.ok) return m.result;
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
    return { ok: true, tfBackend: 'cpu', device: `tfjs-backend-cpu (plain JavaScript, 1 thread)${cores ? `, ${cores} logical cores` : ''}` };
  },
};

/** The browser engines, in default order. */
export const webEngineSpecs: readonly EngineSpec<WebProbeContext>[] = [webgpuEngine, webglEngine, wasmEngine, cpuEngine];
