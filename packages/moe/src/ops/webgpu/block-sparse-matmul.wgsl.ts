/**
 * WGSL kernels of the block-sparse product for tfjs's `webgpu` backend, and the gradient of the
 * product (registered for every backend, used wherever the kernel ran).
 *
 * - {@link BLOCK_SPARSE_MATMUL_KERNEL}: `Y[r] = X[r] · W[e(r)]` (or `· W[e(r)]ᵀ`). One workgroup
 *   computes a `TM × TN` output tile; `TM` divides the block size, so a tile lies in one block row
 *   and reads one expert's weight. A workgroup whose block row belongs to no expert (the unused
 *   trailing rows of a device-side topology) writes zeros and does no arithmetic: only the blocks
 *   of the topology are computed.
 * - {@link BLOCK_SPARSE_WGRAD_KERNEL}: `G[e] = A_eᵀ · B_e` over expert `e`'s rows; one workgroup per
 *   `TM × TN` tile of one expert's gradient, looping over that expert's rows only.
 *
 * The kernels use the tfjs WebGPU program model (`WebGPUProgram`: `variableNames`, `outputShape`,
 * `dispatchLayout`, `dispatch`, `workgroupSize`, `uniforms`, `getUserCode`; the backend prepends
 * the bindings, the `uniforms` struct with every input's shape, and the `_start` entry point) and
 * are run with `backend.runWebGPUProgram`. This module never imports the webgpu backend: it only
 * registers kernels under the backend's name, which is harmless where the backend is absent.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackendLike, WebGPUProgramLike } from '@brickml/core';
import {
  BLOCK_SPARSE_MATMUL_KERNEL,
  BLOCK_SPARSE_WGRAD_KERNEL,
  type BlockSparseMatmulAttrs,
  type BlockSparseWeightGradAttrs,
} from '../block-sparse-matmul.js';

/** Threads per workgroup along x (output columns) and the columns each thread computes. */
const WX = 16;
const CPT = 4;
/** Output tile width. */
const TN = WX * CPT;
/** Inner-dimension chunk staged in workgroup memory per step. */
const TK = 16;

/** Row tiling for a block size: TM rows per tile (dividing the block size), WY threads × RPT rows. */
function rowTiling(blockSize: number): { TM: number; WY: number; RPT: number } {
  const TM = Math.min(64, blockSize);
  const WY = Math.min(16, TM);
  return { TM, WY, RPT: TM / WY };
}

/** Grouped product `result[P, N] = X[P, K] · W[e(r)]` over the block rows of `Topo`. */
class BlockSparseMatMulProgram implements WebGPUProgramLike {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableNames = ['X', 'W', 'Topo'];
  uniforms = 'blockSize : i32,';
  private readonly TM: number;
  private readonly WY: number;
  private readonly RPT: number;

  constructor(
    rows: number,
    cols: number,
    blockSize: number,
    private readonly transposeW: boolean,
  ) {
    const { TM, WY, RPT } = rowTiling(blockSize);
    this.TM = TM;
    this.WY = WY;
    this.RPT = RPT;
    this.outputShape = [rows, cols];
    this.workgroupSize = [WX, WY, 1];
    this.dispatch = [Math.ceil(cols / TN), rows / TM, 1];
    this.shaderKey = `brickBlockSparseMatMul_${TM}_${WY}_${transposeW}`;
  }

