/**
 * Keypoint tracking on `movingSprites`: how close the keypoints stay to the sprites over time. For
 * every frame of every video and every sprite present in it, the distance from the sprite's centre
 * (the data set's `positions`) to the nearest of the frame's K keypoints, averaged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, type MovingSpritesSample, type Rng } from '@brickml/core';
import type { Transporter } from './transporter.js';

/** Keypoint tracks of n videos of T frames: `[n, T, K, 2]` (x, y) in [0, 1] image units, host float32. */
export interface KeypointTracks {
  tracks: Float32Array;
  n: number;
  frames: number;
  numKeypoints: number;
}

function checkChannelsLast(fn: string, sample: MovingSpritesSample): [number, number, number, number, number] {
  const s = sample.videoShape;
  if (s[4] !== 3 && s[4] !== 1) throw new ShapeError(`${fn}: argument 'videos' expected a channels-last sample [n, T, H, W, C] (movingSprites layout 'nhwc'), got [${s.join(', ')}]`);
  return s;
}

/** Keypoints of every frame of `videos` from a Transporter (evaluation mode during the call; training mode is restored). */
export async function transporterKeypointTracks(model: Transporter, videos: MovingSpritesSample, { batchSize = 32 } = {}): Promise<KeypointTracks> {
  const [n, T, H, W, C] = checkChannelsLast('transporterKeypointTracks', videos);
  const K = model.config.numKeypoints;
  const tracks = new Float32Array(n * T * K * 2);
  const frames = n * T;
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < frames; start += batchSize) {
      const m = Math.min(batchSize, frames - start);
      const per = H * W * C;
      const x = tf.tensor4d(videos.videos.subarray(start * per, (start + m) * per), [m, H, W, C]);
      const kp = model.keypoints(x);
      tracks.set(await kp.coords.data(), start * K * 2);
      tf.dispose([x, kp.coords, kp.maps]);
    }
  } finally {
    model.train(wasTraining);
  }
  return { tracks, n, frames: T, numKeypoints: K };
}

/** K keypoints drawn uniformly over the image, independently in every frame (the chance baseline). */
export function randomKeypointTracks(videos: MovingSpritesSample, numKeypoints: number, rng: Rng): KeypointTracks {
  const [n, T] = videos.videoShape;
  return { tracks: rng.uniformArray(n * T * numKeypoints * 2), n, frames: T, numKeypoints };
}

/** Result of {@link keypointTrackingError}. */
export interface KeypointTrackingError {
  /** Mean distance from a sprite's centre to its nearest keypoint, in pixels. */
  meanPixels: number;
  /** The same per frame index t (over videos and sprites), pixels. */
  perFrame: number[];
  /** Number of (video, frame, sprite) terms averaged. */
  count: number;
}

/**
 * Mean distance from each present sprite's centre to the nearest keypoint of its frame, in pixels
 * of the frame (the sample's H; positions and keypoints are in [0, 1] image units).
 */
export function keypointTrackingError(tracks: KeypointTracks, videos: MovingSpritesSample): KeypointTrackingError {
  const [n, T, H] = videos.videoShape[4] === 3 || videos.videoShape[4] === 1
    ? [videos.videoShape[0], videos.videoShape[1], videos.videoShape[2]]
    : [videos.videoShape[0], videos.videoShape[1], videos.videoShape[3]];
  if (tracks.n !== n || tracks.frames !== T) {
    throw new ShapeError(`keypointTrackingError: tracks are for ${tracks.n} videos × ${tracks.frames} frames, the sample has ${n} × ${T}`);
  }
  const S = videos.sprites;
  const K = tracks.numKeypoints;
  const { positions, present } = videos.labels;
  const sum = new Array<number>(T).fill(0);
  const cnt = new Array<number>(T).fill(0);
  for (let v = 0; v < n; v++) {
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) {
        if (!present[v * S + s]) continue;
        const p = ((v * T + t) * S + s) * 2;
        let best = Infinity;
        for (let k = 0; k < K; k++) {
          const q = ((v * T + t) * K + k) * 2;
          best = Math.min(best, Math.hypot(tracks.tracks[q]! - positions[p]!, tracks.tracks[q + 1]! - positions[p + 1]!));
        }
        sum[t]! += best * H;
        cnt[t]! += 1;
      }
    }
  }
  const count = cnt.reduce((a, b) => a + b, 0);
  return { meanPixels: sum.reduce((a, b) => a + b, 0) / Math.max(1, count), perFrame: sum.map((s, t) => s / Math.max(1, cnt[t]!)), count };
}
