/**
 * Fused scaled-dot-product attention as WGSL programs for tfjs's `webgpu` backend (FlashAttention
 * style: Dao et al. 2022, "FlashAttention"; Dao 2023, "FlashAttention-2").
 *
 * Composed from tfjs ops, masked attention is 12 GPU programs forward and 15 backward (counted on
 * webgpu) and materialises the logits and the probabilities [B, H, Tq, Tk]; each program costs a
 * dispatch and host work, and a step is host-bound (docs/design.md, "Engine facts"). Here (q [B, H, Tq, d], k [B, H, Tk, d],
 * v [B, H, Tk, dv], an optional boolean mask broadcastable to [B, H, Tq, Tk], `true` = may attend):
 *
 * - forward, 1 dispatch: a workgroup per (batch·head, block of {@link ROWS} queries), one thread per
 *   query; keys and values stream through workgroup memory in tiles and each thread keeps an online
 *   softmax (running max m, running sum l, unnormalised output), so no [Tq, Tk] tensor exists;
 * - backward, 4 dispatches, probabilities recomputed from a per-row log-sum-exp (FlashAttention-2):
 *   row statistics [B, H, Tq, 2] = (lse, D = Σ dO·O); dq per query (streaming keys);
 *   dk and dv per key (streaming queries). A tfjs program has one output, so dk and dv are two
 *   programs that both recompute p = exp(s − lse).
 *
 * Masking: a key is skipped when the mask is false or, with `causal`, when j > i (PyTorch's
 * `is_causal`: query i sees keys 0…i, top-left aligned when Tq ≠ Tk). Skipped keys get exactly zero
 * weight; a query row with no allowed key gets an all-zero output and zero gradients — the same as
 * the reference path of `scaledDotProductAttention` (@brickml/attention).
 *
 * Limits: f32, head sizes d, dv ≤ {@link FLASH_ATTENTION_MAX_HEAD_DIM} (each thread keeps its rows in
 * registers). Programs follow tfjs-backend-webgpu's `WebGPUProgram` model; this module never imports
 * the backend, it registers kernels under their names (importing core does it).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program.js';

/** Forward kernel: inputs `{q, k, v, mask?}`, attrs {@link FlashAttentionAttrs}; output [B, H, Tq, dv]. */
export const FLASH_ATTENTION_KERNEL = 'BrickFlashAttention';
/** Its gradient: inputs `{dy, q, k, v, o, mask?}` (o = the forward output), same attrs; outputs `[dq, dk, dv]`. */
export const FLASH_ATTENTION_GRAD_KERNEL = 'BrickFlashAttentionGrad';
/** Largest head size (d and dv) the fused kernels take. */
export const FLASH_ATTENTION_MAX_HEAD_DIM = 128;

/** Attributes of {@link FLASH_ATTENTION_KERNEL} and {@link FLASH_ATTENTION_GRAD_KERNEL}. */
export interface FlashAttentionAttrs {
  /** Logit scale (typically 1/√d). */
  scale: number;
  /** Query i may attend key j only when j ≤ i (ANDed with the mask). */
  causal: boolean;
}

/** Threads per workgroup = rows (queries or keys) per workgroup. */
const ROWS = 32;
/** Workgroup memory a program may use (WebGPU's guaranteed minimum is 16 KiB). */
const WORKGROUP_BYTES = 16_384;

/** Rows per streamed tile: the largest of 32, 16, 8 whose tiles of `floatsPerRow` fit workgroup memory. */
function tileRows(floatsPerRow: number): number {
  for (const t of [32, 16, 8]) if (t * floatsPerRow * 4 <= WORKGROUP_BYTES) return t;
  throw new Error(`flash attention: ${floatsPerRow} floats per tile row do not fit ${WORKGROUP_BYTES} bytes of workgroup memory`);
}

/**
 * Why the fused kernels cannot take these inputs, or null when they can. (Shapes are assumed
 * consistent, as `scaledDotProductAttention` checks them; this checks the kernels' own limits.)
 */