  getUserCode(): string {
    const { TM, WY, RPT } = this;
    const wIndex = this.transposeW ? 'wBase + n * K + kk' : 'wBase + kk * N + n';
    return `
  var<workgroup> As : array<f32, ${TM * TK}>;
  var<workgroup> Bs : array<f32, ${TK * TN}>;
  var<workgroup> wgExpert : i32;

  fn main() {
    let lx = i32(localId.x);
    let ly = i32(localId.y);
    let lid = ly * ${WX} + lx;
    let row0 = i32(workgroupId.y) * ${TM};
    let col0 = i32(workgroupId.x) * ${TN};
    let K = uniforms.xShape[1];
    let N = uniforms.outShape[1];
    if (lid == 0) {
      wgExpert = Topo[row0 / uniforms.blockSize];
    }
    let e = workgroupUniformLoad(&wgExpert);
    if (e < 0) {
      // A block row of no expert: zeros, no arithmetic.
      for (var i = 0; i < ${RPT}; i = i + 1) {
        for (var j = 0; j < ${CPT}; j = j + 1) {
          let c = col0 + lx + j * ${WX};
          if (c < N) {
            result[(row0 + ly + i * ${WY}) * N + c] = 0.0;
          }
        }
      }
      return;
    }
    let wBase = e * K * N;
    var acc : array<array<f32, ${CPT}>, ${RPT}>;
    for (var t = 0; t < K; t = t + ${TK}) {
      for (var i = lid; i < ${TM * TK}; i = i + ${WX * WY}) {
        let r = i / ${TK};
        let kk = t + i % ${TK};
        var v = 0.0;
        if (kk < K) {
          v = X[(row0 + r) * K + kk];
        }
        As[i] = v;
      }
      for (var i = lid; i < ${TK * TN}; i = i + ${WX * WY}) {
        let kk = t + i / ${TN};
        let n = col0 + i % ${TN};
        var v = 0.0;
        if (kk < K && n < N) {
          v = W[${wIndex}];
        }
        Bs[i] = v;
      }
      workgroupBarrier();
      for (var k = 0; k < ${TK}; k = k + 1) {
        var bv : array<f32, ${CPT}>;
        for (var j = 0; j < ${CPT}; j = j + 1) {
          bv[j] = Bs[k * ${TN} + lx + j * ${WX}];
        }
        for (var i = 0; i < ${RPT}; i = i + 1) {
          let av = As[(ly + i * ${WY}) * ${TK} + k];
          for (var j = 0; j < ${CPT}; j = j + 1) {
            acc[i][j] = acc[i][j] + av * bv[j];
          }
        }
      }
      workgroupBarrier();
    }
    for (var i = 0; i < ${RPT}; i = i + 1) {
      for (var j = 0; j < ${CPT}; j = j + 1) {
        let c = col0 + lx + j * ${WX};
        if (c < N) {
          result[(row0 + ly + i * ${WY}) * N + c] = acc[i][j];
        }
      }
    }
  }
`;
  }
}

/** Weight gradient tile size along the `A` columns, threads along it, and rows staged per step. */
const GM = 64;
const GWY = 16;
const GRPT = GM / GWY;
const TR = 16;

/** `result[E, Ka, Nb]`: `G[e] = A_eᵀ · B_e` over the rows `[Off[e]·b, Off[e+1]·b)`. */
class BlockSparseWeightGradProgram implements WebGPUProgramLike {
  outputShape: number[];
  shaderKey = 'brickBlockSparseWeightGrad';
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WX, GWY, 1];
  variableNames = ['A', 'B', 'Off'];
  uniforms = 'blockSize : i32,';

  constructor(experts: number, ka: number, nb: number) {
    this.outputShape = [experts, ka, nb];
    this.dispatch = [Math.ceil(nb / TN), Math.ceil(ka / GM), experts];
  }

  getUserCode(): string {
    return `
  var<workgroup> As : array<f32, ${TR * GM}>;
  var<workgroup> Bs : array<f32, ${TR * TN}>;
  var<workgroup> wgStart : i32;
  var<workgroup> wgEnd : i32;

  fn main() {
    let lx = i32(localId.x);
    let ly = i32(localId.y);
    let lid = ly * ${WX} + lx;
    let e = i32(workgroupId.z);
    let m0 = i32(workgroupId.y) * ${GM};
    let n0 = i32(workgroupId.x) * ${TN};
    let Ka = uniforms.aShape[1];
    let Nb = uniforms.bShape[1];
    if (lid == 0) {
      wgStart = Off[e] * uniforms.blockSize;
      wgEnd = Off[e + 1] * uniforms.blockSize;
    }
    let start = workgroupUniformLoad(&wgStart);
    let end = workgroupUniformLoad(&wgEnd);
    var acc : array<array<f32, ${CPT}>, ${GRPT}>;
    for (var r0 = start; r0 < end; r0 = r0 + ${TR}) {
      for (var i = lid; i < ${TR * GM}; i = i + ${WX * GWY}) {
        let row = r0 + i / ${GM};
        let m = m0 + i % ${GM};
        var v = 0.0;
        if (row < end && m < Ka) {
          v = A[row * Ka + m];
        }
        As[i] = v;
      }
      for (var i = lid; i < ${TR * TN}; i = i + ${WX * GWY}) {
        let row = r0 + i / ${TN};
        let n = n0 + i % ${TN};
        var v = 0.0;
        if (row < end && n < Nb) {
          v = B[row * Nb + n];
        }
        Bs[i] = v;
      }
      workgroupBarrier();
      for (var rr = 0; rr < ${TR}; rr = rr + 1) {
        var bv : array<f32, ${CPT}>;
        for (var j = 0; j < ${CPT}; j = j + 1) {
          bv[j] = Bs[rr * ${TN} + lx + j * ${WX}];
        }
        for (var i = 0; i < ${GRPT}; i = i + 1) {
          let av = As[rr * ${GM} + ly + i * ${GWY}];
          for (var j = 0; j < ${CPT}; j = j + 1) {
            acc[i][j] = acc[i][j] + av * bv[j];
          }
        }
      }
      workgroupBarrier();
    }
    for (var i = 0; i < ${GRPT}; i = i + 1) {
      let m = m0 + ly + i * ${GWY};
      for (var j = 0; j < ${CPT}; j = j + 1) {
        let n = n0 + lx + j * ${WX};
        if (m < Ka && n < Nb) {
          result[(e * Ka + m) * Nb + n] = acc[i][j];
        }
      }
    }
  }
`;
  }
}

