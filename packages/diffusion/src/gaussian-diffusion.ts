/**
 * `GaussianDiffusion`: continuous-time Gaussian diffusion (t ∈ [0, 1]) around a denoiser network,
 * as RIN trains it (pix2seq `image_diffusion_model.py`, `video_diffusion_model.py`,
 * `diffusion_utils.py`).
 *
 * ```text
 * training:  t ~ U(0, 1) per example, γ = schedule(t), ε ~ N(0, I)
 *            x_t = √γ·(b·x0) + √(1−γ)·ε          b = inputScale, data x0 in [−1, 1]
 *            pred = net(x_t [/ std(x_t)], γ, class, prev latents)    conditioned on γ, not t
 *            loss = mean((pred − target)²)        target: ε | b·x0 | v = √γ·ε − √(1−γ)·b·x0
 * sampling:  x̂0 from the prediction, clipped to [−b, b], ε̂ recomputed from the clipped x̂0;
 *            DDPM / DDIM transitions (samplers/), the final x̂0 / b is the sample.
 * ```
 * Video frame prediction: with `contextFrames = k`, data are videos `[B, T, C, H, W]`; the first k
 * frames enter the network clean (scaled by b), only the last T − k frames are noised, and the
 * loss and samples cover those frames only. Two options give the predicted frames direct access
 * to the context:
 *
 * ```text
 * residualFrom 'lastContext':  the diffused "x0" of the predicted frames is r = (x − x_{k−1}) / 2
 *            (x_{k−1}: the last context frame, broadcast over the predicted frames; r ∈ [−1, 1]);
 *            x̂0 = r̂ is clipped so that the frame x_{k−1} + 2·r̂ stays in [−1, 1] (⊂ r ∈ [−1, 1]),
 *            and samples are frames again: x̂ = x_{k−1} + 2·r̂. r̂ = 0 is copy-the-last-frame.
 * contextChannels m:          the last m context frames (scaled by b) are concatenated along
 *            channels to every frame of the network input: [B, T, C, H, W] → [B, T, C·(1+m), H, W]
 *            (the denoiser has channels C·(1+m)); only the first C output channels are read.
 * ```
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
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
import { asDenoiser, type Denoiser } from './denoiser.js';
import { classLabelTensor, dropClassLabels, guidedEps, nullClassLabels } from './guidance.js';
import { epsFromX0, objectiveTarget, predictionToEps, predictionToX0, qSample, x0FromEps, type Objective } from './objectives.js';
import { DEFAULT_SCHEDULE, gammaFn, gammaScheduleSchema, resolveSchedule } from './schedules.js';
import { selfConditionLatents } from './self-conditioning.js';

const GaussianDiffusionSchema = z
  .object({
    /** The network: a brick config whose module satisfies `Denoiser` (e.g. a `RinNetwork`). */
    denoiser: schemas.brick.optional(),
    /** Training γ schedule (default `sigmoid@-3,3,0.9`); samplers may use another. */
    schedule: gammaScheduleSchema.default(DEFAULT_SCHEDULE),
    /** What the network predicts: `eps` (default, pix2seq), `x0` or `v`. */
    objective: z.enum(['eps', 'x0', 'v']).default('eps'),
    /** Input scaling b (Chen 2023): data in [−1, 1] are mapped to [−b, b] before noising (default 1). */
    inputScale: schemas.positive.default(1),
    /** Divide the noisy input by its per-example standard deviation before the network (pix2seq `normalize_noisy_input`). */
    normalizeNoisyInput: z.boolean().default(false),
    /** Probability that a training example gets its self-conditioning latents (default 0.9); used when the denoiser self-conditions. */
    selfConditionRate: schemas.probability.default(0.9),
    /** Probability that a training label is replaced by the null class (default 0.1); used when the denoiser has classes. */
    classDropout: schemas.probability.default(0.1),
    /** Video: leading frames given clean as context (default 0 = no context). */
    contextFrames: schemas.nonNegativeInt.default(0),
    /**
     * Video: diffuse the predicted frames as they are (`none`, default) or as the residual from the
     * last context frame r = (x − x_{k−1}) / 2 (`lastContext`; needs contextFrames ≥ 1).
     */
    residualFrom: z.enum(['none', 'lastContext']).default('none'),
    /**
     * Video: the last m context frames are concatenated along channels to every frame of the
     * network input (default 0 = none; 1 ≤ m ≤ contextFrames); the denoiser's channels are C·(1+m).
     */
    contextChannels: schemas.nonNegativeInt.default(0),
  })
  .strict();
