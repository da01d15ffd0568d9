/**
 * The shared shape of BrickML's procedural data sets: an infinite, seeded stream of batches whose
 * position is an {@link Rng} state, so a resumed training run continues with the same batches.
 */
import { BrickConfigError } from '../errors.js';
import { Rng, globalRng, type RngState } from '../rng.js';
import { checkInt } from './options.js';

/** Saved position of a procedural data set: its generator state and how many batches it served. */
export interface DatasetState {
  rng: RngState;
  batches: number;
}

/** Options every procedural data set takes. */
export interface DatasetOptions {
  /** Items per batch from `next()`. */
  batchSize: number;
  /** Seed of the data set's own generator (default: drawn from {@link globalRng}). */
  seed?: number;
  /** A generator to draw from instead of a seed; used as is (not forked), so its state advances. */
  rng?: Rng;
}

/**
 * Base of the procedural data sets. Subclasses draw a host-side sample (`sample`) and turn it into
 * tensors (`toBatch`); everything else (iteration, held-out splits, state) lives here.
 *
 * Items are drawn one after another from the generator, so `sample(2)` then `sample(3)` gives the
 * same items as `sample(5)`.
 * @typeParam Sample host-side arrays for `n` items
 * @typeParam Batch tensors for one batch (the caller disposes them, e.g. with `tf.dispose(batch)`)
 */
export abstract class ProceduralDataset<Sample, Batch> implements Iterable<Batch> {
  /** Items per batch from `next()`. */
  readonly batchSize: number;
  /** The generator that drives the stream. */
  protected readonly rng: Rng;
  private served = 0;

  protected constructor(protected readonly fnName: string, options: DatasetOptions) {
    if (options === null || typeof options !== 'object') {
      throw new BrickConfigError(`${fnName}: expected an options object, got ${JSON.stringify(options)}`);
    }
    this.batchSize = checkInt(fnName, 'batchSize', options.batchSize, 1);
    if (options.seed !== undefined && options.rng !== undefined) {
      throw new BrickConfigError(`${fnName}: pass seed or rng, not both`);
    }
    if (options.rng !== undefined) {
      if (!(options.rng instanceof Rng)) throw new BrickConfigError(`${fnName}: rng must be an Rng, got ${String(options.rng)}`);
      this.rng = options.rng;
    } else if (options.seed !== undefined) {
      if (typeof options.seed !== 'number' || !Number.isFinite(options.seed)) {
        throw new BrickConfigError(`${fnName}: seed must be a finite number, got ${JSON.stringify(options.seed)}`);
      }
      this.rng = new Rng(options.seed);
    } else {
      this.rng = new Rng(globalRng().seed());
    }
  }

  /**
   * Draws `n` items on the host.
   * @param rng generator to draw from (default: the data set's own stream, which advances)
   */
  abstract sample(n: number, rng?: Rng): Sample;

  /** Turns a host sample (e.g. a {@link fixedSplit}) into tensors; the caller owns them. */
  abstract toBatch(sample: Sample): Batch;

  /** The next batch of `batchSize` items from the stream, as tensors the caller disposes. */
  next(): Batch {
    const s = this.sample(this.batchSize);
    this.served++;
    return this.toBatch(s);
  }

  /** Infinite iterator of batches (each from `next()`); break out of the loop to stop. */
  *[Symbol.iterator](): Iterator<Batch> {
    for (;;) yield this.next();
  }

  /** The next `n` batches, produced lazily as the iterator is consumed. */
  *take(n: number): IterableIterator<Batch> {
    checkInt(`${this.fnName}.take`, 'n', n, 0);
    for (let i = 0; i < n; i++) yield this.next();
  }

  /**
   * A held-out set of `n` items drawn from a fresh generator derived from `seed`; the stream is not
   * touched, and the same seed always gives the same items. The generator is forked from
   * `new Rng(seed)`, so a split never repeats the stream of a data set created with the same seed.
   * Convert with {@link toBatch}.
   */
  fixedSplit(n: number, seed: number): Sample {
    checkInt(`${this.fnName}.fixedSplit`, 'n', n, 0);
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new BrickConfigError(`${this.fnName}.fixedSplit: seed must be a finite number, got ${JSON.stringify(seed)}`);
    }
    return this.sample(n, new Rng(seed).fork());
  }

  /** Number of batches `next()` has served (restored by `setState`). */
  get batchesServed(): number {
    return this.served;
  }

  /** The stream's position (JSON-serialisable); `setState` with it resumes the same batches. */
  getState(): DatasetState {
    return { rng: this.rng.getState(), batches: this.served };
  }

  /** Restores a position saved by `getState`. */
  setState(state: DatasetState): void {
    if (state === null || typeof state !== 'object' || !Number.isInteger(state.batches) || state.batches < 0) {
      throw new BrickConfigError(`${this.fnName}.setState: expected {rng: {s: [4 uint32]}, batches: integer >= 0}, got ${JSON.stringify(state)}`);
    }
    this.rng.setState(state.rng);
    this.served = state.batches;
  }

  protected checkCount(method: string, n: number): number {
    return checkInt(`${this.fnName}.${method}`, 'n', n, 0);
  }
}
