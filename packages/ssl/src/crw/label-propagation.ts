/**
 * Label propagation by feature affinity, the evaluation protocol of the contrastive random walk
 * (videowalk `test.py` / `utils/test_utils.py`): labels given for the first frame are carried to
 * every later frame through top-k nearest neighbours in feature space.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '@brickml/core';

/** Options of {@link propagateLabels} (defaults: videowalk's DAVIS flags). */
export interface LabelPropagationOptions {
  /** Previous frames in the short-term context, n (videowalk `--videoLen` 20). */
  context?: number;
  /** Context nodes kept per query, k (videowalk `--topk` 10). */
  topk?: number;
  /**
   * Spatial radius in grid cells (Euclidean on the rows × cols grid): short-term context nodes
   * farther than this from the query get logit −1e10 (videowalk `--radius` 12). The first frame
   * is never masked. `Infinity` turns the mask off.
   */
  radius?: number;
  /** Softmax temperature over the top-k affinities (videowalk 0.05). */
  temperature?: number;
  /** Most query nodes per step (default 1024): bounds the affinity block to chunk × (1 + n)·N floats. */
  chunk?: number;
}

function checkPositiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`propagateLabels: option '${name}' expected a positive integer, got ${v}`);
  return v;
}

/**
 * Propagates soft labels from frame 0 through a video.
 *
 * For each frame t = 1 … T−1, the context is frame 0 (long-term memory) plus the previous
 * `context` frames t−n … t−1 (fewer near the start: each frame appears once; videowalk instead
 * front-pads the video with n copies of frame 0, which repeats frame 0 in the short-term context).
 * Affinities are dot products of the (L2-normalised) features divided by τ; short-term context
 * nodes outside the radius are masked; each query keeps its top-k context nodes, softmaxes their
 * logits and takes the weighted sum of their labels. Predictions are fed back as the labels of
 * frame t for later frames (recurrent propagation); frame 0 keeps the given labels.
 *
 * @param features `[T, N, D]` node features, L2-normalised per node, N = rows·cols (row-major)
 * @param firstLabels `[N, K]` soft labels of frame 0 (e.g. background + one channel per object)
 * @param grid the node grid (for the radius mask)
 * @returns `[T, N, K]` labels per frame (frame 0 = `firstLabels`)
 */
export function propagateLabels(
  features: tf.Tensor,
  firstLabels: tf.Tensor,
  grid: { rows: number; cols: number },
  { context = 20, topk = 10, radius = 12, temperature = 0.05, chunk = 1024 }: LabelPropagationOptions = {},
): tf.Tensor {
  const fn = 'propagateLabels';
  if (features.rank !== 3) throw new ShapeError(`${fn}: argument 'features' expected [frames, nodes, dim], got ${formatShape(features.shape)}`);
  const [T, N] = features.shape as [number, number, number];
  if (N !== grid.rows * grid.cols) {
    throw new ShapeError(`${fn}: argument 'features' has ${N} nodes per frame, the grid ${grid.rows}×${grid.cols} has ${grid.rows * grid.cols}`);
  }
  if (firstLabels.rank !== 2 || firstLabels.shape[0] !== N) {
    throw new ShapeError(`${fn}: argument 'firstLabels' expected [${N}, K], got ${formatShape(firstLabels.shape)}`);
  }
  checkPositiveInt('context', context);
  checkPositiveInt('topk', topk);
  checkPositiveInt('chunk', chunk);
  if (!(radius > 0)) throw new RangeError(`${fn}: option 'radius' expected a positive number of cells (or Infinity), got ${radius}`);
  if (!(temperature > 0)) throw new RangeError(`${fn}: option 'temperature' expected a positive number, got ${temperature}`);

  // Additive radius mask [N, N] between query cells and one short-term frame's cells.
  const maskValues = new Float32Array(N * N);
  if (Number.isFinite(radius)) {
    for (let q = 0; q < N; q++) {
      const qi = Math.floor(q / grid.cols), qj = q % grid.cols;
      for (let c = 0; c < N; c++) {
        const ci = Math.floor(c / grid.cols), cj = c % grid.cols;
        if ((qi - ci) ** 2 + (qj - cj) ** 2 > radius * radius) maskValues[q * N + c] = -1e10;
      }
    }
  }
  const radiusMask = tf.tensor2d(maskValues, [N, N]);
  const frames = tf.unstack(features); // T × [N, D]
  const labels: tf.Tensor[] = [tf.clone(firstLabels)];
  try {
    for (let t = 1; t < T; t++) {
      const short = [];
      for (let s = Math.max(0, t - context); s < t; s++) short.push(s);
      // frame 0 is long-term memory; if it is also in the short-term window it appears once, masked-free
      const shortIdx = short.filter((s) => s !== 0);
      const ctxIdx = [0, ...shortIdx];
      const k = Math.min(topk, ctxIdx.length * N);
      const pred = tf.tidy(() => {
        const ctxFeat = tf.concat(ctxIdx.map((s) => frames[s]), 0); // [(1+m)·N, D]
        const ctxLab = tf.concat(ctxIdx.map((s) => labels[s]), 0); // [(1+m)·N, K]
        const mask = tf.concat([tf.zeros([N, N]), ...shortIdx.map(() => radiusMask)], 1); // [N, (1+m)·N]
        const parts: tf.Tensor[] = [];
        for (let q0 = 0; q0 < N; q0 += chunk) {
          const rows = Math.min(chunk, N - q0);
          const query = rows === N ? frames[t] : tf.slice(frames[t], [q0, 0], [rows, -1]); // [rows, D]
          const m = rows === N ? mask : tf.slice(mask, [q0, 0], [rows, -1]);
          const logits = tf.add(tf.div(tf.matMul(query, ctxFeat, false, true), temperature), m); // [rows, (1+m)·N]
          const { values, indices } = tf.topk(logits, k); // [rows, k]
          const weights = tf.softmax(values, -1); // [rows, k]
          const picked = tf.reshape(tf.gather(ctxLab, tf.reshape(indices, [-1])), [rows, k, -1]); // [rows, k, K]
          parts.push(tf.sum(tf.mul(tf.expandDims(weights, -1), picked), 1)); // [rows, K]
        }
        return parts.length === 1 ? parts[0] : tf.concat(parts, 0); // [N, K]
      });
      labels.push(pred);
    }
    return tf.stack(labels); // [T, N, K]
  } finally {
    tf.dispose([radiusMask, ...frames, ...labels]);
  }
}
