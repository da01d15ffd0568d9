/**
 * `ImageArrayDataset`: a finite, labelled set of images held on the host (what {@link imageFolder},
 * {@link idxImages} and {@link imageArrays} return), served like core's procedural data sets:
 * seeded shuffling, batches as tensors, a held-out split, a saveable position.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, formatShape } from '../../errors.js';
import { Rng, globalRng, type RngState } from '../../rng.js';
import { checkChoice, checkInt, checkNumber, checkRange } from '../options.js';
import type { ImageValueRange } from '../raster.js';

/** Images and labels to build an {@link ImageArrayDataset} from. */
export interface ImageArraysSource {
  /** 8-bit pixels (0..255) or float pixels in [0, 1]; row-major in `layout`. */
  pixels: Uint8Array | Float32Array;
  /** `[N, H, W, C]` (layout `'nhwc'`), `[N, C, H, W]` (`'nchw'`) or `[N, H, W]` (one channel), C = 1 or 3. */
  shape: readonly number[];
  /** Layout of `pixels` when `shape` has rank 4 (default `'nhwc'`, how decoders and IDX files store images). */
  layout?: 'nhwc' | 'nchw';
  /** Class index of each image, integers in [0, numClasses). */
  labels: ArrayLike<number>;
  /** Class names, index = label (default `'0'`, `'1'`, …). */
  classNames?: readonly string[];
  /** Where each image came from (e.g. file paths), kept for inspection. */
  sources?: readonly string[];
}

/** How batches are served. */
export interface ImageArraysOptions {
  /** Images per batch from `next()` and `epoch()`. */
  batchSize: number;
  /** Seed of the shuffling generator (default: drawn from {@link globalRng}). */
  seed?: number;
  /** A generator to draw from instead of a seed; used as is (not forked). */
  rng?: Rng;
  /** Value range of served images: [-1, 1] (default, like `shapes`) or [0, 1]. */
  range?: ImageValueRange;
  /** Layout of served images: `'nchw'` (default, `[batch, C, H, W]`) or `'nhwc'`. */
  layout?: 'nchw' | 'nhwc';
  /** Shuffle the order each epoch (default true); false serves images in stored order. */
  shuffle?: boolean;
}

/** A batch of labelled images as tensors, owned by the caller (`tf.dispose(batch)`). */
export type ImageArraysBatch = {
  /** `[batch, C, H, W]` (or `[batch, H, W, C]`) float32 in the data set's range. */
  images: tf.Tensor4D;
  /** `[batch]` int32 class indices. */
  labels: tf.Tensor1D;
};

/** Labelled images on the host, in the data set's range and layout. */
export interface ImageArraysSample {
  n: number;
  images: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  /** Index of each image in the data set. */
  indices: Int32Array;
}

/**
 * Saved position of an {@link ImageArrayDataset}: the generator's state, its state when the current
 * epoch's order was drawn, the epoch and the cursor in it.
 */
export interface ImageArraysState {
  rng: RngState;
  epochRng: RngState;
  epoch: number;
  cursor: number;
  batches: number;
}

interface Store {
  pixels: Uint8Array | Float32Array; // [N, H, W, C]
  labels: Int32Array;
  height: number;
  width: number;
  channels: 1 | 3;
  classNames: readonly string[];
  sources?: readonly string[];
}

