import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../src/index.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A safetensors file from a header string and data bytes, exactly as given (no padding unless asked). */
function rawFile(header: string, data: ArrayLike<number> = [], pad = false): Uint8Array {
  let h = utf8(header);
  if (pad && h.length % 8) h = utf8(header + ' '.repeat(8 - (h.length % 8)));
  return withPrefix(h.length, [...h, ...Array.from(data)]);
}

/** 8-byte little-endian length prefix `n` followed by `rest`. */
function withPrefix(n: number | bigint, rest: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(8 + rest.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(Array.from(rest), 8);
  return out;
}

const f32Bytes = (...xs: number[]) => [...new Uint8Array(new Float32Array(xs).buffer)];
const u32Bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

describe('encodeSafetensors layout', () => {
  it('matches the reference layout byte by byte', () => {
    // Reference writer: tensors ordered by descending dtype alignment (F32 before I32), then by
    // name; compact JSON header with __metadata__ first, padded with spaces to 8 bytes.
    const bytes = encodeSafetensors(
      {
        a: { dtype: 'I32', shape: [], data: new Int32Array([7]) },
        b: { dtype: 'F32', shape: [2], data: new Float32Array([1, -2]) },
      },
      { format: 'pt' },
    );
    const json =
      '{"__metadata__":{"format":"pt"},' +
      '"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"a":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}';
    expect(json.length).toBe(138); // → padded to 144 = 0x90
    const expected = [
      0x90, 0, 0, 0, 0, 0, 0, 0,
      ...utf8(json), 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0xc0, // -2.0f
      0x07, 0x00, 0x00, 0x00, // 7
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('writes an empty file as a padded "{}" header', () => {
    expect([...encodeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...utf8('{}      ')]);
  });

  it('orders names by code point, including integer-like names', () => {
    const t = { dtype: 'U8' as const, shape: [1], data: new Uint8Array([1]) };
    const bytes = encodeSafetensors({ b: t, '10': t, '9': t, a: t, 'a.0': t });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd();
    expect([...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1])).toEqual(['10', '9', 'a', 'a.0', 'b']);
    expect(JSON.parse(header)['a.0'].data_offsets).toEqual([3, 4]);
  });
});

describe('safetensors round trip', () => {
  it('is bit-exact for F32 (NaN payloads, -0, subnormals, inf), I32, U8, BOOL and metadata', () => {
    const f32 = new Float32Array(new Uint32Array([
      0x7fc00000, 0x7fc00001, 0xffc00000, 0x7f800001, // NaNs (quiet, payload, negative, signalling)
      0x80000000, 0x00000000, // -0, +0
      0x00000001, 0x807fffff, 0x00400000, // subnormals
      0x7f800000, 0xff800000, 0x7f7fffff, 0x3f800001, // inf, -inf, max, 1 + ulp
    ]).buffer);
    const i32 = new Int32Array([-2147483648, 2147483647, 0, -1, 123456789]);
    const u8 = Uint8Array.from({ length: 256 }, (_, i) => i);
    const bool = new Uint8Array([1, 0, 0, 1]);
    const meta = { format: 'brickml', note: 'ünïcødé ✓ "quoted" \\ \n', step: '12' };
    const bytes = encodeSafetensors(
      {
        'w.f': { dtype: 'F32', shape: [13], data: f32 },
        'w.i': { dtype: 'I32', shape: [5, 1], data: i32 },
        u: { dtype: 'U8', shape: [16, 16], data: u8 },
        m: { dtype: 'BOOL', shape: [2, 2], data: bool },
        scalar: { dtype: 'F32', shape: [], data: [0.25] },
        empty: { dtype: 'F32', shape: [2, 0, 3], data: [] },
      },
      meta,
    );
    const { metadata, tensors } = decodeSafetensors(bytes);
    expect(metadata).toEqual(meta);
    // data order: F32 before I32 before U8 before BOOL (reference dtype order), then by name
    expect([...tensors.keys()]).toEqual(['empty', 'scalar', 'w.f', 'w.i', 'u', 'm']);
    const get = (k: string) => tensors.get(k)!;
    expect(get('w.f').dtype).toBe('F32');
    expect(get('w.f').data).toBeInstanceOf(Float32Array);
    expect(u32Bits(get('w.f').data as Float32Array)).toEqual(u32Bits(f32));
    expect(get('w.i')).toEqual({ dtype: 'I32', shape: [5, 1], data: i32 });
    expect(get('u')).toEqual({ dtype: 'U8', shape: [16, 16], data: u8 });
    expect(get('m')).toEqual({ dtype: 'BOOL', shape: [2, 2], data: bool });
    expect(get('scalar')).toEqual({ dtype: 'F32', shape: [], data: new Float32Array([0.25]) });
    expect(get('empty')).toEqual({ dtype: 'F32', shape: [2, 0, 3], data: new Float32Array(0) });
  });

  it('decodes from an unaligned view into aligned copies', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array([1.5, -2.5, 3.5]) } });
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 1);
    const view = big.subarray(1, 1 + bytes.length); // byteOffset 1: data not 4-byte aligned
    const x = decodeSafetensors(view).tensors.get('x')!;
    expect(x.data).toEqual(new Float32Array([1.5, -2.5, 3.5]));
    expect(x.data.byteOffset % 4).toBe(0);
    big.fill(0); // the decoded data is a copy, not a view of the file
    expect(x.data).toEqual(new Float32Array([1.5, -2.5, 3.5]));
  });

  it('decodes a Node Buffer (whose slice() is a view) into standalone copies', () => {
    const bytes = encodeSafetensors({
      f: { dtype: 'F32', shape: [2], data: [1, 2] },
      u: { dtype: 'U8', shape: [3], data: [7, 8, 9] },
    });
    const buf = Buffer.concat([Buffer.alloc(3, 0xee), Buffer.from(bytes)]).subarray(3); // unaligned
    const { tensors } = decodeSafetensors(buf);
    const f = tensors.get('f')!.data;
    const u = tensors.get('u')!.data;
    expect(f).toEqual(new Float32Array([1, 2]));
    expect([f.buffer.byteLength, u.buffer.byteLength]).toEqual([8, 3]); // own buffers, not the file's
    expect(u).toEqual(new Uint8Array([7, 8, 9]));
    expect(Buffer.isBuffer(u)).toBe(false);
    buf.fill(0);
    expect([...u]).toEqual([7, 8, 9]);
  });
});

