/**
 * Mask propagation on videos with known per-frame object masks (`movingSprites`): the CRW
 * evaluation protocol on bundled data, with J (mean IoU) and F (boundary F-measure) per method.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '@brickml/core';
import { l2Normalize } from '../ops.js';
import type { ContrastiveRandomWalk } from './crw.js';
import { propagateLabels, type LabelPropagationOptions } from './label-propagation.js';
import { boundaryF, boundaryTolerance, maskIoU } from './metrics.js';
import { gridPatches, masksToNodes, nodesToPixels, type NodeGrid } from './patches.js';

/** Videos with per-frame object masks, on the host (a `MovingSpritesSample` fits). */
export interface MaskedVideos {
  n: number;
  /** `[n, T, C, H, W]` */
  videos: Float32Array;
  videoShape: readonly [number, number, number, number, number];
  /** `[n, T, S, H, W]`, 1 inside object slot s */
  masks: Float32Array;
  maskShape: readonly [number, number, number, number, number];
}

/** Node features of one video: `video [1, T, C, H, W]` → nodes `[1, T, N, D]` (L2-normalised) on a grid. */
export type NodeFeatureFn = (video: tf.Tensor) => { nodes: tf.Tensor; grid: NodeGrid };

/** A method of {@link evaluateMaskPropagation}: propagate with these features, or copy the first mask. */
export type PropagationMethod = { features: NodeFeatureFn } | 'copyFirst';

/** Options of {@link evaluateMaskPropagation}. */
export interface MaskPropagationOptions extends LabelPropagationOptions {
  /** Keep the predicted label maps of the first this many videos (default 0). */
  keep?: number;
}

/** Scores of one method. */
export interface MaskPropagationResult {
  /** Region similarity: IoU averaged over frames 1…T−1 of each object, then over all objects. */
  J: number;
  /** Contour accuracy: boundary F-measure averaged the same way. */
  F: number;
  /** (J + F) / 2. */
  JF: number;
  /** Objects scored (objects visible in frame 0). */
  objects: number;
  /** Boundary tolerance of F in pixels. */
  tolerance: number;
  /** Predicted label maps `[T, H, W]` (0 = background, s+1 = object slot s) of the first `keep` videos. */
  labelMaps: Int32Array[];
}

/**
 * Propagates each video's frame-0 object masks to its later frames and scores them against the
 * true masks. Labels have K = 1 + S channels (background, then each object slot); the frame-0
 * labels of a node are the mean of its stride × stride cell; predicted node labels are upsampled
 * bilinearly to pixels and the argmax gives each pixel's object. `'copyFirst'` predicts the
 * frame-0 masks for every frame. Frame 0 is not scored (it is given).
 */
