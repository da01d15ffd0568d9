/**
 * Forward-pass FLOPs of a denoiser (matrix products only; a multiply-add = 2 FLOPs), to compare
 * RIN with the plain transformer baseline at equal cost. A training step is about 3× forward.
 */
import { RinNetwork, attentionFlops, mlpFlops, rinNetworkFlops } from '@brickml/attention';
import type { Module } from '@brickml/core';
import { TransformerDenoiser } from './denoisers/transformer-denoiser.js';
import { UNetDenoiser } from './denoisers/unet-denoiser.js';

/** FLOPs of one forward pass of a `RinNetwork`, `TransformerDenoiser` or `UNetDenoiser` on `batch` inputs. */
export function denoiserFlops(denoiser: Module, batch: number): number {
  if (denoiser instanceof RinNetwork) return rinNetworkFlops(denoiser, batch);
  if (denoiser instanceof TransformerDenoiser) {
    const c = denoiser.config;
    const n = denoiser.numPatchTokens + denoiser.numConditionTokens;
    const patchIn = denoiser.stem.proj.config.inFeatures;
    let total = 2 * batch * denoiser.numPatchTokens * patchIn * c.dim * 2; // stem + readout
    for (const block of denoiser.blocks) {
      total += attentionFlops({ batch, tq: n, tk: n, dim: c.dim, contextDim: c.dim, heads: c.heads, dimHead: block.attn.dimHead });
      if (block.mlp) total += mlpFlops(batch, n, c.dim, block.mlp.config.hidden);
    }
    return total;
  }
  if (denoiser instanceof UNetDenoiser) return denoiser.flops(batch); // convolutions as matrix products
  throw new Error(`denoiserFlops: no FLOP count for ${denoiser.typeName} (RinNetwork, TransformerDenoiser and UNetDenoiser are supported)`);
}

/** The fields of a `TransformerDenoiser` config that set its FLOPs (defaults as the brick's). */
export interface TransformerFlopsShape {
  channels?: number;
  /** `[H, W]` or `[T, H, W]`. */
  inputSize: number[];
  patchSize?: number | [number, number];
  tubelet?: number;
  dim?: number;
  depth?: number;
  heads?: number;
  mlpRatio?: number;
  numClasses?: number;
}

/**
 * Forward FLOPs of a `TransformerDenoiser` with this config on `batch` inputs, from the config
 * alone (no parameters built; equal to {@link denoiserFlops} of the built brick): stem + readout
 * `2·2·N·(C·p²)·d`, and per block attention over the N patch tokens plus the noise (and class)
 * token and an MLP of width `round(mlpRatio·d)`.
 */
export function transformerDenoiserFlops(c: TransformerFlopsShape, batch: number): number {
  const dim = c.dim ?? 64, depth = c.depth ?? 4, heads = c.heads ?? 4, mlpRatio = c.mlpRatio ?? 4;
  const [ph, pw] = Array.isArray(c.patchSize) ? c.patchSize : [c.patchSize ?? 2, c.patchSize ?? 2];
  const tubelet = c.tubelet ?? 1;
  const video = c.inputSize.length === 3;
  const [t, h, w] = video ? c.inputSize : [1, ...c.inputSize];
  if (h % ph !== 0 || w % pw !== 0 || t % tubelet !== 0 || dim % heads !== 0) {
    throw new RangeError(`transformerDenoiserFlops: patch ${ph}×${pw} (tubelet ${tubelet}) must divide the input ${c.inputSize.join('×')} and heads ${heads} must divide dim ${dim}`);
  }
  const patches = (t / tubelet) * (h / ph) * (w / pw);
  const n = patches + 1 + ((c.numClasses ?? 0) > 0 ? 1 : 0);
  const patchIn = (c.channels ?? 3) * ph * pw * tubelet;
  const block = attentionFlops({ batch, tq: n, tk: n, dim, contextDim: dim, heads, dimHead: dim / heads }) + mlpFlops(batch, n, dim, Math.round(mlpRatio * dim));
  return 2 * batch * patches * patchIn * dim * 2 + depth * block;
}

/** Result of {@link matchTransformerFlops}. */
export interface FlopsMatch {
  /** The base config with the chosen `dim` (and `depth`). */
  config: TransformerFlopsShape;
  /** Its forward FLOPs per input. */
  flops: number;
  /** flops / target. */
  ratio: number;
}

/**
 * The transformer of `base`'s shape whose forward FLOPs per input come closest (in log ratio) to
 * `targetFlops` (e.g. a RIN's `denoiserFlops(rin, 1)`): `dim` runs over multiples of `dimStep`
 * (default 2·heads) up to `maxDim` (default 512) at each depth in `depths` (default `[base.depth]`,
 * or 3). Ties go to the shallower model.
 */
export function matchTransformerFlops(targetFlops: number, base: TransformerFlopsShape, options: { depths?: number[]; dimStep?: number; maxDim?: number } = {}): FlopsMatch {
  if (!(targetFlops > 0)) throw new RangeError(`matchTransformerFlops: targetFlops must be positive, got ${targetFlops}`);
  const heads = base.heads ?? 4;
  const step = options.dimStep ?? 2 * heads;
  const depths = options.depths ?? [base.depth ?? 3];
  const maxDim = options.maxDim ?? 512;
  if (!Number.isInteger(step) || step < 1 || step % heads !== 0) throw new RangeError(`matchTransformerFlops: dimStep must be a positive multiple of heads (${heads}), got ${step}`);
  let best: FlopsMatch | null = null;
  for (const depth of depths) {
    for (let dim = step; dim <= maxDim; dim += step) {
      const config = { ...base, dim, depth, heads };
      const flops = transformerDenoiserFlops(config, 1);
      const ratio = flops / targetFlops;
      if (!best || Math.abs(Math.log(ratio)) < Math.abs(Math.log(best.ratio)) - 1e-12) best = { config, flops, ratio };
    }
  }
  if (!best) throw new RangeError('matchTransformerFlops: no candidate (depths is empty)');
  return best;
}