/** Config of a {@link GaussianDiffusion}. */
export type GaussianDiffusionConfig = z.input<typeof GaussianDiffusionSchema>;
type Parsed = z.output<typeof GaussianDiffusionSchema>;

/** Options of the {@link GaussianDiffusion} constructor. */
export interface GaussianDiffusionOptions extends BrickOptions {
  /** An already built denoiser (then `config.denoiser` may be left out). */
  denoiser?: Module;
}

/**
 * One prepared training batch (a plain object of tensors, so `tf.dispose(batch)` frees it).
 * Made by {@link GaussianDiffusion.prepareBatch} outside the gradient tape.
 */
export type DiffusionBatch = {
  /**
   * Network input: `x_t` (images) or `[clean context, x_t]` along frames (video), with
   * `contextChannels` m the last m context frames along channels: `[B, T, C·(1+m), H, W]`.
   */
  input: tf.Tensor;
  /** γ per example `[B]`. */
  noiseLevel: tf.Tensor;
  /** Class ids after label dropout `[B]` int32, or null (unconditional). */
  classLabels: tf.Tensor | null;
  /** Self-conditioning latents (masked, gradient stopped) or null. */
  prevLatents: tf.Tensor | null;
  /** Regression target of the objective, shaped like the predicted part (of the residual with `residualFrom`). */
  target: tf.Tensor;
};

/** Options of {@link GaussianDiffusion.prepareBatch} and {@link GaussianDiffusion.trainingLoss}. */
export interface PrepareBatchOptions {
  /** Class ids `[B]` (int32) for a class-conditional denoiser; absent = null class for all. */
  classes?: tf.Tensor | null;
  /** Generator of t, noise, label dropout and the self-conditioning mask (default: the global one). */
  rng?: Rng;
  /** Override of `selfConditionRate` (e.g. 0 to train without self-conditioning). */
  selfConditionRate?: number;
}

/** Options of {@link GaussianDiffusion.denoise}. */
export interface DenoiseOptions {
  /** Class ids `[B]` int32 (null class allowed) or null. */
  classes?: tf.Tensor | null;
  /** Previous latents (`[B, L, D]`, or `[2B, L, D]` with guidance) or null. */
  prevLatents?: tf.Tensor | null;
  /** Classifier-free guidance weight w (default 0 = none). */
  guidance?: number;
  /** Clean context frames `[B, k, C, H, W]` in the data range (video). */
  context?: tf.Tensor | null;
  returnReadMaps?: boolean;
  rng?: Rng;
}

/** Result of {@link GaussianDiffusion.denoise} (the caller owns the tensors). */
export interface DenoiseResult {
  /**
   * x̂0 clipped to [−b, b], in the network's scale (divide by b for the data range); with
   * `residualFrom` it is b·r̂, clipped so that the frame stays in [−1, 1] — use
   * {@link GaussianDiffusion.toDataRange} for frames.
   */
  x0: tf.Tensor;
  /** ε̂ recomputed from the clipped x̂0. */
  eps: tf.Tensor;
  /** Latents to carry to the next step (self-conditioning), or null. */
  latents: tf.Tensor | null;
  /** Read maps per block of the conditional half (RIN), with `returnReadMaps`. */
  readMaps?: tf.Tensor[];
}

/**
 * Continuous-time Gaussian diffusion around a {@link Denoiser}. A registered brick, so a trained
 * model is one JSON config (`toConfig()`, with the denoiser nested) plus one safetensors file
 * (denoiser parameters under `denoiser.`).
 *
 * @example
 * const model = new GaussianDiffusion({ denoiser: { type: 'RinNetwork', inputSize: [16, 16], latentDim: 80, interfaceDim: 48, numClasses: 3 }, objective: 'v' });
 * const batch = model.prepareBatch(images, { classes, rng });        // outside the tape
 * const loss = model.loss(batch);                                    // inside variableGrads / Trainer
 * const { samples } = await ddimSample(model, { classes: [0, 1, 2], steps: 25, guidance: 3, seed: 0 });
 */
