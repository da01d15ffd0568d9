/**
 * IDX files, the format of MNIST, Fashion-MNIST, KMNIST and EMNIST: bytes 0–1 zero, byte 2 a dtype
 * code, byte 3 the number of dimensions, then each dimension as a big-endian uint32, then the data
 * in C order, big-endian. Files are often gzipped (`train-images-idx3-ubyte.gz`); the parser detects
 * the gzip magic (1f 8b) and inflates first.
 */
import { gunzipSync } from 'fflate';
import { BrickConfigError } from '../../errors.js';
import { fileError, messageOf } from './errors.js';
import { readDataFile, type NdArray, type NdDType } from './npy.js';

const IDX_TYPES: Record<number, { dtype: NdDType; size: number }> = {
  0x08: { dtype: 'uint8', size: 1 },
  0x09: { dtype: 'int8', size: 1 },
  0x0b: { dtype: 'int16', size: 2 },
  0x0c: { dtype: 'int32', size: 4 },
  0x0d: { dtype: 'float32', size: 4 },
  0x0e: { dtype: 'float64', size: 8 },
};

/** Whether the bytes start with the gzip magic (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses an IDX file, gzipped or not. Dtype codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 * 0x0D float32, 0x0E float64. A bad magic, an unknown dtype code, a truncated or over-long file, or
 * a corrupt gzip stream gives a {@link DataFileError} naming the file.
 * @param file the name used in error messages (default `'<bytes>'`)
 */
export function parseIdx(bytes: Uint8Array, file = '<bytes>', fn = 'parseIdx'): NdArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new BrickConfigError(`${fn}: bytes must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  let b = bytes;
  if (isGzip(b)) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      fileError(fn, file, `is a corrupt or truncated gzip stream: ${messageOf(e)}`, e);
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) {
    const head = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
    fileError(fn, file, `is not an IDX file: expected the magic 00 00 <dtype> <ndims>, found ${head ? `bytes ${head}` : 'no bytes'}`);
  }
  const type = IDX_TYPES[b[2]];
  if (!type) fileError(fn, file, `has IDX dtype code 0x${b[2].toString(16).padStart(2, '0')}; expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e`);
  const ndims = b[3];
  const dataStart = 4 + 4 * ndims;
  if (b.length < dataStart) {
    fileError(fn, file, `is truncated: expected ${ndims} dimension sizes (${4 * ndims} bytes) after the magic, found ${b.length - 4} bytes`);
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(dv.getUint32(4 + 4 * i, false));
  const count = shape.reduce((x, y) => x * y, 1);
  const need = count * type.size;
  const found = b.length - dataStart;
  if (found !== need) {
    const why = found < need ? 'is truncated' : 'has extra bytes after the data';
    fileError(fn, file, `${why}: shape [${shape.join(', ')}] of ${type.dtype} needs ${need} data bytes, found ${found}`);
  }
  let data: NdArray['data'];
  switch (type.dtype) {
    case 'uint8': data = b.slice(dataStart); break;
    case 'int8': data = new Int8Array(b.slice(dataStart).buffer); break;
    default: {
      const get: Record<string, (o: number) => number> = {
        int16: (o) => dv.getInt16(o, false), int32: (o) => dv.getInt32(o, false),
        float32: (o) => dv.getFloat32(o, false), float64: (o) => dv.getFloat64(o, false),
      };
      const read = get[type.dtype];
      const C = { int16: Int16Array, int32: Int32Array, float32: Float32Array, float64: Float64Array }[type.dtype as 'int16'];
      const out = new C(count);
      for (let i = 0; i < count; i++) out[i] = read(dataStart + i * type.size);
      data = out;
    }
  }
  return { data, shape, dtype: type.dtype };
}

/** Reads an IDX file, gzipped or not (Node only; see {@link parseIdx}). */
export async function readIdx(path: string): Promise<NdArray> {
  return parseIdx(await readDataFile('readIdx', path), path, 'readIdx');
}

