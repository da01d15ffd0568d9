/**
 * Image pipeline on the bundled `shapes` data set (16×16 or 32×32, three classes): the RIN recipe
 * of the flagship (docs/design.md, Conventions), a plain-transformer baseline of similar cost, the training data
 * stream, class-grid sampling and shapesFD evaluation.
 */
import { BrickConfigError, shapes, type BrickConfig, type ShapesBatch, type ShapesDataset } from '@brickml/core';
import type { GaussianDiffusion, GaussianDiffusionConfig } from '../gaussian-diffusion.js';
import type { DataBatch } from '../training.js';
import { ddimSample, type DdimOptions } from '../samplers/ddim.js';
import type { SampleResult } from '../samplers/common.js';
import type { ShapesFD } from '../metrics/shapes-fd.js';
import { evaluateShapesFDPerClass, type ShapesFDPerClassReport } from '../metrics/per-class.js';
import { classRows } from '../viz.js';

/** Image side of the shapes pipeline. */
export type ShapesSize = 16 | 32;

function checkSize(size: number, where: string): ShapesSize {
  if (size !== 16 && size !== 32) throw new BrickConfigError(`${where}: size must be 16 or 32, got ${size}`);
  return size;
}

/**
 * The flagship RIN for `shapes` (docs/design.md, Conventions): interface width 48, latent width
 * 80, 16 latents, 2 blocks × 1 latent self-attention layer, patch 2 at 16 px (patch 4 at 32 px, so
 * both have 64 interface tokens), 4 heads, a class token (3 classes + null), and a 3×3 depthwise
 * conv on the interface in the write step. Self-conditioning is off: it did not help within 3,000
 * steps at this scale.
 */
export function shapesRinConfig(options: { size?: ShapesSize; selfCondition?: boolean } = {}): BrickConfig {
  const size = checkSize(options.size ?? 16, 'shapesRinConfig');
  return {
    type: 'RinNetwork',
    channels: 3,
    inputSize: [size, size],
    patchSize: size === 16 ? 2 : 4,
    numLatents: 16,
    numBlocks: 2,
    computeLayers: 1,
    latentDim: 80,
    interfaceDim: 48,
    readHeads: 4,
    latentHeads: 4,
    numClasses: 3,
    writeDepthwiseConv: true,
    selfCondition: options.selfCondition ?? false,
  };
}

/**
 * The plain transformer baseline for `shapes`: self-attention over all 64 patch tokens (+ noise
 * and class tokens), width 64, 3 blocks, 4 heads, MLP ×2 — 1.01× the forward FLOPs of
 * {@link shapesRinConfig} (16.4 MFLOPs per 16×16 image; see `denoiserFlops`), with a third
 * of its parameters (111 k vs 343 k).
 */
export function shapesTransformerConfig(options: { size?: ShapesSize; dim?: number; depth?: number } = {}): BrickConfig {
  const size = checkSize(options.size ?? 16, 'shapesTransformerConfig');
  return {
    type: 'TransformerDenoiser',
    channels: 3,
    inputSize: [size, size],
    patchSize: size === 16 ? 2 : 4,
    dim: options.dim ?? 64,
    depth: options.depth ?? 3,
    heads: 4,
    mlpRatio: 2,
    numClasses: 3,
  };
}

/**
 * The conv U-Net baseline for `shapes` (`UNetDenoiser`): widths 24 (at H×W) and 48 (at H/2×W/2),
 * one residual block per resolution down and up, GroupNorm 8, conditioning (noise MLP + class
 * embedding, 3 classes + null) added to every block's channels. At 16×16: 101 k parameters and
 * 21.7 forward MFLOPs per image (1.3× {@link shapesRinConfig}'s 16.4; see `denoiserFlops`).
 */
export function shapesUNetConfig(options: { size?: ShapesSize; widths?: number[] } = {}): BrickConfig {
  const size = checkSize(options.size ?? 16, 'shapesUNetConfig');
  return {
    type: 'UNetDenoiser',
    channels: 3,
    inputSize: [size, size],
    widths: options.widths ?? [24, 48],
    blocksPerLevel: 1,
    numClasses: 3,
  };
}

/**
 * The diffusion config of the flagship: v-prediction, `sigmoid@-3,3,0.9`, label dropout 0.1 (the
 * null class for classifier-free guidance), around `denoiser` (default {@link shapesRinConfig}).
 */
export function shapesDiffusionConfig(options: { size?: ShapesSize; denoiser?: BrickConfig } = {}): GaussianDiffusionConfig {
  return {
    denoiser: options.denoiser ?? shapesRinConfig({ size: options.size }),
    schedule: { kind: 'sigmoid', start: -3, end: 3, tau: 0.9 },
    objective: 'v',
    classDropout: 0.1,
    selfConditionRate: 0.9,
  };
}

/** The training stream of `shapes` images with their shape labels as classes. */
export function shapesTrainingData(size: ShapesSize, batchSize: number, seed: number): {
  data: ShapesDataset;
  toData: (b: ShapesBatch) => DataBatch;
} {
  return { data: shapes({ size, batchSize, seed }), toData: (b) => ({ x0: b.images, classes: b.labels.shape }) };
}

/** Options of {@link sampleClassGrid}. */
export interface ClassGridSampleOptions extends Omit<DdimOptions, 'classes' | 'n'> {
  /** Samples per class (default 8). */
  perClass?: number;
}

/**
 * `perClass` DDIM samples of every class, ordered class by class (rows of {@link classGridPng}).
 * Defaults: 25 steps, guidance w = 3 (docs/design.md, Conventions).
 */
export async function sampleClassGrid(model: GaussianDiffusion, options: ClassGridSampleOptions = {}): Promise<SampleResult> {
  const k = model.numClasses;
  if (k === 0) throw new BrickConfigError('sampleClassGrid: the model is unconditional (numClasses 0)');
  const perClass = options.perClass ?? 8;
  return ddimSample(model, { steps: 25, guidance: 3, ...options, classes: classRows(k, perClass) });
}

/** Options of {@link evaluateShapesFD}. */
export interface EvaluateShapesOptions extends Omit<DdimOptions, 'classes' | 'n' | 'trajectory' | 'readMaps'> {
  /** Samples (default 1000; classes in turn 0, 1, 2, 0, …). */
  n?: number;
  /** Samples per sampler call (default 250). */
  batch?: number;
  /** A loaded metric (default: the shipped classifier). */
  metric?: ShapesFD;
}

/**
 * Samples `n` images (classes in turn, DDIM, 25 steps and w = 3 by default) and reports shapesFD
 * with its real-vs-real and noise-vs-real references, the sampling wall time, and per class
 * (`perClass`): the shapes classifier's accuracy against the requested class, the class's own
 * shapesFD with its real floor, and mean pixel / coverage beside real images of the class — one
 * number over all classes cannot see a class that is ignored or drawn as empty frames.
 */
export async function evaluateShapesFD(model: GaussianDiffusion, options: EvaluateShapesOptions = {}): Promise<ShapesFDPerClassReport> {
  return evaluateShapesFDPerClass(model, options);
}
