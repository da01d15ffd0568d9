/**
 * `layerNorm` (ops/norm.ts) as WGSL programs for tfjs's `webgpu` backend.
 *
 * Composed from tfjs ops a layer norm is ~9 kernels forward (two means, subtract, square, add eps,
 * rsqrt, three scale/shift ops) and ~12 backward; on WebGPU each costs a dispatch and host work,
 * and a step is host-bound. Here (x viewed as [rows, d]):
 *
 * - forward, 1 dispatch: one workgroup per row reduces mean and centred variance in workgroup
 *   memory, then writes y = (x − mean) · rstd · γ + β for the row;
 * - backward, 4 dispatches: the row statistics [rows, 2] (mean, rstd); dx per row,
 *   dx = rstd · (g − mean(g) − x̂ · mean(g · x̂)) with g = dy · γ; dγ = Σ_rows dy · x̂ and
 *   dβ = Σ_rows dy, one thread per column.
 *
 * Statistics are two-pass (mean, then the mean of squared deviations) in f32, as the reference path.
 * Programs follow tfjs-backend-webgpu's `WebGPUProgram` model; this module never imports the
 * backend, it registers kernels under its name.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program.js';
import { LAYER_NORM_GRAD_KERNEL, LAYER_NORM_KERNEL } from '../../ops/norm.js';


/** Threads per row in the row programs (a power of two: the reductions halve it). */
const ROW_THREADS = 64;
/** Threads per workgroup in the column programs. */
const COL_THREADS = 64;

/**
 * The workgroup's row, also when the backend folded a long dispatch into y. (A flat dispatch layout
 * makes the backend call `main(globalIndex)`; the row programs use the workgroup id instead.)
 */
const ROW_INDEX = 'i32(workgroupId.y * numWorkgroups.x + workgroupId.x)';

/** WGSL: sums `partial` over the workgroup's threads into partial[0] (all threads must call it). */
function reduceSnippet(name: string): string {
  return `
  fn ${name}Reduce(lid : i32) {
    for (var s = ${ROW_THREADS / 2}; s > 0; s = s >> 1u) {
      if (lid < s) {
        ${name}[lid] = ${name}[lid] + ${name}[lid + s];
      }
      workgroupBarrier();
    }
  }`;
}

/** WGSL: mean and rstd of row `row` of X [rows, d] (all threads of the workgroup must call it). */
const ROW_STATS = `
  var<workgroup> partA : array<f32, ${ROW_THREADS}>;
  ${reduceSnippet('partA')}

  fn rowStats(row : i32, d : i32, lid : i32, valid : bool) -> vec2<f32> {
    var s = 0.0;
    if (valid) {
      for (var i = lid; i < d; i = i + ${ROW_THREADS}) {
        s = s + X[row * d + i];
      }
    }
    partA[lid] = s;
    workgroupBarrier();
    partAReduce(lid);
    let mean = partA[0] / f32(d);
    workgroupBarrier();
    var q = 0.0;
    if (valid) {
      for (var i = lid; i < d; i = i + ${ROW_THREADS}) {
        let c = X[row * d + i] - mean;
        q = q + c * c;
      }
    }
    partA[lid] = q;
    workgroupBarrier();
    partAReduce(lid);
    let rstd = inverseSqrt(partA[0] / f32(d) + uniforms.eps);
    workgroupBarrier();
    return vec2<f32>(mean, rstd);
  }`;

/** A program with one workgroup of ROW_THREADS threads per row of its output [rows, ·]. */
abstract class RowProgram implements WebGPUProgramLike {
  abstract shaderKey: string;
  abstract variableNames: string[];
  uniforms?: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [ROW_THREADS, 1, 1];

  constructor(public outputShape: number[]) {
    this.dispatch = [outputShape[0], 1, 1];
  }

  abstract getUserCode(): string;
}

/** y [rows, d] = layer norm of X with Gamma, Beta [d]. */
class LayerNormProgram extends RowProgram {
  shaderKey = 'brickLayerNorm';
  variableNames = ['X', 'Gamma', 'Beta'];
  override uniforms = 'eps : f32,';

  getUserCode(): string {
    return `
  ${ROW_STATS}

  fn main(globalIndex : i32) {
    let row = ${ROW_INDEX};
    let lid = i32(localId.x);
    let d = uniforms.xShape[1];
    let valid = row < uniforms.xShape[0];
    let st = rowStats(row, d, lid, valid);
    if (valid) {
      for (var i = lid; i < d; i = i + ${ROW_THREADS}) {
        result[row * d + i] = (X[row * d + i] - st.x) * st.y * Gamma[i] + Beta[i];
      }
    }
  }
`;
  }
}

/** [rows, 2]: (mean, rstd) of each row of X. */
class RowStatsProgram extends RowProgram {
  shaderKey = 'brickLayerNormStats';
  variableNames = ['X'];
  override uniforms = 'eps : f32,';

