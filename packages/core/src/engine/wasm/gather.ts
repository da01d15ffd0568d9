/**
 * A `GatherV2` for tfjs's wasm backend that copies whole slices (rows) between views of the heap.
 * tfjs-wasm's own kernel reads the indices out of the heap and then copies element by element:
 * gathering 4,608 rows of width 512 (MoE dispatch) took ~120 ms, a row copy takes ~2 ms. Indices
 * are checked as tfjs does (an error names the bad index); strings keep the original kernel.
 * Installed with {@link installWasmFastPaths}; idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace.js';

/** Replaces the wasm `GatherV2` kernel with the slice-copy version (no-op when absent or done). */
export function installWasmGather(): boolean {
  return replaceWasmKernel('GatherV2', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const indices = args.inputs.indices as tf.TensorInfo;
    if (x.dtype === 'string' || indices.dtype !== 'int32') return original(args);
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
    const be = args.backend;
    const parsedAxis = tf.util.parseAxisParam(axis, x.shape)[0];
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
      x as unknown as tf.Tensor,
      indices as unknown as tf.Tensor,
      parsedAxis,
      batchDims,
    );
    const dim = x.shape[parsedAxis];
    const out = be.makeOutput(info.outputShape, x.dtype);
    const n = tf.util.sizeFromShape(indices.shape) / Math.max(1, info.batchSize);
    if (tf.util.sizeFromShape(x.shape) === 0 || tf.util.sizeFromShape(info.outputShape) === 0)
      return out;
    // Views after the allocation: growing the heap detaches earlier ones.
    const xv = be.typedArrayFromHeap(x);
    const iv = be.typedArrayFromHeap(indices) as Int32Array;
    const ov = be.typedArrayFromHeap(out);
    const slice = info.sliceSize;
    for (let i = 0; i < iv.length; i++) {
      if (iv[i] < 0 || iv[i] > dim - 1)
        throw new Error(`GatherV2: the index value ${iv[i]} is not in [0, ${dim - 1}]`);
    }
    // x [batch, outer, dim, slice], indices [batch, n] → out [batch, outer, n, slice]
    for (let b = 0; b < info.batchSize; b++) {
      for (let o = 0; o < info.outerSize; o++) {
        const src = (b * info.outerSize + o) * dim;
        const dst = (b * info.outerSize + o) * n;
        for (let j = 0; j < n; j++) {
          const s = (src + iv[b * n + j]) * slice;
          ov.set(xv.subarray(s, s + slice), (dst + j) * slice);
        }
      }
    }
    return out;
  });
}
