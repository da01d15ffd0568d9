/**
 * A pure, browser-safe codec for the safetensors format (https://github.com/huggingface/safetensors).
 *
 * Layout: 8 bytes little-endian u64 `N`; `N` bytes of UTF-8 JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}`; then the
 * data section, raw little-endian C-order bytes. Offsets are relative to the start of the data
 * section. Like the reference Rust crate, the decoder requires the tensors' byte ranges to cover
 * the data section exactly (no gaps, no overlaps, no trailing bytes) and each range to hold exactly
 * `product(shape) · itemsize` bytes; the writer orders tensors by descending dtype alignment, then
 * by name, and pads the header with spaces to a multiple of 8 bytes.
 */
import { CheckpointError } from '../errors.js';

/** Every dtype name the safetensors format defines (the reference crate's `Dtype`, in its order). */
export const SAFETENSORS_DTYPES = [
  'BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ',
  'F8_E5M2FNUZ', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64',
] as const;

/** A dtype name defined by the safetensors format. */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** Dtypes {@link decodeSafetensors} can read (floats decode to Float32, integers to Int32, U8/BOOL to Uint8). */
export type DecodableDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Dtypes {@link encodeSafetensors} can write. */
export type EncodableDtype = 'F32' | 'I32' | 'U8' | 'BOOL';

/** Bytes per element of each decodable dtype. */
const ITEMSIZE: Record<DecodableDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** Bits per element of every format dtype (for dtypes BrickML cannot decode, only for messages). */
const BITSIZE: Record<SafetensorsDtype, number> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
};

/** Decoded data of a float dtype is a Float32Array, of an integer dtype an Int32Array, of U8/BOOL a Uint8Array. */
export type DecodedData = Float32Array | Int32Array | Uint8Array;

/** One tensor read from a safetensors file. `data` is a fresh, aligned copy in C order. */
export interface DecodedTensor {
  /** The dtype stored in the file (F16 data comes back as Float32Array, I64 as Int32Array, ...). */
  dtype: DecodableDtype;
  shape: number[];
  data: DecodedData;
}

/** A decoded safetensors file. */
export interface DecodedSafetensors {
  /** The `__metadata__` string map (empty when the file has none). */
  metadata: Record<string, string>;
  /** Tensors in data-section order. */
  tensors: Map<string, DecodedTensor>;
}

