import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  Linear,
  Module,
  ShapeError,
  build,
  formatShape,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickConfig,
  type BrickOptions,
  type Rng,
} from '@brickml/core';
import { l2Normalize } from '../ops.js';
import { gridPatches, type NodeGrid } from './patches.js';
import { palindromeWalkLoss, transitionMatrices, type Transitions, type WalkLoss } from './walk.js';

const range01 = z.tuple([z.number().positive(), z.number().positive()]);

const CrwSchema = z
  .object({
    /**
     * The patch encoder, any registered brick whose `forward` maps a batch of patches to features:
     * `[M, D]`, tokens `[M, n, D]` (mean-pooled) or a channels-last map `[M, h, w, D]` (mean-pooled),
     * where D = `encoderDim`. Its input layout is `encoderInput`.
     */
    encoder: schemas.brick,
    /** Width D of the encoder's features. */
    encoderDim: schemas.positiveInt,
    /** What the encoder takes: `nchw` patches [M, C, p, p], `nhwc` [M, p, p, C], or `flat` [M, C·p·p] (C, y, x order). */
    encoderInput: z.enum(['nchw', 'nhwc', 'flat']).default('nchw'),
    /**
     * Per-channel mean subtracted from the frames before they are cut into windows (videowalk
     * normalises its frames the same way); with `pixelStd`. Default: none. Without it a data set
     * whose frames share a large common value (a dark background) starts with nearly identical
     * node features, where the walk is uniform and its gradient vanishes.
     */
    pixelMean: z.array(z.number()).optional(),
    /** Per-channel standard deviation the frames are divided by (with `pixelMean`). */
    pixelStd: z.array(z.number().positive()).optional(),
    /** Width of the embedding the walk runs on: the head is one Linear D → embedDim (videowalk `head_depth=0`: 128). */
    embedDim: schemas.positiveInt.default(128),
    /** Window side p of the node grid in pixels (videowalk: 64 on 256² frames). */
    patchSize: schemas.positiveInt.default(8),
    /** Pixels between windows (videowalk: 32, i.e. half the window); (patchSize − stride) must be even. */
    stride: schemas.positiveInt.default(4),
    /** Jitter each window by a random resized crop during training (videowalk: yes). */
    jitter: z.boolean().default(true),
    /** Area range of the jitter crop (videowalk: [0.7, 0.9]). */
    jitterScale: range01.default([0.7, 0.9]),
    /** Aspect-ratio range of the jitter crop, log-uniform (torchvision's default [3/4, 4/3]). */
    jitterRatio: range01.default([0.75, 4 / 3]),
    /** Temperature τ of the transition softmax in training (videowalk default 0.07). */
    temperature: schemas.positive.default(0.07),
    /** Edge dropout rate in training (videowalk `--dropout` 0.1). */
    edgeDropout: z.number().min(0).lt(1).default(0.1),
    /**
     * Shortest palindrome walk in forward steps (default 2: the 1-step round trip is not included,
     * as in videowalk); walks run up to T−1 steps.
     */
    shortestWalk: schemas.positiveInt.default(2),
    /** ε in log(W + ε) (videowalk: 1e-20). */
    eps: schemas.positive.default(1e-20),
  })
  .strict();
/** JSON config of {@link ContrastiveRandomWalk} (input form: defaults may be omitted). */
export type ContrastiveRandomWalkConfig = z.input<typeof CrwSchema>;
type Parsed = z.output<typeof CrwSchema>;

/** Options of {@link ContrastiveRandomWalk.nodeFeatures}. */
export interface NodeFeatureOptions {
  /** Pixels between windows (default: the config's `stride`); a smaller stride gives a denser grid for evaluation. */
  stride?: number;
  /** Pass the features through the head (default true). videowalk evaluates the encoder's features without it. */
  head?: boolean;
  /** Jitter the windows with this generator (default: no jitter). */
  jitterRng?: Rng;
  /** Most patches per encoder call (default: all at once); bounds memory for long or large videos. */
  chunk?: number;
}

/** Options of {@link ContrastiveRandomWalk.loss}. */
export interface CrwLossOptions {
  /** Generator for window jitter and edge dropout (default: the global one). */
  rng?: Rng;
}

/** Output of {@link ContrastiveRandomWalk.loss}: the walk loss and its diagnostics. */
export interface CrwLoss extends WalkLoss {
  /** Node grid of the frames. */
  grid: NodeGrid;
}

