import * as tf from '@tensorflow/tfjs-core';
import { cpus } from 'node:os';
import { describeAdapter, isFallbackAdapter, isModuleNotFound, type EngineSpec, type GpuLike, type ProbeResult } from '@brickml/core';
import { dirname } from 'node:path';
import { hasSystemVulkanLoader, markDawnLoaded, prepareVulkanFromEnv } from './swiftshader.js';
import type { DawnPreProbe } from './dawn-probe.js';
import { installOrtKernels, setOrtRuntime, activeOrtRuntime, ortDisabledReason } from './ort/kernels.js';
import { loadOrtRuntime, OrtUnusableError, ORT_TESTED_VERSION, type OrtEngineOptions } from './ort/runtime.js';

/** Node engines in default preference order. */
export const NODE_ENGINES = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;

/**
 * Engines used only when asked for by name (argument or BRICKML_BACKEND), never in the default
 * order: `wasm+ort` is tfjs-wasm with its matrix products, sums and transposes in onnxruntime-node
 * (multi-threaded MLAS).
 */
export const NODE_OPT_IN_ENGINES = ['wasm+ort'] as const;

/** A BrickML engine name in Node. */
export type NodeEngine = (typeof NODE_ENGINES)[number] | (typeof NODE_OPT_IN_ENGINES)[number];

/** The npm packages each engine needs (all optional peer dependencies of this package). */
export const NODE_ENGINE_PACKAGES: Readonly<Record<NodeEngine, readonly string[]>> = {
  'tensorflow-gpu': ['@tensorflow/tfjs-node-gpu'],
  tensorflow: ['@tensorflow/tfjs-node'],
  webgpu: ['webgpu', '@tensorflow/tfjs-backend-webgpu'],
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  'wasm+ort': ['@tensorflow/tfjs-backend-wasm', 'onnxruntime-node'],
  cpu: ['@tensorflow/tfjs-backend-cpu'],
};

/**
 * The command that installs `packages`, with tfjs packages pinned to the tfjs-core in use and
 * onnxruntime-node pinned to the version this package is tested with, installed with
 * `ONNXRUNTIME_NODE_INSTALL=skip` (its postinstall otherwise downloads GPU libraries; the CPU
 * binary is in the npm tarball).
 */
export function installCommand(packages: readonly string[]): string {
  const pinned = packages.map((p) =>
    p.startsWith('@tensorflow/') ? `${p}@${tf.version_core}` : p === 'onnxruntime-node' ? `${p}@${ORT_TESTED_VERSION}` : p,
  );
  return `${packages.includes('onnxruntime-node') ? 'ONNXRUNTIME_NODE_INSTALL=skip ' : ''}npm install ${pinned.join(' ')}`;
}

/** What the Node engines' probes need. */
export interface NodeProbeContext {
  importModule: (specifier: string) => Promise<unknown>;
  /** Accept a software (fallback) WebGPU adapter such as SwiftShader. */
  allowFallbackAdapter: boolean;
  /** Options passed to Dawn's `create()` (e.g. `enable-dawn-features=...`). */
  webgpuFlags: readonly string[];
  /**
   * Asks Dawn for an adapter out of process first (see dawn-probe.ts), so that a machine without a
   * Vulkan driver gets no Dawn warnings on its stderr; null: ask in-process only.
   */
  preProbeWebGPU?: ((flags: readonly string[], loaderDir: string | null) => Promise<DawnPreProbe | null>) | null;
  /** Options of the `wasm+ort` engine, defaults filled in. */
  ort: Required<OrtEngineOptions>;
}

type Imported = { ok: true; module: Record<string, unknown> } | { ok: false; result: ProbeResult };

/** Imports the packages of `engine` in order; a missing one gives a `not-installed` result. */
async function importEngine(ctx: NodeProbeContext, engine: NodeEngine, spec: string): Promise<Imported> {
  try {
    return { ok: true, module: (await ctx.importModule(spec)) as Record<string, unknown> };
  } catch (e) {
    if (isModuleNotFound(e, spec)) {
      const install = installCommand(NODE_ENGINE_PACKAGES[engine]);
      return { ok: false, result: { ok: false, status: 'not-installed', reason: `${spec} is not installed`, install } };
    }
    return { ok: false, result: { ok: false, status: 'failed-init', reason: `importing ${spec} failed: ${(e as Error)?.message ?? e}` } };
  }
}

function versionOf(module: Record<string, unknown>, key: string): string {
  const v = module.version as Record<string, string> | undefined;
  return v?.[key] ?? '';
}

