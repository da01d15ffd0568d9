/**
 * Transporter (Kulkarni et al. 2019, "Unsupervised Learning of Object Keypoints for Perception and
 * Control"): keypoints learned by reconstructing a target frame from a source frame of the same video.
 *
 * ```text
 * Φ(x)  feature_encoder   frames [N, H, W, 3] → features [N, h, w, C]          (h = H / 2^downsample)
 * Ψ(x)  keypoint_encoder → keypoint_head (1×1 conv) → K heatmap logits [N, h, w, K]
 *       spatial softmax over the h·w cells → coordinates (x, y) ∈ [0, 1]² per keypoint  [N, K, 2]
 *       H_x = exp(−‖u − (x, y)‖² / (2σ²)) on the cell centres u: Gaussian maps of fixed std σ  [N, h, w, K]
 * transport, for k = 1 … K in turn (the reference implementations' order):
 *       Φ̂ ← (1 − H_s,k)(1 − H_t,k)·Φ̂ + H_t,k·Φ(x_t),   starting from Φ̂ = Φ(x_s)
 * refine_net: Φ̂ → reconstruction of the target frame [N, H, W, 3];  loss = mean squared error
 * ```
 * With one keypoint the transport is the paper's equation Φ̂ = (1 − H_s)(1 − H_t)·Φ_s + H_t·Φ_t.
 * Coordinates are in image units: x left → right, y top → bottom, (0, 0) the top-left corner of the
 * image (as `movingSprites` positions), so cell (i, j) of an h × w map is centred on ((j + ½)/w, (i + ½)/h).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BatchNorm2d, Conv2d, Module, ShapeError, formatShape, globalRng, parseConfig, registerBrick, schemas, upsampleNearest,
  type BrickOptions, type Rng,
} from '@brickml/core';

/**
 * Spatial softmax (Levine et al. 2016; the Transporter's keypoint bottleneck): a softmax over the h·w
 * cells of each of K heatmaps and the expected cell centre.
 * @param logits heatmap logits `[N, h, w, K]`
 * @returns `coords` `[N, K, 2]` as (x, y) in [0, 1] image units and the softmax maps `probs` `[N, h, w, K]`
 */
export function spatialSoftmax(logits: tf.Tensor): { coords: tf.Tensor; probs: tf.Tensor } {
  if (logits.rank !== 4) throw new ShapeError(`spatialSoftmax: argument 'logits' expected [N, h, w, K], got ${formatShape(logits.shape)}`);
  const [n, h, w, k] = logits.shape as [number, number, number, number];
  return tf.tidy(() => {
    const flat = tf.transpose(tf.reshape(logits, [n, h * w, k]), [0, 2, 1]); // [N, K, h·w]
    const p = tf.softmax(flat); // [N, K, h·w]
    const xs = Array.from({ length: h * w }, (_, c) => ((c % w) + 0.5) / w);
    const ys = Array.from({ length: h * w }, (_, c) => (Math.floor(c / w) + 0.5) / h);
    const grid = tf.tensor2d([...xs, ...ys], [2, h * w]); // [2, h·w]
    const coords = tf.reshape(tf.matMul(tf.reshape(p, [n * k, h * w]), grid, false, true), [n, k, 2]); // [N, K, 2]
    const probs = tf.reshape(tf.transpose(p, [0, 2, 1]), [n, h, w, k]);
    return { coords, probs };
  });
}

/**
 * Gaussian maps of fixed std around keypoints: H[n, i, j, k] = exp(−‖u_ij − c_nk‖² / (2σ²)) with u_ij
 * the centre of cell (i, j) of an `h × w` grid in [0, 1] image units.
 * @param coords `[N, K, 2]` (x, y)
 * @returns `[N, h, w, K]`, 1 at a keypoint that sits on a cell centre
 */
export function gaussianMaps(coords: tf.Tensor, h: number, w: number, std: number): tf.Tensor {
  if (coords.rank !== 3 || coords.shape[2] !== 2) throw new ShapeError(`gaussianMaps: argument 'coords' expected [N, K, 2], got ${formatShape(coords.shape)}`);
  if (!(std > 0)) throw new RangeError(`gaussianMaps: argument 'std' expected > 0, got ${std}`);
  const [n, k] = coords.shape as [number, number, number];
  return tf.tidy(() => {
    const cx = tf.reshape(tf.slice(coords, [0, 0, 0], [n, k, 1]), [n, 1, 1, k]);
    const cy = tf.reshape(tf.slice(coords, [0, 0, 1], [n, k, 1]), [n, 1, 1, k]);
    const u = tf.reshape(tf.tensor1d(Array.from({ length: w }, (_, j) => (j + 0.5) / w)), [1, 1, w, 1]);
    const v = tf.reshape(tf.tensor1d(Array.from({ length: h }, (_, i) => (i + 0.5) / h)), [1, h, 1, 1]);
    const d2 = tf.add(tf.square(tf.sub(u, cx)), tf.square(tf.sub(v, cy))); // [N, h, w, K]
    return tf.exp(tf.div(d2, -2 * std * std));
  });
}

