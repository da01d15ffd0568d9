/** Real data in: npy/npz, IDX and image-folder readers, PNG/JPEG decoding, and finite labelled image sets. */
export { DataFileError } from './errors.js';
export {
  parseNpy, parseNpz, readNpy, readNpz, encodeNpy, ndArrayToTensor,
  type NdArray, type NdData, type NdDType,
} from './npy.js';
export { parseIdx, readIdx, isGzip } from './idx.js';
export { decodeImage, imageFormat, resizeImage, type DecodedImage } from './image.js';
export {
  ImageArrayDataset, imageArrays,
  type ImageArraysSource, type ImageArraysOptions, type ImageArraysBatch, type ImageArraysSample, type ImageArraysState,
} from './image-arrays.js';
export { imageFolder, idxImages, type ImageFolderOptions } from './folder.js';
