/**
 * Video pipeline: frame prediction on the bundled `movingSprites` videos with a video RIN. The
 * first `context` frames enter the interface clean (the same stem and positions as every other
 * frame, as pix2seq's `VideoTapeDenoiser` concatenates conditioning frames to the tape); noise is
 * only added to the frames to predict, and the loss and samples cover those frames only
 * (`GaussianDiffusion.contextFrames`). Quality is per-frame PSNR next to the copy-last-frame
 * baseline.
 *
 * {@link VideoConditioningOptions} give the predicted frames direct access to the context, which
 * otherwise only reaches them through read → latents → write: diffusing the residual from the last
 * context frame (`residual`, so r̂ = 0 is copy-last-frame) and concatenating the last context
 * frames along channels to every frame's tokens (`contextChannels`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, movingSprites, type BrickConfig, type MovingSpritesBatch, type MovingSpritesDataset } from '@brickml/core';
import type { GaussianDiffusion, GaussianDiffusionConfig } from '../gaussian-diffusion.js';
import type { DataBatch } from '../training.js';
import { OBJECTIVES, type Objective } from '../objectives.js';
import { ddimSample, type DdimOptions } from '../samplers/ddim.js';
import type { SampleResult } from '../samplers/common.js';
import { copyLastFrame, meanPsnr, psnrPerFrame } from '../metrics/psnr.js';

/** Shape of the video task. */
export interface VideoTaskOptions {
  /** Frame side: 16 or 32 (default 16). */
  size?: 16 | 32;
  /** Frames per clip T (default 6). */
  frames?: number;
  /** Clean context frames k < T (default 2). */
  context?: number;
}

/**
 * How the predicted frames see the context (`GaussianDiffusion` config fields `residualFrom` and
 * `contextChannels`).
 */
export interface VideoConditioningOptions {
  /** Diffuse r = (x − last context frame) / 2 instead of the frames; samples are last + 2·r̂ (default false). */
  residual?: boolean;
  /** The last m context frames, concatenated along channels to every frame of the network input: 0 ≤ m ≤ context (default 0). */
  contextChannels?: number;
}

function resolveConditioning(o: VideoConditioningOptions, context: number, where: string): Required<VideoConditioningOptions> {
  const residual = o.residual ?? false;
  const contextChannels = o.contextChannels ?? 0;
  if (typeof residual !== 'boolean') throw new BrickConfigError(`${where}: residual must be a boolean, got ${String(residual)}`);
  if (!Number.isInteger(contextChannels) || contextChannels < 0 || contextChannels > context) {
    throw new BrickConfigError(`${where}: contextChannels must be an integer in [0, context = ${context}], got ${contextChannels}`);
  }
  return { residual, contextChannels };
}

function resolveTask(o: VideoTaskOptions, where: string): Required<VideoTaskOptions> {
  const size = o.size ?? 16;
  const frames = o.frames ?? 6;
  const context = o.context ?? 2;
  if (size !== 16 && size !== 32) throw new BrickConfigError(`${where}: size must be 16 or 32, got ${size}`);
  if (!Number.isInteger(frames) || frames < 2) throw new BrickConfigError(`${where}: frames must be an integer ≥ 2, got ${frames}`);
  if (!Number.isInteger(context) || context < 1 || context >= frames) {
    throw new BrickConfigError(`${where}: context must be an integer in [1, frames − 1 = ${frames - 1}], got ${context}`);
  }
  return { size, frames, context };
}

/**
 * A video RIN for frame prediction: per-frame 4×4 patches at 16 px (8×8 at 32 px), so 16 tokens
 * per frame; 32 latents of width 96, interface width 64, 2 blocks × 2 latent layers, the
 * depthwise conv on the interface (per frame). Unconditional (no class token). With
 * `contextChannels` m its input has 3·(1 + m) channels.
 */
export function videoRinConfig(options: VideoTaskOptions & Pick<VideoConditioningOptions, 'contextChannels'> = {}): BrickConfig {
  const t = resolveTask(options, 'videoRinConfig');
  const { contextChannels } = resolveConditioning(options, t.context, 'videoRinConfig');
  return {
    type: 'RinNetwork',
    channels: 3 * (1 + contextChannels),
    inputSize: [t.frames, t.size, t.size],
    patchSize: t.size === 16 ? 4 : 8,
    tubelet: 1,
    numLatents: 32,
    numBlocks: 2,
    computeLayers: 2,
    latentDim: 96,
    interfaceDim: 64,
    readHeads: 4,
    latentHeads: 4,
    writeDepthwiseConv: true,
  };
}