/** One tensor to encode: `data` holds `product(shape)` elements in C order. */
export interface EncodableTensor {
  dtype: EncodableDtype;
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** Options of {@link decodeSafetensors}. */
export interface DecodeSafetensorsOptions {
  /** Largest header accepted, in bytes (default 100,000,000, as the reference crate). */
  maxHeaderBytes?: number;
}

const N_LEN = 8;
const DEFAULT_MAX_HEADER = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const fail = (fn: string, message: string): CheckpointError => new CheckpointError(`${fn}: ${message}`);

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Encodes tensors (and an optional string→string metadata map) as a safetensors file, byte for
 * byte as the reference writer lays it out: tensors ordered by descending dtype alignment, then
 * by name (code-point order); compact JSON header (`__metadata__` first, each entry
 * `{"dtype","shape","data_offsets"}`) padded with spaces to a multiple of 8 bytes.
 *
 * @param tensors name → tensor, as an object or as `[name, tensor]` pairs (duplicate names are rejected).
 * @param metadata string values only; sorted by key in the header.
 * @throws {CheckpointError} on a bad name, dtype, shape, element count, value or metadata entry.
 */
export function encodeSafetensors(
  tensors: Record<string, EncodableTensor> | ReadonlyArray<readonly [string, EncodableTensor]>,
  metadata?: Record<string, string>,
): Uint8Array {
  const fn = 'encodeSafetensors';
  const entries: Array<readonly [string, EncodableTensor]> = Array.isArray(tensors)
    ? [...(tensors as ReadonlyArray<readonly [string, EncodableTensor]>)]
    : Object.entries(tensors as Record<string, EncodableTensor>);
  const seen = new Set<string>();
  for (const [name, t] of entries) {
    if (typeof name !== 'string') throw fail(fn, `tensor names must be strings, got ${typeof name}`);
    if (name === METADATA_KEY) throw fail(fn, `'${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (hasLoneSurrogate(name)) throw fail(fn, `tensor name ${JSON.stringify(name)} is not valid Unicode (lone surrogate)`);
    if (seen.has(name)) throw fail(fn, `duplicate tensor name '${name}'`);
    seen.add(name);
    checkEncodable(fn, name, t);
  }
  const rank = (d: string) => SAFETENSORS_DTYPES.indexOf(d as SafetensorsDtype);
  entries.sort(([an, a], [bn, b]) => rank(b.dtype) - rank(a.dtype) || compareCodePoints(an, bn));

  // Header JSON, built by hand so that key order is exactly the data order (JS objects would
  // move integer-like names such as "0" to the front).
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw fail(fn, `metadata must be an object of strings, got ${metadata === null ? 'null' : typeof metadata}`);
    }
    const keys = Object.keys(metadata).sort(compareCodePoints);
    for (const k of keys) {
      const v = metadata[k];
      if (typeof v !== 'string') throw fail(fn, `metadata '${k}' must be a string, got ${typeof v}`);
      if (hasLoneSurrogate(k) || hasLoneSurrogate(v)) throw fail(fn, `metadata '${k}' is not valid Unicode (lone surrogate)`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  const layout: Array<{ t: EncodableTensor; begin: number }> = [];
  for (const [name, t] of entries) {
    const bytes = numElements(t.shape) * ITEMSIZE[t.dtype];
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + bytes}]}`,
    );
    layout.push({ t, begin: offset });
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / N_LEN) * N_LEN;
  if (n > DEFAULT_MAX_HEADER) throw fail(fn, `header would be ${n} bytes, over the ${DEFAULT_MAX_HEADER}-byte limit readers enforce`);

  const out = new Uint8Array(N_LEN + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true); // high 32 bits stay 0
  out.set(json, N_LEN);
  out.fill(0x20, N_LEN + json.length, N_LEN + n); // pad with spaces
  const dataStart = N_LEN + n;
  for (const { t, begin } of layout) writeData(view, out, dataStart + begin, t);
  return out;
}

function checkEncodable(fn: string, name: string, t: EncodableTensor): void {
  if (t === null || typeof t !== 'object') throw fail(fn, `tensor '${name}' must be an object {dtype, shape, data}`);
  if (!['F32', 'I32', 'U8', 'BOOL'].includes(t.dtype)) {
    throw fail(fn, `tensor '${name}': cannot encode dtype ${JSON.stringify(t.dtype)} (supported: F32, I32, U8, BOOL)`);
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(fn, `tensor '${name}': shape must be an array of non-negative integers, got ${safeJson(t.shape)}`);
  }
  const count = numElements(t.shape);
  if (!Number.isSafeInteger(count * ITEMSIZE[t.dtype])) throw fail(fn, `tensor '${name}': shape ${safeJson(t.shape)} is too large`);
  if (t.data == null || typeof t.data.length !== 'number') throw fail(fn, `tensor '${name}': data must be an array or typed array`);
  if (t.data.length !== count) {
    throw fail(fn, `tensor '${name}': shape ${safeJson(t.shape)} needs ${count} elements, data has ${t.data.length}`);
  }
}

function writeData(view: DataView, out: Uint8Array, at: number, t: EncodableTensor): void {
  const { data } = t;
  switch (t.dtype) {
    case 'F32':
      if (data instanceof Float32Array && LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
      else for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
      return;
    case 'I32':
      if (data instanceof Int32Array && LITTLE_ENDIAN) {
        out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
        return;
      }
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw badValue('I32', i, v);
        view.setInt32(at + 4 * i, v, true);
      }
      return;
    case 'U8':
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < 0 || v > 255) throw badValue('U8', i, v);
        out[at + i] = v;
      }
      return;
    case 'BOOL':
      for (let i = 0; i < data.length; i++) {
        const v = Number(data[i]);
        if (v !== 0 && v !== 1) throw badValue('BOOL', i, data[i]);
        out[at + i] = v;
      }
      return;
  }
  function badValue(dtype: string, i: number, v: unknown): CheckpointError {
    const name = 'encodeSafetensors';
    return fail(name, `a ${dtype} tensor holds ${String(v)} at element ${i}, which ${dtype} cannot represent`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

interface RawInfo {
  name: string;
  dtype: DecodableDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Decodes a safetensors file. Validates everything before copying any data and rejects, with a
 * {@link CheckpointError} naming the problem (and the tensor), files that are truncated, have an
 * absurd header length, a header that is not UTF-8 JSON or not an object, duplicate JSON keys,
 * unknown or unsupported dtypes, bad shapes or offsets, byte ranges whose size disagrees with the
 * shape, or ranges that do not cover the data section exactly (gaps, overlaps, trailing bytes).
 * I64/U64/U32 values outside the int32 range are rejected (tfjs holds integers as int32).
 *
 * @returns metadata and tensors; each tensor's data is an aligned copy (never a view of `bytes`).
 */
export function decodeSafetensors(file: Uint8Array, options: DecodeSafetensorsOptions = {}): DecodedSafetensors {
  const fn = 'decodeSafetensors';
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (!(file instanceof Uint8Array)) throw fail(fn, `expected the file's bytes as a Uint8Array, got ${describeValue(file)}`);
  // A plain view: Node Buffers are Uint8Arrays whose slice() shares memory instead of copying.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  if (!Number.isSafeInteger(maxHeader) || maxHeader < 0) throw fail(fn, `maxHeaderBytes must be a non-negative integer, got ${maxHeader}`);
  if (bytes.length < N_LEN) {
    throw fail(fn, `file is ${bytes.length} bytes, shorter than the 8-byte header length prefix (truncated or not a safetensors file)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact up to 2^53; beyond that it is absurd anyway
  if (hi >= 2 ** 21 || n > maxHeader) {
    throw fail(fn, `header length ${hi >= 2 ** 21 ? `${(BigInt(hi) << 32n) + BigInt(lo)}` : n} exceeds the maximum of ${maxHeader} bytes`);
  }
  if (n > bytes.length - N_LEN) {
    throw fail(fn, `header length ${n} runs past the end of the file (${bytes.length} bytes; at most ${bytes.length - N_LEN} available)`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(N_LEN, N_LEN + n));
  } catch {
    throw fail(fn, `header (${n} bytes) is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw fail(fn, `header is not valid JSON (${(e as Error).message}): ${preview(text)}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw fail(fn, `header must be a JSON object, got ${describeValue(header)}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    throw fail(fn, dup.parent === undefined
      ? `header has duplicate key ${JSON.stringify(dup.key)}`
      : `header entry ${JSON.stringify(dup.parent)} has duplicate key ${JSON.stringify(dup.key)}`);
  }

  const dataStart = N_LEN + n;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const infos: RawInfo[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(fn, value);
      continue;
    }
    infos.push(parseInfo(fn, name, value, dataLen));
  }

  // The ranges must tile the data section: sorted by offsets, each starts where the last ended.
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: RawInfo | undefined;
  for (const info of sorted) {
    if (info.begin < cursor) {
      throw fail(fn, `tensor '${info.name}' bytes [${info.begin}, ${info.end}) overlap tensor '${previous!.name}' bytes [${previous!.begin}, ${previous!.end})`);
    }
    if (info.begin > cursor) {
      throw fail(fn, `bytes [${cursor}, ${info.begin}) of the data section belong to no tensor (gap before tensor '${info.name}'); tensors must cover the data section contiguously`);
    }
    cursor = info.end;
    previous = info;
  }
  if (cursor !== dataLen) {
    throw fail(fn, `the data section has ${dataLen - cursor} trailing bytes after the last tensor (tensors cover ${cursor} of ${dataLen} bytes)`);
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const info of sorted) {
    const raw = bytes.subarray(dataStart + info.begin, dataStart + info.end);
    tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data: decodeData(fn, info, raw) });
  }
  return { metadata, tensors };
}

function parseMetadata(fn: string, value: unknown): Record<string, string> {
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw fail(fn, `'${METADATA_KEY}' must be an object of strings, got ${describeValue(value)}`);
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw fail(fn, `'${METADATA_KEY}' entry '${k}' must be a string, got ${describeValue(v)}`);
  }
  return Object.fromEntries(Object.entries(value as Record<string, string>)); // own data properties only
}

function parseInfo(fn: string, name: string, value: unknown, dataLen: number): RawInfo {
  const where = `tensor '${name}'`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail(fn, `${where}: header entry must be an object {dtype, shape, data_offsets}, got ${describeValue(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw fail(fn, `${where}: 'dtype' must be a string, got ${describeValue(dtype)}`);
  if (!(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
    throw fail(fn, `${where}: unknown dtype ${JSON.stringify(dtype)} (safetensors dtypes: ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  if (!(dtype in ITEMSIZE)) {
    throw fail(fn, `${where}: dtype ${dtype} is not supported by BrickML (supported: ${Object.keys(ITEMSIZE).join(', ')})`);
  }
  if (!Array.isArray(shape)) throw fail(fn, `${where}: 'shape' must be an array of non-negative integers, got ${describeValue(shape)}`);
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw fail(fn, `${where}: shape dimension ${i} must be a non-negative integer, got ${describeValue(d)} (shape ${safeJson(shape)})`);
    }
  });
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)) {
    throw fail(fn, `${where}: 'data_offsets' must be [begin, end] with non-negative integers, got ${describeValue(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw fail(fn, `${where}: data_offsets [${begin}, ${end}] begin after they end`);
  if (end > dataLen) throw fail(fn, `${where}: data_offsets [${begin}, ${end}] end past the data section (${dataLen} bytes; file truncated?)`);
  const count = numElements(shape as number[]);
  const expected = count * BITSIZE[dtype as SafetensorsDtype] / 8;
  if (!Number.isSafeInteger(count) || expected !== end - begin) {
    throw fail(fn, `${where}: ${dtype} shape ${safeJson(shape)} needs ${Number.isSafeInteger(expected) ? expected : 'more than 2^53'} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype: dtype as DecodableDtype, shape: [...(shape as number[])], begin, end };
}

