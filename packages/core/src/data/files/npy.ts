/**
 * NumPy's `.npy` and `.npz` formats: parsers that work on bytes (browser-safe), Node-only file
 * readers, an encoder, and conversion to tfjs tensors.
 *
 * Format (numpy/lib/format.py): magic `\x93NUMPY`, version (1.0, 2.0 or 3.0), a little-endian
 * header length (uint16 for 1.0, uint32 after), then a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, then the raw data. An `.npz` is a
 * zip archive (stored or deflated) of `.npy` members.
 */
import * as tf from '@tensorflow/tfjs-core';
import { unzipSync } from 'fflate';
import { BrickConfigError } from '../../errors.js';
import { readFileBytes } from '../../io/fs.js';
import { DataFileError, fileError, messageOf } from './errors.js';

/** Element types the readers understand (numpy's names). */
export type NdDType = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool';

/** Typed arrays the readers return. */
export type NdData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

/**
 * A host array read from a file: flat data in C (row-major) order, its shape and the dtype stored
 * in the file. `bool` comes as a `Uint8Array` of 0/1; `int64` and `uint64` come as an `Int32Array`
 * (every value must fit in int32, else the reader fails naming the file), since tfjs has no 64-bit
 * integers.
 */
export interface NdArray {
  data: NdData;
  shape: number[];
  /** The dtype stored in the file. */
  dtype: NdDType;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

interface Descr {
  dtype: NdDType;
  itemSize: number;
  bigEndian: boolean;
}

const KIND_SIZE: Record<string, NdDType> = {
  f4: 'float32', f8: 'float64', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64',
  u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64', b1: 'bool',
};

function parseDescr(fn: string, file: string, descr: string): Descr {
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(descr);
  const dtype = m ? KIND_SIZE[`${m[2]}${m[3]}`] : undefined;
  if (!m || dtype === undefined) {
    fileError(fn, file, `has dtype '${descr}'; expected one of float32 (<f4), float64 (<f8), int8/16/32/64, uint8/16/32/64 or bool (|b1)`);
  }
  return { dtype, itemSize: Number(m[3]), bigEndian: m[1] === '>' };
}

function describe(bytes: Uint8Array, at: number): string {
  const head = Array.from(bytes.subarray(at, at + 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return head.length ? `bytes ${head}` : 'no bytes';
}

/** Reverses the byte order of each `size`-byte item in place. */
function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i + size <= b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

/**
 * Views `raw` (an aligned copy, little-endian) as the typed array of `dtype`; 64-bit integers are
 * narrowed to int32 with a range check.
 */
function view(fn: string, file: string, raw: Uint8Array, dtype: NdDType): NdData {
  const buf = raw.buffer as ArrayBuffer;
  switch (dtype) {
    case 'float32': return new Float32Array(buf, raw.byteOffset, raw.byteLength / 4);
    case 'float64': return new Float64Array(buf, raw.byteOffset, raw.byteLength / 8);
    case 'int8': return new Int8Array(buf, raw.byteOffset, raw.byteLength);
    case 'int16': return new Int16Array(buf, raw.byteOffset, raw.byteLength / 2);
    case 'int32': return new Int32Array(buf, raw.byteOffset, raw.byteLength / 4);
    case 'uint8': return new Uint8Array(buf, raw.byteOffset, raw.byteLength);
    case 'uint16': return new Uint16Array(buf, raw.byteOffset, raw.byteLength / 2);
    case 'uint32': return new Uint32Array(buf, raw.byteOffset, raw.byteLength / 4);
    case 'bool': {
      const out = new Uint8Array(raw.byteLength);
      for (let i = 0; i < out.length; i++) out[i] = raw[i] ? 1 : 0;
      return out;
    }
    case 'int64':
    case 'uint64': {
      const big = dtype === 'int64' ? new BigInt64Array(buf, raw.byteOffset, raw.byteLength / 8) : new BigUint64Array(buf, raw.byteOffset, raw.byteLength / 8);
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > 2147483647n || v < -2147483648n) {
          fileError(fn, file, `holds ${dtype} value ${v} at index ${i}; expected values that fit in int32 (tfjs has no 64-bit integers)`);
        }
        out[i] = Number(v);
      }
      return out;
    }
  }
}

/**
 * Parses the bytes of an `.npy` file (format versions 1.0, 2.0 and 3.0; C order; little- or
 * big-endian). Fortran-order arrays, structured dtypes, object arrays and float16 are rejected with a
 * {@link DataFileError}; so are truncated files and files with bytes after the data.
 * @param bytes the whole file
 * @param file the name used in error messages (default `'<bytes>'`)
 */
export function parseNpy(bytes: Uint8Array, file = '<bytes>', fn = 'parseNpy'): NdArray {
  if (!(bytes instanceof Uint8Array)) {
    throw new BrickConfigError(`${fn}: bytes must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fileError(fn, file, `is not an .npy file: expected the magic \\x93NUMPY and a version, found ${describe(bytes, 0)} (${bytes.length} bytes in all)`);
  }
  const major = bytes[6];
  if (major < 1 || major > 3) fileError(fn, file, `has .npy format version ${major}.${bytes[7]}; expected 1.0, 2.0 or 3.0`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fileError(fn, file, `is truncated: expected a ${lenBytes}-byte header length at byte 8, found ${bytes.length - 8} bytes`);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (bytes.length < start + headerLen) {
    fileError(fn, file, `is truncated: expected a ${headerLen}-byte header after byte ${start}, found ${bytes.length - start} bytes`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descrM = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM || !fortranM || !shapeM) {
    const what = /'descr'\s*:\s*\[/.test(header) ? 'a structured dtype (not supported)' : JSON.stringify(header.trim().slice(0, 120));
    fileError(fn, file, `has a header that is not an .npy dict with 'descr' (a simple dtype string), 'fortran_order' and 'shape'; found ${what}`);
  }
  const descr = parseDescr(fn, file, descrM[1]);
  if (fortranM[1] === 'True') {
    fileError(fn, file, `is stored in Fortran (column-major) order; expected C order: save it with numpy.ascontiguousarray(a) first`);
  }
  const dims = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (!dims.every((d) => /^\d+L?$/.test(d))) fileError(fn, file, `has shape (${shapeM[1]}); expected non-negative integers`);
  const shape = dims.map((d) => Number.parseInt(d, 10));
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const need = count * descr.itemSize;
  const found = bytes.length - dataStart;
  if (found !== need) {
    const why = found < need ? 'is truncated' : 'has extra bytes after the data';
    fileError(fn, file, `${why}: shape [${shape.join(', ')}] of ${descrM[1]} needs ${need} data bytes, found ${found}`);
  }
  const raw = bytes.slice(dataStart, dataStart + need); // an aligned copy
  if (descr.bigEndian && descr.itemSize > 1) swapBytes(raw, descr.itemSize);
  return { data: view(fn, file, raw, descr.dtype), shape, dtype: descr.dtype };
}

/**
 * Parses the bytes of an `.npz` archive (what `numpy.savez` and `numpy.savez_compressed` write:
 * members stored or deflated) into arrays keyed by member name without `.npy`. Members that are
 * not `.npy` files are skipped.
 * @param file the name used in error messages (default `'<bytes>'`); a member's errors name
 *   `file:member.npy`
 */
export function parseNpz(bytes: Uint8Array, file = '<bytes>', fn = 'parseNpz'): Record<string, NdArray> {
  if (!(bytes instanceof Uint8Array)) {
    throw new BrickConfigError(`${fn}: bytes must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    fileError(fn, file, `is not an .npz file: expected a zip archive (bytes 50 4b, "PK"), found ${describe(bytes, 0)} (${bytes.length} bytes in all)`);
  }
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (f) => f.name.endsWith('.npy') });
  } catch (e) {
    fileError(fn, file, `is a corrupt or truncated zip archive: ${messageOf(e)}`, e);
  }
  const out: Record<string, NdArray> = {};
  for (const name of Object.keys(members).sort()) {
    out[name.slice(0, -4)] = parseNpy(members[name], `${file}:${name}`, fn);
  }
  return out;
}

