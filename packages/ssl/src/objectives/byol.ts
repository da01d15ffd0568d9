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
} from '@brickml/core';
import { l2Normalize, stopGradient } from '../ops.js';
import { ProjectionHead } from './heads.js';

/**
 * BYOL's target EMA rate at step k of K (`byol/utils/schedules.py` `target_ema`):
 * τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2, from τ_base at k = 0 up to 1 at k = K.
 */
export function byolTau(step: number, totalSteps: number, base = 0.996): number {
  if (!(Number.isInteger(totalSteps) && totalSteps >= 1)) throw new RangeError(`byolTau: argument 'totalSteps' expected a positive integer, got ${totalSteps}`);
  if (!(step >= 0)) throw new RangeError(`byolTau: argument 'step' expected ≥ 0, got ${step}`);
  if (!(base >= 0 && base <= 1)) throw new RangeError(`byolTau: argument 'base' expected a rate in [0, 1], got ${base}`);
  const k = Math.min(step, totalSteps);
  return 1 - ((1 - base) * (Math.cos((Math.PI * k) / totalSteps) + 1)) / 2;
}

/**
 * BYOL's regression loss for one direction, 2 − 2·cos(p, z') per row (the squared distance of the
 * normalised vectors), averaged over rows. z' gets no gradient (stop-gradient on the target).
 */
export function byolRegression(p: tf.Tensor, zTarget: tf.Tensor): tf.Scalar {
  if (p.rank !== 2 || !tf.util.arraysEqual(p.shape, zTarget.shape)) {
    throw new ShapeError(`byolRegression: arguments 'p' and 'zTarget' expected equal shapes [N, D], got ${formatShape(p.shape)} and ${formatShape(zTarget.shape)}`);
  }
  return tf.tidy(() => {
    const cos = tf.sum(tf.mul(l2Normalize(p), l2Normalize(stopGradient(zTarget))), -1); // [N]
    return tf.mean(tf.sub(2, tf.mul(2, cos))) as tf.Scalar;
  });
}

/**
 * Symmetrised BYOL loss: ℓ(p1, z2') + ℓ(p2, z1') (the paper's L + L̃), with p the online
 * predictions and z' the target projections of the other view.
 */
export function byolLoss(p1: tf.Tensor, z2Target: tf.Tensor, p2: tf.Tensor, z1Target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(byolRegression(p1, z2Target), byolRegression(p2, z1Target)) as tf.Scalar);
}

/**
 * target ← τ·target + (1 − τ)·online for every variable of `target`, matched by module path,
 * parameters and buffers alike (so normalisation statistics are averaged too). Non-float
 * variables are copied. A path or shape that differs between the two throws.
 */
export function emaUpdate(target: Module, online: Module, tau: number): void {
  if (!(tau >= 0 && tau <= 1)) throw new RangeError(`emaUpdate: argument 'tau' expected a rate in [0, 1], got ${tau}`);
  const src = new Map(online.namedState());
  const dst = target.namedState();
  if (dst.length !== src.size) {
    throw new ShapeError(`emaUpdate: target has ${dst.length} variables, online has ${src.size}`);
  }
  for (const [path, t] of dst) {
    const o = src.get(path);
    if (!o) throw new ShapeError(`emaUpdate: online module has no variable '${path}'`);
    if (!tf.util.arraysEqual(o.shape, t.shape)) throw new ShapeError(`emaUpdate: '${path}' is ${formatShape(o.shape)} online, ${formatShape(t.shape)} in the target`);
    tf.tidy(() => {
      if (t.dtype !== 'float32') t.assign(o);
      else t.assign(tf.add(tf.mul(t, tau), tf.mul(o, 1 - tau)));
    });
  }
}

const ByolSchema = z
  .object({
    /** The encoder, any registered brick mapping images to `[B, D]` features or tokens `[B, n, D]` (mean-pooled). */
    encoder: schemas.brick,
    /** Width D of the encoder's (pooled) features. */
    encoderDim: schemas.positiveInt,
    /** Hidden width of the projector and predictor MLPs (BYOL: 4096). */
    hidden: schemas.positiveInt.default(256),
    /** Projection width (BYOL: 256). */
    projectionDim: schemas.positiveInt.default(64),
    /** BatchNorm1d after the hidden layer of the projector and predictor (the paper's MLPs; false: Linear → ReLU → Linear). */
    headBatchNorm: z.boolean().default(true),
    /** Predictor hidden width; 0 makes the predictor the identity (for tests and ablations). */
    predictorHidden: schemas.nonNegativeInt.optional(),
  })
  .strict();