/** WebGPU kernel of {@link BLOCK_SPARSE_MATMUL_KERNEL}. */
function blockSparseMatMulWebGPU({
  inputs,
  backend,
  attrs,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { x, w, blockExpert } = inputs as Record<'x' | 'w' | 'blockExpert', tf.TensorInfo>;
  const { blockSize, transposeW } = attrs as unknown as BlockSparseMatmulAttrs;
  const [rows] = x.shape;
  const cols = transposeW ? w.shape[1] : w.shape[2];
  const program = new BlockSparseMatMulProgram(rows, cols, blockSize, transposeW);
  return (backend as WebGPUBackendLike).runWebGPUProgram(program, [x, w, blockExpert], 'float32', [
    { type: 'int32', data: [blockSize] },
  ]);
}

/** WebGPU kernel of {@link BLOCK_SPARSE_WGRAD_KERNEL}. */
function blockSparseWeightGradWebGPU({
  inputs,
  backend,
  attrs,
}: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { a, b, expertOffsets } = inputs as Record<'a' | 'b' | 'expertOffsets', tf.TensorInfo>;
  const { blockSize, numExperts } = attrs as unknown as BlockSparseWeightGradAttrs;
  const program = new BlockSparseWeightGradProgram(numExperts, a.shape[1], b.shape[1]);
  return (backend as WebGPUBackendLike).runWebGPUProgram(
    program,
    [a, b, expertOffsets],
    'float32',
    [{ type: 'int32', data: [blockSize] }],
  );
}

let registered = false;

/**
 * Registers the WebGPU block-sparse kernels and the product's gradient (idempotent; importing
 * `@brickml/moe` calls it). The gradient: for `Y = X · W_e`, `dX = dY · W_eᵀ` (the same kernel with
 * `transposeW` flipped) and `dW_e = X_eᵀ · dY_e` (the weight-gradient kernel); with `transposeW`,
 * `dX = dY · W_e` and `dW_e = dY_eᵀ · X_e`.
 */
export function registerBlockSparseWebGPU(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: BLOCK_SPARSE_MATMUL_KERNEL,
    backendName: 'webgpu',
    kernelFunc: blockSparseMatMulWebGPU as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: BLOCK_SPARSE_WGRAD_KERNEL,
    backendName: 'webgpu',
    kernelFunc: blockSparseWeightGradWebGPU as tf.KernelFunc,
  });
  tf.registerGradient({
    kernelName: BLOCK_SPARSE_MATMUL_KERNEL,
    inputsToSave: ['x', 'w', 'blockExpert', 'expertOffsets'],
    gradFunc: (dy, saved, attrs) => {
      const [x, w, blockExpert, expertOffsets] = saved;
      const a = attrs as unknown as BlockSparseMatmulAttrs;
      const g = dy as tf.Tensor;
      const wgrad = (p: tf.Tensor, q: tf.Tensor) =>
        tf.engine().runKernel(BLOCK_SPARSE_WGRAD_KERNEL, { a: p, b: q, expertOffsets }, {
          blockSize: a.blockSize,
          numExperts: a.numExperts,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return {
        x: () =>
          tf
            .engine()
            .runKernel(BLOCK_SPARSE_MATMUL_KERNEL, { x: g, w, blockExpert, expertOffsets }, {
              ...a,
              transposeW: !a.transposeW,
            } as unknown as tf.NamedAttrMap) as tf.Tensor,
        w: () => (a.transposeW ? wgrad(g, x) : wgrad(x, g)),
        blockExpert: () => tf.zeros(blockExpert.shape),
        expertOffsets: () => tf.zeros(expertOffsets.shape),
      };
    },
  });
}
