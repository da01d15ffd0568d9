/**
 * The network contract of {@link GaussianDiffusion}: anything that maps a noisy input and its
 * noise level γ (and optionally a class id and the previous pass's latents) to a prediction of the
 * same layout. `RinNetwork` from @brickml/attention satisfies it as is; so do this package's
 * `TransformerDenoiser` (a plain transformer baseline) and `MlpDenoiser` (a tiny test network).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, type Module, type Rng } from '@brickml/core';

/** Options of one denoiser call. */
export interface DenoiserCallOptions {
  /** Noise level γ (signal variance, not t) `[B]`. The network is conditioned on γ, as pix2seq does. */
  noiseLevel: tf.Tensor;
  /** Class ids `[B]` int32 in `[0, numClasses]`; `numClasses` is the learned null class. */
  classLabels?: tf.Tensor | null;
  /** Latents of the previous pass (self-conditioning) `[B, L, D]`; absent means zeros. */
  prevLatents?: tf.Tensor | null;
  /** Also return attention read maps (RIN). */
  returnReadMaps?: boolean;
  /** Generator for dropout. */
  rng?: Rng;
}

/** What a denoiser returns (the tensors belong to the caller). */
export interface DenoiserOutput {
  /** The prediction, same layout as the input (`[B, C, H, W]` or `[B, T, C, H, W]`). */
  output: tf.Tensor;
  /** Final latents `[B, L, D]` (needed for self-conditioning). */
  latents?: tf.Tensor;
  /** Read maps per block on the patch grid (`[B, gh, gw]` or `[B, gt, gh, gw]`). */
  readMaps?: tf.Tensor[];
  /** Anything else the network returns (RinNetwork: `interface`). */
  [extra: string]: unknown;
}

/** Config fields a denoiser must expose so the diffusion model can size samples and conditioning. */
export interface DenoiserConfigView {
  /** Image channels C. */
  channels?: number;
  /** `[H, W]` for images, `[T, H, W]` for video. */
  inputSize?: number[];
  /** Number of classes (0 = unconditional); the null class id equals this number. */
  numClasses?: number;
  /** Whether the network takes previous latents. */
  selfCondition?: boolean;
}

/** A module usable as the network of a {@link GaussianDiffusion}. */
export interface Denoiser extends Module {
  readonly config: DenoiserConfigView;
  forward(x: tf.Tensor, options: DenoiserCallOptions): DenoiserOutput;
}

/** Checks that a module has what a denoiser needs; returns it typed. */
export function asDenoiser(m: Module, where: string): Denoiser {
  const d = m as unknown as Partial<Denoiser>;
  if (typeof d.forward !== 'function' || d.config === null || typeof d.config !== 'object') {
    throw new BrickConfigError(`${where}: the denoiser (${m.typeName}) must have forward(x, {noiseLevel, ...}) and a config object`);
  }
  const c = d.config;
  if (!Array.isArray(c.inputSize) || (c.inputSize.length !== 2 && c.inputSize.length !== 3)) {
    throw new BrickConfigError(
      `${where}: the denoiser (${m.typeName}) config must have 'inputSize' [H, W] or [T, H, W], got ${JSON.stringify(c.inputSize)}`,
    );
  }
  return m as unknown as Denoiser;
}
