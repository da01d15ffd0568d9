/**
 * PSNR of predicted video frames against the ground truth, per frame, for data in [−1, 1]
 * (peak-to-peak range 2): `PSNR = 10·log10(range² / MSE)`, MSE over the batch, channels and
 * pixels of that frame. The copy-the-last-context-frame baseline predicts every future frame as
 * the last frame the model saw.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, formatShape } from '@brickml/core';

/** Per-frame PSNR in dB of `pred` against `truth`, both `[B, T, C, H, W]` (MSE 0 gives Infinity). */
export async function psnrPerFrame(pred: tf.Tensor, truth: tf.Tensor, range = 2): Promise<number[]> {
  if (pred.rank !== 5 || pred.shape.some((d, i) => d !== truth.shape[i]) || truth.rank !== 5) {
    throw new ShapeError(`psnrPerFrame: pred and truth must both be [B, T, C, H, W] of one shape, got ${formatShape(pred.shape)} and ${formatShape(truth.shape)}`);
  }
  const mse = tf.tidy(() => tf.mean(tf.square(tf.sub(pred, truth)), [0, 2, 3, 4]));
  const v = Array.from(await mse.data());
  mse.dispose();
  return v.map((m) => 10 * Math.log10((range * range) / m));
}

/** The copy-last-frame prediction: the last context frame repeated `frames` times → `[B, frames, C, H, W]`. */
export function copyLastFrame(context: tf.Tensor, frames: number): tf.Tensor {
  if (context.rank !== 5) throw new ShapeError(`copyLastFrame: context must be [B, k, C, H, W], got ${formatShape(context.shape)}`);
  return tf.tidy(() => {
    const [b, k, c, h, w] = context.shape;
    const last = tf.slice(context, [0, k - 1, 0, 0, 0], [b, 1, c, h, w]);
    return tf.tile(last, [1, frames, 1, 1, 1]);
  });
}

/** Mean of finite per-frame PSNRs (a summary number). */
export function meanPsnr(perFrame: number[]): number {
  const f = perFrame.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : Infinity;
}
