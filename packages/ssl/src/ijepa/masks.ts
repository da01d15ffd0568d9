/**
 * I-JEPA's multi-block mask sampler (Assran et al. 2023; `facebookresearch/ijepa` `src/masks/multiblock.py`,
 * `MaskCollator`): per batch, M target blocks and one context block on a patch grid; the context is
 * its block minus every target block of the same image. The model is `IJEPA` (ijepa.ts).
 */
import { BrickConfigError, type Rng } from '@brickml/core';

/** Options of {@link sampleIJepaMasks} (defaults: the paper's ImageNet config). */
export interface IJepaMaskOptions {
  /** Target blocks per image (4). */
  numTargets?: number;
  /** Area range of a target block as a fraction of the grid ([0.15, 0.2]). */
  targetScale?: [number, number];
  /** Aspect-ratio range h/w of a target block ([0.75, 1.5]). */
  targetAspectRatio?: [number, number];
  /** Area range of the context block ([0.85, 1.0]; its aspect ratio is 1). */
  contextScale?: [number, number];
  /** Fewest context patches an image may keep after the targets are removed (10; see {@link sampleIJepaMasks}). */
  minKeep?: number;
}

/** Patch indices (row-major on the grid) of one batch's masks. */
export interface IJepaMasks {
  /** `[B][Lc]`: each image's context patches, truncated to the batch's shortest (as the reference does). */
  context: Int32Array[];
  /** `[M][B][Lt]`: target block m of each image (all blocks of a batch share one size, so no truncation). */
  targets: Int32Array[][];
  /** Block sizes drawn for this batch: [h, w] of the targets and of the context block. */
  targetSize: [number, number];
  contextSize: [number, number];
}

function checkRange(name: string, r: [number, number], lo: number, hi: number): [number, number] {
  if (!Array.isArray(r) || r.length !== 2 || !(r[0] >= lo && r[0] <= r[1] && r[1] <= hi)) {
    throw new BrickConfigError(`sampleIJepaMasks: option '${name}' expected [min, max] with ${lo} ≤ min ≤ max ≤ ${hi}, got ${JSON.stringify(r)}`);
  }
  return r;
}

/** Block size for an area fraction drawn from `scale` and an aspect ratio h/w drawn from `ratio` (the reference's `_sample_block_size`). */
function blockSize(rng: Rng, H: number, W: number, scale: [number, number], ratio: [number, number]): [number, number] {
  const s = scale[0] + rng.float() * (scale[1] - scale[0]);
  const keep = Math.floor(H * W * s);
  const ar = ratio[0] + rng.float() * (ratio[1] - ratio[0]);
  let h = Math.round(Math.sqrt(keep * ar));
  let w = Math.round(Math.sqrt(keep / ar));
  while (h >= H) h--;
  while (w >= W) w--;
  return [Math.max(1, h), Math.max(1, w)];
}

/**
 * Samples I-JEPA masks for a batch of `batchSize` images on an `height × width` patch grid.
 * Target sizes are drawn once per batch, positions per image; the context block likewise, and each
 * image's context drops its targets' patches; a context left with fewer than `minKeep` patches is
 * redrawn, and after 20 failed draws it avoids one target block fewer (as the reference's
 * decreasing acceptable regions) — so on small grids a context may overlap its last targets.
 */
export function sampleIJepaMasks(height: number, width: number, batchSize: number, rng: Rng, options: IJepaMaskOptions = {}): IJepaMasks {
  for (const [name, v] of [['height', height], ['width', width], ['batchSize', batchSize]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new BrickConfigError(`sampleIJepaMasks: argument '${name}' expected a positive integer, got ${v}`);
  }
  const M = options.numTargets ?? 4;
  if (!(Number.isInteger(M) && M >= 1)) throw new BrickConfigError(`sampleIJepaMasks: option 'numTargets' expected a positive integer, got ${M}`);
  const tScale = checkRange('targetScale', options.targetScale ?? [0.15, 0.2], 0, 1);
  const tRatio = checkRange('targetAspectRatio', options.targetAspectRatio ?? [0.75, 1.5], 1e-3, 1e3);
  const cScale = checkRange('contextScale', options.contextScale ?? [0.85, 1.0], 0, 1);
  const minKeep = options.minKeep ?? 10;
  if (!(Number.isInteger(minKeep) && minKeep >= 1)) throw new BrickConfigError(`sampleIJepaMasks: option 'minKeep' expected a positive integer, got ${minKeep}`);
  const [H, W] = [height, width];
  const targetSize = blockSize(rng, H, W, tScale, tRatio);
  const contextSize = blockSize(rng, H, W, cScale, [1, 1]);
  const block = ([h, w]: [number, number]) => {
    const top = rng.int(0, H - h + 1);
    const left = rng.int(0, W - w + 1);
    const idx: number[] = [];
    for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) idx.push(i * W + j);
    return idx;
  };
  const targets: Int32Array[][] = Array.from({ length: M }, () => []);
  const contexts: number[][] = [];
  for (let b = 0; b < batchSize; b++) {
    const blocks: number[][] = [];
    for (let m = 0; m < M; m++) {
      const t = block(targetSize);
      blocks.push(t);
      targets[m]!.push(Int32Array.from(t));
    }
    // As the reference: after 20 failed draws, the context avoids one target block fewer
    // (the first M − r blocks), down to none.
    let ctx: number[] | null = null;
    for (let r = 0; r <= M && !ctx; r++) {
      const covered = new Uint8Array(H * W);
      for (const t of blocks.slice(0, M - r)) for (const i of t) covered[i] = 1;
      for (let tries = 0; tries < 20 && !ctx; tries++) {
        const c = block(contextSize).filter((i) => !covered[i]);
        if (c.length >= minKeep) ctx = c;
      }
    }
    if (!ctx) {
      throw new BrickConfigError(`sampleIJepaMasks: no context block of ${contextSize.join('×')} keeps ${minKeep} patches on a ${H}×${W} grid even without excluding targets (lower 'minKeep' or raise 'contextScale')`);
    }
    contexts.push(ctx);
  }
  const lc = Math.min(...contexts.map((c) => c.length));
  return { context: contexts.map((c) => Int32Array.from(c.slice(0, lc))), targets, targetSize, contextSize };
}