describe('decodeSafetensors on files written by the reference library', () => {
  it('reads the reference crate documentation example (unpadded 60-byte header)', () => {
    const file = rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Array(16).fill(0));
    expect(file[0]).toBe(0x3c); // '<'
    const { metadata, tensors } = decodeSafetensors(file);
    expect(metadata).toEqual({});
    expect(tensors.get('test')).toEqual({ dtype: 'I32', shape: [2, 2], data: new Int32Array(4) });
  });

  it('reads a PyTorch save_file layout: I64 before F32 before F16, metadata {format: pt}', () => {
    // safetensors.torch.save_file({"weight": f32[2,2], "step": i64 scalar, "half": f16[5]}, metadata={"format": "pt"})
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},' +
      '"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},' +
      '"half":{"dtype":"F16","shape":[5],"data_offsets":[24,34]}}';
    const data = [
      0xd2, 0x04, 0, 0, 0, 0, 0, 0, // 1234 as i64
      ...f32Bytes(0.5, -1.5, 3, 0.1),
      0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x55, 0x35, 0x01, 0x00, // f16: 1, -2, 65504, 0.33325195, 2^-24
    ];
    const file = rawFile(header, data, true);
    expect(file[0] % 8).toBe(0);
    const { metadata, tensors } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.keys()]).toEqual(['step', 'weight', 'half']);
    expect(tensors.get('step')).toEqual({ dtype: 'I64', shape: [], data: new Int32Array([1234]) });
    expect(tensors.get('weight')).toEqual({ dtype: 'F32', shape: [2, 2], data: new Float32Array([0.5, -1.5, 3, 0.1]) });
    expect(tensors.get('half')).toEqual({
      dtype: 'F16', shape: [5], data: new Float32Array([1, -2, 65504, 0.333251953125, 2 ** -24]),
    });
  });

  it('decodes F16 specials, BF16, F64 and the small integer dtypes', () => {
    const half = [0x0000, 0x8000, 0x03ff, 0x8001, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0xfbff];
    const halfBytes = half.flatMap((h) => [h & 0xff, h >> 8]);
    const bf = [0x3f80, 0xc040, 0x7f80, 0x0001].flatMap((h) => [h & 0xff, h >> 8]);
    const f64 = [...new Uint8Array(new Float64Array([0.1, -1e300, 2.5]).buffer)];
    const i64 = [...new Uint8Array(new BigInt64Array([-5n, -2147483648n, 2147483647n]).buffer)];
    const header = {
      h: { dtype: 'F16', shape: [10], data_offsets: [0, 20] },
      b: { dtype: 'BF16', shape: [4], data_offsets: [20, 28] },
      d: { dtype: 'F64', shape: [3], data_offsets: [28, 52] },
      l: { dtype: 'I64', shape: [3], data_offsets: [52, 76] },
      s: { dtype: 'I16', shape: [2], data_offsets: [76, 80] },
      c: { dtype: 'I8', shape: [2], data_offsets: [80, 82] },
      u: { dtype: 'U16', shape: [1], data_offsets: [82, 84] },
      v: { dtype: 'U32', shape: [1], data_offsets: [84, 88] },
      q: { dtype: 'BOOL', shape: [2], data_offsets: [88, 90] },
    };
    const rest = [0x00, 0x80, 0xff, 0x7f, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 7];
    const { tensors } = decodeSafetensors(rawFile(JSON.stringify(header), [...halfBytes, ...bf, ...f64, ...i64, ...rest]));
    const h = tensors.get('h')!.data as Float32Array;
    expect([...h].slice(2)).toEqual([1023 * 2 ** -24, -(2 ** -24), 2 ** -14, Infinity, -Infinity, NaN, 0.333251953125, -65504]);
    expect(Object.is(h[0], 0)).toBe(true);
    expect(Object.is(h[1], -0)).toBe(true);
    expect([...tensors.get('b')!.data]).toEqual([1, -3, Infinity, 2 ** -133]);
    expect(tensors.get('d')!.data).toEqual(new Float32Array([0.1, -Infinity, 2.5]));
    expect(tensors.get('l')!.data).toEqual(new Int32Array([-5, -2147483648, 2147483647]));
    expect(tensors.get('s')!.data).toEqual(new Int32Array([-32768, 32767]));
    expect(tensors.get('c')!.data).toEqual(new Int32Array([-128, -1]));
    expect(tensors.get('u')!.data).toEqual(new Int32Array([65535]));
    expect(tensors.get('v')!.data).toEqual(new Int32Array([2147483647]));
    expect(tensors.get('q')!.data).toEqual(new Uint8Array([0, 1])); // 7 normalised to true
  });

  it('accepts a header padded with JSON whitespace on either side', () => {
    expect(decodeSafetensors(rawFile('\t\n{}\r ')).tensors.size).toBe(0);
    const t = decodeSafetensors(rawFile(' {"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}  ', [9]));
    expect(t.tensors.get('x')!.data).toEqual(new Uint8Array([9]));
  });
});