export class GaussianDiffusion extends Module {
  static readonly type = 'GaussianDiffusion';
  static readonly schema = GaussianDiffusionSchema;
  readonly config: Omit<Parsed, 'denoiser'>;
  readonly denoiser: Denoiser;
  private readonly _gamma: (t: number) => number;

  constructor(config: GaussianDiffusionConfig, options: GaussianDiffusionOptions = {}) {
    super();
    const { denoiser: denoiserConfig, ...c } = parseConfig(GaussianDiffusion, config);
    const where = 'GaussianDiffusion';
    this.config = c;
    resolveSchedule(c.schedule, `${where}: config field 'schedule'`);
    this._gamma = gammaFn(c.schedule);
    let net: Module;
    if (options.denoiser) {
      if (denoiserConfig) throw new BrickConfigError(`${where}: pass the denoiser as config field 'denoiser' or as options.denoiser, not both`);
      net = options.denoiser;
    } else if (denoiserConfig) {
      net = build(denoiserConfig as BrickConfig, { rng: options.rng ?? globalRng() });
    } else {
      throw new BrickConfigError(`${where}: config field 'denoiser' is required (a brick config such as {type: 'RinNetwork', ...})`);
    }
    this.denoiser = asDenoiser(net, where);
    const size = this.denoiser.config.inputSize as number[];
    if (c.contextFrames > 0) {
      if (size.length !== 3) {
        throw new BrickConfigError(`${where}: config field 'contextFrames' (${c.contextFrames}) needs a video denoiser (inputSize [T, H, W]), got inputSize [${size.join(', ')}]`);
      }
      if (c.contextFrames >= size[0]) {
        throw new BrickConfigError(`${where}: config field 'contextFrames' (${c.contextFrames}) must be less than the frames T = ${size[0]}`);
      }
    }
    if (c.residualFrom !== 'none' && c.contextFrames === 0) {
      throw new BrickConfigError(`${where}: config field 'residualFrom' '${c.residualFrom}' needs context frames (config field 'contextFrames' ≥ 1), got contextFrames 0`);
    }
    if (c.contextChannels > c.contextFrames) {
      throw new BrickConfigError(
        `${where}: config field 'contextChannels' must be in [0, contextFrames = ${c.contextFrames}], got ${c.contextChannels}`,
      );
    }
    const netChannels = this.denoiser.config.channels ?? 3;
    if (netChannels % (1 + c.contextChannels) !== 0) {
      throw new BrickConfigError(
        `${where}: with config field 'contextChannels' ${c.contextChannels} the denoiser's channels must be C·${1 + c.contextChannels} (data channels C times 1 + contextChannels), got ${netChannels}`,
      );
    }
    this.namedModules();
  }

  /** Classes of the denoiser (0 = unconditional); the null class id equals this number. */
  get numClasses(): number {
    return this.denoiser.config.numClasses ?? 0;
  }

  /** Whether the denoiser takes previous latents (latent self-conditioning). */
  get selfConditioning(): boolean {
    return this.denoiser.config.selfCondition === true;
  }

  /** Whether data are videos `[B, T, C, H, W]`. */
  get isVideo(): boolean {
    return (this.denoiser.config.inputSize as number[]).length === 3;
  }

  /** Data channels C (the denoiser's channels divided by 1 + contextChannels). */
  get channels(): number {
    return (this.denoiser.config.channels ?? 3) / (1 + this.config.contextChannels);
  }

  /** The training schedule's γ(t). */
  gamma(t: number): number {
    return this._gamma(t);
  }

  /** Shape of `n` samples (the predicted frames only for video with context). */
  sampleShape(n: number): number[] {
    const c = this.channels;
    const size = this.denoiser.config.inputSize as number[];
    if (size.length === 2) return [n, c, size[0], size[1]];
    return [n, size[0] - this.config.contextFrames, c, size[1], size[2]];
  }

  /** Shape of the context `n` samples need (`[n, k, C, H, W]`), or null without context. */
  contextShape(n: number): number[] | null {
    const k = this.config.contextFrames;
    if (k === 0) return null;
    const s = this.sampleShape(n);
    return [n, k, s[2], s[3], s[4]];
  }

