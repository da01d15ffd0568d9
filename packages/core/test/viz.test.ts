import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { decode } from 'fast-png';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { colormapRgb, colormapTable } from '../src/viz/colormap.js';
import {
  encodePng, heatmapRgba, imageGrid, imageGridPng, imageGridSync, writePng, type RgbaImage,
} from '../src/viz/png.js';
import { linePlotSpec, lossCurvePng, lossCurveSpec, renderSpecToPng, renderSpecToSvg } from '../src/viz/plot.js';
import { encodeGif, videoGif, videoGridFrames } from '../src/viz/gif.js';
import { movingSprites } from '../src/data/moving-sprites.js';

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function pixel(img: RgbaImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 4;
  return Array.from(img.rgba.subarray(o, o + 4));
}

/** Walks a GIF's block structure (no LZW decoding): size, loop count, frames with their delays. */
function parseGif(bytes: Uint8Array): { width: number; height: number; loop?: number; frames: { w: number; h: number; delayCs: number }[] } {
  const ascii = (a: number, b: number) => String.fromCharCode(...bytes.subarray(a, b));
  expect(ascii(0, 6)).toBe('GIF89a');
  const u16 = (o: number) => bytes[o] | (bytes[o + 1] << 8);
  const width = u16(6);
  const height = u16(8);
  let p = 13;
  if (bytes[10] & 0x80) p += 3 * (1 << ((bytes[10] & 7) + 1));
  const skipSubBlocks = () => {
    while (bytes[p] !== 0) p += bytes[p] + 1;
    p++;
  };
  const frames: { w: number; h: number; delayCs: number }[] = [];
  let loop: number | undefined;
  let delay = 0;
  for (;;) {
    const b = bytes[p++];
    if (b === 0x3b) break;
    if (b === 0x21) {
      const label = bytes[p++];
      if (label === 0xf9) delay = u16(p + 2);
      if (label === 0xff && ascii(p + 1, p + 12) === 'NETSCAPE2.0') loop = u16(p + 14);
      skipSubBlocks();
    } else if (b === 0x2c) {
      const w = u16(p + 4);
      const h = u16(p + 6);
      const flags = bytes[p + 8];
      p += 9;
      if (flags & 0x80) p += 3 * (1 << ((flags & 7) + 1));
      p++; // LZW minimum code size
      skipSubBlocks();
      frames.push({ w, h, delayCs: delay });
    } else {
      throw new Error(`unexpected GIF block 0x${b?.toString(16)} at ${p - 1}`);
    }
  }
  expect(p).toBe(bytes.length);
  return { width, height, loop, frames };
}