/**
 * Diffusion config for frame prediction: `sigmoid@-3,3,0.9`, `contextFrames = context`, the
 * objective (default v-prediction) and the conditioning options (`residualFrom: 'lastContext'`
 * with `residual`, `contextChannels`). The default denoiser is {@link videoRinConfig} with
 * matching channels; a given `denoiser` must have 3·(1 + contextChannels) channels.
 */
export function videoDiffusionConfig(
  options: VideoTaskOptions & VideoConditioningOptions & { denoiser?: BrickConfig; objective?: Objective } = {},
): GaussianDiffusionConfig {
  const t = resolveTask(options, 'videoDiffusionConfig');
  const v = resolveConditioning(options, t.context, 'videoDiffusionConfig');
  const objective = options.objective ?? 'v';
  if (!OBJECTIVES.includes(objective)) {
    throw new BrickConfigError(`videoDiffusionConfig: objective must be one of ${OBJECTIVES.join(', ')}, got ${String(objective)}`);
  }
  return {
    denoiser: options.denoiser ?? videoRinConfig({ ...t, contextChannels: v.contextChannels }),
    schedule: { kind: 'sigmoid', start: -3, end: 3, tau: 0.9 },
    objective,
    contextFrames: t.context,
    residualFrom: v.residual ? 'lastContext' : 'none',
    contextChannels: v.contextChannels,
  };
}

/** The training stream of `movingSprites` clips. */
export function videoTrainingData(options: VideoTaskOptions & { batchSize: number; seed: number }): {
  data: MovingSpritesDataset;
  toData: (b: MovingSpritesBatch) => DataBatch;
} {
  const t = resolveTask(options, 'videoTrainingData');
  return { data: movingSprites({ size: t.size, frames: t.frames, batchSize: options.batchSize, seed: options.seed }), toData: (b) => ({ x0: b.videos }) };
}

/** Predicts the future frames of clips from their context `[n, k, C, H, W]` (DDIM, 25 steps by default). */
export async function predictFrames(model: GaussianDiffusion, context: tf.Tensor, options: Omit<DdimOptions, 'context' | 'n'> = {}): Promise<SampleResult> {
  return ddimSample(model, { steps: 25, ...options, context });
}

/** Result of {@link evaluateVideoPSNR}. */
export interface VideoPsnrReport {
  /** PSNR (dB) per predicted frame of the model. */
  model: number[];
  /** PSNR (dB) per predicted frame of the copy-last-context-frame baseline. */
  copyLastFrame: number[];
  meanModel: number;
  meanCopyLastFrame: number;
  clips: number;
}

/**
 * Per-frame PSNR of predicted frames on `n` held-out clips (fixed seed), next to the
 * copy-last-frame baseline.
 */
export async function evaluateVideoPSNR(
  model: GaussianDiffusion,
  options: { n?: number; heldOutSeed?: number; steps?: number; seed?: number } = {},
): Promise<VideoPsnrReport> {
  const shape = model.sampleShape(1);
  const k = model.config.contextFrames;
  if (shape.length !== 5 || k === 0) throw new BrickConfigError('evaluateVideoPSNR: needs a video model with contextFrames > 0');
  const frames = k + shape[1];
  const size = shape[3] as 16 | 32;
  const n = options.n ?? 64;
  const s = movingSprites({ size, frames, batchSize: 1, seed: 0 }).fixedSplit(n, options.heldOutSeed ?? 4242);
  const videos = tf.tensor(s.videos, s.videoShape);
  const [context, truth] = tf.tidy(() => [
    tf.slice(videos, [0, 0, 0, 0, 0], [n, k, -1, -1, -1]),
    tf.slice(videos, [0, k, 0, 0, 0], [n, frames - k, -1, -1, -1]),
  ]);
  const baseline = copyLastFrame(context, frames - k);
  const r = await predictFrames(model, context, { steps: options.steps ?? 25, seed: options.seed ?? 0 });
  try {
    const m = await psnrPerFrame(r.samples, truth);
    const c = await psnrPerFrame(baseline, truth);
    return { model: m, copyLastFrame: c, meanModel: meanPsnr(m), meanCopyLastFrame: meanPsnr(c), clips: n };
  } finally {
    tf.dispose([videos, context, truth, baseline, r.samples]);
  }
}