  private checkData(x: tf.Tensor, what: string, full: boolean): void {
    const expected = full ? this.fullShape(x.shape[0]) : this.sampleShape(x.shape[0]);
    if (x.rank !== expected.length || x.shape.some((d, i) => d !== expected[i])) {
      throw new ShapeError(`GaussianDiffusion: argument '${what}' expected shape ${formatShape(expected)}, got ${formatShape(x.shape)}`);
    }
  }

  private fullShape(n: number): number[] {
    const c = this.channels;
    return [n, ...(this.isVideo ? [(this.denoiser.config.inputSize as number[])[0], c] : [c]), ...(this.denoiser.config.inputSize as number[]).slice(-2)];
  }

  /**
   * Network input from the noisy part and the scaled clean context: normalisation, then frame
   * concat `[B, k, C, H, W] ++ [B, T−k, C, H, W]`, then with `contextChannels` m the last m context
   * frames along channels → `[B, T, C·(1+m), H, W]`.
   */
  private networkInput(xt: tf.Tensor, contextScaled: tf.Tensor | null): tf.Tensor {
    return tf.tidy(() => {
      let x = xt;
      if (this.config.normalizeNoisyInput) {
        const axes = Array.from({ length: xt.rank - 1 }, (_, i) => i + 1);
        const { variance } = tf.moments(xt, axes, true);
        x = tf.div(xt, tf.sqrt(tf.add(variance, 1e-8)));
      }
      if (!contextScaled) return tf.clone(x);
      const frames = tf.concat([contextScaled, x], 1); // [B, T, C, H, W]
      const m = this.config.contextChannels;
      if (m === 0) return frames;
      const [b, k, c, h, w] = contextScaled.shape;
      const t = (frames.shape as number[])[1];
      // [B, m, C, H, W] → [B, 1, m·C, H, W] → every frame: [B, T, m·C, H, W]
      const extra = tf.tile(tf.reshape(tf.slice(contextScaled, [0, k - m, 0, 0, 0], [b, m, c, h, w]), [b, 1, m * c, h, w]), [1, t, 1, 1, 1]);
      return tf.concat([frames, extra], 2);
    });
  }

  /** The predicted part of a network output: drops the context frames, and the extra channels of `contextChannels`. */
  private crop(output: tf.Tensor): tf.Tensor {
    const k = this.config.contextFrames;
    if (k === 0) return output;
    const [b, t, c, h, w] = output.shape;
    return tf.slice(output, [0, k, 0, 0, 0], [b, t - k, c / (1 + this.config.contextChannels), h, w]);
  }

  /** The last context frame `[B, 1, C, H, W]` of a context `[B, k, C, H, W]` (any scale). */
  private lastFrame(context: tf.Tensor): tf.Tensor {
    const [b, k, c, h, w] = context.shape;
    return tf.slice(context, [0, k - 1, 0, 0, 0], [b, 1, c, h, w]);
  }

  /**
   * Maps a network-scale x̂0 (`sampleShape(B)`, as {@link denoise} returns it) to the data range:
   * x̂0 / b, or with `residualFrom` the frames `x_{k−1} + 2·x̂0 / b` (x_{k−1}: the last frame of
   * `context` `[B, k, C, H, W]`, data range). The caller owns the result.
   */
  toDataRange(x0: tf.Tensor, context: tf.Tensor | null = null): tf.Tensor {
    const bs = this.config.inputScale;
    if (this.config.residualFrom === 'none') return tf.div(x0, bs);
    if (!context) throw new BrickConfigError(`GaussianDiffusion.toDataRange: config residualFrom '${this.config.residualFrom}' needs 'context' [B, k, C, H, W], got none`);
    this.checkContext(context, x0.shape[0]);
    return tf.tidy(() => tf.add(this.lastFrame(context), tf.mul(x0, 2 / bs)));
  }

