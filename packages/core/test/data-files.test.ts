import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { encode as encodeJpeg } from 'jpeg-js';
import { gzipSync, zipSync } from 'fflate';
import type { BatchSource, ImageArraysBatch } from '../src/index.js';
import {
  DataFileError, decodeImage, encodeNpy, idxImages, imageArrays, imageFolder, ndArrayToTensor, parseIdx, parseNpy,
  parseNpz, readIdx, readNpy, readNpz, resizeImage,
} from '../src/index.js';

/** An .npy file written byte by byte (format 1.0), independent of encodeNpy. */
function npyBytes(descr: string, shape: number[], payload: Uint8Array, opts: { fortran?: boolean; version?: 1 | 2 } = {}): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const version = opts.version ?? 1;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) {
    out[8] = header.length & 0xff;
    out[9] = header.length >> 8;
  } else {
    new DataView(out.buffer).setUint32(8, header.length, true);
  }
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(payload, total);
  return out;
}

const le = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** An IDX file written byte by byte: magic, dims, big-endian data. */
function idxBytes(code: number, shape: number[], values: number[], put: (dv: DataView, o: number, v: number) => number): Uint8Array {
  const size = { 8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8 }[code] as number;
  const out = new Uint8Array(4 + 4 * shape.length + size * values.length);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  let o = 4 + 4 * shape.length;
  for (const v of values) o += put(dv, o, v);
  return out;
}


/** Bytes written by numpy 2.4 (`io.BytesIO` + np.savez_compressed / np.savez / np.save), base64. numpy forces ZIP64 members. */
const NUMPY = {
  // np.savez_compressed(x=np.arange(6, dtype=float32).reshape(2, 3) / 4, y=np.array([0, 2, 1]))
  savezCompressed: 'UEsDBC0AAAAIAAAAIQAKnACk//////////8FABQAeC5ucHkBABAAmAAAAAAAAABWAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TZqKuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GkY6CsaaOgq1CmQDLgYwaLADEvYMDA5A3ADEC+wBUEsDBC0AAAAIAAAAIQDm81VN//////////8FABQAeS5ucHkBABAAmAAAAAAAAABMAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TaaGuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GsY6mjoKtQoUAC4GKGCC0oxQGgBQSwECLQMtAAAACAAAACEACpwApFYAAACYAAAABQAAAAAAAAAAAAAAgAEAAAAAeC5ucHlQSwECLQMtAAAACAAAACEA5vNVTUwAAACYAAAABQAAAAAAAAAAAAAAgAGNAAAAeS5ucHlQSwUGAAAAAAIAAgBmAAAAEAEAAAAA',
  // np.savez(images=np.arange(8, dtype=uint8).reshape(2, 2, 2), mask=np.array([True, False]))
  savez: 'UEsDBC0AAAAAAAAAIQBhYP21//////////8KABQAaW1hZ2VzLm5weQEAEACIAAAAAAAAAIgAAAAAAAAAk05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAQIDBAUGB1BLAwQtAAAAAAAAACEA7hm7Xf//////////CAAUAG1hc2subnB5AQAQAIIAAAAAAAAAggAAAAAAAACTTlVNUFkBAHYAeydkZXNjcic6ICd8YjEnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgCgEAUEsBAi0DLQAAAAAAAAAhAGFg/bWIAAAAiAAAAAoAAAAAAAAAAAAAAIABAAAAAGltYWdlcy5ucHlQSwECLQMtAAAAAAAAACEA7hm7XYIAAACCAAAACAAAAAAAAAAAAAAAgAHEAAAAbWFzay5ucHlQSwUGAAAAAAIAAgBuAAAAgAEAAAAA',
  // np.save(np.asfortranarray(np.arange(6.0).reshape(2, 3)))
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAAhAAAAAAAAA8D8AAAAAAAAQQAAAAAAAAABAAAAAAAAAFEA=',
  // np.save(np.arange(3, dtype='>i2'))
  bigEndian: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmkyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAABAAI=',
};
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