/** Throws unless running in Node.js, naming `fn` and the browser alternative. */
export function assertNodeFiles(fn: string): void {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) {
    throw new Error(`${fn}: needs Node.js (it reads files); in a browser, fetch the bytes and use parseNpy, parseNpz, parseIdx or decodeImage`);
  }
}

/** Reads a file's bytes, with an error naming the reader and the file. */
export async function readDataFile(fn: string, path: string): Promise<Uint8Array> {
  assertNodeFiles(fn);
  if (typeof path !== 'string' || path.length === 0) throw new BrickConfigError(`${fn}: path must be a non-empty string, got ${JSON.stringify(path)}`);
  try {
    return await readFileBytes(path);
  } catch (e) {
    throw new DataFileError(`${fn}: cannot read '${path}': ${messageOf(e)}`, path, { cause: e });
  }
}

/** Reads an `.npy` file (Node only; see {@link parseNpy}). */
export async function readNpy(path: string): Promise<NdArray> {
  return parseNpy(await readDataFile('readNpy', path), path, 'readNpy');
}

/** Reads an `.npz` file (Node only; see {@link parseNpz}). */
export async function readNpz(path: string): Promise<Record<string, NdArray>> {
  return parseNpz(await readDataFile('readNpz', path), path, 'readNpz');
}

