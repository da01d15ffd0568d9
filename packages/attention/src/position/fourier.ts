import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError, Module, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';

/** Options of {@link fourierFeatures}. */
export interface FourierFeatureOptions {
  /** Highest resolution per index dimension (default: `indexDims`); bands reach maxResolution/2. */
  maxResolution?: readonly number[];
  /** Prepend the raw positions (default true, as deepmind's `concat_pos`). */
  concatPos?: boolean;
  /** Only sines (default false: sines then cosines). */
  sineOnly?: boolean;
}

/** Channels of {@link fourierFeatures}: d·(2K + 1) with positions and cosines, d·K with neither. */
export function fourierChannels(dims: number, numBands: number, concatPos = true, sineOnly = false): number {
  return (concatPos ? dims : 0) + dims * numBands * (sineOnly ? 1 : 2);
}

/**
 * Perceiver Fourier position features, as deepmind's `position_encoding.py`: positions
 * `linspace(−1, 1, n)` per index dimension, tokens row-major over the grid; for dimension d the
 * bands are `linspace(1, maxResolution_d / 2, numBands)` (linear spacing, as the reference code);
 * channels `[pos (d values), sin(π·f·pos) (dimension-major, band-minor), cos(π·f·pos) (same order)]`.
 * A 2-D grid with 64 bands gives 2 + 2·2·64 = 258 channels. Returns [∏ indexDims, channels].
 */
export function fourierFeatures(
  indexDims: readonly number[],
  numBands: number,
  { maxResolution = indexDims, concatPos = true, sineOnly = false }: FourierFeatureOptions = {},
): Float32Array {
  const d = indexDims.length;
  if (d < 1 || indexDims.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new BrickConfigError(`fourierFeatures: indexDims must be positive integers, got [${indexDims.join(', ')}]`);
  }
  if (maxResolution.length !== d) {
    throw new BrickConfigError(`fourierFeatures: maxResolution [${maxResolution.join(', ')}] must have ${d} entries like indexDims [${indexDims.join(', ')}]`);
  }
  if (!Number.isInteger(numBands) || numBands < 1) throw new BrickConfigError(`fourierFeatures: numBands must be a positive integer, got ${numBands}`);
  const n = indexDims.reduce((a, b) => a * b, 1);
  const ch = fourierChannels(d, numBands, concatPos, sineOnly);
  const out = new Float32Array(n * ch);
  const linspace = (lo: number, hi: number, k: number, i: number) => (k === 1 ? lo : lo + ((hi - lo) * i) / (k - 1));
  const bands = maxResolution.map((r) => Float64Array.from({ length: numBands }, (_, i) => linspace(1, r / 2, numBands, i)));
  const pos = new Float64Array(d);
  for (let t = 0; t < n; t++) {
    let rest = t;
    for (let a = d - 1; a >= 0; a--) {
      pos[a] = linspace(-1, 1, indexDims[a], rest % indexDims[a]);
      rest = Math.floor(rest / indexDims[a]);
    }
    let o = t * ch;
    if (concatPos) for (let a = 0; a < d; a++) out[o++] = pos[a];
    const sinStart = o;
    const count = d * numBands;
    for (let a = 0; a < d; a++) {
      for (let k = 0; k < numBands; k++) {
        const angle = Math.PI * bands[a][k] * pos[a];
        out[sinStart + a * numBands + k] = Math.sin(angle);
        if (!sineOnly) out[sinStart + count + a * numBands + k] = Math.cos(angle);
      }
    }
  }
  return out;
}

const FourierSchema = z
  .object({
    /** Grid of the inputs, e.g. `[H, W]` for pixels (tokens row-major). */
    indexDims: z.array(schemas.positiveInt).min(1),
    /** Bands per dimension K (Perceiver ImageNet: 64). */
    numBands: schemas.positiveInt,
    /** Highest resolution per dimension (default `indexDims`). */
    maxResolution: z.array(schemas.positive).optional(),
    /** Include the raw positions (default true). */
    concatPos: z.boolean().default(true),
    /** Sines only (default false). */
    sineOnly: z.boolean().default(false),
  })
  .strict();
/** JSON config of {@link FourierPositionEncoding} (input form: defaults may be omitted). */
export type FourierPositionEncodingConfig = z.input<typeof FourierSchema>;

/**
 * Concatenates Perceiver Fourier features (see {@link fourierFeatures}) to the channels of tokens
 * [B, N, C] → [B, N, C + numChannels] (deepmind's `concat_or_add_pos='concat'`). No parameters.
 */
export class FourierPositionEncoding extends Module {
  static readonly type = 'FourierPositionEncoding';
  static readonly schema = FourierSchema;
  readonly config: z.output<typeof FourierSchema>;
  /** Number of positions N = ∏ indexDims. */
  readonly numPositions: number;
  /** Channels added: d·(2K+1) by default. */
  readonly numChannels: number;
  private _table: tf.Tensor | null = null;

  constructor(config: FourierPositionEncodingConfig, _options: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(FourierPositionEncoding, config));
    if (c.maxResolution && c.maxResolution.length !== c.indexDims.length) {
      throw new BrickConfigError(
        `FourierPositionEncoding: config field 'maxResolution' must have ${c.indexDims.length} entries like 'indexDims', got ${c.maxResolution.length}`,
      );
    }
    this.numPositions = c.indexDims.reduce((a, b) => a * b, 1);
    this.numChannels = fourierChannels(c.indexDims.length, c.numBands, c.concatPos, c.sineOnly);
  }

  /** The feature table [N, numChannels] (owned by the module; do not dispose). */
  table(): tf.Tensor {
    if (!this._table || this._table.isDisposed) {
      const c = this.config;
      const data = fourierFeatures(c.indexDims, c.numBands, c);
      this._table = tf.keep(tf.tensor2d(data, [this.numPositions, this.numChannels]));
    }
    return this._table;
  }

  /** x [B, N, C] → [B, N, C + numChannels]. */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, this.numPositions, null]);
    return tf.tidy(() => {
      const b = x.shape[0];
      const pe = tf.broadcastTo(tf.expandDims(this.table(), 0), [b, this.numPositions, this.numChannels]);
      return tf.concat([x, pe], -1);
    });
  }

  override dispose(): void {
    this._table?.dispose();
    this._table = null;
    super.dispose();
  }

  override toConfig() {
    return { type: FourierPositionEncoding.type, ...this.config };
  }
}
registerBrick(FourierPositionEncoding);