  getUserCode(): string {
    return `
  ${ROW_STATS}

  fn main(globalIndex : i32) {
    let row = ${ROW_INDEX};
    let lid = i32(localId.x);
    let valid = row < uniforms.xShape[0];
    let st = rowStats(row, uniforms.xShape[1], lid, valid);
    if (valid && lid == 0) {
      result[row * 2] = st.x;
      result[row * 2 + 1] = st.y;
    }
  }
`;
  }
}

/** dx [rows, d] from DY, X [rows, d], S [rows, 2] (mean, rstd), Gamma [d]. */
class LayerNormDxProgram extends RowProgram {
  shaderKey = 'brickLayerNormDx';
  variableNames = ['DY', 'X', 'S', 'Gamma'];

  getUserCode(): string {
    return `
  var<workgroup> partG : array<f32, ${ROW_THREADS}>;
  var<workgroup> partGX : array<f32, ${ROW_THREADS}>;
  ${reduceSnippet('partG')}
  ${reduceSnippet('partGX')}

  fn main(globalIndex : i32) {
    let row = ${ROW_INDEX};
    let lid = i32(localId.x);
    let d = uniforms.xShape[1];
    let valid = row < uniforms.xShape[0];
    var mean = 0.0;
    var rstd = 0.0;
    if (valid) {
      mean = S[row * 2];
      rstd = S[row * 2 + 1];
    }
    var sg = 0.0;
    var sgx = 0.0;
    if (valid) {
      for (var i = lid; i < d; i = i + ${ROW_THREADS}) {
        let g = DY[row * d + i] * Gamma[i];
        sg = sg + g;
        sgx = sgx + g * (X[row * d + i] - mean) * rstd;
      }
    }
    partG[lid] = sg;
    partGX[lid] = sgx;
    workgroupBarrier();
    partGReduce(lid);
    partGXReduce(lid);
    let meanG = partG[0] / f32(d);
    let meanGX = partGX[0] / f32(d);
    if (valid) {
      for (var i = lid; i < d; i = i + ${ROW_THREADS}) {
        let xhat = (X[row * d + i] - mean) * rstd;
        result[row * d + i] = rstd * (DY[row * d + i] * Gamma[i] - meanG - xhat * meanGX);
      }
    }
  }
`;
  }
}

/** [d]: Σ over rows of DY · x̂ (`withXhat`) or of DY. */
class ColumnSumProgram implements WebGPUProgramLike {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [COL_THREADS, 1, 1];
  variableNames: string[];
  size = true;

  constructor(d: number, private readonly withXhat: boolean) {
    this.outputShape = [d];
    this.dispatch = [Math.ceil(d / COL_THREADS), 1, 1];
    this.variableNames = withXhat ? ['DY', 'X', 'S'] : ['DY'];
    this.shaderKey = `brickLayerNormColumnSum_${withXhat}`;
  }

  getUserCode(): string {
    const term = this.withXhat ? 'DY[r * d + index] * (X[r * d + index] - S[r * 2]) * S[r * 2 + 1]' : 'DY[r * d + index]';
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let d = uniforms.size;
      let rows = uniforms.dYShape[0];
      var acc = 0.0;
      for (var r = 0; r < rows; r = r + 1) {
        acc = acc + ${term};
      }
      result[index] = acc;
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

const eps = (attrs: tf.NamedAttrMap | undefined) => [{ type: 'float32', data: [(attrs as unknown as { eps: number }).eps] }];

/** `BrickLayerNorm` on webgpu: inputs x [rows, d], gamma, beta [d]; output y [rows, d]. */
function layerNormWebGPU({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as WebGPUBackendLike;
  const { x, gamma, beta } = inputs as Record<'x' | 'gamma' | 'beta', tf.TensorInfo>;
  const [rows, d] = x.shape;
  return be.runWebGPUProgram(new LayerNormProgram([rows, d]), [x, gamma, beta], 'float32', eps(attrs));
}

/** `BrickLayerNormGrad` on webgpu: inputs dy, x [rows, d], gamma [d]; outputs [dx, dγ, dβ]. */
function layerNormGradWebGPU({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as WebGPUBackendLike;
  const { dy, x, gamma } = inputs as Record<'dy' | 'x' | 'gamma', tf.TensorInfo>;
  const [rows, d] = x.shape;
  const stats = be.runWebGPUProgram(new RowStatsProgram([rows, 2]), [x], 'float32', eps(attrs)); // [rows, 2]
  const dx = be.runWebGPUProgram(new LayerNormDxProgram([rows, d]), [dy, x, stats, gamma], 'float32');
  const dgamma = be.runWebGPUProgram(new ColumnSumProgram(d, true), [dy, x, stats], 'float32');
  const dbeta = be.runWebGPUProgram(new ColumnSumProgram(d, false), [dy], 'float32');
  be.disposeData(stats.dataId);
  return [dx, dgamma, dbeta];
}

let registered = false;

/** Registers the fused layer norm for `webgpu` (idempotent; importing core calls it). */
export function registerLayerNormWebGPU(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: LAYER_NORM_KERNEL, backendName: 'webgpu', kernelFunc: layerNormWebGPU as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: LAYER_NORM_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: layerNormGradWebGPU as unknown as tf.KernelFunc });
}