describe('files written by numpy', () => {
  it('reads savez_compressed and savez archives (ZIP64 members), big-endian, and rejects Fortran order', () => {
    const z = parseNpz(b64(NUMPY.savezCompressed));
    expect(z.x.shape).toEqual([2, 3]);
    expect(Array.from(z.x.data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(z.y.dtype).toBe('int64');
    expect(Array.from(z.y.data)).toEqual([0, 2, 1]);
    const s = parseNpz(b64(NUMPY.savez));
    expect(s.images.shape).toEqual([2, 2, 2]);
    expect(Array.from(s.images.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(s.mask.dtype).toBe('bool');
    expect(Array.from(s.mask.data)).toEqual([1, 0]);
    expect(Array.from(parseNpy(b64(NUMPY.bigEndian)).data)).toEqual([0, 1, 2]);
    expect(() => parseNpy(b64(NUMPY.fortran), 'f.npy')).toThrow(
      "parseNpy: 'f.npy' is stored in Fortran (column-major) order; expected C order: save it with numpy.ascontiguousarray(a) first");
  });
});

describe('npy', () => {
  it('reads float32, float64, ints, uint8 and bool in C order, little and big endian', () => {
    const f32 = parseNpy(npyBytes('<f4', [2, 3], le(Float32Array.of(1, 2, 3, 4, 5, 6.5))));
    expect(f32.shape).toEqual([2, 3]);
    expect(f32.dtype).toBe('float32');
    expect(Array.from(f32.data)).toEqual([1, 2, 3, 4, 5, 6.5]);
    const f64 = parseNpy(npyBytes('<f8', [2], le(Float64Array.of(0.1, -2))));
    expect(f64.data).toBeInstanceOf(Float64Array);
    expect(Array.from(f64.data)).toEqual([0.1, -2]);
    const i64 = parseNpy(npyBytes('<i8', [3], le(BigInt64Array.of(-5n, 0n, 7n))));
    expect(i64.data).toBeInstanceOf(Int32Array);
    expect(Array.from(i64.data)).toEqual([-5, 0, 7]);
    const u8 = parseNpy(npyBytes('|u1', [4], Uint8Array.of(0, 1, 200, 255)));
    expect(Array.from(u8.data)).toEqual([0, 1, 200, 255]);
    const b = parseNpy(npyBytes('|b1', [3], Uint8Array.of(1, 0, 1)));
    expect(b.dtype).toBe('bool');
    expect(Array.from(b.data)).toEqual([1, 0, 1]);
    // big-endian int32 [1, 256] and float32 1.5
    const be = parseNpy(npyBytes('>i4', [2], Uint8Array.of(0, 0, 0, 1, 0, 0, 1, 0)));
    expect(Array.from(be.data)).toEqual([1, 256]);
    const bef = parseNpy(npyBytes('>f4', [1], Uint8Array.of(0x3f, 0xc0, 0, 0)));
    expect(Array.from(bef.data)).toEqual([1.5]);
    // version 2.0 header and a 0-d array
    const v2 = parseNpy(npyBytes('<i4', [], le(Int32Array.of(42)), { version: 2 }));
    expect(v2.shape).toEqual([]);
    expect(Array.from(v2.data)).toEqual([42]);
  });

  it('round-trips encodeNpy and converts to tensors', () => {
    const data = Float32Array.of(1, -2, 3, 4);
    const back = parseNpy(encodeNpy(data, [2, 2]));
    expect(back.shape).toEqual([2, 2]);
    expect(Array.from(back.data)).toEqual([1, -2, 3, 4]);
    const before = tf.memory().numTensors;
    const t = ndArrayToTensor(parseNpy(npyBytes('<f8', [2], le(Float64Array.of(0.5, 2)))));
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.dataSync())).toEqual([0.5, 2]);
    const ti = ndArrayToTensor(parseNpy(npyBytes('|u1', [2], Uint8Array.of(3, 250))));
    expect(ti.dtype).toBe('int32');
    const tb = ndArrayToTensor(parseNpy(npyBytes('|b1', [2], Uint8Array.of(0, 1))));
    expect(tb.dtype).toBe('bool');
    tf.dispose([t, ti, tb]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects Fortran order, bad dtypes, truncation and garbage with the exact message', () => {
    expect(() => parseNpy(npyBytes('<f4', [2, 2], new Uint8Array(16), { fortran: true }), 'a.npy')).toThrow(
      "parseNpy: 'a.npy' is stored in Fortran (column-major) order; expected C order: save it with numpy.ascontiguousarray(a) first");
    const full = npyBytes('<f4', [2, 3], new Uint8Array(24));
    expect(() => parseNpy(full.subarray(0, full.length - 4), 'x.npy')).toThrow(
      "parseNpy: 'x.npy' is truncated: shape [2, 3] of <f4 needs 24 data bytes, found 20");
    expect(() => parseNpy(full.subarray(0, 30), 'x.npy')).toThrow(
      "parseNpy: 'x.npy' is truncated: expected a 118-byte header after byte 10, found 20 bytes");
    expect(() => parseNpy(Uint8Array.of(1, 2, 3), 'y.npy')).toThrow(
      "parseNpy: 'y.npy' is not an .npy file: expected the magic \\x93NUMPY and a version, found bytes 01 02 03 (3 bytes in all)");
    expect(() => parseNpy(npyBytes('<f2', [1], new Uint8Array(2)), 'h.npy')).toThrow(
      "parseNpy: 'h.npy' has dtype '<f2'; expected one of float32 (<f4), float64 (<f8), int8/16/32/64, uint8/16/32/64 or bool (|b1)");
    expect(() => parseNpy(npyBytes('<i8', [1], le(BigInt64Array.of(1n << 40n))), 'big.npy')).toThrow(
      "parseNpy: 'big.npy' holds int64 value 1099511627776 at index 0; expected values that fit in int32 (tfjs has no 64-bit integers)");
    expect(() => parseNpy(npyBytes('<f4', [1], new Uint8Array(8)), 'long.npy')).toThrow(
      "parseNpy: 'long.npy' has extra bytes after the data: shape [1] of <f4 needs 4 data bytes, found 8");
    expect(() => parseNpy(npyBytes('<f4', [1], new Uint8Array(2)))).toThrow(DataFileError);
  });
});

describe('npz', () => {
  const x = npyBytes('<f4', [2, 2], le(Float32Array.of(1, 2, 3, 4)));
  const y = npyBytes('<i8', [2], le(BigInt64Array.of(0n, 1n)));

  it('reads stored and deflated archives', () => {
    for (const level of [0, 6] as const) {
      const z = parseNpz(zipSync({ 'x.npy': x, 'y.npy': y }, { level }));
      expect(Object.keys(z)).toEqual(['x', 'y']);
      expect(z.x.shape).toEqual([2, 2]);
      expect(Array.from(z.x.data)).toEqual([1, 2, 3, 4]);
      expect(Array.from(z.y.data)).toEqual([0, 1]);
    }
  });

  it('names the file (and member) for corrupt or truncated archives', () => {
    const z = zipSync({ 'x.npy': x }, { level: 6 });
    expect(() => parseNpz(z.subarray(0, z.length - 10), 'd.npz')).toThrow(/^parseNpz: 'd\.npz' is a corrupt or truncated zip archive: /);
    expect(() => parseNpz(Uint8Array.of(0, 1, 2, 3), 'd.npz')).toThrow(
      "parseNpz: 'd.npz' is not an .npz file: expected a zip archive (bytes 50 4b, \"PK\"), found bytes 00 01 02 03 (4 bytes in all)");
    const bad = zipSync({ 'x.npy': x.subarray(0, x.length - 4) }, { level: 0 });
    expect(() => parseNpz(bad, 'd.npz')).toThrow(
      "parseNpz: 'd.npz:x.npy' is truncated: shape [2, 2] of <f4 needs 16 data bytes, found 12");
  });
});

describe('idx', () => {
  const u8 = idxBytes(0x08, [2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255], (dv, o, v) => (dv.setUint8(o, v), 1));

  it('reads raw and gzipped files of every dtype code', () => {
    for (const bytes of [u8, gzipSync(u8)]) {
      const a = parseIdx(bytes);
      expect(a.dtype).toBe('uint8');
      expect(a.shape).toEqual([2, 2, 3]);
      expect(Array.from(a.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    }
    const i32 = parseIdx(idxBytes(0x0c, [2], [-7, 65536], (dv, o, v) => (dv.setInt32(o, v, false), 4)));
    expect(Array.from(i32.data)).toEqual([-7, 65536]);
    const f32 = parseIdx(idxBytes(0x0d, [2], [1.5, -0.25], (dv, o, v) => (dv.setFloat32(o, v, false), 4)));
    expect(Array.from(f32.data)).toEqual([1.5, -0.25]);
    const f64 = parseIdx(idxBytes(0x0e, [1], [0.1], (dv, o, v) => (dv.setFloat64(o, v, false), 8)));
    expect(Array.from(f64.data)).toEqual([0.1]);
    const i16 = parseIdx(idxBytes(0x0b, [2], [-2, 300], (dv, o, v) => (dv.setInt16(o, v, false), 2)));
    expect(Array.from(i16.data)).toEqual([-2, 300]);
    const i8 = parseIdx(idxBytes(0x09, [2], [-2, 3], (dv, o, v) => (dv.setInt8(o, v), 1)));
    expect(Array.from(i8.data)).toEqual([-2, 3]);
  });

  it('names the file for truncated, corrupt and foreign bytes', () => {
    expect(() => parseIdx(u8.subarray(0, u8.length - 1), 'img.idx')).toThrow(
      "parseIdx: 'img.idx' is truncated: shape [2, 2, 3] of uint8 needs 12 data bytes, found 11");
    expect(() => parseIdx(u8.subarray(0, 9), 'img.idx')).toThrow(
      "parseIdx: 'img.idx' is truncated: expected 3 dimension sizes (12 bytes) after the magic, found 5 bytes");
    const gz = gzipSync(u8);
    expect(() => parseIdx(gz.subarray(0, gz.length - 12), 'img.gz')).toThrow(/^parseIdx: 'img\.gz' is a corrupt or truncated gzip stream: /);
    expect(() => parseIdx(Uint8Array.of(0, 0, 0x0f, 1, 0, 0, 0, 0), 'img.idx')).toThrow(
      "parseIdx: 'img.idx' has IDX dtype code 0x0f; expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e");
    expect(() => parseIdx(Uint8Array.of(0x50, 0x4b, 3, 4), 'img.idx')).toThrow(
      "parseIdx: 'img.idx' is not an IDX file: expected the magic 00 00 <dtype> <ndims>, found bytes 50 4b 03 04");
  });
});

describe('image decoding and resizing', () => {
  it('decodes PNG (gray, RGB, RGBA, 16-bit, palette, 1-bit) and JPEG, with gray conversion', () => {
    const rgb = decodeImage(encodePng({ width: 2, height: 1, data: Uint8Array.of(255, 0, 0, 0, 0, 255), channels: 3, depth: 8 }));
    expect([rgb.height, rgb.width, rgb.channels]).toEqual([1, 2, 3]);
    expect(Array.from(rgb.data)).toEqual([255, 0, 0, 0, 0, 255]);
    const rgba = decodeImage(encodePng({ width: 1, height: 1, data: Uint8Array.of(10, 20, 30, 40), channels: 4, depth: 8 }), 'a', 1);
    expect(Array.from(rgba.data)).toEqual([Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)]);
    const gray = decodeImage(encodePng({ width: 2, height: 1, data: Uint8Array.of(7, 9), channels: 1, depth: 8 }));
    expect(Array.from(gray.data)).toEqual([7, 7, 7, 9, 9, 9]);
    const g16 = decodeImage(encodePng({ width: 2, height: 1, data: Uint16Array.of(65535, 257 * 3), channels: 1, depth: 16 }), 'g', 1);
    expect(Array.from(g16.data)).toEqual([255, 3]);
    const pal = decodeImage(encodePng({ width: 2, height: 1, data: Uint8Array.of(1, 0), channels: 1, depth: 8, palette: [[1, 2, 3], [4, 5, 6]] }));
    expect(Array.from(pal.data)).toEqual([4, 5, 6, 1, 2, 3]);
    const bits = decodeImage(encodePng({ width: 3, height: 2, data: Uint8Array.of(0b10100000, 0b01000000), channels: 1, depth: 1 }), 'b', 1);
    expect(Array.from(bits.data)).toEqual([255, 0, 255, 0, 255, 0]);
    const flat = new Uint8Array(8 * 8 * 4);
    for (let p = 0; p < 64; p++) flat.set([200, 100, 50, 255], 4 * p);
    const jpg = decodeImage(new Uint8Array(encodeJpeg({ width: 8, height: 8, data: flat }, 95).data));
    expect([jpg.height, jpg.width, jpg.channels]).toEqual([8, 8, 3]);
    for (let p = 0; p < 64; p++) {
      expect(Math.abs(jpg.data[3 * p] - 200)).toBeLessThanOrEqual(3);
      expect(Math.abs(jpg.data[3 * p + 1] - 100)).toBeLessThanOrEqual(3);
      expect(Math.abs(jpg.data[3 * p + 2] - 50)).toBeLessThanOrEqual(3);
    }
  });

  it('names the file for corrupt, truncated and unknown images', () => {
    const png = encodePng({ width: 4, height: 4, data: new Uint8Array(48).fill(9), channels: 3, depth: 8 });
    expect(() => decodeImage(png.subarray(0, 40), 'cut.png')).toThrow(/^decodeImage: 'cut\.png' is a corrupt or truncated PNG file: /);
    const jpg = new Uint8Array(encodeJpeg({ width: 8, height: 8, data: new Uint8Array(256).fill(90) }, 90).data);
    expect(() => decodeImage(jpg.subarray(0, jpg.length - 2), 'cut.jpg')).toThrow(
      "decodeImage: 'cut.jpg' is a corrupt or truncated JPEG file: marker was not found");
    expect(() => decodeImage(new TextEncoder().encode('hello'), 'notes.png')).toThrow(
      "decodeImage: 'notes.png' is not a PNG or JPEG image: expected the magic 89 50 4e 47 (PNG) or ff d8 ff (JPEG), found bytes 68 65 6c 6c");
  });

  it('resizes: identity, constants kept, upscaling equals bilinear inside, downscaling averages', async () => {
    const src = Float32Array.from({ length: 6 * 6 * 2 }, (_, i) => (i * 37) % 11);
    expect(Array.from(resizeImage(src, 6, 6, 2, 6, 6))).toEqual(Array.from(src));
    const c = resizeImage(new Float32Array(5 * 7 * 3).fill(0.25), 5, 7, 3, 3, 11);
    for (const v of c) expect(v).toBeCloseTo(0.25, 6);
    const up = resizeImage(src, 6, 6, 2, 12, 12);
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor4d(src, [1, 6, 6, 2]), [12, 12], false, true).dataSync());
    for (let y = 1; y < 11; y++) {
      for (let x = 1; x < 11; x++) {
        for (let ch = 0; ch < 2; ch++) expect(up[(y * 12 + x) * 2 + ch]).toBeCloseTo(ref[(y * 12 + x) * 2 + ch], 4);
      }
    }
    // A 1-pixel checkerboard shrunk 4x becomes flat grey (antialiased), not a moiré of 0s and 1s.
    const board = Float32Array.from({ length: 16 * 16 }, (_, i) => ((i % 16) + Math.floor(i / 16)) % 2);
    for (const v of resizeImage(board, 16, 16, 1, 4, 4)) expect(v).toBeCloseTo(0.5, 1);
  });
});

describe('files on disk', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'brickml-files-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('readNpy / readNpz / readIdx read files and name missing ones', async () => {
    await writeFile(join(dir, 'a.npy'), npyBytes('<f4', [2], le(Float32Array.of(3, 4))));
    await writeFile(join(dir, 'b.npz'), zipSync({ 'w.npy': npyBytes('|u1', [1], Uint8Array.of(9)) }));
    await writeFile(join(dir, 'c.idx.gz'), gzipSync(idxBytes(0x08, [3], [1, 2, 3], (dv, o, v) => (dv.setUint8(o, v), 1))));
    expect(Array.from((await readNpy(join(dir, 'a.npy'))).data)).toEqual([3, 4]);
    expect(Array.from((await readNpz(join(dir, 'b.npz'))).w.data)).toEqual([9]);
    expect(Array.from((await readIdx(join(dir, 'c.idx.gz'))).data)).toEqual([1, 2, 3]);
    await expect(readNpy(join(dir, 'missing.npy'))).rejects.toThrow(`readNpy: cannot read '${join(dir, 'missing.npy')}': ENOENT`);
    await writeFile(join(dir, 'cut.npy'), npyBytes('<f4', [4], new Uint8Array(10)));
    await expect(readNpy(join(dir, 'cut.npy'))).rejects.toThrow(`readNpy: '${join(dir, 'cut.npy')}' is truncated: shape [4] of <f4 needs 16 data bytes, found 10`);
  });

  it('imageFolder: sorted classes, PNG and JPEG, resize, channels, range, split, errors', async () => {
    const root = join(dir, 'folder');
    const colours: Record<string, [number, number, number]> = { cat: [250, 10, 10], ant: [10, 250, 10], dog: [10, 10, 250] };
    for (const [name, rgb] of Object.entries(colours)) {
      await mkdir(join(root, name), { recursive: true });
      for (let k = 0; k < 4; k++) {
        const side = 8 + 4 * (k % 2); // mixed sizes: 8 and 12
        const rgba = new Uint8Array(side * side * 4);
        for (let p = 0; p < side * side; p++) rgba.set([...rgb, 255], 4 * p);
        const bytes = k === 3 ? new Uint8Array(encodeJpeg({ width: side, height: side, data: rgba }, 95).data)
          : encodePng({ width: side, height: side, data: rgba, channels: 4, depth: 8 });
        await writeFile(join(root, name, `img${k}.${k === 3 ? 'jpg' : 'png'}`), bytes);
      }
    }
    await writeFile(join(root, 'cat', 'notes.txt'), 'not an image');
    await mkdir(join(root, '.hidden'), { recursive: true });
    const ds = await imageFolder(root, { size: 6, batchSize: 5, seed: 3, range: [0, 1] });
    expect(ds.classNames).toEqual(['ant', 'cat', 'dog']);
    expect(ds.size).toBe(12);
    expect(ds.imageShape).toEqual([3, 6, 6]);
    expect(ds.classCounts).toEqual([4, 4, 4]);
    expect(ds.sources?.[0]).toBe(join(root, 'ant', 'img0.png'));
    const before = tf.memory().numTensors;
    const b = ds.next();
    expect(b.images.shape).toEqual([5, 3, 6, 6]);
    const px = await b.images.data();
    const lab = await b.labels.data();
    for (let i = 0; i < 5; i++) {
      const rgb = colours[ds.classNames[lab[i]]];
      for (let ch = 0; ch < 3; ch++) {
        for (let p = 0; p < 36; p++) expect(Math.abs(px[(i * 3 + ch) * 36 + p] - rgb[ch] / 255)).toBeLessThan(0.03);
      }
    }
    tf.dispose(b);
    expect(tf.memory().numTensors).toBe(before);

    const gray = await imageFolder(root, { size: [4, 5], channels: 1, batchSize: 2, seed: 0, layout: 'nhwc' });
    const g = gray.next();
    expect(g.images.shape).toEqual([2, 4, 5, 1]);
    const gv = await g.images.data();
    expect(Math.min(...gv)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...gv)).toBeLessThanOrEqual(1);
    tf.dispose(g);

    const { train, test } = ds.split(0.25, 7);
    expect(train.size).toBe(9);
    expect(test.classCounts).toEqual([1, 1, 1]);
    const again = ds.split(0.25, 7);
    expect(Array.from(again.test.sources ?? [])).toEqual(Array.from(test.sources ?? []));

    await expect(imageFolder(root, { batchSize: 2, seed: 0 })).rejects.toThrow(
      `imageFolder: '${join(root, 'ant', 'img1.png')}' is 12x12 (height x width) but '${join(root, 'ant', 'img0.png')}' is 8x8; pass size to resize every image`);
    await writeFile(join(root, 'dog', 'img9.png'), encodePng({ width: 2, height: 2, data: new Uint8Array(16), channels: 4, depth: 8 }).subarray(0, 30));
    await expect(imageFolder(root, { size: 6, batchSize: 2, seed: 0 })).rejects.toThrow(
      new RegExp(`^imageFolder: '${join(root, 'dog', 'img9.png').replace(/[.\\/]/g, '\\$&')}' is a corrupt or truncated PNG file: `));
    await mkdir(join(root, 'emu'));
    await expect(imageFolder(root, { size: 6, batchSize: 2, seed: 0 })).rejects.toThrow(
      `imageFolder: '${join(root, 'emu')}' (class 'emu') has no image files; expected at least one .png, .jpg, .jpeg file`);
    await expect(imageFolder(join(dir, 'nope'), { batchSize: 2 })).rejects.toThrow(`imageFolder: cannot read directory '${join(dir, 'nope')}': ENOENT`);
  });

  it('idxImages reads an MNIST-style pair (gzipped images, raw labels)', async () => {
    const n = 6;
    const pixels = Array.from({ length: n * 4 * 4 }, (_, i) => (i * 13) % 256);
    await writeFile(join(dir, 'imgs.gz'), gzipSync(idxBytes(0x08, [n, 4, 4], pixels, (dv, o, v) => (dv.setUint8(o, v), 1))));
    await writeFile(join(dir, 'labels'), idxBytes(0x08, [n], [0, 1, 2, 0, 1, 2], (dv, o, v) => (dv.setUint8(o, v), 1)));
    const ds = await idxImages(join(dir, 'imgs.gz'), join(dir, 'labels'), { batchSize: 6, seed: 0, shuffle: false, range: [0, 1] });
    expect(ds.imageShape).toEqual([1, 4, 4]);
    expect(ds.numClasses).toBe(3);
    const b = ds.next();
    expect(Array.from(await b.labels.data())).toEqual([0, 1, 2, 0, 1, 2]);
    const v = await b.images.data();
    for (let i = 0; i < pixels.length; i++) expect(v[i]).toBeCloseTo(pixels[i] / 255, 6);
    tf.dispose(b);
    await writeFile(join(dir, 'labels5'), idxBytes(0x08, [5], [0, 1, 2, 0, 1], (dv, o, v2) => (dv.setUint8(o, v2), 1)));
    await expect(idxImages(join(dir, 'imgs.gz'), join(dir, 'labels5'), { batchSize: 2 })).rejects.toThrow(
      `idxImages: '${join(dir, 'labels5')}' holds 5 labels but '${join(dir, 'imgs.gz')}' holds 6 images`);
  });
});

