/**
 * The patch grid of the contrastive random walk (videowalk `--frame-aug grid`): each frame is cut
 * into overlapping square windows, one node per window, each window optionally jittered by a
 * random resized crop, as `utils/augs.py` does (64×64 windows at stride 32 on 256², jitter
 * RandomResizedCrop(64, scale 0.7–0.9)).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape, type Rng } from '@brickml/core';

/** Per-window jitter: a random resized crop inside each window, resized back to the window size. */
export interface PatchJitter {
  /** Range of the crop's area as a fraction of the window's (videowalk: [0.7, 0.9]). */
  scale: readonly [number, number];
  /** Range of the crop's aspect ratio w/h, drawn log-uniformly (torchvision's default [3/4, 4/3]). */
  ratio: readonly [number, number];
  rng: Rng;
}

/** The node grid of a frame: `rows × cols` windows, node (i, j) centred on pixel (stride·(i+½), stride·(j+½)). */
export interface NodeGrid {
  rows: number;
  cols: number;
  /** Window side in pixels. */
  patchSize: number;
  /** Pixels between neighbouring windows. */
  stride: number;
}

/** The node grid that {@link gridPatches} makes for `H × W` frames. */
export function nodeGrid(fn: string, height: number, width: number, patchSize: number, stride: number): NodeGrid {
  if (!Number.isInteger(patchSize) || patchSize < 1 || !Number.isInteger(stride) || stride < 1 || stride > patchSize) {
    throw new RangeError(`${fn}: patchSize and stride must be positive integers with stride ≤ patchSize, got patchSize ${patchSize}, stride ${stride}`);
  }
  if ((patchSize - stride) % 2 !== 0) {
    throw new RangeError(`${fn}: patchSize − stride must be even (the frame is padded by half of it on each side), got patchSize ${patchSize}, stride ${stride}`);
  }
  if (height % stride !== 0 || width % stride !== 0) {
    throw new ShapeError(`${fn}: frame ${height}×${width} must be divisible by the stride ${stride}`);
  }
  const pad = (patchSize - stride) / 2;
  if (pad >= height || pad >= width) {
    throw new ShapeError(`${fn}: frame ${height}×${width} is too small for reflect padding of ${pad} (patchSize ${patchSize}, stride ${stride})`);
  }
  return { rows: height / stride, cols: width / stride, patchSize, stride };
}

/**
 * Cuts frames into the overlapping windows of a node grid. Each frame is reflect-padded by
 * (patchSize − stride)/2 on every side, so there are (H/stride)·(W/stride) windows and node (i, j)
 * is centred on pixel (stride·(i+½), stride·(j+½)) of the frame. Without jitter the windows are
 * exact pixel copies.
 *
 * @param frames `[M, C, H, W]` (or `[M, H, W, C]` with `layout: 'nhwc'`)
 * @returns patches `[M·N, C, p, p]` (or `[M·N, p, p, C]`), frame-major then row-major over nodes, and the grid
 */
