// The block-sparse WGSL kernels against the pure-tfjs reference, on real WebGPU: Dawn (the `webgpu`
// package) over SwiftShader's Vulkan driver from Debian's chromium. This file runs in its own
// forked worker (vitest `pool: 'forks'`), so switching this process to WebGPU does not touch the cpu
// tests. Sizes are tiny: SwiftShader is slow. In CI (`process.env.CI`) a missing adapter fails.
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@brickml/core';
import {
  ExpertMLP,
  MoE,
  blockSparseMatmul,
  blockSparseWeightGrad,
  blockTopology,
  denseMoE,
  droplessMoE,
  hasBlockSparseKernel,
  maxPaddedRows,
  routeTopK,
  topologyFromCounts,
  type SparseTopology,
} from '../src/index.js';
import { maxAbs, maxAbsDiff, randn } from './helpers.js';

const CHROMIUM = '/usr/lib/chromium';
/** Uncaptured WebGPU errors (invalid shaders, pipelines, bindings) seen so far. */
const gpuErrors: string[] = [];

/** Sets up SwiftShader for Dawn (before it loads) and switches tfjs to WebGPU. */
async function setUpWebGPU(): Promise<{ ok: boolean; reason: string }> {
  process.env.VK_ICD_FILENAMES ??= join(CHROMIUM, 'vk_swiftshader_icd.json');
  if (!process.env.XDG_RUNTIME_DIR) {
    const dir = join(tmpdir(), `brickml-moe-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = dir;
  }
  // Without a system Vulkan loader, load chromium's copy so Dawn's dlopen("libvulkan.so.1") finds it.
  try {
    const { RTLD_NOW, RTLD_GLOBAL } = constants.dlopen as { RTLD_NOW: number; RTLD_GLOBAL: number };
    process.dlopen(
      { exports: {} } as NodeJS.Module,
      join(CHROMIUM, 'libvulkan.so.1'),
      RTLD_NOW | RTLD_GLOBAL | 0x1000 /* NODELETE */,
    );
  } catch {
    // "did not self-register" is expected (it is not a Node addon); a missing file is reported below.
  }
  try {
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]) };
    const adapter = await (globalThis as any).navigator.gpu.requestAdapter();
    if (!adapter) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned null' };
    await import('@tensorflow/tfjs-backend-webgpu');
    const ok = await tf.setBackend('webgpu');
    // Dawn reports shader and validation errors without throwing: collect them, tests assert none.
    (tf.backend() as unknown as { device: EventTarget }).device.addEventListener(
      'uncapturederror',
      (e) => {
        gpuErrors.push(
          String((e as unknown as { error?: { message?: string } }).error?.message ?? e),
        );
      },
    );
    return { ok, reason: ok ? '' : "tf.setBackend('webgpu') failed" };
  } catch (e) {
    return { ok: false, reason: String((e as Error)?.message ?? e) };
  }
}

const gpu = await setUpWebGPU();
const run = gpu.ok || !!process.env.CI;

/** Host product: row r times W[expert(r)], zero for expert −1. */
async function naive(
  a: tf.Tensor,
  w: tf.Tensor,
  blockExpert: Int32Array,
  bs: number,
  transposeW: boolean,
): Promise<tf.Tensor> {
  const [P, K] = a.shape as [number, number];
  const ad = await a.data();
  const wd = await w.data();
  const N = (transposeW ? w.shape[1] : w.shape[2]) as number;
  const out = new Float32Array(P * N);
  for (let r = 0; r < P; r++) {
    const e = blockExpert[Math.floor(r / bs)];
    if (e < 0) continue;
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++)
        s += ad[r * K + k] * wd[transposeW ? (e * N + n) * K + k : (e * K + k) * N + n];
      out[r * N + n] = s;
    }
  }
  return tf.tensor2d(out, [P, N]);
}

describe.runIf(run)('block-sparse kernels on WebGPU (SwiftShader)', () => {
  beforeAll(() => {
    if (!gpu.ok) throw new Error(`WebGPU is required in CI but unavailable: ${gpu.reason}`);
  });
  afterEach(async () => {
    await new Promise((r) => setTimeout(r, 50)); // let Dawn deliver pending error events
    expect(gpuErrors).toEqual([]);
  });

  it('runs on the webgpu backend with the kernels registered', () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(hasBlockSparseKernel()).toBe(true);
  });

  // Block sizes below, equal to and above the 64-row tile; K and N cross tile edges (16, 64).
  const cases: Array<[number, number[], number, number]> = [
    [4, [5, 0, 9, 2], 20, 70],
    [16, [17, 3, 0], 9, 5],
    [128, [1, 130], 6, 3],
  ];
  for (const [bs, counts, K, N] of cases) {
    for (const transposeW of [false, true]) {
      it(`product and gradients match the reference: b = ${bs}, counts [${counts}], K ${K}, N ${N}${transposeW ? ', Wᵀ' : ''}`, async () => {
        const E = counts.length;
        const copies = counts.reduce((s, c) => s + c, 0);
        const P = maxPaddedRows(copies, E, bs); // device bound: trailing block rows unused
        const host = blockTopology(counts, bs, bs, P);
        const topo = topologyFromCounts(tf.tensor1d(counts), bs, P);
        const refTopo: SparseTopology = { ...topo, host: undefined };
        const a = randn([P, K], 1);
        const w = randn(transposeW ? [E, N, K] : [E, K, N], 2);
        const R = randn([P, N], 3);
        const y = blockSparseMatmul(a, w, topo, { impl: 'kernel', transposeW });
        expect(
          await maxAbsDiff(y, await naive(a, w, host.blockExpert, bs, transposeW)),
        ).toBeLessThan(1e-4);
        const loss = (impl: 'kernel' | 'batched') => (A: tf.Tensor, W: tf.Tensor) =>
          tf.sum(
            tf.mul(
              blockSparseMatmul(A, W, impl === 'kernel' ? topo : refTopo, { impl, transposeW }),
              R,
            ),
          );
        const [ka, kw] = tf.grads(loss('kernel'))([a, w]);
        const [ra, rw] = tf.grads(loss('batched'))([a, w]);
        expect(await maxAbs(rw)).toBeGreaterThan(0.1);
        expect(await maxAbsDiff(ka, ra)).toBeLessThan(1e-4);
        expect(await maxAbsDiff(kw, rw)).toBeLessThan(1e-4);
      });
    }
  }

  it('weight-gradient kernel equals Σ over each expert’s rows of Aᵀ·B (zero for an empty expert)', async () => {
    const counts = [3, 0, 6];
    const bs = 4;
    const P = maxPaddedRows(9, 3, bs);
    const topo = topologyFromCounts(tf.tensor1d(counts), bs, P);
    const a = randn([P, 70], 4);
    const b = randn([P, 20], 5);
    const g = blockSparseWeightGrad(a, b, topo, { impl: 'kernel' });
    const ref = blockSparseWeightGrad(a, b, { ...topo, host: undefined }, { impl: 'batched' });
    expect(g.shape).toEqual([3, 70, 20]);
    expect(await maxAbsDiff(g, ref)).toBeLessThan(1e-4);
    expect(await maxAbs(tf.slice(g, [1, 0, 0], [1, 70, 20]))).toBe(0);
  });

  it('a dropless MoE layer runs the kernel and equals dense in output and gradients', async () => {
    const T = 20;
    const d = 6;
    const ex = new ExpertMLP(
      { numExperts: 4, dim: d, ffnHidden: 8, activation: 'swiglu', initStd: 0.5 },
      { rng: new Rng(1) },
    );
    const x = randn([T, d], 2) as tf.Tensor2D;
    const logits = tf.add(randn([T, 4], 3), tf.tensor1d([0, 0, -20, 0])) as tf.Tensor2D; // expert 2 gets nothing
    const R = randn([T, d], 4);
    const grads = (sparse: boolean) =>
      tf.variableGrads(() => {
        const r = routeTopK(logits, { k: 2 });
        const y = sparse ? droplessMoE(x, r, ex, { blockSize: 4 }).y : denseMoE(x, r, ex).y;
        return tf.sum(tf.mul(y, R)) as tf.Scalar;
      }, ex.parameters());
    const out = droplessMoE(x, routeTopK(logits, { k: 2 }), ex, { blockSize: 4 });
    expect(out.impl).toBe('kernel');
    expect(await maxAbsDiff(out.y, denseMoE(x, routeTopK(logits, { k: 2 }), ex).y)).toBeLessThan(
      1e-4,
    );
    const g1 = grads(true);
    const g2 = grads(false);
    expect(await maxAbsDiff(g1.value, g2.value)).toBeLessThan(1e-4);
    for (const p of ex.parameters())
      expect(await maxAbsDiff(g1.grads[p.name], g2.grads[p.name])).toBeLessThan(1e-4);
  });

  it('the MoE brick trains a step on WebGPU with every kind', async () => {
    const x = randn([16, 8], 5);
    for (const kind of ['dense', 'capacity', 'dropless'] as const) {
      const m = new MoE(
        { kind, dim: 8, ffnHidden: 16, numExperts: 4, topK: 2, blockSize: 8 },
        { rng: new Rng(2) },
      );
      const { value, grads } = tf.variableGrads(() => {
        const o = m.forward(x);
        return tf.add(tf.mean(tf.square(o.y)), o.auxLoss) as tf.Scalar;
      }, m.parameters());
      expect(Number.isFinite((await value.data())[0])).toBe(true);
      expect(Object.keys(grads)).toHaveLength(3);
      m.dispose();
    }
  });
});

if (!run) console.warn(`block-sparse kernels on WebGPU: not run, no WebGPU adapter (${gpu.reason}); set CI=1 to make this a failure`);
