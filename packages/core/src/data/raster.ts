/**
 * The host-side rasteriser behind the procedural image data sets (`shapes`, `movingSprites`):
 * anti-aliased coverage of circles, squares and triangles by supersampling, a fixed colour palette,
 * backgrounds and compositing.
 *
 * Coordinates: `x` runs left to right and `y` top to bottom, both in [0, 1] across the image (pixel
 * `j` spans `[j/W, (j+1)/W)`); a shape's `size` is the side of its bounding square relative to the
 * image side. Images are square.
 */
import type { Rng } from '../rng.js';

/** Names of the shape classes, indexed by shape label: 0 circle, 1 square, 2 triangle. */
export const SHAPE_NAMES = Object.freeze(['circle', 'square', 'triangle'] as const);

/** A shape label: 0 circle, 1 square, 2 triangle. */
export type ShapeKind = 0 | 1 | 2;

/** One palette entry: a name and an RGB colour in [0, 1]. */
export interface PaletteColour {
  readonly name: string;
  readonly rgb: readonly [number, number, number];
}

/** The fixed palette of the image data sets, indexed by colour label (six well-separated hues). */
export const SHAPE_PALETTE: readonly PaletteColour[] = Object.freeze([
  { name: 'red', rgb: [0.9, 0.16, 0.16] as const },
  { name: 'green', rgb: [0.18, 0.8, 0.25] as const },
  { name: 'blue', rgb: [0.2, 0.4, 1.0] as const },
  { name: 'yellow', rgb: [0.98, 0.86, 0.15] as const },
  { name: 'magenta', rgb: [0.88, 0.25, 0.88] as const },
  { name: 'cyan', rgb: [0.15, 0.85, 0.9] as const },
]);

/** Grey level (in [0, 1]) of the plain dark background. */
export const BACKGROUND_LEVEL = 0.08;

/** Background of the image data sets: plain dark grey, or dark grey with mild per-pixel Gaussian noise. */
export type ImageBackground = 'dark' | 'noise';

/** Value range of produced images: [-1, 1] (the diffusion convention) or [0, 1]. */
export type ImageValueRange = readonly [-1, 1] | readonly [0, 1];

/**
 * Anti-aliased coverage of one shape: for every pixel, the fraction of its `supersample²` sample
 * points that fall inside the shape (so values are multiples of `1/supersample²` in [0, 1]).
 *
 * Circle: diameter `size`. Square: side `size`, axis-aligned. Triangle: apex up, apex at the top
 * middle of the bounding square and base along its bottom side (area `size²/2`; it contains the
 * centre). All centred at (`cx`, `cy`).
 * @param out optional buffer of `side*side` values, zeroed and filled
 * @returns coverage, `[side, side]` row-major
 */
export function shapeCoverage(
  kind: ShapeKind,
  cx: number,
  cy: number,
  size: number,
  side: number,
  supersample = 4,
  out?: Float32Array,
): Float32Array {
  const n = side * side;
  const cov = out ?? new Float32Array(n);
  if (cov.length !== n) throw new RangeError(`shapeCoverage: out must hold ${n} values, got ${cov.length}`);
  cov.fill(0);
  const h = size / 2;
  const ss = supersample;
  const inv = 1 / (ss * ss);
  // Pixel bounding box of the shape (clipped to the image).
  const j0 = Math.max(0, Math.floor((cx - h) * side));
  const j1 = Math.min(side - 1, Math.ceil((cx + h) * side));
  const i0 = Math.max(0, Math.floor((cy - h) * side));
  const i1 = Math.min(side - 1, Math.ceil((cy + h) * side));
  const r2 = h * h;
  for (let i = i0; i <= i1; i++) {
    for (let j = j0; j <= j1; j++) {
      let count = 0;
      for (let a = 0; a < ss; a++) {
        const py = (i + (a + 0.5) / ss) / side;
        const dy = py - cy;
        for (let b = 0; b < ss; b++) {
          const px = (j + (b + 0.5) / ss) / side;
          const dx = px - cx;
          let inside: boolean;
          if (kind === 0) inside = dx * dx + dy * dy <= r2;
          else if (kind === 1) inside = Math.abs(dx) <= h && Math.abs(dy) <= h;
          else inside = dy >= -h && dy <= h && Math.abs(dx) <= (dy + h) / 2;
          if (inside) count++;
        }
      }
      cov[i * side + j] = count * inv;
    }
  }
  return cov;
}

/**
 * Fills a `[3, side, side]` background (values in [0, 1]): dark grey, plus `noiseStd` Gaussian noise
 * per pixel and channel (clipped to [0, 1]) when `background` is `'noise'`. Noise draws
 * `3*side*side` normals from `rng` in channel-major order.
 */
export function fillBackground(
  out: Float32Array,
  offset: number,
  side: number,
  background: ImageBackground,
  noiseStd: number,
  rng: Rng | undefined,
): void {
  const n = 3 * side * side;
  if (background === 'dark') {
    out.fill(BACKGROUND_LEVEL, offset, offset + n);
    return;
  }
  if (!rng) throw new TypeError('fillBackground: a noise background needs an Rng');
  for (let k = 0; k < n; k++) {
    const v = BACKGROUND_LEVEL + noiseStd * rng.normal();
    out[offset + k] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
}

/**
 * Paints a colour over a `[3, side, side]` image (values in [0, 1]) with the given coverage:
 * `pixel = pixel·(1 − coverage) + colour·coverage`.
 */
export function compositeCoverage(
  out: Float32Array,
  offset: number,
  side: number,
  cov: Float32Array,
  rgb: readonly [number, number, number],
): void {
  const plane = side * side;
  for (let c = 0; c < 3; c++) {
    const base = offset + c * plane;
    const col = rgb[c];
    for (let p = 0; p < plane; p++) {
      const a = cov[p];
      if (a > 0) out[base + p] = out[base + p] * (1 - a) + col * a;
    }
  }
}

/** Maps values from [0, 1] to the requested range in place (no-op for [0, 1]). */
export function applyRange(data: Float32Array, range: ImageValueRange): void {
  if (range[0] === 0) return;
  for (let k = 0; k < data.length; k++) data[k] = data[k] * 2 - 1;
}

/** Copies `n` images `[n, c, s, s]` into `[n, s, s, c]` layout. */
export function nchwToNhwc(src: Float32Array, n: number, c: number, s: number): Float32Array {
  const out = new Float32Array(src.length);
  const plane = s * s;
  for (let b = 0; b < n; b++) {
    const base = b * c * plane;
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < plane; p++) out[base + p * c + ch] = src[base + ch * plane + p];
    }
  }
  return out;
}