/** Copies (and converts) one tensor's little-endian bytes into an aligned typed array. */
function decodeData(fn: string, info: RawInfo, raw: Uint8Array): DecodedData {
  const count = raw.length / ITEMSIZE[info.dtype];
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (info.dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN) return new Float32Array(raw.slice().buffer);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 'I32': {
      if (LITTLE_ENDIAN) return new Int32Array(raw.slice().buffer);
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(count); // rounds to nearest float32
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) {
        const h = dv.getUint16(2 * i, true);
        const sign = (h & 0x8000) << 16;
        const exp = (h >> 10) & 0x1f;
        const mant = h & 0x3ff;
        if (exp === 0) out[i] = (sign ? -1 : 1) * mant * 2 ** -24; // zero or subnormal (exact)
        else if (exp === 31) bits[i] = sign | 0x7f800000 | (mant << 13); // inf / NaN (payload kept)
        else bits[i] = sign | ((exp + 112) << 23) | (mant << 13); // rebias 15 → 127
      }
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case 'I64':
    case 'U64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const lo = dv.getUint32(8 * i, true);
        const hi = dv.getInt32(8 * i + 4, true);
        const ok = info.dtype === 'I64' ? hi === (lo | 0) >> 31 : hi === 0 && lo <= 0x7fffffff;
        if (!ok) {
          const value = info.dtype === 'I64' ? dv.getBigInt64(8 * i, true) : dv.getBigUint64(8 * i, true);
          throw outOfRange(fn, info, i, value);
        }
        out[i] = lo | 0;
      }
      return out;
    }
    case 'U32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const v = dv.getUint32(4 * i, true);
        if (v > 0x7fffffff) throw outOfRange(fn, info, i, v);
        out[i] = v;
      }
      return out;
    }
    case 'I16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, true);
      return out;
    }
    case 'U16': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(2 * i, true);
      return out;
    }
    case 'I8':
      return Int32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    case 'U8':
      return raw.slice();
    case 'BOOL':
      return raw.map((b) => (b === 0 ? 0 : 1));
  }
}

function outOfRange(fn: string, info: RawInfo, i: number, value: number | bigint): CheckpointError {
  return fail(fn, `tensor '${info.name}' (${info.dtype}): element ${i} is ${value}, outside the int32 range [-2147483648, 2147483647] that tfjs integer tensors hold`);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Number of elements of a shape (1 for a scalar). */
function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Orders strings by Unicode code point, i.e. by their UTF-8 bytes (Rust's `String` order). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/**
 * Finds the first key repeated within one JSON object of `text` (already known to be valid JSON,
 * which JSON.parse would silently resolve to the last occurrence). Returns the key and the key of
 * the object that holds it (undefined at top level).
 */
function findDuplicateKey(text: string): { key: string; parent: string | undefined } | undefined {
  type Frame = { keys: Set<string> | null; expectKey: boolean; lastKey: string | undefined };
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, parent: stack.length > 1 ? stack[stack.length - 2].lastKey : undefined };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === '{') stack.push({ keys: new Set(), expectKey: true, lastKey: undefined });
    else if (c === '[') stack.push({ keys: null, expectKey: false, lastKey: undefined });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',' && top?.keys) top.expectKey = true;
  }
  return undefined;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array ${preview(safeJson(v))}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${preview(safeJson(v))}`;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function preview(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