/**
 * Contrastive random walk (Jabri, Owens, Efros, NeurIPS 2020; videowalk `model.py` names):
 *
 * ```text
 * nodes   q_t = L2norm(head(pool(encoder(window_n(frame_t)))))   [B, T, N, embedDim]
 * A_t     = q_t q_{t+1}ᵀ
 * P_{t→t+1} = softmax_row(drop(A_t) / τ),   P_{t+1→t} = softmax_row(drop(A_tᵀ) / τ)
 * W_k     = P_{1→2}…P_{k→k+1} P_{k+1→k}…P_{2→1},   k = shortestWalk … T−1
 * loss    = mean_k CE(log(W_k + ε), I)
 * ```
 * Nodes are the windows of a grid over each frame (videowalk's `--frame-aug grid`): every window
 * is encoded on its own (so a node's feature holds no position in the frame), jittered by a random
 * resized crop in training. Edge dropout sets logits to −1e20 before the softmax, separately for
 * the forward and backward matrices. The 1-step round trip is excluded by default, as in videowalk.
 *
 * The encoder is any registered brick (config field `encoder`), or any Module passed as the
 * `encoder` option (it must have a `toConfig` to be saved with the model).
 */
export class ContrastiveRandomWalk extends Module {
  static readonly type = 'ContrastiveRandomWalk';
  static readonly schema = CrwSchema;
  readonly config: Parsed;
  readonly encoder: Module & { forward(x: tf.Tensor): tf.Tensor };
  readonly head: Linear;

  constructor(
    config: ContrastiveRandomWalkConfig,
    { rng = globalRng(), encoder }: BrickOptions & { encoder?: Module & { forward(x: tf.Tensor): tf.Tensor } } = {},
  ) {
    super();
    const c = (this.config = parseConfig(ContrastiveRandomWalk, config));
    if (c.stride > c.patchSize || (c.patchSize - c.stride) % 2 !== 0) {
      throw new BrickConfigError(
        `ContrastiveRandomWalk: config fields 'patchSize' and 'stride' need stride ≤ patchSize and patchSize − stride even (the frame is padded by half of it), got patchSize ${c.patchSize}, stride ${c.stride}`,
      );
    }
    if (c.jitterScale[0] > c.jitterScale[1] || c.jitterScale[1] > 1) {
      throw new BrickConfigError(`ContrastiveRandomWalk: config field 'jitterScale' expected [lo, hi] with 0 < lo ≤ hi ≤ 1 (got ${JSON.stringify(c.jitterScale)})`);
    }
    if (c.jitterRatio[0] > c.jitterRatio[1]) {
      throw new BrickConfigError(`ContrastiveRandomWalk: config field 'jitterRatio' expected [lo, hi] with lo ≤ hi (got ${JSON.stringify(c.jitterRatio)})`);
    }
    if ((c.pixelMean === undefined) !== (c.pixelStd === undefined) || (c.pixelMean && c.pixelMean.length !== c.pixelStd!.length)) {
      throw new BrickConfigError(
        `ContrastiveRandomWalk: config fields 'pixelMean' and 'pixelStd' go together, one number per channel (got ${JSON.stringify(c.pixelMean)} and ${JSON.stringify(c.pixelStd)})`,
      );
    }
    this.encoder = encoder ?? build(c.encoder as BrickConfig, { rng });
    if (typeof (this.encoder as { forward?: unknown }).forward !== 'function') {
      throw new BrickConfigError(`ContrastiveRandomWalk: the encoder (${this.encoder.typeName}) has no forward method`);
    }
    this.head = new Linear({ inFeatures: c.encoderDim, outFeatures: c.embedDim }, { rng });
  }

  /** Patches [M, C, p, p] (nchw) → pooled encoder features [M, D]. */
  encodePatches(patches: tf.Tensor): tf.Tensor {
    const c = this.config;
    return tf.tidy(() => {
      let x = patches;
      if (c.encoderInput === 'nhwc') x = tf.transpose(x, [0, 2, 3, 1]);
      else if (c.encoderInput === 'flat') x = tf.reshape(x, [x.shape[0], -1]);
      const y = this.encoder.forward(x);
      let pooled: tf.Tensor;
      if (y.rank === 2) pooled = y;
      else if (y.rank === 3) pooled = tf.mean(y, 1);
      else if (y.rank === 4) pooled = tf.mean(y, [1, 2]);
      else {
        throw new ShapeError(
          `ContrastiveRandomWalk: the encoder returned ${formatShape(y.shape)}; expected [M, ${c.encoderDim}], [M, n, ${c.encoderDim}] or [M, h, w, ${c.encoderDim}]`,
        );
      }
      if (pooled.shape[0] !== patches.shape[0] || pooled.shape[1] !== c.encoderDim) {
        throw new ShapeError(
          `ContrastiveRandomWalk: the encoder's pooled features have shape ${formatShape(pooled.shape)}, expected [${patches.shape[0]}, ${c.encoderDim}] (config 'encoderDim')`,
        );
      }
      return pooled;
    });
  }

