import type { RgbaImage } from '@brickml/core';

/** A blank RGBA canvas filled with one colour. */
export function canvas(width: number, height: number, rgb: readonly [number, number, number] = [255, 255, 255]): RgbaImage {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[4 * i] = rgb[0];
    rgba[4 * i + 1] = rgb[1];
    rgba[4 * i + 2] = rgb[2];
    rgba[4 * i + 3] = 255;
  }
  return { width, height, rgba };
}

/** Sets one pixel (ignored outside the canvas). */
export function setPixel(img: RgbaImage, x: number, y: number, rgb: readonly [number, number, number]): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const o = 4 * (y * img.width + x);
  img.rgba[o] = rgb[0];
  img.rgba[o + 1] = rgb[1];
  img.rgba[o + 2] = rgb[2];
  img.rgba[o + 3] = 255;
}

/** Fills an axis-aligned rectangle of pixels [x0, x1) × [y0, y1). */
export function fillRect(img: RgbaImage, x0: number, y0: number, x1: number, y1: number, rgb: readonly [number, number, number]): void {
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(img.height, Math.ceil(y1)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(img.width, Math.ceil(x1)); x++) setPixel(img, x, y, rgb);
  }
}

/** Fills a convex polygon (pixel centres inside all edges; vertices in either winding order). */
export function fillConvex(img: RgbaImage, pts: ReadonlyArray<readonly [number, number]>, rgb: readonly [number, number, number]): void {
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const n = pts.length;
  for (let y = Math.max(0, Math.floor(Math.min(...ys))); y <= Math.min(img.height - 1, Math.ceil(Math.max(...ys))); y++) {
    for (let x = Math.max(0, Math.floor(Math.min(...xs))); x <= Math.min(img.width - 1, Math.ceil(Math.max(...xs))); x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      let pos = 0;
      let neg = 0;
      for (let i = 0; i < n; i++) {
        const [ax, ay] = pts[i];
        const [bx, by] = pts[(i + 1) % n];
        const c = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
        if (c > 0) pos++;
        else if (c < 0) neg++;
      }
      if (pos === 0 || neg === 0) setPixel(img, x, y, rgb);
    }
  }
}

/** Fills a disc centred at (cx, cy). */
export function fillCircle(img: RgbaImage, cx: number, cy: number, r: number, rgb: readonly [number, number, number]): void {
  for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
    for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
      if ((x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r) setPixel(img, x, y, rgb);
    }
  }
}