describe('PNG and image grids', () => {
  it('encodePng round-trips exact pixels through fast-png', () => {
    const rgba = new Uint8Array(3 * 2 * 4);
    for (let k = 0; k < rgba.length; k++) rgba[k] = (k * 37 + 11) % 256;
    const png = encodePng(rgba, 3, 2);
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    const img = decode(png);
    expect([img.width, img.height, img.channels, img.depth]).toEqual([3, 2, 4, 8]);
    expect(Array.from(img.data)).toEqual(Array.from(rgba));
    expect(() => encodePng(rgba, 3, 3)).toThrow(/encodePng: rgba must hold width\*height\*4 = 36 bytes, got 24/);
  });

  // Two 2×2 RGB images, NCHW, values in [-1, 1].
  const nchw = {
    data: Float32Array.from([
      // image 0: R, G, B planes
      -1, 1, 0, 0.5, /**/ -1, -1, 1, 1, /**/ 1, 1, 1, -2,
      // image 1
      0, 0, 0, 0, /**/ 1, 1, 1, 1, /**/ -1, -1, -1, -1,
    ]),
    shape: [2, 3, 2, 2],
  };
  const byte = (v: number) => Math.round(Math.min(1, Math.max(0, (v + 1) / 2)) * 255);

  it('tiles NCHW images with padding at the documented offsets', () => {
    const g = imageGridSync(nchw, { cols: 2, pad: 1 });
    expect([g.width, g.height]).toEqual([2 * 2 + 3, 2 + 2]);
    // Padding is white.
    for (const [x, y] of [[0, 0], [3, 1], [6, 3], [2, 0]]) expect(pixel(g, x, y)).toEqual([255, 255, 255, 255]);
    for (let n = 0; n < 2; n++) {
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) {
          const rgb = [0, 1, 2].map((c) => byte(nchw.data[((n * 3 + c) * 2 + i) * 2 + j]));
          expect(pixel(g, 1 + n * 3 + j, 1 + i)).toEqual([...rgb, 255]);
        }
      }
    }
    // Hand-computed: image 0 pixel (0, 1) is R=1 → 255, G=−1 → 0, B=1 → 255; pixel (1, 1) B=−2 clips to 0.
    expect(pixel(g, 2, 1)).toEqual([255, 0, 255, 255]);
    expect(pixel(g, 2, 2)).toEqual([191, 255, 0, 255]);
    expect(pixel(g, 1, 2)).toEqual([128, 255, 255, 255]);
  });

  it('scales, fills empty cells, and reads NHWC, grey and [0, 1] images', async () => {
    const big = imageGridSync(nchw, { cols: 1, pad: 0, scale: 3 });
    expect([big.width, big.height]).toEqual([6, 12]);
    expect(pixel(big, 5, 2)).toEqual([255, 0, 255, 255]); // image 0, pixel (0, 1), scaled ×3
    expect(pixel(big, 1, 7)).toEqual([128, 255, 0, 255]); // image 1, pixel (0, 0)
    // NHWC: transpose the same data; same picture.
    const nhwc = new Float32Array(nchw.data.length);
    for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let p = 0; p < 4; p++) nhwc[(n * 4 + p) * 3 + c] = nchw.data[(n * 3 + c) * 4 + p];
    const a = imageGridSync(nchw, { cols: 2 });
    expect(Array.from(imageGridSync({ data: nhwc, shape: [2, 2, 2, 3] }, { cols: 2, layout: 'nhwc' }).rgba)).toEqual(Array.from(a.rgba));
    // Grey [0, 1] image replicated to RGB; 3 images in 2 columns leave one empty, pad-coloured cell.
    const grey = imageGridSync({ data: [0, 0.5, 1, 0.25, 0, 0, 0, 0, 1, 1, 1, 1], shape: [3, 1, 2, 2] },
      { range: [0, 1], pad: 0, padColor: [9, 8, 7] });
    expect([grey.width, grey.height]).toEqual([4, 4]);
    expect(pixel(grey, 1, 0)).toEqual([128, 128, 128, 255]);
    expect(pixel(grey, 1, 1)).toEqual([64, 64, 64, 255]);
    expect(pixel(grey, 3, 3)).toEqual([9, 8, 7, 255]);
    // A tensor gives the same grid (read with await data()); imageGridPng decodes to it.
    const t = tf.tensor4d(nchw.data, [2, 3, 2, 2]);
    expect(Array.from((await imageGrid(t, { cols: 2 })).rgba)).toEqual(Array.from(a.rgba));
    const png = decode(await imageGridPng(t, { cols: 2 }));
    expect(Array.from(png.data)).toEqual(Array.from(a.rgba));
    t.dispose();
    expect(() => imageGridSync({ data: new Float32Array(2 * 5 * 4 * 4), shape: [2, 5, 4, 4] })).toThrow(/1 or 3 channels/);
  });

  it('colours heat maps with viridis, stretched over an image when overlaid', () => {
    expect(colormapRgb('viridis', 0)).toEqual([0x44, 0x01, 0x54]);
    expect(colormapRgb('viridis', 1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(colormapRgb('viridis', 0.5)).toEqual([0x21, 0x91, 0x8d]); // the 13th of 25 stops
    expect(colormapTable('gray').subarray(3 * 77, 3 * 78)).toEqual(Uint8Array.of(77, 77, 77));
    const hm = heatmapRgba([0, 1, 2, 4], 2, 2);
    expect(pixel(hm, 0, 0)).toEqual([0x44, 0x01, 0x54, 255]);
    expect(pixel(hm, 1, 1)).toEqual([0xfd, 0xe7, 0x25, 255]);
    expect(pixel(hm, 1, 0)).toEqual([...colormapRgb('viridis', 0.25), 255]);
    const base: RgbaImage = { width: 4, height: 4, rgba: new Uint8Array(64).fill(200) };
    const over = heatmapRgba([0, 1, 2, 4], 2, 2, { overlay: base, alpha: 0.5 });
    expect([over.width, over.height]).toEqual([4, 4]);
    // Pixel (3, 3) lies in cell (1, 1): half viridis(1), half grey 200.
    expect(pixel(over, 3, 3)).toEqual([Math.round((0xfd + 200) / 2), Math.round((0xe7 + 200) / 2), Math.round((0x25 + 200) / 2), 255]);
    expect(pixel(over, 1, 1)).toEqual([Math.round((0x44 + 200) / 2), Math.round((0x01 + 200) / 2), Math.round((0x54 + 200) / 2), 255]);
    const fixed = heatmapRgba([0, 1, 2, 4], 2, 2, { min: 0, max: 8, colormap: 'gray', scale: 2 });
    expect([fixed.width, fixed.height]).toEqual([4, 4]);
    expect(pixel(fixed, 3, 3)).toEqual([128, 128, 128, 255]);
  });

  it('writes PNG bytes to a new folder (Node)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'brickml-viz-'));
    try {
      const bytes = encodePng(new Uint8Array([1, 2, 3, 4]), 1, 1);
      const path = join(dir, 'sub', 'x.png');
      await writePng(path, bytes);
      expect(Array.from(await readFile(path))).toEqual(Array.from(bytes));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('plots', () => {
  const series = [
    { name: 'train', x: [0, 1, 2, 3, 4], y: [2, 1.2, 0.8, NaN, 0.5] },
    { name: 'eval', x: [0, 2, 4], y: [2.1, 0.9, -1] },
  ];

  it('builds a Vega-Lite line spec as plain JSON', () => {
    const spec = linePlotSpec({ series, title: 'Loss', xLabel: 'step', yLabel: 'loss', logY: true });
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
    expect(spec.$schema).toMatch(/vega-lite/);
    const values = (spec.data as { values: { series: string; x: number; y: number }[] }).values;
    // The NaN and (log axis) the negative point are dropped.
    expect(values).toHaveLength(6);
    expect(values[3]).toEqual({ series: 'train', x: 4, y: 0.5 });
    const enc = spec.encoding as Record<string, Record<string, unknown>>;
    expect(enc.y.scale).toEqual({ type: 'log' });
    expect(enc.x.title).toBe('step');
    expect(enc.color.field).toBe('series');
    const ema = lossCurveSpec([{ step: 0, loss: 1 }, { step: 1, loss: 3 }], { smoothing: 0.5 });
    const ev = (ema.data as { values: { series: string; y: number }[] }).values.filter((v) => v.series !== 'loss');
    expect(ev.map((v) => v.y)).toEqual([1, 2]);
  });

  it('renders a spec to SVG with its axis titles', async () => {
    const svg = await renderSpecToSvg(linePlotSpec({ series, title: 'Loss', xLabel: 'step', yLabel: 'loss' }));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('>step<');
    expect(svg).toContain('>Loss<');
  });

  it('renders a spec to a PNG that is not blank', async () => {
    const spec = linePlotSpec({ series, title: 'Loss', xLabel: 'step', yLabel: 'loss', width: 200, height: 120 });
    const png = await renderSpecToPng(spec, { scale: 2 });
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    expect(png.length).toBeGreaterThan(1000);
    const img = decode(png);
    expect(img.width).toBeGreaterThan(400);
    expect(img.height).toBeGreaterThan(240);
    const colours = new Set<number>();
    let nonWhite = 0;
    for (let p = 0; p < img.width * img.height; p++) {
      const [r, g, b] = [img.data[p * img.channels], img.data[p * img.channels + 1], img.data[p * img.channels + 2]];
      colours.add((r << 16) | (g << 8) | b);
      if (r < 240 || g < 240 || b < 240) nonWhite++;
    }
    expect(colours.size).toBeGreaterThan(20);
    expect(nonWhite / (img.width * img.height)).toBeGreaterThan(0.01);
    expect(nonWhite / (img.width * img.height)).toBeLessThan(0.5);
  });

  it.skipIf(!existsSync('/usr/share/fonts') && !existsSync('/System/Library/Fonts'))('draws text with system fonts', async () => {
    const dark = async (loadSystemFonts: boolean) => {
      const img = decode(await renderSpecToPng(linePlotSpec({ series: [series[0]], title: 'Loss curve', xLabel: 'step', yLabel: 'loss' }), { scale: 1, font: { loadSystemFonts } }));
      let n = 0;
      for (let p = 0; p < img.width * img.height; p++) if (img.data[p * img.channels] < 100 && img.data[p * img.channels + 2] < 100) n++;
      return n;
    };
    const [withFonts, without] = [await dark(true), await dark(false)];
    expect(withFonts).toBeGreaterThan(without + 100);
  });

  it('lossCurvePng renders training history', async () => {
    const history = Array.from({ length: 50 }, (_, step) => ({ step, loss: 2 * Math.exp(-step / 10) + 0.1 }));
    const png = await lossCurvePng(history, { logY: true, smoothing: 0.9, scale: 1 });
    const img = decode(png);
    expect(Array.from(png.subarray(0, 8))).toEqual(PNG_SIGNATURE);
    expect(img.width).toBeGreaterThan(400);
  });
});

describe('GIF', () => {
  it('encodes frames as an animated GIF89a', async () => {
    const frames = [0, 1, 2].map((k) => {
      const rgba = new Uint8Array(5 * 4 * 4);
      for (let p = 0; p < 20; p++) rgba.set([p === k ? 255 : 0, 40 * k, 100, 255], 4 * p);
      return { width: 5, height: 4, rgba };
    });
    const gif = await encodeGif(frames, { delayMs: 120 });
    const info = parseGif(gif);
    expect([info.width, info.height, info.loop]).toEqual([5, 4, 0]);
    expect(info.frames).toEqual([0, 1, 2].map(() => ({ w: 5, h: 4, delayCs: 12 })));
    expect(gif[gif.length - 1]).toBe(0x3b);
    await expect(encodeGif([frames[0], { width: 4, height: 4, rgba: new Uint8Array(64) }])).rejects.toThrow(/frame 1/);
  });

  it('tiles a batch of videos frame by frame', async () => {
    const ds = movingSprites({ size: 16, frames: 4, batchSize: 3, seed: 0 });
    const batch = ds.next();
    const frames = await videoGridFrames(batch.videos, { cols: 3, scale: 2 });
    expect(frames).toHaveLength(4);
    expect([frames[0].width, frames[0].height]).toEqual([3 * 32 + 4, 32 + 2]);
    // Frame 2 of the grid is the image grid of every video's frame 2.
    const v = await batch.videos.data();
    const per = 3 * 16 * 16;
    const f2 = new Float32Array(3 * per);
    for (let b = 0; b < 3; b++) f2.set(v.subarray((b * 4 + 2) * per, (b * 4 + 3) * per), b * per);
    expect(Array.from(frames[2].rgba)).toEqual(Array.from(imageGridSync({ data: f2, shape: [3, 3, 16, 16] }, { cols: 3, scale: 2 }).rgba));
    const gif = parseGif(await videoGif(batch.videos, { delayMs: 50, repeat: -1 }));
    expect(gif.frames).toHaveLength(4);
    expect(gif.loop).toBeUndefined();
    tf.dispose(batch);
  });
});
