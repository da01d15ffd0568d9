/**
 * Pictures of mask propagation: label maps tinted over video frames, for `imageGridPng`.
 */

/** Tint colours of object slots 1, 2, … (RGB in [0, 1]); slot s uses entry (s − 1) mod length. */
export const LABEL_COLOURS: readonly (readonly [number, number, number])[] = [
  [1, 0.55, 0],
  [1, 1, 1],
  [0.6, 0.2, 1],
  [0, 1, 0.6],
  [1, 0.3, 0.6],
  [0.3, 0.7, 1],
];

/**
 * Frames with their label maps tinted over them: background pixels are the frame dimmed to 50 %,
 * pixels of object s are 25 % frame, 75 % `LABEL_COLOURS[s − 1]`.
 * @param frames `[T, 3, H, W]` in `range` (default [-1, 1])
 * @param maps `[T, H, W]` labels (0 = background)
 * @returns `[T, 3, H, W]` in [0, 1]
 */
export function labelOverlay(frames: ArrayLike<number>, maps: ArrayLike<number>, T: number, H: number, W: number, range: readonly [number, number] = [-1, 1]): Float32Array {
  const plane = H * W;
  if (frames.length !== T * 3 * plane || maps.length !== T * plane) {
    throw new RangeError(`labelOverlay: expected frames of ${T * 3 * plane} and maps of ${T * plane} values, got ${frames.length} and ${maps.length}`);
  }
  const [lo, hi] = range;
  const out = new Float32Array(T * 3 * plane);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < plane; p++) {
      const label = maps[t * plane + p];
      for (let c = 0; c < 3; c++) {
        const i = (t * 3 + c) * plane + p;
        const v = Math.min(1, Math.max(0, (frames[i] - lo) / (hi - lo)));
        out[i] = label > 0 ? 0.25 * v + 0.75 * LABEL_COLOURS[(label - 1) % LABEL_COLOURS.length][c] : 0.5 * v;
      }
    }
  }
  return out;
}
