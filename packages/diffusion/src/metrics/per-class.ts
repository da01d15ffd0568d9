/**
 * shapesFD of a model with per-class figures: {@link evaluateShapesFDPerClass} samples like
 * `evaluateShapesFD` (classes in turn 0, 1, 2, 0, …; DDIM 25 steps, w = 3; the same seeds, so the
 * overall figures are the same numbers) and adds {@link ShapesFDReport.perClass}: per class, the
 * classifier's accuracy against the requested class, the class's own shapesFD with its real floor,
 * and brightness/coverage beside real images of the class. A class the model ignores or draws as
 * empty frames is invisible in the overall number but plain here.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GaussianDiffusion } from '../gaussian-diffusion.js';
import { ddimSample, type DdimOptions } from '../samplers/ddim.js';
import { ShapesFD, type ShapesFDReport } from './shapes-fd.js';

/**
 * A stand-in for a diffusion model (tests, other generators): `numClasses` (0: unconditional) and
 * a function that returns `[n, 3, H, W]` images in [−1, 1] for the requested classes (or `n`
 * unconditional images) with a seed.
 */
export interface ShapesGenerator {
  numClasses: number;
  generate(request: { classes: number[] | null; n: number; seed: number }): Promise<tf.Tensor>;
}

/** Options of {@link evaluateShapesFDPerClass}. */
export interface EvaluateShapesPerClassOptions extends Omit<DdimOptions, 'classes' | 'n' | 'trajectory' | 'readMaps'> {
  /** Samples in all, split evenly over the classes in turn (default 1000). */
  n?: number;
  /** Samples per class instead of `n` (class-conditional models: n = nPerClass × classes). */
  nPerClass?: number;
  /** Samples per sampler call (default 250). */
  batch?: number;
  /** A loaded metric (default: the shipped classifier, loaded once). */
  metric?: ShapesFD;
}

/** The report of {@link evaluateShapesFDPerClass}: `evaluateShapesFD`'s fields plus `perClass`. */
export type ShapesFDPerClassReport = ShapesFDReport & Required<Pick<ShapesFDReport, 'perClass'>> & { sampleSeconds: number; steps: number; guidance: number };

let sharedMetric: Promise<ShapesFD> | null = null;

function isGenerator(m: GaussianDiffusion | ShapesGenerator): m is ShapesGenerator {
  return typeof (m as ShapesGenerator).generate === 'function';
}

/**
 * Samples `n` images (class-conditional: classes in turn, so n/numClasses per class; DDIM with 25
 * steps and w = 3 by default) and reports shapesFD with its references, as `evaluateShapesFD`
 * does, plus per-class figures ({@link ShapesFDReport.perClass}). An unconditional model's samples
 * are grouped by the classifier's prediction (accuracy null, `n` per group = how many it drew).
 *
 * The per-class shapesFD compares n/numClasses samples with as many real images of the class; with
 * fewer samples than 2 × the feature width it is biased upwards, so compare it with the class's
 * `realVsReal` (its floor at the same n), not with the overall figure.
 */
export async function evaluateShapesFDPerClass(
  model: GaussianDiffusion | ShapesGenerator,
  options: EvaluateShapesPerClassOptions = {},
): Promise<ShapesFDPerClassReport> {
  const { metric: given, n: nOption, nPerClass, batch: batchOption, ...sampler } = options;
  const conditional = model.numClasses > 0;
  const k = Math.max(1, model.numClasses);
  const n = nPerClass !== undefined ? nPerClass * k : nOption ?? 1000;
  const batch = batchOption ?? 250;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`evaluateShapesFDPerClass: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`evaluateShapesFDPerClass: batch must be a positive integer, got ${batch}`);
  const metric = given ?? (await (sharedMetric ??= ShapesFD.load()));
  const seed = options.seed ?? 12345;
  const steps = sampler.steps ?? 25;
  const guidance = sampler.guidance ?? (conditional ? 3 : 0);
  const start = performance.now();
  const parts: tf.Tensor[] = [];
  const classes: number[] = [];
  try {
    for (let i = 0, call = 0; i < n; i += batch, call++) {
      const m = Math.min(batch, n - i);
      const cls = conditional ? Array.from({ length: m }, (_, j) => (i + j) % k) : null;
      if (cls) classes.push(...cls);
      parts.push(isGenerator(model)
        ? await model.generate({ classes: cls, n: m, seed: seed + call })
        : (await ddimSample(model, { steps, guidance, ...sampler, seed: seed + call, ...(cls ? { classes: cls } : { n: m }) })).samples);
    }
    const sampleSeconds = (performance.now() - start) / 1000;
    const all = parts.length === 1 ? parts[0] : tf.concat(parts, 0);
    try {
      const report = await metric.evaluate(all, { classes: conditional ? classes : 'predicted' });
      return { ...report, perClass: report.perClass ?? [], sampleSeconds, steps, guidance };
    } finally {
      if (all !== parts[0]) all.dispose();
    }
  } finally {
    tf.dispose(parts);
  }
}