/**
 * The Transporter's feature transport: starting from the source features, for each keypoint k in
 * turn Φ̂ ← (1 − H_s,k)(1 − H_t,k)·Φ̂ + H_t,k·Φ_t: source features are suppressed at both frames'
 * keypoints and the target's features pasted in at the target's.
 * @param sourceMaps `[N, h, w, K]`, targetMaps `[N, h, w, K]` Gaussian maps
 * @param sourceFeatures `[N, h, w, C]`, targetFeatures `[N, h, w, C]`
 * @returns `[N, h, w, C]`
 */
export function transport(sourceMaps: tf.Tensor, targetMaps: tf.Tensor, sourceFeatures: tf.Tensor, targetFeatures: tf.Tensor): tf.Tensor {
  if (sourceMaps.rank !== 4 || !tf.util.arraysEqual(sourceMaps.shape, targetMaps.shape)) {
    throw new ShapeError(`transport: arguments 'sourceMaps' and 'targetMaps' expected equal shapes [N, h, w, K], got ${formatShape(sourceMaps.shape)} and ${formatShape(targetMaps.shape)}`);
  }
  if (sourceFeatures.rank !== 4 || !tf.util.arraysEqual(sourceFeatures.shape, targetFeatures.shape) || !tf.util.arraysEqual(sourceFeatures.shape.slice(0, 3), sourceMaps.shape.slice(0, 3))) {
    throw new ShapeError(
      `transport: arguments 'sourceFeatures' and 'targetFeatures' expected equal shapes [N, h, w, C] with [N, h, w] = ${formatShape(sourceMaps.shape.slice(0, 3))}, got ${formatShape(sourceFeatures.shape)} and ${formatShape(targetFeatures.shape)}`,
    );
  }
  const [n, h, w, k] = sourceMaps.shape as [number, number, number, number];
  return tf.tidy(() => {
    let out = sourceFeatures;
    for (let i = 0; i < k; i++) {
      const hs = tf.slice(sourceMaps, [0, 0, 0, i], [n, h, w, 1]);
      const ht = tf.slice(targetMaps, [0, 0, 0, i], [n, h, w, 1]);
      out = tf.add(tf.mul(tf.mul(tf.sub(1, hs), tf.sub(1, ht)), out), tf.mul(ht, targetFeatures));
    }
    return out;
  });
}

const TransporterSchema = z
  .object({
    /** Image channels. */
    inChannels: schemas.positiveInt.default(3),
    /** Number of keypoints K. */
    numKeypoints: schemas.positiveInt.default(4),
    /** Width C of the feature and keypoint encoders. */
    channels: schemas.positiveInt.default(32),
    /** Stride-2 stages: feature maps are H / 2^downsample (the reference: 2 on 80×80 Atari frames). */
    downsample: schemas.nonNegativeInt.default(1),
    /** Fixed std σ of the Gaussian keypoint maps in image units (the paper's 0.1 on [−1, 1] coordinates is 0.05 here). */
    gaussianStd: schemas.positive.default(0.05),
    /** Normalisation after each encoder conv: BatchNorm2d (as the reference) or none. */
    norm: z.enum(['batch', 'none']).default('batch'),
  })
  .strict();
/** JSON config of {@link Transporter} (input form: defaults may be omitted). */
export type TransporterConfig = z.input<typeof TransporterSchema>;

/** Conv stack of the encoders: [conv 3×3 → norm → ReLU] × (2 + 2·downsample), every other one of the last stride 2. */
class ConvEncoder extends Module {
  readonly convs: Conv2d[] = [];
  readonly norms: BatchNorm2d[] = [];

  constructor(inChannels: number, channels: number, downsample: number, norm: 'batch' | 'none', rng: Rng) {
    super();
    const strides = [1, 1, ...Array.from({ length: downsample }, () => [2, 1]).flat()];
    strides.forEach((stride, i) => {
      this.convs.push(new Conv2d({ inChannels: i === 0 ? inChannels : channels, outChannels: channels, kernelSize: 3, stride, padding: 1 }, { rng }));
      if (norm === 'batch') this.norms.push(new BatchNorm2d({ numFeatures: channels }));
    });
  }

  /** x [N, H, W, Cin] → [N, h, w, C] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = x;
      this.convs.forEach((conv, i) => {
        y = conv.forward(y);
        if (this.norms[i]) y = this.norms[i]!.forward(y);
        y = tf.relu(y);
      });
      return y;
    });
  }
}

/** Decoder: [conv 3×3 → ReLU → upsample ×2] × downsample, conv 3×3 → ReLU, conv 3×3 to the image channels. */
class RefineNet extends Module {
  readonly convs: Conv2d[] = [];
  readonly upsamples: number;