export function flashAttentionUnsupported(q: tf.TensorInfo, k: tf.TensorInfo, v: tf.TensorInfo, mask?: tf.TensorInfo | null): string | null {
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) return 'q, k and v must be rank 4';
  if (q.dtype !== 'float32' || k.dtype !== 'float32' || v.dtype !== 'float32') return `dtypes must be float32, got ${q.dtype}/${k.dtype}/${v.dtype}`;
  const d = q.shape[3], dv = v.shape[3];
  if (d < 1 || d > FLASH_ATTENTION_MAX_HEAD_DIM || dv < 1 || dv > FLASH_ATTENTION_MAX_HEAD_DIM) {
    return `head sizes must be in [1, ${FLASH_ATTENTION_MAX_HEAD_DIM}], got d = ${d}, dv = ${dv}`;
  }
  if (mask && (mask.shape.length !== 4 || !['bool', 'int32', 'float32'].includes(mask.dtype))) {
    return `mask must be a rank-4 bool, int32 or float32 tensor, got ${mask.dtype} [${mask.shape}]`;
  }
  return null;
}

/** Compile-time facts a program is specialised on. */
interface Spec {
  d: number;
  dv: number;
  causal: boolean;
  /** dtype of the mask input, or null without one. */
  mask: tf.DataType | null;
}

/** WGSL: `allowed(b, h, i, j)` — may query i of (b, h) attend key j. */
function allowedSnippet({ causal, mask }: Spec): string {
  const zero = mask === 'float32' ? '0.0' : '0';
  return `
  fn allowed(b : i32, h : i32, i : i32, j : i32) -> bool {
    ${causal ? 'if (j > i) { return false; }' : ''}
    ${
      mask
        ? `let ms = uniforms.mShape;
    let idx = select(b, 0, ms.x == 1) * ms.y * ms.z * ms.w + select(h, 0, ms.y == 1) * ms.z * ms.w +
      select(i, 0, ms.z == 1) * ms.w + j;
    return M[idx] != ${zero};`
        : 'return true;'
    }
  }`;
}

/** WGSL: the workgroup's block of rows (also when the backend folded a long dispatch into y and z). */
const BLOCK = `
    let nh = uniforms.qShape.y;
    let bhCount = uniforms.qShape.x * nh;
    let blocks = (nRows + ${ROWS} - 1) / ${ROWS};
    let wg = i32((workgroupId.z * numWorkgroups.y + workgroupId.y) * numWorkgroups.x + workgroupId.x);
    let bh = wg / blocks;
    let r0 = (wg % blocks) * ${ROWS};
    let lid = i32(localId.x);
    let wgValid = bh < bhCount;
    let b = bh / nh;
    let h = bh % nh;`;

/** WGSL: copies rows j0… of `src` [·, width] (row base `base`) into `dst` [tile, width], zero past `n`. */
function loadTile(dst: string, src: string, width: number | string, tile: number, base: string, n: string, scale = ''): string {
  return `
      for (var e = lid; e < ${tile} * ${width}; e = e + ${ROWS}) {
        let jj = j0 + e / ${width};
        ${dst}[e] = select(0.0, ${src}[(${base} + min(jj, ${n} - 1)) * ${width} + e % ${width}]${scale}, jj < ${n});
      }`;
}

abstract class FlashProgram implements WebGPUProgramLike {
  abstract variableNames: string[];
  shaderKey: string;
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ROWS, 1, 1];
  uniforms = 'scale : f32,';

  /** `rows` = the rows the workgroups split (queries or keys) per (batch, head). */
  constructor(name: string, outputShape: number[], rows: number, protected readonly spec: Spec, protected readonly tile: number) {
    this.outputShape = outputShape;
    this.dispatch = [outputShape[0] * outputShape[1] * Math.ceil(rows / ROWS), 1, 1];
    this.shaderKey = `brickFlashAttention_${name}_${spec.d}_${spec.dv}_${tile}_${spec.causal}_${spec.mask}`;
  }

  abstract getUserCode(): string;
}

/** What a per-query program computes. */
type QueryMode = 'forward' | 'stats' | 'dq';