export async function evaluateMaskPropagation(data: MaskedVideos, method: PropagationMethod, options: MaskPropagationOptions = {}): Promise<MaskPropagationResult> {
  const fn = 'evaluateMaskPropagation';
  const [n, T, C, H, W] = data.videoShape;
  const [mn, mT, S, mH, mW] = data.maskShape;
  if (mn !== n || mT !== T || mH !== H || mW !== W) {
    throw new ShapeError(`${fn}: masks ${formatShape(data.maskShape)} do not fit videos ${formatShape(data.videoShape)}`);
  }
  if (T < 2) throw new ShapeError(`${fn}: videos need at least 2 frames, got ${T}`);
  const keep = options.keep ?? 0;
  const plane = H * W;
  const tolerance = boundaryTolerance(H, W);
  let sumJ = 0, sumF = 0, objects = 0;
  const labelMaps: Int32Array[] = [];
  for (let v = 0; v < n; v++) {
    const masks = data.masks.subarray(v * T * S * plane, (v + 1) * T * S * plane); // [T, S, H, W]
    const visible: number[] = [];
    for (let s = 0; s < S; s++) {
      let area = 0;
      for (let p = 0; p < plane; p++) area += masks[s * plane + p];
      if (area > 0) visible.push(s);
    }
    // K = 1 + S label channels for frame 0: background, then each slot.
    const first = new Float32Array((1 + S) * plane);
    for (let p = 0; p < plane; p++) {
      let fg = 0;
      for (let s = 0; s < S; s++) {
        first[(1 + s) * plane + p] = masks[s * plane + p];
        fg += masks[s * plane + p];
      }
      first[p] = Math.max(0, 1 - fg);
    }
    let maps: Int32Array;
    if (method === 'copyFirst') {
      maps = new Int32Array(T * plane);
      for (let p = 0; p < plane; p++) {
        let best = 0;
        for (let k = 1; k <= S; k++) if (first[k * plane + p] > first[best * plane + p]) best = k;
        for (let t = 0; t < T; t++) maps[t * plane + p] = best;
      }
    } else {
      const predicted = tf.tidy(() => {
        const video = tf.tensor5d(data.videos.subarray(v * T * C * plane, (v + 1) * T * C * plane), [1, T, C, H, W]);
        const { nodes, grid } = method.features(video);
        const stride = H / grid.rows;
        if (!Number.isInteger(stride) || W / grid.cols !== stride) {
          throw new ShapeError(`${fn}: the features' grid ${grid.rows}×${grid.cols} does not tile ${H}×${W} frames`);
        }
        const firstNodes = tf.squeeze(masksToNodes(tf.tensor4d(first, [1, 1 + S, H, W]), stride), [0]); // [N, K]
        const feats = tf.squeeze(nodes, [0]); // [T, N, D]
        const labels = propagateLabels(feats, firstNodes, grid, options); // [T, N, K]
        return tf.argMax(nodesToPixels(labels, grid, stride), 1); // [T, H, W]
      });
      maps = (await predicted.data()) as Int32Array;
      predicted.dispose();
    }
    if (labelMaps.length < keep) labelMaps.push(maps);
    for (const s of visible) {
      let j = 0, f = 0;
      for (let t = 1; t < T; t++) {
        const gt = masks.subarray((t * S + s) * plane, (t * S + s + 1) * plane);
        const pred = new Uint8Array(plane);
        for (let p = 0; p < plane; p++) pred[p] = maps[t * plane + p] === s + 1 ? 1 : 0;
        j += maskIoU(pred, gt);
        f += boundaryF(pred, gt, H, W, tolerance);
      }
      sumJ += j / (T - 1);
      sumF += f / (T - 1);
      objects++;
    }
  }
  const J = objects ? sumJ / objects : NaN;
  const F = objects ? sumF / objects : NaN;
  return { J, F, JF: (J + F) / 2, objects, tolerance, labelMaps };
}

/**
 * CRW node features for label propagation: the encoder's features of an un-jittered window grid
 * at `stride` (default: the model's), L2-normalised, without the head by default (videowalk
 * evaluates without its head). The model is put in eval mode.
 */
export function crwNodeFeatures(crw: ContrastiveRandomWalk, { stride, head = false, chunk }: { stride?: number; head?: boolean; chunk?: number } = {}): NodeFeatureFn {
  return (video) => {
    crw.eval();
    return crw.nodeFeatures(video, { stride, head, chunk });
  };
}

/**
 * Raw-pixel node features, the "nearest neighbour on raw pixels" baseline: each window of the
 * same grid as the CRW's (patchSize, stride, reflect padding), standardised per channel with
 * `pixelMean`/`pixelStd` when given, flattened and L2-normalised.
 */
export function pixelNodeFeatures({ patchSize, stride, pixelMean, pixelStd }: { patchSize: number; stride: number; pixelMean?: number[]; pixelStd?: number[] }): NodeFeatureFn {
  return (video) => {
    let grid: NodeGrid | undefined;
    const nodes = tf.tidy(() => {
      const [b, t, c, h, w] = video.shape as [number, number, number, number, number];
      let frames = tf.reshape(video, [b * t, c, h, w]);
      if (pixelMean && pixelStd) frames = tf.div(tf.sub(frames, tf.tensor4d(pixelMean, [1, c, 1, 1])), tf.tensor4d(pixelStd, [1, c, 1, 1]));
      const cut = gridPatches(frames, patchSize, stride);
      grid = cut.grid;
      return l2Normalize(tf.reshape(cut.patches, [b, t, grid.rows * grid.cols, -1]));
    });
    return { nodes, grid: grid! };
  };
}
