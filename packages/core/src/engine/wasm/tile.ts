/**
 * A `Tile` for tfjs's wasm backend built from block copies between views of the heap.
 * tfjs-wasm's own kernel computes a source index per output element, which made broadcasting a
 * [2048, 258] position table to a batch of 4 cost ~145 ms in a Perceiver forward pass. Here the
 * input rows are copied (repeated along the last axis) into the first block of the output, then
 * each axis from the innermost outwards is replicated with `copyWithin` of contiguous slabs.
 * Strings keep the original kernel. Installed with {@link installWasmFastPaths}; idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace.js';

const stridesOf = (shape: number[]) => {
  const s = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
};

/** Tiles x (row-major `shape`) `reps` times per axis into out (shape `shape[i]·reps[i]`). */
export function tileInto(
  x: Float32Array | Int32Array | Uint8Array,
  shape: number[],
  reps: number[],
  out: Float32Array | Int32Array | Uint8Array,
): void {
  const r = shape.length;
  if (r === 0) {
    out[0] = x[0];
    return;
  }
  const outShape = shape.map((d, i) => d * reps[i]);
  const os = stridesOf(outShape);
  const inner = shape[r - 1];
  // 1. every input row, repeated along the last axis, at its place in the first block.
  const rows = x.length / Math.max(1, inner);
  const idx = new Array<number>(r - 1).fill(0);
  for (let row = 0; row < rows; row++) {
    let o = 0;
    for (let d = 0; d < r - 1; d++) o += idx[d] * os[d];
    const src = x.subarray(row * inner, (row + 1) * inner);
    for (let k = 0; k < reps[r - 1]; k++) out.set(src, o + k * inner);
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  // 2. replicate axis d (innermost first): its first block is a contiguous slab per outer index.
  for (let d = r - 2; d >= 0; d--) {
    if (reps[d] === 1) continue;
    const slab = shape[d] * os[d];
    const outer = shape.slice(0, d).reduce((a, b) => a * b, 1);
    const oidx = new Array<number>(d).fill(0);
    for (let j = 0; j < outer; j++) {
      let base = 0;
      for (let e = 0; e < d; e++) base += oidx[e] * os[e];
      for (let k = 1; k < reps[d]; k++) out.copyWithin(base + k * slab, base, base + slab);
      for (let e = d - 1; e >= 0; e--) {
        if (++oidx[e] < shape[e]) break;
        oidx[e] = 0;
      }
    }
  }
}

/** Replaces the wasm `Tile` kernel with the block-copy version (no-op when absent or done). */
export function installWasmTile(): boolean {
  return replaceWasmKernel('Tile', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string' || x.dtype === 'complex64') return original(args);
    const be = args.backend;
    const reps = (args.attrs as unknown as { reps: number[] }).reps;
    const out = be.makeOutput(
      x.shape.map((d, i) => d * reps[i]),
      x.dtype,
    );
    if (x.shape.some((d) => d === 0) || reps.some((k) => k === 0)) return out;
    // Views after the allocation: growing the heap detaches earlier ones.
    tileInto(be.typedArrayFromHeap(x), x.shape, reps, be.typedArrayFromHeap(out));
    return out;
  });
}