/**
 * One thread per query, keys streamed in tiles:
 * - `forward`: o [B, H, Tq, dv] by online softmax;
 * - `stats`: [B, H, Tq, 2] = (lse of the allowed scaled logits, or 3e38 when none; D = Σ dO · O);
 * - `dq`: dq [B, H, Tq, d] = scale · Σ_j p (dO · v_j − D) k_j with p = exp(s − lse).
 */
class QueryProgram extends FlashProgram {
  variableNames: string[];

  constructor(private readonly mode: QueryMode, shape: { b: number; h: number; tq: number }, spec: Spec) {
    const width = mode === 'forward' ? spec.dv : mode === 'stats' ? 2 : spec.d;
    const tile = tileRows(mode === 'stats' ? spec.d : spec.d + spec.dv);
    super(mode, [shape.b, shape.h, shape.tq, width], shape.tq, spec, tile);
    const names = mode === 'forward' ? ['Q', 'K', 'V'] : mode === 'stats' ? ['Q', 'K', 'DY', 'O'] : ['Q', 'K', 'V', 'DY', 'S'];
    this.variableNames = spec.mask ? [...names, 'M'] : names;
  }

  getUserCode(): string {
    const { d, dv, causal } = this.spec;
    const t = this.tile;
    const withV = this.mode !== 'stats';
    const init = {
      forward: `
    var m = -3.0e38;
    var l = 0.0;
    var acc : array<f32, ${dv}>;`,
      stats: `
    var m = -3.0e38;
    var l = 0.0;`,
      dq: `
    var g : array<f32, ${dv}>;
    var acc : array<f32, ${d}>;
    var lse = 0.0;
    var dd = 0.0;
    if (valid) {
      for (var c = 0; c < ${dv}; c++) { g[c] = DY[row * ${dv} + c]; }
      lse = S[row * 2];
      dd = S[row * 2 + 1];
    }`,
    }[this.mode];
    const perKey = {
      forward: `
          if (s > m) {
            let corr = exp(m - s);
            l = l * corr;
            for (var c = 0; c < ${dv}; c++) { acc[c] = acc[c] * corr; }
            m = s;
          }
          let p = exp(s - m);
          l = l + p;
          for (var c = 0; c < ${dv}; c++) { acc[c] = acc[c] + p * vTile[r * ${dv} + c]; }`,
      stats: `
          if (s > m) {
            l = l * exp(m - s);
            m = s;
          }
          l = l + exp(s - m);`,
      dq: `
          let p = exp(s - lse);
          var dp = 0.0;
          for (var c = 0; c < ${dv}; c++) { dp = dp + g[c] * vTile[r * ${dv} + c]; }
          let ds = p * (dp - dd);
          for (var c = 0; c < ${d}; c++) { acc[c] = acc[c] + ds * kTile[r * ${d} + c]; }`,
    }[this.mode];
    const store = {
      forward: `
      let inv = select(0.0, 1.0 / l, l > 0.0);
      for (var c = 0; c < ${dv}; c++) { result[row * ${dv} + c] = acc[c] * inv; }`,
      stats: `
      var dd = 0.0;
      for (var c = 0; c < ${dv}; c++) { dd = dd + DY[row * ${dv} + c] * O[row * ${dv} + c]; }
      result[row * 2] = select(3.0e38, m + log(l), l > 0.0);
      result[row * 2 + 1] = dd;`,
      dq: `
      for (var c = 0; c < ${d}; c++) { result[row * ${d} + c] = acc[c] * uniforms.scale; }`,
    }[this.mode];
    return `
  var<workgroup> kTile : array<f32, ${t * d}>;
  ${withV ? `var<workgroup> vTile : array<f32, ${t * dv}>;` : ''}
  ${allowedSnippet(this.spec)}

  fn main(globalIndex : i32) {
    let nRows = uniforms.qShape.z;
    let tk = uniforms.kShape.z;
    ${BLOCK}
    let i = r0 + lid;
    let valid = wgValid && i < nRows;
    let row = bh * nRows + i;
    var q : array<f32, ${d}>;
    if (valid) {
      for (var c = 0; c < ${d}; c++) { q[c] = Q[row * ${d} + c] * uniforms.scale; }
    }
    ${init}
    let tiles = (tk + ${t} - 1) / ${t};
    for (var tt = 0; tt < tiles; tt++) {
      let j0 = tt * ${t};
      // With causal masking a tile after the block's last query holds no allowed key.
      let live = wgValid${causal ? ` && j0 <= r0 + ${ROWS} - 1` : ''};
      if (live) {
        ${loadTile('kTile', 'K', d, t, 'bh * tk', 'tk')}
        ${withV ? loadTile('vTile', 'V', dv, t, 'bh * tk', 'tk') : ''}
      }
      workgroupBarrier();
      if (live && valid) {
        let jn = min(${t}, tk - j0);
        for (var r = 0; r < jn; r++) {
          if (!allowed(b, h, i, j0 + r)) { continue; }
          var s = 0.0;
          for (var c = 0; c < ${d}; c++) { s = s + q[c] * kTile[r * ${d} + c]; }
          ${perKey}
        }
      }
      workgroupBarrier();
    }
    if (valid) {
      ${store}
    }
  }
`;
  }
}

