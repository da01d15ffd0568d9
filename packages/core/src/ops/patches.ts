import * as tf from '@tensorflow/tfjs-core';

/**
 * Exact (parameter-free) conversions between images/videos and patch tokens.
 *
 * Conventions (docs/design.md, Conventions, "Patches"): images [B, C, H, W], video [B, T, C, H, W]; tokens are
 * row-major over (t, h, w); each token's features are in (C, t, ph, pw) order, i.e. a PyTorch
 * conv weight [dim, C, (pt,) ph, pw] flattened. Only 4-D and 5-D transposes are used.
 */

export interface PatchGrid {
  /** Patch-grid frames (T / tubelet); 1 for images. */
  frames: number;
  /** Patch-grid rows (H / ph). */
  rows: number;
  /** Patch-grid columns (W / pw). */
  cols: number;
}

/** images [B, C, H, W] → tokens [B, gh·gw, C·ph·pw]. */
export function patchifyImage(x: tf.Tensor, ph: number, pw: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, c, h, w] = x.shape;
    if (h % ph !== 0 || w % pw !== 0) {
      throw new Error(`patchifyImage: image ${h}×${w} is not divisible by patch ${ph}×${pw}`);
    }
    const gh = h / ph, gw = w / pw;
    let t = tf.reshape(x, [b * c * gh, ph, gw, pw]);
    t = tf.transpose(t, [0, 2, 1, 3]); // [B·C·gh, gw, ph, pw]
    t = tf.reshape(t, [b, c, gh * gw, ph * pw]);
    t = tf.transpose(t, [0, 2, 1, 3]); // [B, N, C, ph·pw]
    return tf.reshape(t, [b, gh * gw, c * ph * pw]);
  });
}

/** tokens [B, gh·gw, C·ph·pw] → images [B, C, gh·ph, gw·pw] (exact inverse of patchifyImage). */
export function unpatchifyImage(tokens: tf.Tensor, channels: number, ph: number, pw: number, grid: PatchGrid): tf.Tensor {
  return tf.tidy(() => {
    const b = tokens.shape[0];
    const { rows: gh, cols: gw } = grid;
    let t = tf.reshape(tokens, [b, gh * gw, channels, ph * pw]);
    t = tf.transpose(t, [0, 2, 1, 3]); // [B, C, N, ph·pw]
    t = tf.reshape(t, [b * channels * gh, gw, ph, pw]);
    t = tf.transpose(t, [0, 2, 1, 3]); // [B·C·gh, ph, gw, pw]
    return tf.reshape(t, [b, channels, gh * ph, gw * pw]);
  });
}

/** video [B, T, C, H, W] → tokens [B, gt·gh·gw, C·pt·ph·pw]. */
export function patchifyVideo(x: tf.Tensor, pt: number, ph: number, pw: number): tf.Tensor {
  return tf.tidy(() => {
    const [b, tt, c, h, w] = x.shape;
    if (tt % pt !== 0) throw new Error(`patchifyVideo: ${tt} frames are not divisible by tubelet ${pt}`);
    const gt = tt / pt;
    // Patchify every frame: [B·T, C, H, W] → [B·T, G, C·P] with G = gh·gw, P = ph·pw.
    const frames = patchifyImage(tf.reshape(x, [b * tt, c, h, w]), ph, pw);
    const g = frames.shape[1] as number;
    const p = ph * pw;
    // [B·gt, pt, G, C, P] → [B·gt, G, C, pt, P]
    let t = tf.reshape(frames, [b * gt, pt, g, c, p]);
    t = tf.transpose(t, [0, 2, 3, 1, 4]);
    return tf.reshape(t, [b, gt * g, c * pt * p]);
  });
}

/** tokens [B, gt·gh·gw, C·pt·ph·pw] → video [B, gt·pt, C, gh·ph, gw·pw]. */
export function unpatchifyVideo(
  tokens: tf.Tensor,
  channels: number,
  pt: number,
  ph: number,
  pw: number,
  grid: PatchGrid,
): tf.Tensor {
  return tf.tidy(() => {
    const b = tokens.shape[0];
    const g = grid.rows * grid.cols;
    const p = ph * pw;
    let t = tf.reshape(tokens, [b * grid.frames, g, channels, pt, p]);
    t = tf.transpose(t, [0, 3, 1, 2, 4]); // [B·gt, pt, G, C, P]
    t = tf.reshape(t, [b * grid.frames * pt, g, channels * p]);
    const frames = unpatchifyImage(t, channels, ph, pw, { frames: 1, rows: grid.rows, cols: grid.cols });
    return tf.reshape(frames, [b, grid.frames * pt, channels, grid.rows * ph, grid.cols * pw]);
  });
}
