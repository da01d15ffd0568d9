/**
 * tfjs-backend-wasm's `Slice` kernel reads its whole input out of the wasm heap (`readSync` copies
 * it) before copying the requested part: taking 9 shifted windows of one tensor copies that tensor
 * 9 times, and `concat`'s gradient slices its whole upstream gradient once per input. This
 * replacement copies only the requested elements, between two views of the heap. Strings keep the
 * original kernel. Installed by core's backend selection when wasm is chosen (`installWasmFastPaths`);
 * idempotent.
 */
import * as tf from '@tensorflow/tfjs-core';
import { replaceWasmKernel } from './replace.js';

/** Copies the box `begin + [0, size)` of x (row-major, `shape`) into out, one innermost run at a time. */
function copyBox(
  x: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  shape: number[],
  begin: number[],
  size: number[],
  out: { set(src: ArrayLike<number>, offset: number): void },
): void {
  const rank = shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // Merge the trailing axes that are taken whole into one run.
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === shape[inner]) inner--;
  const run = size[inner] * strides[inner];
  const outer = size.slice(0, inner).reduce((a, b) => a * b, 1);
  const idx = new Array<number>(inner).fill(0);
  let o = 0;
  for (let r = 0; r < outer; r++) {
    let off = begin[inner] * strides[inner];
    for (let d = 0; d < inner; d++) off += (begin[d] + idx[d]) * strides[d];
    out.set(x.subarray(off, off + run), o);
    o += run;
    for (let d = inner - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
}

/** Replaces the wasm `Slice` kernel with the copy-only-what-is-asked version (no-op when absent or done). */
export function installWasmSlice(): boolean {
  return replaceWasmKernel('Slice', (original) => (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    const be = args.backend;
    const { begin, size } = args.attrs as unknown as {
      begin: number | number[];
      size: number | number[];
    };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    const out = be.makeOutput(s, x.dtype);
    if (s.some((d) => d === 0)) return out;
    // Views after the allocation: growing the heap detaches earlier ones.
    const xv = be.typedArrayFromHeap(x);
    const ov = be.typedArrayFromHeap(out);
    copyBox(xv, x.shape, b, s, ov);
    return out;
  });
}
