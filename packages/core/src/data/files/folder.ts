/**
 * Node-only readers that build an {@link ImageArrayDataset} from files: `imageFolder` (one
 * sub-folder per class, torchvision's `ImageFolder` layout) and `idxImages` (an IDX images file and
 * its labels file, the MNIST family).
 */
import { BrickConfigError } from '../../errors.js';
import { importAtRuntime } from '../../io/fs.js';
import { checkChoice } from '../options.js';
import { DataFileError, fileError, messageOf } from './errors.js';
import { decodeImage, resizeImage } from './image.js';
import { ImageArrayDataset, type ImageArraysOptions } from './image-arrays.js';
import { assertNodeFiles, readDataFile } from './npy.js';
import { parseIdx } from './idx.js';

/** Options of {@link imageFolder}. */
export interface ImageFolderOptions extends ImageArraysOptions {
  /**
   * Resize every image to this size: a side `s` (s×s) or `[height, width]`, with an antialiased
   * bilinear filter (see {@link resizeImage}), then rounded to 8 bits. Without it every image must
   * have the size of the first.
   */
  size?: number | [number, number];
  /** 1 (gray, ITU-R 601 luma) or 3 (RGB, the default); alpha is dropped. */
  channels?: 1 | 3;
  /** File extensions read, case-insensitive (default `.png`, `.jpg`, `.jpeg`); other files are skipped. */
  extensions?: readonly string[];
}

type Dirent = { name: string; isDirectory(): boolean; isFile(): boolean };
type FsLike = { readdir(p: string, o: { withFileTypes: true }): Promise<Dirent[]> };
type PathLike = { join(...p: string[]): string };

function resolveSize(fn: string, size: ImageFolderOptions['size']): [number, number] | undefined {
  if (size === undefined) return undefined;
  const hw = typeof size === 'number' ? [size, size] : size;
  if (!Array.isArray(hw) || hw.length !== 2 || !hw.every((d) => Number.isInteger(d) && d >= 1 && d <= 8192)) {
    throw new BrickConfigError(`${fn}: size must be an integer side in [1, 8192] or [height, width], got ${JSON.stringify(size)}`);
  }
  return [hw[0], hw[1]];
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Reads a folder of labelled images laid out like torchvision's `ImageFolder`: one sub-folder per
 * class, class names sorted (their index is the label), files sorted within a class, PNG and JPEG
 * told apart by their bytes. Hidden entries (starting with `.`) are skipped. Node only.
 *
 * All images are decoded into memory as 8 bits per sample (N·H·W·C bytes). A file that fails to
 * decode, a class folder with no image, or (without `size`) an image whose size differs from the
 * first gives a {@link DataFileError} naming the file or folder.
 * @example
 * const data = await imageFolder('data/pets', { size: 32, batchSize: 64, seed: 0 });
 * const { train, test } = data.split(0.2, 0);
 * const { images, labels } = train.next(); // [64, 3, 32, 32] in [-1, 1], [64] int32
 */
export async function imageFolder(dir: string, options: ImageFolderOptions): Promise<ImageArrayDataset> {
  const fn = 'imageFolder';
  assertNodeFiles(fn);
  if (typeof dir !== 'string' || dir.length === 0) throw new BrickConfigError(`${fn}: dir must be a non-empty string, got ${JSON.stringify(dir)}`);
  if (options === null || typeof options !== 'object') throw new BrickConfigError(`${fn}: expected an options object, got ${JSON.stringify(options)}`);
  const size = resolveSize(fn, options.size);
  const channels = checkChoice(fn, 'channels', options.channels ?? 3, [1, 3] as const);
  const exts = options.extensions ?? ['.png', '.jpg', '.jpeg'];
  if (!Array.isArray(exts) || exts.length === 0 || !exts.every((e) => typeof e === 'string' && e.startsWith('.'))) {
    throw new BrickConfigError(`${fn}: extensions must be a non-empty list like ['.png', '.jpg'], got ${JSON.stringify(options.extensions)}`);
  }
  const wanted = exts.map((e) => e.toLowerCase());
  const fs = await importAtRuntime<FsLike>('node:fs/promises');
  const path = await importAtRuntime<PathLike>('node:path');
  const list = async (d: string): Promise<Dirent[]> => {
    try {
      return await fs.readdir(d, { withFileTypes: true });
    } catch (e) {
      throw new DataFileError(`${fn}: cannot read directory '${d}': ${messageOf(e)}`, d, { cause: e });
    }
  };
  const classNames = (await list(dir)).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodeUnit);
  if (classNames.length === 0) fileError(fn, dir, `has no class sub-folders; expected one sub-folder of images per class`);
  const files: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classNames.length; c++) {
    const classDir = path.join(dir, classNames[c]);
    const names = (await list(classDir))
      .filter((e) => e.isFile() && !e.name.startsWith('.') && wanted.some((x) => e.name.toLowerCase().endsWith(x)))
      .map((e) => e.name).sort(byCodeUnit);
    if (names.length === 0) fileError(fn, classDir, `(class '${classNames[c]}') has no image files; expected at least one ${wanted.join(', ')} file`);
    for (const name of names) {
      files.push(path.join(classDir, name));
      labels.push(c);
    }
  }
  let hw = size;
  let pixels: Uint8Array | undefined;
  for (let i = 0; i < files.length; i++) {
    const img = decodeImage(await readDataFile(fn, files[i]), files[i], channels, fn);
    if (!hw) hw = [img.height, img.width];
    const [h, w] = hw;
    pixels ??= new Uint8Array(files.length * h * w * channels);
    let data: ArrayLike<number> = img.data;
    if (img.height !== h || img.width !== w) {
      if (!size) {
        fileError(fn, files[i], `is ${img.height}x${img.width} (height x width) but '${files[0]}' is ${h}x${w}; pass size to resize every image`);
      }
      data = resizeImage(img.data, img.height, img.width, channels, h, w);
    }
    const at = i * h * w * channels;
    for (let j = 0; j < h * w * channels; j++) pixels[at + j] = Math.min(255, Math.max(0, Math.round(data[j])));
  }
  const [h, w] = hw as [number, number];
  return new ImageArrayDataset({
    pixels: pixels as Uint8Array, shape: [files.length, h, w, channels], layout: 'nhwc', labels, classNames, sources: files,
  }, options, fn);
}