export function gridPatches(
  frames: tf.Tensor,
  patchSize: number,
  stride: number,
  { layout = 'nchw', jitter }: { layout?: 'nchw' | 'nhwc'; jitter?: PatchJitter } = {},
): { patches: tf.Tensor; grid: NodeGrid } {
  const fn = 'gridPatches';
  if (frames.rank !== 4) throw new ShapeError(`${fn}: argument 'frames' expected rank 4 (${layout}), got ${formatShape(frames.shape)}`);
  const nhwcIn = layout === 'nhwc';
  const [m, h, w] = (nhwcIn ? [frames.shape[0], frames.shape[1], frames.shape[2]] : [frames.shape[0], frames.shape[2], frames.shape[3]]) as [
    number,
    number,
    number,
  ];
  const grid = nodeGrid(fn, h, w, patchSize, stride);
  if (jitter) {
    const [s0, s1] = jitter.scale;
    const [r0, r1] = jitter.ratio;
    if (!(s0 > 0 && s0 <= s1 && s1 <= 1)) throw new RangeError(`${fn}: jitter.scale expected 0 < lo ≤ hi ≤ 1, got [${s0}, ${s1}]`);
    if (!(r0 > 0 && r0 <= r1)) throw new RangeError(`${fn}: jitter.ratio expected 0 < lo ≤ hi, got [${r0}, ${r1}]`);
  }
  const pad = (patchSize - stride) / 2;
  const hp = h + 2 * pad;
  const wp = w + 2 * pad;
  const n = grid.rows * grid.cols;
  const boxes = new Float32Array(m * n * 4);
  const boxInd = new Int32Array(m * n);
  const p = patchSize;
  for (let f = 0; f < m; f++) {
    for (let i = 0; i < grid.rows; i++) {
      for (let j = 0; j < grid.cols; j++) {
        const k = (f * n + i * grid.cols + j);
        let top = i * stride;
        let left = j * stride;
        let bh = p;
        let bw = p;
        if (jitter) {
          const area = jitter.scale[0] + (jitter.scale[1] - jitter.scale[0]) * jitter.rng.float();
          const logR = Math.log(jitter.ratio[0]) + (Math.log(jitter.ratio[1]) - Math.log(jitter.ratio[0])) * jitter.rng.float();
          const ratio = Math.exp(logR);
          bw = Math.min(p, p * Math.sqrt(area * ratio));
          bh = Math.min(p, p * Math.sqrt(area / ratio));
          top += (p - bh) * jitter.rng.float();
          left += (p - bw) * jitter.rng.float();
        }
        // cropAndResize samples y1·(H−1) … y2·(H−1): the window's first and last pixel centres.
        boxes[4 * k] = top / (hp - 1);
        boxes[4 * k + 1] = left / (wp - 1);
        boxes[4 * k + 2] = (top + bh - 1) / (hp - 1);
        boxes[4 * k + 3] = (left + bw - 1) / (wp - 1);
        boxInd[k] = f;
      }
    }
  }
  const patches = tf.tidy(() => {
    const x = nhwcIn ? frames : tf.transpose(frames, [0, 2, 3, 1]); // [M, H, W, C]
    const padded = pad > 0 ? tf.mirrorPad(x as tf.Tensor4D, [[0, 0], [pad, pad], [pad, pad], [0, 0]], 'reflect') : x;
    const crops = tf.image.cropAndResize(
      padded as tf.Tensor4D,
      tf.tensor2d(boxes, [m * n, 4]),
      tf.tensor1d(boxInd, 'int32'),
      [p, p],
      'bilinear',
    ); // [M·N, p, p, C]
    return nhwcIn ? crops : tf.transpose(crops, [0, 3, 1, 2]); // [M·N, C, p, p]
  });
  return { patches, grid };
}

/**
 * Soft labels of a node grid from pixel masks: the mean of each `stride × stride` cell (the cell
 * around each node's centre), i.e. average pooling by the stride.
 * @param masks `[M, K, H, W]` (K label channels)
 * @returns `[M, N, K]` with N = (H/stride)·(W/stride), row-major
 */
export function masksToNodes(masks: tf.Tensor, stride: number): tf.Tensor {
  if (masks.rank !== 4) throw new ShapeError(`masksToNodes: argument 'masks' expected [M, K, H, W], got ${formatShape(masks.shape)}`);
  const [m, k, h, w] = masks.shape;
  if (h % stride !== 0 || w % stride !== 0) throw new ShapeError(`masksToNodes: masks ${h}×${w} must be divisible by the stride ${stride}`);
  return tf.tidy(() => {
    const x = tf.transpose(masks, [0, 2, 3, 1]) as tf.Tensor4D; // [M, H, W, K]
    const pooled = stride > 1 ? tf.avgPool(x, stride, stride, 'valid') : x; // [M, H/s, W/s, K]
    return tf.reshape(pooled, [m, (h / stride) * (w / stride), k]);
  });
}

/**
 * Pixel label maps from node labels: each node's labels upsampled bilinearly to the frame
 * (videowalk upsamples its predictions the same way before the argmax).
 * @param nodes `[M, N, K]` on a `rows × cols` grid
 * @returns `[M, K, rows·stride, cols·stride]`
 */
export function nodesToPixels(nodes: tf.Tensor, grid: { rows: number; cols: number }, stride: number): tf.Tensor {
  if (nodes.rank !== 3 || nodes.shape[1] !== grid.rows * grid.cols) {
    throw new ShapeError(`nodesToPixels: argument 'nodes' expected [M, ${grid.rows * grid.cols}, K], got ${formatShape(nodes.shape)}`);
  }
  const [m, , k] = nodes.shape;
  return tf.tidy(() => {
    const x = tf.reshape(nodes, [m, grid.rows, grid.cols, k]) as tf.Tensor4D;
    const up = stride > 1 ? tf.image.resizeBilinear(x, [grid.rows * stride, grid.cols * stride], false, true) : x;
    return tf.transpose(up, [0, 3, 1, 2]);
  });
}