describe('imageArrays', () => {
  const n = 10;
  const pixels = Uint8Array.from({ length: n * 2 * 2 * 3 }, (_, i) => i % 256);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);

  it('serves every image once per epoch, reshuffles, and resumes from a saved state', async () => {
    const ds = imageArrays({ pixels, shape: [n, 2, 2, 3], labels }, { batchSize: 4, seed: 1 });
    const source: BatchSource<ImageArraysBatch> = ds; // the Trainer's data contract, resumable
    expect(typeof source.getState).toBe('function');
    const seen: number[] = [];
    for (const b of ds.epoch()) {
      seen.push(...(await b.images.data()).filter((_, i) => i % 12 === 0).map((v) => Math.round(((v + 1) / 2) * 255)));
      tf.dispose(b);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => (i * 12) % 256));
    const s = ds.getState();
    const take = async () => {
      const out: number[][] = [];
      for (let k = 0; k < 4; k++) {
        const b = ds.next();
        out.push(Array.from(await b.labels.data()), Array.from(await b.images.data()));
        tf.dispose(b);
      }
      return out;
    };
    const first = await take();
    ds.setState(s);
    expect(await take()).toEqual(first);
    const json = JSON.parse(JSON.stringify(s));
    const twin = imageArrays({ pixels, shape: [n, 2, 2, 3], labels }, { batchSize: 4, seed: 99 });
    twin.setState(json);
    const b1 = twin.next();
    expect([Array.from(await b1.labels.data()), Array.from(await b1.images.data())]).toEqual(first.slice(0, 2));
    tf.dispose(b1);
  });

  it('maps NCHW sources and validates inputs', () => {
    const nchw = Uint8Array.of(1, 2, 3, 4, 10, 20, 30, 40, 100, 200, 250, 255); // one 3x2x2 image
    const ds = imageArrays({ pixels: nchw, shape: [1, 3, 2, 2], layout: 'nchw', labels: [0] }, { batchSize: 1, seed: 0, range: [0, 1] });
    const s = ds.gather([0]);
    expect(Array.from(s.images).map((v) => Math.round(v * 255))).toEqual(Array.from(nchw));
    expect(() => imageArrays({ pixels, shape: [n, 2, 2, 2], labels }, { batchSize: 1 })).toThrow(
      'imageArrays: images need 1 or 3 channels, got shape [10, 2, 2, 2] (layout nhwc)');
    expect(() => imageArrays({ pixels, shape: [n, 2, 2, 3], labels: [1, 2] }, { batchSize: 1 })).toThrow(
      'imageArrays: labels must hold one class index per image (10), got 2 entries');
    expect(() => imageArrays({ pixels: Float32Array.of(2), shape: [1, 1, 1], labels: [0] }, { batchSize: 1 })).toThrow(
      'imageArrays: float pixels must be in [0, 1], got 2 at index 0');
  });
});
