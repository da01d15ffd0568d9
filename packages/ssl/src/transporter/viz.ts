/**
 * Pictures of keypoint tracks: each frame of a clip, upscaled, with every keypoint drawn as a
 * coloured cross and its positions in the earlier frames as a fading trail.
 */
import { ShapeError } from '@brickml/core';
import { LABEL_COLOURS } from '../crw/viz.js';

/** Options of {@link keypointTrackFrames}. */
export interface KeypointTrackFramesOptions {
  /** Upscaling factor of the frames (nearest neighbour); default 4. */
  scale?: number;
  /** Value range of the input frames; default [-1, 1]. */
  range?: readonly [number, number];
  /** Earlier frames shown as a trail; default all. */
  trail?: number;
}

/**
 * Draws keypoint tracks over the frames of one clip.
 * @param frames `[T, H, W, 3]` channels last, in `range`
 * @param tracks `[T, K, 2]` keypoints (x, y) in [0, 1] image units
 * @returns `[T, scale·H, scale·W, 3]` in [0, 1], ready for core's `imageGridPng` (range [0, 1])
 */
export function keypointTrackFrames(frames: ArrayLike<number>, tracks: ArrayLike<number>, T: number, H: number, W: number, K: number, options: KeypointTrackFramesOptions = {}): Float32Array {
  const s = options.scale ?? 4;
  const [lo, hi] = options.range ?? [-1, 1];
  const trail = options.trail ?? T;
  if (frames.length !== T * H * W * 3) throw new ShapeError(`keypointTrackFrames: argument 'frames' expected ${T}·${H}·${W}·3 = ${T * H * W * 3} values ([T, H, W, 3]), got ${frames.length}`);
  if (tracks.length !== T * K * 2) throw new ShapeError(`keypointTrackFrames: argument 'tracks' expected ${T}·${K}·2 = ${T * K * 2} values ([T, K, 2]), got ${tracks.length}`);
  const SH = s * H;
  const SW = s * W;
  const out = new Float32Array(T * SH * SW * 3);
  const put = (t: number, y: number, x: number, rgb: readonly number[], a: number) => {
    if (y < 0 || x < 0 || y >= SH || x >= SW) return;
    const o = ((t * SH + y) * SW + x) * 3;
    for (let c = 0; c < 3; c++) out[o + c] = (1 - a) * out[o + c]! + a * rgb[c]!;
  };
  for (let t = 0; t < T; t++) {
    for (let y = 0; y < SH; y++) {
      for (let x = 0; x < SW; x++) {
        const i = ((t * H + Math.floor(y / s)) * W + Math.floor(x / s)) * 3;
        const o = ((t * SH + y) * SW + x) * 3;
        for (let c = 0; c < 3; c++) out[o + c] = 0.6 * Math.min(1, Math.max(0, (frames[i + c]! - lo) / (hi - lo)));
      }
    }
    for (let k = 0; k < K; k++) {
      const rgb = LABEL_COLOURS[k % LABEL_COLOURS.length]!;
      for (let u = Math.max(0, t - trail); u < t; u++) {
        const px = Math.floor(tracks[(u * K + k) * 2]! * SW);
        const py = Math.floor(tracks[(u * K + k) * 2 + 1]! * SH);
        put(t, py, px, rgb, 0.35 + (0.4 * (u - t + trail)) / Math.max(1, trail));
      }
      const px = Math.floor(tracks[(t * K + k) * 2]! * SW);
      const py = Math.floor(tracks[(t * K + k) * 2 + 1]! * SH);
      for (let d = -s; d <= s; d++) {
        put(t, py + d, px, rgb, 1);
        put(t, py, px + d, rgb, 1);
      }
    }
  }
  return out;
}
