/**
 * Where a video RIN reads: the share of each block's read-attention mass that falls on patches
 * covered by a moving sprite, beside those patches' share of the grid (what uniform reading would
 * give), per denoising step, for the context frames and the predicted frames apart.
 *
 * ```text
 * masks  [n, T, S, H, W]  (movingSprites: per frame and sprite, 0/1)
 *   → union over sprites, mean over each tubelet × patch × patch cell      [n, gt, gh, gw]
 *   → sprite patch where that coverage ≥ minCoverage                       (0/1)
 * read map of block b at step s  [n, gt, gh, gw]  (summed over heads and latent queries)
 *   mass    = Σ map · sprite / Σ map         over the frames of a kind (context / predicted / all)
 *   uniform = Σ sprite / #patches            over the same frames
 *   lift    = mass / uniform                 (> 1: the block reads sprites more than uniform)
 * ```
 * Per clip, then averaged over clips (clips without a sprite patch in those frames are skipped).
 * The masks of predicted frames are those of the held-out truth: where the sprites will be.
 */
import { ShapeError, formatShape } from '@brickml/core';
import type { ReadMapTrace } from '../samplers/common.js';

/** Options of {@link spritePatchMask}. */
export interface SpritePatchMaskOptions {
  /** Patch side in pixels (the RIN's `patchSize`). */
  patchSize: number;
  /** Frames per token along time (the RIN's `tubelet`, default 1). */
  tubelet?: number;
  /** A patch is a sprite patch when at least this share of its pixels is sprite (default 0.25). */
  minCoverage?: number;
}

/** A 0/1 mask on the patch grid, `[n, gt, gh, gw]`, host float32 (see {@link spritePatchMask}). */
export interface PatchMask {
  data: Float32Array;
  /** `[n, gt, gh, gw]`. */
  shape: [number, number, number, number];
}

/**
 * Downsamples per-frame, per-sprite masks `[n, T, S, H, W]` (e.g. `movingSprites`'
 * `masks`/`maskShape`) to the RIN's patch grid: the union over sprites, averaged over each
 * tubelet × patch × patch cell, is a sprite patch (1) when it reaches `minCoverage`.
 */
export function spritePatchMask(masks: ArrayLike<number>, maskShape: readonly number[], options: SpritePatchMaskOptions): PatchMask {
  const fn = 'spritePatchMask';
  if (maskShape.length !== 5) throw new ShapeError(`${fn}: masks must be [n, T, S, H, W], got ${formatShape(maskShape)}`);
  const [n, T, S, H, W] = maskShape;
  if (masks.length !== n * T * S * H * W) {
    throw new ShapeError(`${fn}: masks hold ${masks.length} values, shape ${formatShape(maskShape)} needs ${n * T * S * H * W}`);
  }
  const p = options.patchSize;
  const tub = options.tubelet ?? 1;
  const minCoverage = options.minCoverage ?? 0.25;
  if (!Number.isInteger(p) || p < 1 || H % p !== 0 || W % p !== 0) {
    throw new RangeError(`${fn}: patchSize must be a positive integer dividing the frame ${H}×${W}, got ${p}`);
  }
  if (!Number.isInteger(tub) || tub < 1 || T % tub !== 0) throw new RangeError(`${fn}: tubelet must be a positive integer dividing T = ${T}, got ${tub}`);
  if (!(minCoverage > 0 && minCoverage <= 1)) throw new RangeError(`${fn}: minCoverage must be in (0, 1], got ${minCoverage}`);
  const gt = T / tub, gh = H / p, gw = W / p;
  const out = new Float32Array(n * gt * gh * gw);
  const plane = H * W;
  const cell = tub * p * p;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < gt; f++) {
      for (let r = 0; r < gh; r++) {
        for (let c = 0; c < gw; c++) {
          let covered = 0;
          for (let dt = 0; dt < tub; dt++) {
            const frame = (i * T + f * tub + dt) * S;
            for (let y = r * p; y < (r + 1) * p; y++) {
              for (let x = c * p; x < (c + 1) * p; x++) {
                let u = 0;
                for (let s = 0; s < S; s++) u = Math.max(u, masks[(frame + s) * plane + y * W + x]);
                covered += u;
              }
            }
          }
          out[((i * gt + f) * gh + r) * gw + c] = covered / cell >= minCoverage - 1e-9 ? 1 : 0;
        }
      }
    }
  }
  return { data: out, shape: [n, gt, gh, gw] };
}

/** Read-attention mass on sprite patches over some frames (see the module comment). */
export interface ReadMassFigures {
  /** Mean over clips of the share of the read mass (over these frames) on sprite patches. */
  mass: number;
  /** Mean over clips of the sprite patches' share of these frames' patches (uniform reading). */
  uniform: number;
  /** mass / uniform. */
  lift: number;
  /** Mean over clips of the share of the block's whole read mass that falls on these frames. */
  frameMass: number;
  /** These frames' share of all patches (what `frameMass` is under uniform reading). */
  frameShare: number;
  /** Clips averaged (those with at least one sprite patch in these frames). */
  clips: number;
}

/** One row of {@link readAttentionMass}: a block at a denoising step, for one kind of frame. */
export interface ReadMassRow extends ReadMassFigures {
  /** Index of the recorded denoising step (0 = first, the noisiest). */
  step: number;
  /** t at the start of that step. */
  t: number;
  /** Block index (0-based). */
  block: number;
  /** Which frames: the clean context frames, the predicted (noisy) frames, or all. */
  frames: 'context' | 'predicted' | 'all';
}