  constructor(channels: number, outChannels: number, downsample: number, rng: Rng) {
    super();
    this.upsamples = downsample;
    for (let i = 0; i < downsample + 2; i++) {
      this.convs.push(new Conv2d({ inChannels: channels, outChannels: i === downsample + 1 ? outChannels : channels, kernelSize: 3, padding: 1 }, { rng }));
    }
  }

  /** features [N, h, w, C] → image [N, H, W, outChannels] */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = x;
      for (let i = 0; i < this.upsamples; i++) y = upsampleNearest(tf.relu(this.convs[i]!.forward(y)), 2);
      y = tf.relu(this.convs[this.upsamples]!.forward(y));
      return this.convs[this.upsamples + 1]!.forward(y);
    });
  }
}

/** Keypoints of a batch of frames. */
export interface TransporterKeypoints {
  /** (x, y) in [0, 1] image units, `[N, K, 2]`. */
  coords: tf.Tensor;
  /** Gaussian maps around them, `[N, h, w, K]`. */
  maps: tf.Tensor;
}

/**
 * The Transporter (see the module comment): `feature_encoder` (Φ), `keypoint_encoder` +
 * `keypoint_head` (Ψ), `refine_net`. Frames are channels last, `[N, H, W, inChannels]`, H and W
 * divisible by 2^downsample. {@link Transporter.keypoints} returns coordinates;
 * {@link Transporter.loss} reconstructs the target frame from the source frame.
 */
export class Transporter extends Module {
  static readonly type = 'Transporter';
  static readonly schema = TransporterSchema;
  readonly config: z.output<typeof TransporterSchema>;
  readonly feature_encoder: ConvEncoder;
  readonly keypoint_encoder: ConvEncoder;
  readonly keypoint_head: Conv2d;
  readonly refine_net: RefineNet;

  constructor(config: TransporterConfig = {}, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(Transporter, config));
    this.feature_encoder = new ConvEncoder(c.inChannels, c.channels, c.downsample, c.norm, rng);
    this.keypoint_encoder = new ConvEncoder(c.inChannels, c.channels, c.downsample, c.norm, rng);
    this.keypoint_head = new Conv2d({ inChannels: c.channels, outChannels: c.numKeypoints, kernelSize: 1 }, { rng });
    this.refine_net = new RefineNet(c.channels, c.inChannels, c.downsample, rng);
  }

  private checkFrames(name: string, x: tf.Tensor): void {
    this.checkShape(name, x, [null, null, null, this.config.inChannels]);
    const f = 2 ** this.config.downsample;
    if (x.shape[1]! % f !== 0 || x.shape[2]! % f !== 0) {
      throw new ShapeError(`Transporter: argument '${name}' expected H and W divisible by 2^downsample = ${f}, got ${formatShape(x.shape)}`);
    }
  }

  /** frames [N, H, W, Cin] → keypoint coordinates [N, K, 2] and their Gaussian maps [N, h, w, K] */
  keypoints(frames: tf.Tensor): TransporterKeypoints {
    this.checkFrames('frames', frames);
    return tf.tidy(() => {
      const logits = this.keypoint_head.forward(this.keypoint_encoder.forward(frames)); // [N, h, w, K]
      const { coords } = spatialSoftmax(logits);
      const maps = gaussianMaps(coords, logits.shape[1]!, logits.shape[2]!, this.config.gaussianStd);
      return { coords, maps };
    });
  }

  /** Reconstruction of `target` from `source` (both [N, H, W, Cin]) through the transported features. */
  reconstruct(source: tf.Tensor, target: tf.Tensor): tf.Tensor {
    this.checkFrames('source', source);
    this.checkFrames('target', target);
    if (!tf.util.arraysEqual(source.shape, target.shape)) {
      throw new ShapeError(`Transporter: arguments 'source' and 'target' expected equal shapes, got ${formatShape(source.shape)} and ${formatShape(target.shape)}`);
    }
    return tf.tidy(() => {
      const n = source.shape[0]!;
      // one pass of each encoder over both frames: [2N, ...]
      const both = tf.concat([source, target], 0);
      const phi = this.feature_encoder.forward(both);
      const { maps } = this.keypoints(both);
      const [hs, ht] = tf.split(maps, [n, n], 0) as [tf.Tensor, tf.Tensor];
      const [fs, ft] = tf.split(phi, [n, n], 0) as [tf.Tensor, tf.Tensor];
      return this.refine_net.forward(transport(hs, ht, fs, ft));
    });
  }

  /** Mean squared error of the target frame's reconstruction. */
  loss(source: tf.Tensor, target: tf.Tensor): tf.Scalar {
    return tf.tidy(() => tf.mean(tf.square(tf.sub(this.reconstruct(source, target), target))) as tf.Scalar);
  }

  override toConfig() {
    return { type: Transporter.type, ...this.config };
  }
}
registerBrick(Transporter);
