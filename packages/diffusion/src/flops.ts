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
