import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { BrickConfigError, Module, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';

/** Options of {@link sinCosTable}. */
export interface SinCosOptions {
  /** Frequency base: feature i of an axis uses ω_i = temperature^(−i / (w/2)) (default 10000). */
  temperature?: number;
  /**
   * Scale each axis's integer positions 0…n−1 to [0, normalizeTo] (pix2seq uses 2π); default
   * null keeps the raw integer positions (MAE / "Attention is all you need").
   */
  normalizeTo?: number | null;
}

/**
 * Fixed sin-cos position table [N, dim] (row-major) for a 1-, 2- or 3-D grid `[n]`, `[h, w]` or
 * `[t, h, w]`, tokens row-major over the grid (as core's patch embedding orders them).
 *
 * The width is split evenly over the axes: each axis gets `w = 2·floor(dim / (2·axes))` features,
 * laid out `[sin(p·ω_0 … p·ω_{w/2−1}), cos(same)]`, axes concatenated in grid order (t, h, w);
 * any remainder (dim not divisible by 2·axes) is zero padding at the end.
 */
export function sinCosTable(grid: readonly number[], dim: number, { temperature = 10000, normalizeTo = null }: SinCosOptions = {}): Float32Array {
  const axes = grid.length;
  if (axes < 1 || axes > 3 || grid.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new BrickConfigError(`sinCosTable: grid must be 1 to 3 positive integers, got [${grid.join(', ')}]`);
  }
  const w = 2 * Math.floor(dim / (2 * axes));
  if (w < 2) throw new BrickConfigError(`sinCosTable: dim ${dim} is too small for a ${axes}-D grid (need ≥ ${2 * axes})`);
  const half = w / 2;
  const n = grid.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n * dim);
  const omega = Float64Array.from({ length: half }, (_, i) => Math.pow(temperature, -i / half));
  const coord = new Array<number>(axes).fill(0);
  for (let token = 0; token < n; token++) {
    // row-major unravel of `token` over the grid
    let rest = token;
    for (let a = axes - 1; a >= 0; a--) {
      coord[a] = rest % grid[a];
      rest = Math.floor(rest / grid[a]);
    }
    for (let a = 0; a < axes; a++) {
      const p = normalizeTo === null ? coord[a] : grid[a] > 1 ? (coord[a] / (grid[a] - 1)) * normalizeTo : 0;
      const base = token * dim + a * w;
      for (let i = 0; i < half; i++) {
        out[base + i] = Math.sin(p * omega[i]);
        out[base + half + i] = Math.cos(p * omega[i]);
      }
    }
  }
  return out;
}

const SinCosSchema = z
  .object({
    /** Token width. */
    dim: schemas.positiveInt,
    /** Grid: `[n]` (sequence), `[h, w]` (image patches) or `[t, h, w]` (video patches). */
    grid: z.array(schemas.positiveInt).min(1).max(3),
    /** Frequency base (default 10000). */
    temperature: schemas.positive.default(10000),
    /** Scale positions to [0, normalizeTo] per axis (pix2seq: 2π); null = raw integer positions. */
    normalizeTo: schemas.positive.nullable().default(null),
  })
  .strict();
/** JSON config of {@link SinCosPositionEncoding} (input form: defaults may be omitted). */
export type SinCosPositionEncodingConfig = z.input<typeof SinCosSchema>;

/**
 * Adds a fixed sin-cos position table (see {@link sinCosTable}) to tokens [B, N, dim], N = ∏ grid.
 * No parameters; the table is not part of checkpoints (it is recomputed from the config).
 */
export class SinCosPositionEncoding extends Module {
  static readonly type = 'SinCosPositionEncoding';
  static readonly schema = SinCosSchema;
  readonly config: z.output<typeof SinCosSchema>;
  /** Number of positions N. */
  readonly numPositions: number;
  private _table: tf.Tensor | null = null;

  constructor(config: SinCosPositionEncodingConfig, _options: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(SinCosPositionEncoding, config));
    this.numPositions = c.grid.reduce((a, b) => a * b, 1);
    sinCosTable(c.grid, c.dim, c); // validate now
  }

  /** The table [N, dim] (owned by the module; do not dispose). */
  table(): tf.Tensor {
    if (!this._table || this._table.isDisposed) {
      const c = this.config;
      this._table = tf.keep(tf.tensor2d(sinCosTable(c.grid, c.dim, c), [this.numPositions, c.dim]));
    }
    return this._table;
  }

  /** x [B, N, dim] → x + table. */
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape('x', x, [null, this.numPositions, this.config.dim]);
    return tf.add(x, this.table());
  }

  override dispose(): void {
    this._table?.dispose();
    this._table = null;
    super.dispose();
  }

  override toConfig() {
    return { type: SinCosPositionEncoding.type, ...this.config };
  }
}
registerBrick(SinCosPositionEncoding);