/** libtensorflow through tfjs-node(-gpu). */
function tensorflowEngine(engine: 'tensorflow-gpu' | 'tensorflow'): EngineSpec<NodeProbeContext> {
  const spec = NODE_ENGINE_PACKAGES[engine][0];
  return {
    name: engine,
    async probe(ctx) {
      const m = await importEngine(ctx, engine, spec);
      if (!m.ok) return m.result;
      if (!tf.findBackendFactory('tensorflow')) {
        return { ok: false, status: 'failed-init', reason: `${spec} loaded but registered no 'tensorflow' backend` };
      }
      const v = versionOf(m.module, engine === 'tensorflow-gpu' ? 'tfjs-node-gpu' : 'tfjs-node') || versionOf(m.module, 'tfjs-node');
      return {
        ok: true,
        tfBackend: 'tensorflow',
        device: `libtensorflow via ${spec}${v ? ` ${v}` : ''}${engine === 'tensorflow-gpu' ? ' (CUDA)' : ' (CPU, multi-threaded)'}`,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// WebGPU through Dawn.


/** The GPU object already installed as `navigator.gpu`, if any. */
function navigatorGpu(): GpuLike | undefined {
  return (globalThis as unknown as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
}

/** Sets Dawn's globals and `navigator.gpu` (once); returns the GPU object. */
function installNavigatorGpu(dawn: Record<string, unknown>, flags: readonly string[]): GpuLike {
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  const create = dawn.create as (options: string[]) => GpuLike;
  Object.assign(globalThis, dawn.globals as object);
  const gpu = create([...flags]);
  if (g.navigator) {
    // Node ≥ 21 has a global navigator without gpu.
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, enumerable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true, enumerable: true });
  }
  return gpu;
}


function noAdapterReason(): string {
  if (process.platform !== 'linux') return 'Dawn found no WebGPU adapter';
  const icd = process.env.VK_ICD_FILENAMES;
  const loader = hasSystemVulkanLoader() ? '' : ' There is no Vulkan loader on this system (apt-get install libvulkan1).';
  if (!icd) {
    return (
      'Dawn found no WebGPU adapter (no Vulkan driver for a GPU).' +
      loader +
      ' Without a GPU, SwiftShader from Debian\'s chromium package gives a slow software adapter: call enableSwiftShader() before useBackend(\'webgpu\'), or run with the variables from swiftShaderEnv()'
    );
  }
  return `Dawn found no WebGPU adapter with VK_ICD_FILENAMES=${icd} (XDG_RUNTIME_DIR=${process.env.XDG_RUNTIME_DIR ?? 'unset'}); check that the file exists, XDG_RUNTIME_DIR is writable, and that the variables were set before Dawn loaded.${loader}`;
}

/** Registers tfjs's 'webgpu' backend factory when the package was evaluated before navigator.gpu existed. */
function registerWebGPUFactory(module: Record<string, unknown>, gpu: GpuLike): void {
  const WebGPUBackend = module.WebGPUBackend as new (device: unknown, info?: unknown) => tf.KernelBackend;
  tf.registerBackend(
    'webgpu',
    async () => {
      const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new Error('webgpu: no adapter');
      const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
}

const webgpuEngine: EngineSpec<NodeProbeContext> = {
  name: 'webgpu',
  async probe(ctx) {
    const loader = prepareVulkanFromEnv();
    const dawn = await importEngine(ctx, 'webgpu', 'webgpu');
    if (!dawn.ok) return dawn.result;
    markDawnLoaded();
    if (ctx.preProbeWebGPU && !navigatorGpu()) {
      // Without an adapter, Dawn's in-process request would print its Vulkan warnings to stderr.
      const pre = await ctx.preProbeWebGPU(ctx.webgpuFlags, loader ? dirname(loader) : null);
      if (pre && !pre.adapter) {
        return { ok: false, status: 'no-adapter', reason: noAdapterReason() + (pre.messages ? ` (Dawn: ${pre.messages})` : '') };
      }
    }
    const gpu = installNavigatorGpu(dawn.module, ctx.webgpuFlags);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { ok: false, status: 'no-adapter', reason: noAdapterReason() };
    const device = describeAdapter(adapter);
    const fallback = isFallbackAdapter(adapter);
    if (fallback && !ctx.allowFallbackAdapter) {
      return {
        ok: false,
        status: 'no-adapter',
        reason:
          `only a software fallback adapter (${describeAdapter(adapter, false)}); it runs about 100× slower than wasm, so the default order skips it — ` +
          "ask for it with useBackend('webgpu') (or allowFallbackAdapter: true)",
      };
    }
    // tfjs-backend-webgpu registers its backend only if navigator.gpu exists when it is evaluated,
    // so it is imported only now.
    const tfw = await importEngine(ctx, 'webgpu', '@tensorflow/tfjs-backend-webgpu');
    if (!tfw.ok) return tfw.result;
    if (!tf.findBackendFactory('webgpu')) registerWebGPUFactory(tfw.module, gpu);
    return {
      ok: true,
      tfBackend: 'webgpu',
      device,
      ...(fallback
        ? { note: "software fallback adapter, used because webgpu was asked for explicitly; about 100× slower than wasm (a correctness/CI path)" }
        : {}),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// wasm and cpu.

const wasmEngine: EngineSpec<NodeProbeContext> = {
  name: 'wasm',
  async probe(ctx) {
    const m = await importEngine(ctx, 'wasm', '@tensorflow/tfjs-backend-wasm');
    if (!m.ok) return m.result;
    // Plain wasm: products, sums and transposes back on tfjs-wasm's own kernels (if wasm+ort was chosen before).
    setOrtRuntime(null);
    return { ok: true, tfBackend: 'wasm', describe: () => describeWasm(m.module) };
  },
};

async function describeWasm(module: Record<string, unknown>): Promise<string> {
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const getThreads = module.getThreadsCount as (() => number) | undefined;
  const threads = getThreads ? getThreads() : 1;
  return (
    `tfjs-backend-wasm ${tf.version_core} (XNNPACK), ${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}` +
    ' — threads are not available in Node (tfjs-backend-wasm turns them off under Node, tfjs#3830)'
  );
}

/**
 * tfjs-wasm with its matrix products (every `tf.matMul`, core's `matmul`/`linear`), float32 sums
 * and transposes run by onnxruntime-node's MLAS on several threads, synchronously and in place on
 * the wasm heap (ort/kernels.ts). Opt-in: only when asked for by name.
 */
const wasmOrtEngine: EngineSpec<NodeProbeContext> = {
  name: 'wasm+ort',
  async probe(ctx) {
    const w = await importEngine(ctx, 'wasm+ort', '@tensorflow/tfjs-backend-wasm');
    if (!w.ok) return w.result;
    const pub = await importEngine(ctx, 'wasm+ort', 'onnxruntime-node');
    if (!pub.ok) return pub.result;
    const bin = await importEngine(ctx, 'wasm+ort', 'onnxruntime-node/dist/binding.js');
    if (!bin.ok) {
      return { ok: false, status: 'failed-init', reason: `onnxruntime-node is installed but its internal module dist/binding.js is not: ${bin.result.ok ? '' : bin.result.reason}` };
    }
    let rt;
    try {
      rt = loadOrtRuntime(pub.module, bin.module, ctx.ort);
    } catch (e) {
      if (e instanceof OrtUnusableError) {
        return { ok: false, status: 'failed-init', reason: `${e.message}; use the 'wasm' engine, or install the tested version: ${installCommand(['onnxruntime-node'])}` };
      }
      throw e;
    }
    if (!installOrtKernels()) {
      rt.dispose();
      return { ok: false, status: 'failed-init', reason: "tfjs-backend-wasm registered no 'BatchMatMul' kernel to route through onnxruntime-node" };
    }
    setOrtRuntime(rt);
    return {
      ok: true,
      tfBackend: 'wasm',
      describe: async () => {
        const active = activeOrtRuntime();
        const wasm = await describeWasm(w.module);
        if (!active) return `${wasm}; onnxruntime-node turned itself off (${ortDisabledReason() ?? 'unknown reason'}): plain wasm`;
        return (
          `${wasm}; matrix products, sums and transposes in onnxruntime-node ${active.version} (MLAS), ${active.threads} intra-op thread${active.threads === 1 ? '' : 's'}, spinning off` +
          `${active.version === ORT_TESTED_VERSION ? '' : ` (tested with ${ORT_TESTED_VERSION})`}`
        );
      },
    };
  },
};

const cpuEngine: EngineSpec<NodeProbeContext> = {
  name: 'cpu',
  async probe(ctx) {
    const m = await importEngine(ctx, 'cpu', '@tensorflow/tfjs-backend-cpu');
    if (!m.ok) return m.result;
    const c = cpus();
    return {
      ok: true,
      tfBackend: 'cpu',
      device: `tfjs-backend-cpu (plain JavaScript, 1 thread) on ${c[0]?.model?.trim() ?? 'unknown CPU'} (${c.length} logical cores)`,
    };
  },
};

/** The Node engines, in default order. */
export const nodeEngineSpecs: readonly EngineSpec<NodeProbeContext>[] = [
  tensorflowEngine('tensorflow-gpu'),
  tensorflowEngine('tensorflow'),
  webgpuEngine,
  wasmEngine,
  cpuEngine,
];

/** The opt-in Node engines (asked for by name only). */
export const nodeOptInEngineSpecs: readonly EngineSpec<NodeProbeContext>[] = [wasmOrtEngine];