/** Converts a source to the internal NHWC store, validating every field. */
function toStore(fn: string, src: ImageArraysSource): Store {
  if (src === null || typeof src !== 'object') throw new BrickConfigError(`${fn}: expected a source {pixels, shape, labels}, got ${String(src)}`);
  const { pixels } = src;
  if (!(pixels instanceof Uint8Array) && !(pixels instanceof Float32Array)) {
    throw new BrickConfigError(`${fn}: pixels must be a Uint8Array (0..255) or Float32Array (0..1), got ${Object.prototype.toString.call(pixels)}`);
  }
  const shape = Array.isArray(src.shape) ? [...src.shape] : [];
  if ((shape.length !== 3 && shape.length !== 4) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new BrickConfigError(`${fn}: shape must be [N, H, W], [N, H, W, C] or [N, C, H, W] of positive integers, got ${JSON.stringify(src.shape)}`);
  }
  const layout = checkChoice(fn, 'layout', src.layout ?? 'nhwc', ['nhwc', 'nchw'] as const);
  const [n, h, w, c] = shape.length === 3 ? [shape[0], shape[1], shape[2], 1]
    : layout === 'nhwc' ? shape : [shape[0], shape[2], shape[3], shape[1]];
  if (c !== 1 && c !== 3) throw new BrickConfigError(`${fn}: images need 1 or 3 channels, got shape ${formatShape(shape)} (layout ${layout})`);
  if (pixels.length !== n * h * w * c) throw new BrickConfigError(`${fn}: shape ${formatShape(shape)} holds ${n * h * w * c} values, pixels has ${pixels.length}`);
  if (pixels instanceof Float32Array) {
    for (let i = 0; i < pixels.length; i++) {
      if (!(pixels[i] >= 0 && pixels[i] <= 1)) throw new BrickConfigError(`${fn}: float pixels must be in [0, 1], got ${pixels[i]} at index ${i}`);
    }
  }
  if (src.labels === null || typeof src.labels !== 'object' || typeof src.labels.length !== 'number' || src.labels.length !== n) {
    throw new BrickConfigError(`${fn}: labels must hold one class index per image (${n}), got ${src.labels === null || typeof src.labels !== 'object' ? String(src.labels) : `${src.labels.length} entries`}`);
  }
  const labels = Int32Array.from(src.labels);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    if (!Number.isInteger(src.labels[i]) || src.labels[i] < 0) throw new BrickConfigError(`${fn}: labels must be integers >= 0, got ${src.labels[i]} at index ${i}`);
    maxLabel = Math.max(maxLabel, labels[i]);
  }
  const classNames = src.classNames ? [...src.classNames] : Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  if (classNames.length <= maxLabel) throw new BrickConfigError(`${fn}: classNames has ${classNames.length} names, but labels go up to ${maxLabel}`);
  if (src.sources !== undefined && src.sources.length !== n) throw new BrickConfigError(`${fn}: sources must have one entry per image (${n}), got ${src.sources.length}`);
  let stored = pixels;
  if (shape.length === 4 && layout === 'nchw' && c > 1) {
    stored = new (pixels.constructor as Uint8ArrayConstructor | Float32ArrayConstructor)(pixels.length);
    const plane = h * w;
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < plane; p++) stored[(i * plane + p) * c + ch] = pixels[(i * c + ch) * plane + p];
      }
    }
  }
  return { pixels: stored, labels, height: h, width: w, channels: c as 1 | 3, classNames, sources: src.sources ? [...src.sources] : undefined };
}

/**
 * A finite labelled image set on the host. `next()` serves an endless stream of shuffled batches
 * (a new permutation from the data set's generator each epoch; a batch may span two epochs, so every
 * batch is full); `epoch()` iterates one pass in a fresh order with a smaller last batch; `split`
 * makes a stratified held-out split. Pixels are stored as given (8-bit stays 8-bit) and mapped to the
 * range and layout when a batch is made.
 */
export class ImageArrayDataset implements Iterable<ImageArraysBatch> {
  readonly batchSize: number;
  readonly range: ImageValueRange;
  readonly layout: 'nchw' | 'nhwc';
  readonly shuffle: boolean;
  /** Class names, index = label. */
  readonly classNames: readonly string[];
  private readonly store: Store;
  private readonly rng: Rng;
  private epochStart: RngState;
  private order: Int32Array;
  private cursor = 0;
  private epochIndex = 0;
  private served = 0;