const ENCODE_DESCR: Array<[new (...a: never[]) => NdData, string]> = [
  [Float32Array, '<f4'], [Float64Array, '<f8'], [Int8Array, '|i1'], [Int16Array, '<i2'], [Int32Array, '<i4'],
  [Uint8Array, '|u1'], [Uint16Array, '<u2'], [Uint32Array, '<u4'],
];

/**
 * Encodes a typed array as an `.npy` file (format 1.0, little-endian, C order; header padded to a
 * multiple of 64 bytes like numpy), e.g. to hand features to Python. `bool: true` stores a
 * `Uint8Array` as numpy bool.
 */
export function encodeNpy(data: NdData, shape: readonly number[], options: { bool?: boolean } = {}): Uint8Array {
  const fn = 'encodeNpy';
  const entry = ENCODE_DESCR.find(([C]) => data instanceof C);
  if (!entry) throw new BrickConfigError(`${fn}: data must be a Float32/Float64/Int8/Int16/Int32/Uint8/Uint16/Uint32Array, got ${Object.prototype.toString.call(data)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new BrickConfigError(`${fn}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new BrickConfigError(`${fn}: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  let descr = entry[1];
  if (options.bool) {
    if (!(data instanceof Uint8Array)) throw new BrickConfigError(`${fn}: bool: true needs a Uint8Array of 0/1, got ${Object.prototype.toString.call(data)}`);
    descr = '|b1';
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/**
 * An {@link NdArray} as a tfjs tensor (the caller disposes it): floats become float32, integers
 * int32 (uint32 values above 2³¹−1 are rejected), bool stays bool.
 */
export function ndArrayToTensor(array: NdArray): tf.Tensor {
  const fn = 'ndArrayToTensor';
  if (array === null || typeof array !== 'object' || !Array.isArray(array.shape)) {
    throw new BrickConfigError(`${fn}: expected {data, shape, dtype}, got ${String(array)}`);
  }
  const { data, shape, dtype } = array;
  if (dtype === 'bool') return tf.tensor(data as Uint8Array, shape, 'bool');
  if (dtype === 'float32' || dtype === 'float64') return tf.tensor(data instanceof Float32Array ? data : Float32Array.from(data), shape, 'float32');
  if (data instanceof Uint32Array) {
    for (let i = 0; i < data.length; i++) {
      if (data[i] > 2147483647) throw new BrickConfigError(`${fn}: uint32 value ${data[i]} at index ${i} does not fit in int32`);
    }
  }
  return tf.tensor(data instanceof Int32Array ? data : Int32Array.from(data), shape, 'int32');
}
