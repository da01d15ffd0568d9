/**
 * Small picture helpers shared by the examples: nearest-neighbour upscaling and tiling RGBA
 * pictures into a labelled-free grid (rows of cells, white padding).
 */
import type { RgbaImage } from '@brickml/core';

/** Scales a picture up by an integer factor (nearest neighbour). */
export function upscale(image: RgbaImage, factor: number): RgbaImage {
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`upscale: factor must be a positive integer, got ${factor}`);
  if (factor === 1) return image;
  const width = image.width * factor;
  const height = image.height * factor;
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < width; x++) {
      const s = 4 * (sy * image.width + Math.floor(x / factor));
      const o = 4 * (y * width + x);
      rgba[o] = image.rgba[s];
      rgba[o + 1] = image.rgba[s + 1];
      rgba[o + 2] = image.rgba[s + 2];
      rgba[o + 3] = image.rgba[s + 3];
    }
  }
  return { width, height, rgba };
}

/** Tiles rows of pictures (cells of one row may differ in size) with `pad` white pixels between. */
export function tile(rows: RgbaImage[][], pad = 2): RgbaImage {
  const rowHeights = rows.map((r) => Math.max(0, ...r.map((c) => c.height)));
  const rowWidths = rows.map((r) => r.reduce((w, c) => w + c.width, 0) + pad * (r.length + 1));
  const width = Math.max(1, ...rowWidths);
  const height = rowHeights.reduce((h, r) => h + r, 0) + pad * (rows.length + 1);
  const rgba = new Uint8Array(width * height * 4).fill(255);
  let y0 = pad;
  rows.forEach((row, r) => {
    let x0 = pad;
    for (const cell of row) {
      for (let y = 0; y < cell.height; y++) {
        const src = cell.rgba.subarray(4 * y * cell.width, 4 * (y + 1) * cell.width);
        rgba.set(src, 4 * ((y0 + y) * width + x0));
      }
      x0 += cell.width + pad;
    }
    y0 += rowHeights[r] + pad;
  });
  return { width, height, rgba };
}

/** One image `[3, H, W]` (channel-major floats in `range`) from a batch, as an RGBA picture. */
export function imageFromBatch(data: ArrayLike<number>, index: number, side: number, range: readonly [number, number] = [-1, 1]): RgbaImage {
  const plane = side * side;
  const base = index * 3 * plane;
  const rgba = new Uint8Array(plane * 4);
  const [lo, hi] = range;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const t = (data[base + c * plane + p] - lo) / (hi - lo);
      rgba[4 * p + c] = Math.round(255 * Math.min(1, Math.max(0, t)));
    }
    rgba[4 * p + 3] = 255;
  }
  return { width: side, height: side, rgba };
}
