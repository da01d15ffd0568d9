/**
 * @brickml/diffusion: continuous-time Gaussian diffusion (RIN's formulation, pix2seq's code as the
 * reference): γ schedules, eps/x0/v objectives, input scaling, latent self-conditioning, DDPM and
 * DDIM samplers with classifier-free guidance, image and video (frame prediction) pipelines around
 * a `RinNetwork`, a plain transformer baseline, and honest sample-quality metrics (`shapesFD`,
 * video PSNR against copy-last-frame).
 *
 * Importing this package registers its bricks (`GaussianDiffusion`, `TransformerDenoiser`,
 * `MlpDenoiser`, `ShapesClassifier`) and those of @brickml/attention (`RinNetwork`, ...).
 * @packageDocumentation
 */
import '@brickml/core';
import '@brickml/attention';

export * from './schedules.js';
export * from './objectives.js';
export * from './denoiser.js';
export * from './guidance.js';
export * from './self-conditioning.js';
export * from './gaussian-diffusion.js';
export * from './samplers/common.js';
export * from './samplers/ddim.js';
export * from './samplers/ddpm.js';
export * from './denoisers/mlp-denoiser.js';
export * from './denoisers/transformer-denoiser.js';
export * from './training.js';
export * from './metrics/frechet.js';
export * from './metrics/psnr.js';
export * from './metrics/shapes-classifier.js';
export * from './metrics/shapes-fd.js';
export * from './metrics/per-class.js';
export * from './metrics/read-attention.js';
export * from './viz.js';
export * from './pipelines/image.js';
export * from './pipelines/video.js';
export * from './flops.js';
export * from './denoisers/unet-denoiser.js';