/** Options of {@link readAttentionMass}. */
export interface ReadAttentionMassOptions {
  /** Leading time cells of the grid that are context frames (context frames / tubelet). */
  contextCells: number;
}

/**
 * Figures of one map `[n, gt, gh, gw]` against a patch mask of the same shape over the time
 * cells `[from, to)`.
 */
export function readMassOnMask(map: ArrayLike<number>, mask: PatchMask, from: number, to: number): ReadMassFigures {
  const [n, gt, gh, gw] = mask.shape;
  const fn = 'readMassOnMask';
  if (map.length !== mask.data.length) throw new ShapeError(`${fn}: the map holds ${map.length} values, the mask ${formatShape(mask.shape)} ${mask.data.length}`);
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= gt)) {
    throw new RangeError(`${fn}: frame cells must satisfy 0 ≤ from < to ≤ ${gt}, got [${from}, ${to})`);
  }
  const plane = gh * gw;
  let mass = 0, uniform = 0, frameMass = 0, clips = 0;
  for (let i = 0; i < n; i++) {
    let total = 0, inFrames = 0, onSprite = 0, spritePatches = 0;
    for (let f = 0; f < gt; f++) {
      for (let q = 0; q < plane; q++) {
        const k = (i * gt + f) * plane + q;
        const v = map[k];
        if (!(v >= 0)) throw new RangeError(`${fn}: read maps must be non-negative, got ${v} at clip ${i}, cell ${f}`);
        total += v;
        if (f < from || f >= to) continue;
        inFrames += v;
        if (mask.data[k] > 0) {
          onSprite += v;
          spritePatches++;
        }
      }
    }
    if (spritePatches === 0 || inFrames <= 0) continue;
    clips++;
    mass += onSprite / inFrames;
    uniform += spritePatches / ((to - from) * plane);
    frameMass += inFrames / total;
  }
  const m = clips || NaN;
  return { mass: mass / m, uniform: uniform / m, lift: mass / uniform, frameMass: frameMass / m, frameShare: (to - from) / gt, clips };
}

/**
 * The read-attention mass table of a sampler's read-map trace (`ddimSample(..., { readMaps: true })`)
 * against a sprite patch mask ({@link spritePatchMask}) of the same clips: one row per step, block
 * and kind of frame (context, predicted, all).
 */
export function readAttentionMass(trace: ReadMapTrace, mask: PatchMask, options: ReadAttentionMassOptions): ReadMassRow[] {
  const fn = 'readAttentionMass';
  if (trace.shape.length !== 4) throw new ShapeError(`${fn}: the trace must hold video maps [n, gt, gh, gw], got ${formatShape(trace.shape)}`);
  if (trace.shape.some((d, i) => d !== mask.shape[i])) {
    throw new ShapeError(`${fn}: the mask must match the read maps ${formatShape(trace.shape)}, got ${formatShape(mask.shape)}`);
  }
  const gt = mask.shape[1];
  const k = options.contextCells;
  if (!Number.isInteger(k) || k < 1 || k >= gt) throw new RangeError(`${fn}: contextCells must be an integer in [1, ${gt - 1}], got ${k}`);
  const rows: ReadMassRow[] = [];
  trace.maps.forEach((blocks, step) => {
    blocks.forEach((map, block) => {
      const kinds: Array<[ReadMassRow['frames'], number, number]> = [['context', 0, k], ['predicted', k, gt], ['all', 0, gt]];
      for (const [frames, from, to] of kinds) rows.push({ step, t: trace.t[step], block, frames, ...readMassOnMask(map, mask, from, to) });
    });
  });
  return rows;
}

/**
 * The rows of {@link readAttentionMass} as a text table, steps subsampled to `steps` evenly spaced
 * ones (default 5), e.g.
 * ```text
 * step    t  block  frames      on sprites  uniform  lift  frame mass (share)
 *    1  1.00      1  predicted       31.2%    24.0%  1.30  71% (67%)
 * ```
 */
export function formatReadMassTable(rows: readonly ReadMassRow[], options: { steps?: number } = {}): string {
  const allSteps = [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
  const want = Math.min(options.steps ?? 5, allSteps.length);
  const picked = new Set(Array.from({ length: want }, (_, j) => allSteps[want === 1 ? 0 : Math.round((j * (allSteps.length - 1)) / (want - 1))]));
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
  const head = `${'step'.padStart(4)} ${'t'.padStart(5)} ${'block'.padStart(6)}  ${'frames'.padEnd(10)} ${'on sprites'.padStart(10)} ${'uniform'.padStart(8)} ${'lift'.padStart(5)}  frame mass (share)`;
  const lines = rows
    .filter((r) => picked.has(r.step))
    .map((r) =>
      `${String(r.step + 1).padStart(4)} ${r.t.toFixed(2).padStart(5)} ${String(r.block + 1).padStart(6)}  ${r.frames.padEnd(10)} ${pct(r.mass).padStart(10)} ${pct(r.uniform).padStart(8)} ${(Number.isFinite(r.lift) ? r.lift.toFixed(2) : 'n/a').padStart(5)}  ${pct(r.frameMass)} (${pct(r.frameShare)})`,
    );
  return [head, ...lines].join('\n');
}