  constructor(source: ImageArraysSource, options: ImageArraysOptions, private readonly fnName = 'imageArrays') {
    const fn = fnName;
    if (options === null || typeof options !== 'object') throw new BrickConfigError(`${fn}: expected an options object, got ${JSON.stringify(options)}`);
    this.store = toStore(fn, source);
    this.batchSize = checkInt(fn, 'batchSize', options.batchSize, 1);
    this.range = checkRange(fn, options.range ?? [-1, 1]);
    this.layout = checkChoice(fn, 'layout', options.layout ?? 'nchw', ['nchw', 'nhwc'] as const);
    this.shuffle = checkChoice(fn, 'shuffle', options.shuffle ?? true, [true, false] as const);
    this.classNames = Object.freeze([...this.store.classNames]);
    if (options.seed !== undefined && options.rng !== undefined) throw new BrickConfigError(`${fn}: pass seed or rng, not both`);
    if (options.rng !== undefined) {
      if (!(options.rng instanceof Rng)) throw new BrickConfigError(`${fn}: rng must be an Rng, got ${String(options.rng)}`);
      this.rng = options.rng;
    } else if (options.seed !== undefined) {
      checkNumber(fn, 'seed', options.seed, -Number.MAX_VALUE, Number.MAX_VALUE);
      this.rng = new Rng(options.seed);
    } else {
      this.rng = new Rng(globalRng().seed());
    }
    this.epochStart = this.rng.getState();
    this.order = this.drawOrder(this.rng);
  }

  /** Number of images. */
  get size(): number {
    return this.store.labels.length;
  }

  /** Number of classes (length of `classNames`). */
  get numClasses(): number {
    return this.classNames.length;
  }

  /** `[C, H, W]` of one image. */
  get imageShape(): [number, number, number] {
    return [this.store.channels, this.store.height, this.store.width];
  }

  /** Class index of every image, in stored order (a copy). */
  get labels(): Int32Array {
    return this.store.labels.slice();
  }

  /** Images per class. */
  get classCounts(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    for (const l of this.store.labels) counts[l]++;
    return counts;
  }

  /** Where each image came from (e.g. file paths), when known. */
  get sources(): readonly string[] | undefined {
    return this.store.sources;
  }

  /**
   * Every image in stored order, in the data set's range and layout, as `{data, shape}`: with
   * `labels`, this makes the data set a labelled set for `linearProbe` and `knnEval`.
   */
  get inputs(): { data: Float32Array; shape: [number, number, number, number] } {
    const s = this.gather(Int32Array.from({ length: this.size }, (_, i) => i));
    return { data: s.images, shape: s.shape };
  }

  private drawOrder(rng: Rng): Int32Array {
    return this.shuffle ? rng.permutation(this.size) : Int32Array.from({ length: this.size }, (_, i) => i);
  }