/**
 * One thread per key, queries streamed in tiles (with their dO rows and statistics):
 * - `dk`: dk [B, H, Tk, d] = Σ_i p (dO_i · v − D_i) · scale · q_i;
 * - `dv`: dv [B, H, Tk, dv] = Σ_i p dO_i; p = exp(scale · q_i · k − lse_i).
 */
class KeyProgram extends FlashProgram {
  variableNames: string[];

  constructor(private readonly mode: 'dk' | 'dv', shape: { b: number; h: number; tk: number }, spec: Spec) {
    super(mode, [shape.b, shape.h, shape.tk, mode === 'dk' ? spec.d : spec.dv], shape.tk, spec, tileRows(spec.d + spec.dv + 2));
    const names = mode === 'dk' ? ['Q', 'K', 'V', 'DY', 'S'] : ['Q', 'K', 'DY', 'S'];
    this.variableNames = spec.mask ? [...names, 'M'] : names;
  }

  getUserCode(): string {
    const { d, dv, causal } = this.spec;
    const t = this.tile;
    const dk = this.mode === 'dk';
    const width = dk ? d : dv;
    return `
  var<workgroup> qTile : array<f32, ${t * d}>;
  var<workgroup> gTile : array<f32, ${t * dv}>;
  var<workgroup> sTile : array<f32, ${t * 2}>;
  ${allowedSnippet(this.spec)}

  fn main(globalIndex : i32) {
    let nRows = uniforms.kShape.z;
    let tq = uniforms.qShape.z;
    ${BLOCK}
    let j = r0 + lid;
    let valid = wgValid && j < nRows;
    let row = bh * nRows + j;
    var kr : array<f32, ${d}>;
    ${dk ? `var vr : array<f32, ${dv}>;` : ''}
    var acc : array<f32, ${width}>;
    if (valid) {
      for (var c = 0; c < ${d}; c++) { kr[c] = K[row * ${d} + c]; }
      ${dk ? `for (var c = 0; c < ${dv}; c++) { vr[c] = V[row * ${dv} + c]; }` : ''}
    }
    let tiles = (tq + ${t} - 1) / ${t};
    for (var tt = 0; tt < tiles; tt++) {
      let j0 = tt * ${t};
      // With causal masking a query tile before the block's first key attends none of its keys.
      let live = wgValid${causal ? ` && j0 + ${t} - 1 >= r0` : ''};
      if (live) {
        ${loadTile('qTile', 'Q', d, t, 'bh * tq', 'tq', ' * uniforms.scale')}
        ${loadTile('gTile', 'DY', dv, t, 'bh * tq', 'tq')}
        ${loadTile('sTile', 'S', 2, t, 'bh * tq', 'tq')}
      }
      workgroupBarrier();
      if (live && valid) {
        let n = min(${t}, tq - j0);
        for (var r = 0; r < n; r++) {
          if (!allowed(b, h, j0 + r, j)) { continue; }
          var s = 0.0;
          for (var c = 0; c < ${d}; c++) { s = s + qTile[r * ${d} + c] * kr[c]; }
          let p = exp(s - sTile[r * 2]);
          ${
            dk
              ? `var dp = 0.0;
          for (var c = 0; c < ${dv}; c++) { dp = dp + gTile[r * ${dv} + c] * vr[c]; }
          let ds = p * (dp - sTile[r * 2 + 1]);
          for (var c = 0; c < ${d}; c++) { acc[c] = acc[c] + ds * qTile[r * ${d} + c]; }`
              : `for (var c = 0; c < ${dv}; c++) { acc[c] = acc[c] + p * gTile[r * ${dv} + c]; }`
          }
        }
      }
      workgroupBarrier();
    }
    if (valid) {
      for (var c = 0; c < ${width}; c++) { result[row * ${width} + c] = acc[c]; }
    }
  }
`;
  }
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

function specOf(kernel: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined): { spec: Spec; scale: { type: string; data: number[] }[] } {
  const { q, k, v, mask } = inputs as Record<'q' | 'k' | 'v' | 'mask', tf.TensorInfo | undefined>;
  if (!q || !k || !v) throw new Error(`${kernel}: inputs q, k and v are required`);
  const why = flashAttentionUnsupported(q, k, v, mask);
  if (why) throw new Error(`${kernel}: ${why}`);
  const { scale, causal } = attrs as unknown as FlashAttentionAttrs;
  if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new Error(`${kernel}: attribute 'scale' must be a finite number, got ${scale}`);
  return { spec: { d: q.shape[3], dv: v.shape[3], causal: !!causal, mask: mask ? mask.dtype : null }, scale: [{ type: 'float32', data: [scale] }] };
}

/** `BrickFlashAttention` on webgpu. */
function flashAttentionWebGPU({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WebGPUBackendLike;
  const { spec, scale } = specOf(FLASH_ATTENTION_KERNEL, inputs, attrs);
  const { q, k, v, mask } = inputs as Record<'q' | 'k' | 'v' | 'mask', tf.TensorInfo>;
  const [b, h, tq] = q.shape;
  const program = new QueryProgram('forward', { b, h, tq }, spec);
  return be.runWebGPUProgram(program, mask ? [q, k, v, mask] : [q, k, v], 'float32', scale);
}

/** `BrickFlashAttentionGrad` on webgpu: [dq, dk, dv]. */
function flashAttentionGradWebGPU({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as WebGPUBackendLike;
  const { spec, scale } = specOf(FLASH_ATTENTION_GRAD_KERNEL, inputs, attrs);
  const { dy, q, k, v, o, mask } = inputs as Record<'dy' | 'q' | 'k' | 'v' | 'o' | 'mask', tf.TensorInfo>;
  if (!dy || !o) throw new Error(`${FLASH_ATTENTION_GRAD_KERNEL}: inputs dy and o are required`);
  const [b, h, tq] = q.shape;
  const tk = k.shape[2];
  const m = mask ? [mask] : [];
  const stats = be.runWebGPUProgram(new QueryProgram('stats', { b, h, tq }, spec), [q, k, dy, o, ...m], 'float32', scale); // [B, H, Tq, 2]
  const dq = be.runWebGPUProgram(new QueryProgram('dq', { b, h, tq }, spec), [q, k, v, dy, stats, ...m], 'float32', scale);
  const dk = be.runWebGPUProgram(new KeyProgram('dk', { b, h, tk }, spec), [q, k, v, dy, stats, ...m], 'float32', scale);
  const dv = be.runWebGPUProgram(new KeyProgram('dv', { b, h, tk }, spec), [q, k, dy, stats, ...m], 'float32', scale);
  be.disposeData(stats.dataId);
  return [dq, dk, dv];
}

let registered = false;

/** Registers the fused attention kernels for `webgpu` (idempotent; importing core calls it). */
export function registerFlashAttentionWebGPU(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: FLASH_ATTENTION_KERNEL, backendName: 'webgpu', kernelFunc: flashAttentionWebGPU as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: FLASH_ATTENTION_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: flashAttentionGradWebGPU as unknown as tf.KernelFunc });
}

registerFlashAttentionWebGPU();