/** JSON config of {@link BYOL} (input form: defaults may be omitted). */
export type ByolConfig = z.input<typeof ByolSchema>;
type Parsed = z.output<typeof ByolSchema>;

/**
 * BYOL (Grill et al. 2020): an online network (encoder → projector → predictor) regresses the
 * target network's projection of another view; the target (encoder → projector) is an EMA of the
 * online one, gets no gradient and is updated with {@link BYOL.updateTarget} after each optimizer
 * step (τ from {@link byolTau}). The target's variables are non-trainable (saved with the model,
 * never given to an optimizer). Projector and predictor are {@link ProjectionHead}s (Linear →
 * BatchNorm1d → ReLU → Linear, as the paper's); the target's BatchNorm statistics are averaged by
 * the EMA with the parameters. Call `eval()` before reading representations of a BatchNorm encoder.
 */
export class BYOL extends Module {
  static readonly type = 'BYOL';
  static readonly schema = ByolSchema;
  readonly config: Parsed;
  readonly online_encoder: Module & { forward(x: tf.Tensor): tf.Tensor };
  readonly online_projector: ProjectionHead;
  readonly predictor: ProjectionHead | null;
  readonly target_encoder: Module & { forward(x: tf.Tensor): tf.Tensor };
  readonly target_projector: ProjectionHead;

  constructor(config: ByolConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(BYOL, config));
    const mlp = (dim: number, hidden: number, outDim: number) => new ProjectionHead({ dim, hidden, outDim, batchNorm: c.headBatchNorm }, { rng });
    this.online_encoder = build(c.encoder as BrickConfig, { rng });
    if (typeof this.online_encoder.forward !== 'function') throw new BrickConfigError(`BYOL: the encoder (${this.online_encoder.typeName}) has no forward method`);
    this.online_projector = mlp(c.encoderDim, c.hidden, c.projectionDim);
    const ph = c.predictorHidden ?? c.hidden;
    this.predictor = ph === 0 ? null : mlp(c.projectionDim, ph, c.projectionDim);
    this.target_encoder = build(c.encoder as BrickConfig, { rng });
    this.target_projector = mlp(c.encoderDim, c.hidden, c.projectionDim);
    for (const m of [this.target_encoder, this.target_projector]) for (const [, v] of m.namedState()) v.trainable = false;
    this.updateTarget(0); // the target starts as a copy of the online network
  }

  private static pool(y: tf.Tensor, dim: number): tf.Tensor {
    const pooled = y.rank === 3 ? tf.mean(y, 1) : y;
    if (pooled.rank !== 2 || pooled.shape[1] !== dim) {
      throw new ShapeError(`BYOL: the encoder returned ${formatShape(y.shape)}; expected [B, ${dim}] or [B, n, ${dim}] (config 'encoderDim')`);
    }
    return pooled;
  }

  /** Online representation (the encoder's pooled features, what a linear probe reads): images → [B, D]. */
  represent(images: tf.Tensor): tf.Tensor {
    return tf.tidy(() => BYOL.pool(this.online_encoder.forward(images), this.config.encoderDim));
  }

  /** The symmetrised loss of two views `[B, ...]` of the same images. */
  loss(view1: tf.Tensor, view2: tf.Tensor): tf.Scalar {
    if (!tf.util.arraysEqual(view1.shape, view2.shape)) {
      throw new ShapeError(`BYOL.loss: views must have equal shapes, got ${formatShape(view1.shape)} and ${formatShape(view2.shape)}`);
    }
    const d = this.config.encoderDim;
    return tf.tidy(() => {
      const online = (v: tf.Tensor) => {
        const z = this.online_projector.forward(BYOL.pool(this.online_encoder.forward(v), d));
        return this.predictor ? this.predictor.forward(z) : z;
      };
      const target = (v: tf.Tensor) => stopGradient(this.target_projector.forward(BYOL.pool(this.target_encoder.forward(v), d)));
      return byolLoss(online(view1), target(view2), online(view2), target(view1));
    });
  }

  /** target ← τ·target + (1 − τ)·online, parameters and buffers (τ = 0 copies the online network). */
  updateTarget(tau: number): void {
    emaUpdate(this.target_encoder, this.online_encoder, tau);
    emaUpdate(this.target_projector, this.online_projector, tau);
  }

  override toConfig() {
    return { type: BYOL.type, ...this.config };
  }
}
registerBrick(BYOL);
