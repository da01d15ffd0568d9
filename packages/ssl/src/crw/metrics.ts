/**
 * Video object segmentation scores as DAVIS defines them: region similarity J (intersection over
 * union) and contour accuracy F (boundary F-measure), computed on host masks.
 */

/** A binary mask on the host: `h·w` values, non-zero = inside. */
export type HostMask = ArrayLike<number>;

/** Intersection over union of two binary masks; 1 when both are empty (DAVIS's convention). */
export function maskIoU(pred: HostMask, gt: HostMask): number {
  if (pred.length !== gt.length) throw new RangeError(`maskIoU: masks differ in size (${pred.length} vs ${gt.length})`);
  let inter = 0, union = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] > 0.5, b = gt[i] > 0.5;
    if (a && b) inter++;
    if (a || b) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** Boundary pixels of a mask: inside pixels with a 4-neighbour outside (the frame edge counts as outside). */
export function maskBoundary(mask: HostMask, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w);
  const inside = (y: number, x: number) => y >= 0 && y < h && x >= 0 && x < w && mask[y * w + x] > 0.5;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (inside(y, x) && (!inside(y - 1, x) || !inside(y + 1, x) || !inside(y, x - 1) || !inside(y, x + 1))) out[y * w + x] = 1;
    }
  }
  return out;
}

/** Pixels within Euclidean distance `r` of a set pixel (a dilation by a disk). */
function dilate(b: Uint8Array, h: number, w: number, r: number): Uint8Array {
  const out = new Uint8Array(h * w);
  const R = Math.floor(r);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!b[y * w + x]) continue;
      for (let dy = -R; dy <= R; dy++) {
        for (let dx = -R; dx <= R; dx++) {
          const yy = y + dy, xx = x + dx;
          if (dy * dy + dx * dx <= r * r && yy >= 0 && yy < h && xx >= 0 && xx < w) out[yy * w + xx] = 1;
        }
      }
    }
  }
  return out;
}

/**
 * The boundary tolerance DAVIS uses: ⌈0.008 · image diagonal⌉ pixels (DAVIS's `bound_th = 0.008`,
 * `bound_pix = ceil(bound_th · ‖shape‖)`); 1 pixel for 16×16 to 64×64 frames, 8 at 854×480.
 */
export function boundaryTolerance(h: number, w: number): number {
  return Math.max(1, Math.ceil(0.008 * Math.hypot(h, w)));
}

/**
 * Contour accuracy F: the F-measure of boundary precision (predicted boundary pixels within
 * `tolerance` of a true boundary pixel) and recall (true boundary pixels within `tolerance` of a
 * predicted one). 1 when both boundaries are empty, 0 when exactly one is.
 */
export function boundaryF(pred: HostMask, gt: HostMask, h: number, w: number, tolerance = boundaryTolerance(h, w)): number {
  if (pred.length !== h * w || gt.length !== h * w) throw new RangeError(`boundaryF: masks must hold h·w = ${h * w} values, got ${pred.length} and ${gt.length}`);
  const bp = maskBoundary(pred, h, w);
  const bg = maskBoundary(gt, h, w);
  let np = 0, ng = 0;
  for (let i = 0; i < h * w; i++) {
    np += bp[i];
    ng += bg[i];
  }
  if (np === 0 && ng === 0) return 1;
  if (np === 0 || ng === 0) return 0;
  const nearG = dilate(bg, h, w, tolerance);
  const nearP = dilate(bp, h, w, tolerance);
  let tp = 0, tr = 0;
  for (let i = 0; i < h * w; i++) {
    if (bp[i] && nearG[i]) tp++;
    if (bg[i] && nearP[i]) tr++;
  }
  const precision = tp / np;
  const recall = tr / ng;
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}