  /**
   * Prepares a training batch — t, γ, noise, x_t, label dropout and the self-conditioning pass —
   * OUTSIDE the gradient tape (call it before the step; {@link diffusionBatches} does). Host draws
   * from `rng`, in order: t per example, the noise, label dropout, the self-conditioning mask.
   * @param x0 clean data in [−1, 1]: `[B, C, H, W]`, or `[B, T, C, H, W]` for video
   */
  prepareBatch(x0: tf.Tensor, options: PrepareBatchOptions = {}): DiffusionBatch {
    const rng = options.rng ?? globalRng();
    this.checkData(x0, 'x0', true);
    const b = x0.shape[0];
    const rate = options.selfConditionRate ?? this.config.selfConditionRate;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`GaussianDiffusion.prepareBatch: selfConditionRate must be in [0, 1], got ${rate}`);
    const t = new Float32Array(b);
    const g = new Float32Array(b);
    for (let i = 0; i < b; i++) {
      t[i] = rng.float();
      g[i] = this._gamma(t[i]);
    }
    return tf.tidy(() => {
      const noiseLevel = tf.tensor1d(g, 'float32');
      const scaled = tf.mul(x0, this.config.inputScale);
      const k = this.config.contextFrames;
      let target0 = scaled;
      let context: tf.Tensor | null = null;
      if (k > 0) {
        const [, frames, ...rest] = scaled.shape;
        context = tf.slice(scaled, [0, 0, ...rest.map(() => 0)], [b, k, ...rest]);
        target0 = tf.slice(scaled, [0, k, ...rest.map(() => 0)], [b, frames - k, ...rest]);
        // residual: b·r = (b·x − b·x_{k−1}) / 2, [B, T−k, C, H, W]
        if (this.config.residualFrom === 'lastContext') target0 = tf.div(tf.sub(target0, this.lastFrame(context)), 2);
      }
      const eps = rng.normalTensor(target0.shape);
      const xt = qSample(target0, eps, noiseLevel);
      const input = this.networkInput(xt, context);
      let classLabels: tf.Tensor | null = null;
      if (this.numClasses > 0) {
        classLabels = options.classes
          ? dropClassLabels(options.classes, this.config.classDropout, this.numClasses, rng)
          : nullClassLabels(b, this.numClasses);
      } else if (options.classes) {
        throw new BrickConfigError(`GaussianDiffusion.prepareBatch: 'classes' given but the denoiser has numClasses 0`);
      }
      const prevLatents =
        this.selfConditioning && rate > 0
          ? selfConditionLatents(this.denoiser, input, { noiseLevel, classLabels, rng }, rate, rng)
          : null;
      const target = objectiveTarget(this.config.objective as Objective, target0, eps, noiseLevel);
      const batch: DiffusionBatch = { input, noiseLevel, classLabels, prevLatents, target };
      return batch as unknown as tf.TensorContainer;
    }) as unknown as DiffusionBatch;
  }

  /**
   * The training loss of a prepared batch: plain MSE between the network's prediction (context
   * frames dropped) and the objective's target, averaged over every element.
   */
  loss(batch: DiffusionBatch, options: { rng?: Rng } = {}): tf.Scalar {
    return tf.tidy(() => {
      const out = this.denoiser.forward(batch.input, {
        noiseLevel: batch.noiseLevel,
        classLabels: batch.classLabels,
        prevLatents: batch.prevLatents,
        rng: options.rng,
      });
      const pred = this.crop(out.output);
      return tf.mean(tf.square(tf.sub(pred, batch.target))) as tf.Scalar;
    });
  }

  /**
   * {@link prepareBatch} then {@link loss} in one call. Inside a gradient tape the
   * self-conditioning pass is recorded too (its gradient is stopped but tfjs back-propagates zeros
   * through it); prefer preparing batches outside the tape when training.
   */
  trainingLoss(x0: tf.Tensor, options: PrepareBatchOptions = {}): tf.Scalar {
    return tf.tidy(() => this.loss(this.prepareBatch(x0, options), { rng: options.rng }));
  }

  /**
   * Runs the network at noise level γ and returns x̂0 (clipped to [−b, b]) and ε̂ recomputed from
   * it, with classifier-free guidance when `guidance` ≠ 0 (conditional and null-class halves in
   * one batch of 2B).
   * @param xt noisy predicted part `sampleShape(B)` (network scale)
   * @param g the noise level γ, one number for the whole batch or `[B]`
   */
  denoise(xt: tf.Tensor, g: number | tf.Tensor, options: DenoiseOptions = {}): DenoiseResult {
    const b = xt.shape[0];
    const w = options.guidance ?? 0;
    const guided = w !== 0;
    if (guided && this.numClasses === 0) {
      throw new BrickConfigError(`GaussianDiffusion.denoise: guidance ${w} needs a class-conditional denoiser (numClasses > 0)`);
    }
    if (guided && !options.classes) throw new BrickConfigError(`GaussianDiffusion.denoise: guidance ${w} needs 'classes'`);
    if (this.config.contextFrames > 0 && !options.context) {
      throw new BrickConfigError(`GaussianDiffusion.denoise: the model predicts frames from ${this.config.contextFrames} context frames; pass 'context'`);
    }
    if (options.context) this.checkContext(options.context, b);
    const bs = this.config.inputScale;
    return tf.tidy(() => {
      const gb = typeof g === 'number' ? tf.fill([b], g) : g;
      const ctx = options.context ? tf.mul(options.context, bs) : null;
      const reps = guided ? 2 : 1;
      const dup = (x: tf.Tensor) => (guided ? tf.concat([x, x], 0) : x);
      let classes = options.classes ?? null;
      if (guided && classes) classes = tf.concat([tf.cast(classes, 'int32'), nullClassLabels(b, this.numClasses)], 0);
      else if (!classes && this.numClasses > 0) classes = nullClassLabels(b, this.numClasses);
      if (options.prevLatents && options.prevLatents.shape[0] !== reps * b) {
        throw new ShapeError(`GaussianDiffusion.denoise: 'prevLatents' must have ${reps * b} rows (${guided ? 'guided: 2B' : 'B'}), got ${formatShape(options.prevLatents.shape)}`);
      }
      const input = this.networkInput(dup(xt), ctx ? dup(ctx) : null);
      const out = this.denoiser.forward(input, {
        noiseLevel: dup(gb),
        classLabels: classes,
        prevLatents: options.prevLatents ?? null,
        returnReadMaps: options.returnReadMaps,
        rng: options.rng,
      });
      const pred = this.crop(out.output);
      const objective = this.config.objective as Objective;
      let x0: tf.Tensor;
      if (guided) {
        const [pc, pu] = tf.split(pred, 2, 0);
        const eps = guidedEps(predictionToEps(objective, pc, xt, gb), predictionToEps(objective, pu, xt, gb), w);
        x0 = x0FromEps(eps, xt, gb);
      } else {
        x0 = predictionToX0(objective, pred, xt, gb);
      }
      // frames: [−b, b]; residual: b·r̂ with x_{k−1} + 2·r̂ ∈ [−1, 1], i.e. b·r̂ ∈ [−b·(1 + x_{k−1})/2, b·(1 − x_{k−1})/2]
      const last = this.config.residualFrom === 'lastContext' && ctx ? this.lastFrame(ctx) : null; // b·x_{k−1} [B, 1, C, H, W]
      const x0c = last ? tf.minimum(tf.maximum(x0, tf.mul(tf.add(last, bs), -0.5)), tf.mul(tf.sub(bs, last), 0.5)) : tf.clipByValue(x0, -bs, bs);
      const result: DenoiseResult = {
        x0: x0c,
        eps: epsFromX0(x0c, xt, gb),
        latents: this.selfConditioning && out.latents ? out.latents : null,
      };
      if (options.returnReadMaps && out.readMaps) {
        result.readMaps = out.readMaps.map((m) => (guided ? tf.slice(m, 0, b) : m));
      }
      return result as unknown as tf.TensorContainer;
    }) as unknown as DenoiseResult;
  }

  private checkContext(context: tf.Tensor, n: number): void {
    const expected = this.contextShape(n);
    if (!expected) throw new BrickConfigError(`GaussianDiffusion: 'context' given but config contextFrames is 0`);
    if (context.rank !== expected.length || context.shape.some((d, i) => d !== expected[i])) {
      throw new ShapeError(`GaussianDiffusion: argument 'context' expected shape ${formatShape(expected)}, got ${formatShape(context.shape)}`);
    }
  }

  /** Class ids `[n]` int32 from host numbers (checked against `[0, numClasses]`). */
  classTensor(classes: ArrayLike<number>): tf.Tensor {
    return classLabelTensor(classes, this.numClasses, 'GaussianDiffusion');
  }

  override toConfig(): BrickConfig {
    return { type: GaussianDiffusion.type, ...this.config, denoiser: this.denoiser.toConfig() };
  }
}
registerBrick(GaussianDiffusion);