const f = (shape: number[], offsets: unknown, dtype = 'F32') => ({ dtype, shape, data_offsets: offsets });
const file = (header: unknown, nData: number) => rawFile(JSON.stringify(header), new Array(nData).fill(0));

describe('decodeSafetensors rejects malformed and hostile files', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['empty file', new Uint8Array(0), /file is 0 bytes, shorter than the 8-byte header length prefix/],
    ['7-byte file', new Uint8Array(7), /file is 7 bytes, shorter than the 8-byte/],
    ['u64 header length beyond 2^53', withPrefix(0xffffffff00000000n, utf8('{}')), /header length 18446744069414584320 exceeds the maximum of 100000000 bytes/],
    ['header length over 100 MB', withPrefix(100_000_001, utf8('{}')), /header length 100000001 exceeds the maximum/],
    ['header length past the end', withPrefix(60, utf8('{}')), /header length 60 runs past the end of the file \(10 bytes/],
    ['only a length prefix', withPrefix(60, []), /runs past the end of the file \(8 bytes/],
    ['non-UTF-8 header', withPrefix(1, [0xff]), /header \(1 bytes\) is not valid UTF-8/],
    ['non-JSON header', rawFile('{'), /header is not valid JSON/],
    ['byte-order mark', rawFile('\ufeff{}'), /header is not valid JSON/],
    ['empty header', withPrefix(0, []), /header is not valid JSON/],
    ['array header', rawFile('[]'), /header must be a JSON object, got array \[\]/],
    ['string header', rawFile('"x"'), /header must be a JSON object, got string "x"/],
    ['null header', rawFile('null'), /header must be a JSON object, got null/],
    ['entry not an object', file({ a: 1 }, 0), /tensor 'a': header entry must be an object \{dtype, shape, data_offsets\}, got number 1/],
    ['missing dtype', file({ a: { shape: [], data_offsets: [0, 4] } }, 4), /tensor 'a': 'dtype' must be a string, got nothing/],
    ['unknown dtype', file({ a: f([1], [0, 4], 'F31') }, 4), /tensor 'a': unknown dtype "F31"/],
    ['unsupported dtype', file({ a: f([1], [0, 8], 'C64') }, 8), /tensor 'a': dtype C64 is not supported by BrickML/],
    ['negative dim', file({ a: f([2, -1], [0, 0]) }, 0), /tensor 'a': shape dimension 1 must be a non-negative integer, got number -1/],
    ['fractional dim', file({ a: f([1.5], [0, 6]) }, 6), /shape dimension 0 must be a non-negative integer, got number 1.5/],
    ['string dim', file({ a: f(['2'] as never, [0, 8]) }, 8), /shape dimension 0 must be a non-negative integer, got string "2"/],
    ['shape not an array', file({ a: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, 16), /tensor 'a': 'shape' must be an array/],
    ['overflowing dims', rawFile('{"a":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', new Array(16).fill(0)), /shape dimension 1 must be a non-negative integer/],
    ['one offset', file({ a: f([1], [0]) }, 4), /tensor 'a': 'data_offsets' must be \[begin, end\] with non-negative integers, got array \[0\]/],
    ['three offsets', file({ a: f([1], [0, 4, 8]) }, 4), /'data_offsets' must be \[begin, end\]/],
    ['string offset', file({ a: f([1], [0, '4']) }, 4), /'data_offsets' must be \[begin, end\]/],
    ['fractional offset', file({ a: f([1], [0, 4.5]) }, 5), /'data_offsets' must be \[begin, end\]/],
    ['negative offset', file({ a: f([1], [-4, 0]) }, 4), /'data_offsets' must be \[begin, end\]/],
    ['offsets not an array', file({ a: { dtype: 'F32', shape: [1], data_offsets: { begin: 0 } } }, 4), /'data_offsets' must be \[begin, end\]/],
    ['begin after end', file({ a: f([1], [8, 4]) }, 8), /tensor 'a': data_offsets \[8, 4\] begin after they end/],
    ['end past the data', file({ a: f([4], [0, 16]) }, 8), /tensor 'a': data_offsets \[0, 16\] end past the data section \(8 bytes/],
    ['truncated data (reference test)', rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Array(14).fill(0)), /end past the data section \(14 bytes/],
    ['size disagrees with shape', file({ a: f([2, 2], [0, 8]) }, 8), /tensor 'a': F32 shape \[2,2\] needs 16 bytes, but data_offsets \[0, 8\] hold 8/],
    ['size disagrees with dtype', file({ a: f([2], [0, 8], 'F16') }, 8), /tensor 'a': F16 shape \[2\] needs 4 bytes/],
    ['overlapping ranges', file({ a: f([2], [0, 8]), b: f([2], [4, 12]) }, 12), /tensor 'b' bytes \[4, 12\) overlap tensor 'a' bytes \[0, 8\)/],
    ['identical ranges', file({ a: f([1], [0, 4]), b: f([1], [0, 4]) }, 4), /tensor 'b' bytes \[0, 4\) overlap tensor 'a'/],
    ['gap between tensors', file({ a: f([1], [0, 4]), b: f([1], [8, 12]) }, 12), /bytes \[4, 8\) of the data section belong to no tensor \(gap before tensor 'b'\)/],
    ['gap at the start', file({ a: f([1], [4, 8]) }, 8), /bytes \[0, 4\) of the data section belong to no tensor/],
    ['trailing bytes', file({ a: f([1], [0, 4]) }, 8), /the data section has 4 trailing bytes after the last tensor/],
    ['polyglot tail (reference test)', rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', [...new Array(16).fill(0), ...utf8('extra_bogus_data_for_polyglot_file')]), /34 trailing bytes/],
    ['duplicate tensor key', rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [1, 2]), /header has duplicate key "a"/],
    ['duplicate escaped key', rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1]), /header has duplicate key "a"/],
    ['duplicate field', rawFile('{"a":{"dtype":"F32","dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [1]), /header entry "a" has duplicate key "dtype"/],
    ['duplicate metadata', rawFile('{"__metadata__":{"k":"1","k":"2"}}'), /header entry "__metadata__" has duplicate key "k"/],
    ['metadata not an object', file({ __metadata__: ['x'] }, 0), /'__metadata__' must be an object of strings, got array/],
    ['metadata number value', file({ __metadata__: { step: 3 } }, 0), /'__metadata__' entry 'step' must be a string, got number 3/],
    ['I64 above int32', rawFile(JSON.stringify({ i: f([2], [0, 16], 'I64') }), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]), /tensor 'i' \(I64\): element 1 is 4294967296, outside the int32 range/],
    ['I64 below int32', rawFile(JSON.stringify({ i: f([1], [0, 8], 'I64') }), [0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff]), /element 0 is -2147483649, outside the int32 range/],
    ['U32 above int32', rawFile(JSON.stringify({ i: f([1], [0, 4], 'U32') }), [0, 0, 0, 0x80]), /element 0 is 2147483648, outside/],
  ];
  it.each(cases)('%s', (_, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(CheckpointError);
    expect(() => decodeSafetensors(bytes)).toThrow(message);
    expect(() => decodeSafetensors(bytes)).toThrow(/^decodeSafetensors: /);
  });

  it('honours maxHeaderBytes', () => {
    const bytes = encodeSafetensors({ x: { dtype: 'U8', shape: [1], data: [1] } });
    expect(() => decodeSafetensors(bytes, { maxHeaderBytes: 16 })).toThrow(/header length 56 exceeds the maximum of 16 bytes/);
    expect(decodeSafetensors(bytes, { maxHeaderBytes: 56 }).tensors.size).toBe(1);
  });

  it('rejects input that is not bytes', () => {
    expect(() => decodeSafetensors([1, 2, 3] as never)).toThrow(/expected the file's bytes as a Uint8Array, got array/);
  });
});

describe('encodeSafetensors rejects bad input', () => {
  const ok = { dtype: 'F32' as const, shape: [1], data: [1] };
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['duplicate names', () => encodeSafetensors([['a', ok], ['a', ok]]), /duplicate tensor name 'a'/],
    ['reserved name', () => encodeSafetensors({ __metadata__: ok }), /'__metadata__' is reserved/],
    ['lone surrogate', () => encodeSafetensors({ '\ud800': ok }), /not valid Unicode/],
    ['unknown dtype', () => encodeSafetensors({ a: { ...ok, dtype: 'F16' as never } }), /tensor 'a': cannot encode dtype "F16" \(supported: F32, I32, U8, BOOL\)/],
    ['bad shape', () => encodeSafetensors({ a: { ...ok, shape: [-1] } }), /tensor 'a': shape must be an array of non-negative integers, got \[-1\]/],
    ['wrong element count', () => encodeSafetensors({ a: { ...ok, shape: [2, 2] } }), /tensor 'a': shape \[2,2\] needs 4 elements, data has 1/],
    ['I32 out of range', () => encodeSafetensors({ a: { dtype: 'I32', shape: [2], data: [1, 2 ** 31] } }), /I32 tensor holds 2147483648 at element 1/],
    ['U8 out of range', () => encodeSafetensors({ a: { dtype: 'U8', shape: [1], data: [256] } }), /U8 tensor holds 256 at element 0/],
    ['BOOL not 0/1', () => encodeSafetensors({ a: { dtype: 'BOOL', shape: [1], data: [2] } }), /BOOL tensor holds 2 at element 0/],
    ['metadata value not a string', () => encodeSafetensors({}, { step: 3 as never }), /metadata 'step' must be a string, got number/],
  ];
  it.each(cases)('%s', (_, run, message) => {
    expect(run).toThrow(CheckpointError);
    expect(run).toThrow(message);
  });
});