  /**
   * Node features of a video: one L2-normalised vector per grid window and frame.
   * @param video `[B, T, C, H, W]`
   * @returns nodes `[B, T, N, embedDim]` (or `[B, T, N, encoderDim]` with `head: false`) and the grid
   */
  nodeFeatures(video: tf.Tensor, { stride, head = true, jitterRng, chunk }: NodeFeatureOptions = {}): { nodes: tf.Tensor; grid: NodeGrid } {
    const c = this.config;
    this.checkShape('video', video, [null, null, null, null, null]);
    const [b, t, ch, h, w] = video.shape as [number, number, number, number, number];
    const s = stride ?? c.stride;
    if (chunk !== undefined && !(Number.isInteger(chunk) && chunk >= 1)) {
      throw new RangeError(`ContrastiveRandomWalk.nodeFeatures: option 'chunk' expected a positive integer, got ${chunk}`);
    }
    let grid: NodeGrid | undefined;
    const nodes = tf.tidy(() => {
      let frames = tf.reshape(video, [b * t, ch, h, w]); // [B·T, C, H, W]
      if (c.pixelMean && c.pixelStd) {
        if (c.pixelMean.length !== ch) {
          throw new ShapeError(`ContrastiveRandomWalk: argument 'video' has ${ch} channels, config 'pixelMean' has ${c.pixelMean.length}`);
        }
        frames = tf.div(tf.sub(frames, tf.tensor4d(c.pixelMean, [1, ch, 1, 1])), tf.tensor4d(c.pixelStd, [1, ch, 1, 1]));
      }
      const jitter = jitterRng ? { scale: c.jitterScale, ratio: c.jitterRatio, rng: jitterRng } : undefined;
      const cut = gridPatches(frames, c.patchSize, s, { jitter });
      grid = cut.grid;
      const m = cut.patches.shape[0];
      const step = chunk ?? m;
      const parts: tf.Tensor[] = [];
      for (let start = 0; start < m; start += step) {
        const size = Math.min(step, m - start);
        const piece = step >= m ? cut.patches : tf.slice(cut.patches, [start, 0, 0, 0], [size, -1, -1, -1]);
        const f = this.encodePatches(piece); // [size, D]
        parts.push(head ? this.head.forward(f) : f);
      }
      const feats = parts.length === 1 ? parts[0] : tf.concat(parts, 0); // [B·T·N, E]
      const n = grid.rows * grid.cols;
      return l2Normalize(tf.reshape(feats, [b, t, n, feats.shape[1] as number])); // [B, T, N, E]
    });
    return { nodes, grid: grid! };
  }

  /** video [B, T, C, H, W] → node embeddings [B, T, N, embedDim] (jittered windows in training mode). */
  forward(video: tf.Tensor, { rng = globalRng() }: { rng?: Rng } = {}): tf.Tensor {
    const { nodes } = this.nodeFeatures(video, { jitterRng: this.training && this.config.jitter ? rng : undefined });
    return nodes;
  }

  /** Transition matrices of a video at the training temperature (edge dropout in training mode). */
  transitions(video: tf.Tensor, { rng = globalRng() }: CrwLossOptions = {}): Transitions {
    const c = this.config;
    return tf.tidy(() => {
      const nodes = this.forward(video, { rng });
      return transitionMatrices(nodes, { temperature: c.temperature, edgeDropout: this.training ? c.edgeDropout : 0, rng });
    });
  }

  /**
   * The CRW loss of a batch of clips `[B, T, C, H, W]` (T ≥ shortestWalk + 1), with walk accuracy
   * as a diagnostic. In training mode windows are jittered and edges dropped; in eval mode neither.
   */
  loss(video: tf.Tensor, { rng = globalRng() }: CrwLossOptions = {}): CrwLoss {
    const c = this.config;
    const t = video.shape[1] as number;
    if (video.rank === 5 && t < c.shortestWalk + 1) {
      throw new ShapeError(
        `ContrastiveRandomWalk: argument 'video' needs at least ${c.shortestWalk + 1} frames for walks of ${c.shortestWalk}..T−1 steps, got ${formatShape(video.shape)}`,
      );
    }
    let grid: NodeGrid | undefined;
    let walkLengths: number[] = [];
    const out = tf.tidy(() => {
      const { nodes, grid: g } = this.nodeFeatures(video, { jitterRng: this.training && c.jitter ? rng : undefined });
      grid = g;
      const tr = transitionMatrices(nodes, { temperature: c.temperature, edgeDropout: this.training ? c.edgeDropout : 0, rng });
      const { walkLengths: lengths, ...tensors } = palindromeWalkLoss(tr, { shortestWalk: c.shortestWalk, eps: c.eps });
      walkLengths = lengths;
      return tensors;
    });
    return { ...out, walkLengths, grid: grid! };
  }

  override toConfig() {
    return { type: ContrastiveRandomWalk.type, ...this.config, encoder: this.encoder.toConfig() };
  }
}
registerBrick(ContrastiveRandomWalk);