/**
 * Reads an IDX images file (`[N, H, W]` uint8, e.g. MNIST's `train-images-idx3-ubyte[.gz]`) and
 * its labels file (`[N]` uint8) into an {@link ImageArrayDataset} of one-channel images. Node only.
 * @param classNames names of the classes (default `'0'` … `'<max label>'`)
 */
export async function idxImages(imagesPath: string, labelsPath: string, options: ImageArraysOptions & { classNames?: readonly string[] }): Promise<ImageArrayDataset> {
  const fn = 'idxImages';
  const images = parseIdx(await readDataFile(fn, imagesPath), imagesPath, fn);
  const labels = parseIdx(await readDataFile(fn, labelsPath), labelsPath, fn);
  if (images.dtype !== 'uint8' || (images.shape.length !== 3 && images.shape.length !== 4)) {
    fileError(fn, imagesPath, `holds ${images.dtype} [${images.shape.join(', ')}]; expected uint8 images [N, H, W] (or [N, H, W, C])`);
  }
  if (labels.shape.length !== 1 || labels.dtype === 'float32' || labels.dtype === 'float64') {
    fileError(fn, labelsPath, `holds ${labels.dtype} [${labels.shape.join(', ')}]; expected integer labels [N]`);
  }
  if (labels.shape[0] !== images.shape[0]) {
    fileError(fn, labelsPath, `holds ${labels.shape[0]} labels but '${imagesPath}' holds ${images.shape[0]} images`);
  }
  return new ImageArrayDataset({
    pixels: images.data as Uint8Array, shape: images.shape, layout: 'nhwc', labels: labels.data, classNames: options?.classNames,
  }, options, fn);
}