  /** The images at `indices` (host arrays in the data set's range and layout). */
  gather(indices: ArrayLike<number>): ImageArraysSample {
    const fn = `${this.fnName}.gather`;
    const { pixels, height: h, width: w, channels: c, labels } = this.store;
    const n = indices.length;
    const per = h * w * c;
    const plane = h * w;
    const images = new Float32Array(n * per);
    const idx = new Int32Array(n);
    const scale = pixels instanceof Uint8Array ? 1 / 255 : 1;
    const [lo] = this.range;
    const a = (1 - lo) * scale; // v01 * (1 - lo) + lo maps [0,1] to [lo, 1]
    const nchw = this.layout === 'nchw';
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new BrickConfigError(`${fn}: index ${i} at position ${k} is not in [0, ${this.size - 1}]`);
      idx[k] = i;
      const src = i * per;
      const dst = k * per;
      if (!nchw || c === 1) {
        for (let j = 0; j < per; j++) images[dst + j] = pixels[src + j] * a + lo;
      } else {
        for (let p = 0; p < plane; p++) {
          for (let ch = 0; ch < c; ch++) images[dst + ch * plane + p] = pixels[src + p * c + ch] * a + lo;
        }
      }
    }
    const shape: [number, number, number, number] = nchw ? [n, c, h, w] : [n, h, w, c];
    const lab = new Int32Array(n);
    for (let k = 0; k < n; k++) lab[k] = labels[idx[k]];
    return { n, images, shape, labels: lab, indices: idx };
  }

  /** Turns a host sample into tensors (the caller disposes them). */
  toBatch(s: ImageArraysSample): ImageArraysBatch {
    return { images: tf.tensor4d(s.images, s.shape, 'float32'), labels: tf.tensor1d(s.labels, 'int32') };
  }

  /** Indices of the next `n` images of the endless shuffled stream (reshuffling at each epoch end). */
  private nextIndices(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      if (this.cursor === this.size) {
        this.epochIndex++;
        this.cursor = 0;
        this.epochStart = this.rng.getState();
        this.order = this.drawOrder(this.rng);
      }
      out[k] = this.order[this.cursor++];
    }
    return out;
  }

  /** The next full batch of the stream, as tensors the caller disposes. */
  next(): ImageArraysBatch {
    const s = this.gather(this.nextIndices(this.batchSize));
    this.served++;
    return this.toBatch(s);
  }

  /** Endless iterator of batches (each from `next()`). */
  *[Symbol.iterator](): Iterator<ImageArraysBatch> {
    for (;;) yield this.next();
  }

  /** The next `n` batches of the stream, produced lazily. */
  *take(n: number): IterableIterator<ImageArraysBatch> {
    checkInt(`${this.fnName}.take`, 'n', n, 0);
    for (let i = 0; i < n; i++) yield this.next();
  }

  /**
   * One pass over every image in a fresh order (from the data set's generator; stored order when
   * `shuffle` is false), `batchSize` at a time, the last batch smaller (dropped with `dropLast`).
   * Independent of the `next()` stream's position except that both draw from the same generator.
   */
  *epoch(options: { dropLast?: boolean } = {}): IterableIterator<ImageArraysBatch> {
    const order = this.drawOrder(this.rng);
    const end = options.dropLast ? this.size - (this.size % this.batchSize) : this.size;
    for (let i = 0; i < end; i += this.batchSize) yield this.toBatch(this.gather(order.subarray(i, Math.min(end, i + this.batchSize))));
  }

  /** Batches served by `next()`. */
  get batchesServed(): number {
    return this.served;
  }

  /** The stream's position (JSON-serialisable). */
  getState(): ImageArraysState {
    return { rng: this.rng.getState(), epochRng: this.epochStart, epoch: this.epochIndex, cursor: this.cursor, batches: this.served };
  }

  /** Restores a position from `getState` (redraws the epoch's order from the saved generator state). */
  setState(state: ImageArraysState): void {
    const fn = `${this.fnName}.setState`;
    if (state === null || typeof state !== 'object' || !Number.isInteger(state.cursor) || state.cursor < 0 || state.cursor > this.size
      || !Number.isInteger(state.batches) || state.batches < 0 || !Number.isInteger(state.epoch) || state.epoch < 0) {
      throw new BrickConfigError(`${fn}: expected {rng, epochRng, epoch, cursor: integer in [0, ${this.size}], batches}, got ${JSON.stringify(state)}`);
    }
    this.rng.setState(state.epochRng);
    this.epochStart = this.rng.getState();
    this.order = this.drawOrder(this.rng);
    this.rng.setState(state.rng);
    this.cursor = state.cursor;
    this.epochIndex = state.epoch;
    this.served = state.batches;
  }

  /**
   * A new data set of the images at `indices` (copied), with the same options and class names; its
   * generator comes from `options.seed`/`options.rng`, else from a seed drawn from this data set's generator.
   */
  subset(indices: ArrayLike<number>, options: Partial<ImageArraysOptions> = {}): ImageArrayDataset {
    const fn = `${this.fnName}.subset`;
    const { pixels, height: h, width: w, channels: c, labels, sources } = this.store;
    const per = h * w * c;
    const out = new (pixels.constructor as Uint8ArrayConstructor | Float32ArrayConstructor)(indices.length * per);
    const lab = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new BrickConfigError(`${fn}: index ${i} at position ${k} is not in [0, ${this.size - 1}]`);
      out.set(pixels.subarray(i * per, (i + 1) * per), k * per);
      lab[k] = labels[i];
    }
    return new ImageArrayDataset({
      pixels: out, shape: [indices.length, h, w, c], layout: 'nhwc', labels: lab, classNames: this.classNames,
      sources: sources ? Array.from(indices, (i) => sources[i]) : undefined,
    }, {
      batchSize: options.batchSize ?? this.batchSize, range: options.range ?? this.range, layout: options.layout ?? this.layout,
      shuffle: options.shuffle ?? this.shuffle, ...(options.rng ? { rng: options.rng } : { seed: options.seed ?? this.rng.seed() }),
    }, this.fnName);
  }

  /**
   * A stratified held-out split: within each class, a seeded shuffle puts `round(heldOut · count)`
   * images (a fraction in (0, 1)) or a total of `heldOut` images (an integer ≥ 1, spread over the
   * classes in proportion) into `test`, the rest into `train`; both keep stored order (`test` is not
   * shuffled). The same seed always gives the same split and the same training order; this data
   * set's own stream is not touched.
   */
  split(heldOut: number, seed: number): { train: ImageArrayDataset; test: ImageArrayDataset } {
    const fn = `${this.fnName}.split`;
    if (typeof heldOut !== 'number' || !Number.isFinite(heldOut) || heldOut <= 0 || (heldOut >= 1 && !Number.isInteger(heldOut)) || heldOut >= this.size) {
      throw new BrickConfigError(`${fn}: heldOut must be a fraction in (0, 1) or an integer count in [1, ${this.size - 1}], got ${JSON.stringify(heldOut)}`);
    }
    checkNumber(fn, 'seed', seed, -Number.MAX_VALUE, Number.MAX_VALUE);
    const frac = heldOut < 1 ? heldOut : heldOut / this.size;
    const rng = new Rng(seed).fork();
    const isTest = new Uint8Array(this.size);
    const byClass: number[][] = Array.from({ length: this.numClasses }, () => []);
    this.store.labels.forEach((l, i) => byClass[l].push(i));
    for (const members of byClass) {
      const perm = rng.permutation(members.length);
      const k = Math.round(frac * members.length);
      for (let j = 0; j < k; j++) isTest[members[perm[j]]] = 1;
    }
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < this.size; i++) (isTest[i] ? test : train).push(i);
    if (train.length === 0 || test.length === 0) {
      throw new BrickConfigError(`${fn}: heldOut ${heldOut} leaves ${train.length} training and ${test.length} held-out images; both must be non-empty`);
    }
    // Both halves get generators derived from the split's seed, so splitting leaves this data set's stream alone.
    return { train: this.subset(train, { seed: rng.seed() }), test: this.subset(test, { shuffle: false, seed: rng.seed() }) };
  }
}

/**
 * Makes an {@link ImageArrayDataset} from arrays in memory (e.g. from {@link readNpz}).
 * @example
 * const { x, y } = await readNpz('cifar-small.npz'); // x: uint8 [N, 32, 32, 3], y: int64 [N]
 * const data = imageArrays({ pixels: x.data as Uint8Array, shape: x.shape, labels: y.data }, { batchSize: 64, seed: 0 });
 */
export function imageArrays(source: ImageArraysSource, options: ImageArraysOptions): ImageArrayDataset {
  return new ImageArrayDataset(source, options, 'imageArrays');
}
