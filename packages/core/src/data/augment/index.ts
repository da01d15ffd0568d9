/** Batched, seeded image augmentations (crop, flip, colour jitter, grayscale, blur, solarize) and the SimCLR/BYOL view presets. */
export {
  horizontalFlip, rgbToGrayscale, adjustBrightness, adjustContrast, adjustSaturation, adjustHue, gaussianBlur, gaussianWeights,
  cropAndResizeImages, type AugmentOptions, type CropBox,
} from './ops.js';
export {
  randomResizedCrop, randomHorizontalFlip, colorJitter, randomGrayscale, randomGaussianBlur, randomSolarize, compose, sampleCropBox,
  type Augmentation, type RandomResizedCropOptions, type ColorJitterOptions, type RandomGaussianBlurOptions,
} from './random.js';
export { simclrAugment, byolAugment, type ViewPresetOptions } from './presets.js';
