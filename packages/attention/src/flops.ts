/**
 * Analytic forward-pass FLOP counts (a multiply-add = 2 FLOPs; matrix products only, norms,
 * softmax and activations ignored). A training step (forward + backward) is about 3× forward.
 */
import type { MultiHeadAttention } from './attention/multi-head.js';
import type { PerceiverEncoder } from './perceiver/encoder.js';
import type { RinNetwork } from './rin/rin-network.js';

/** FLOPs of one attention layer: q/k/v/out projections plus scores and weighted sum. */
export function attentionFlops(p: {
  batch: number;
  tq: number;
  tk: number;
  dim: number;
  contextDim: number;
  heads: number;
  dimHead: number;
  outDim?: number;
}): number {
  const inner = p.heads * p.dimHead;
  const proj = 2 * p.tq * p.dim * inner + 2 * 2 * p.tk * p.contextDim * inner + 2 * p.tq * inner * (p.outDim ?? p.dim);
  const core = 2 * 2 * p.tq * p.tk * inner;
  return p.batch * (proj + core);
}

/** FLOPs of a two-layer MLP over `tokens` rows (SwiGLU doubles fc1). */
export function mlpFlops(batch: number, tokens: number, dim: number, hidden: number, gated = false): number {
  return batch * 2 * tokens * (dim * hidden * (gated ? 2 : 1) + hidden * dim);
}

/** FLOPs of a `MultiHeadAttention` call. */
export function multiHeadAttentionFlops(m: MultiHeadAttention, batch: number, tq: number, tk = tq): number {
  const c = m.config;
  return attentionFlops({ batch, tq, tk, dim: c.dim, contextDim: c.contextDim ?? c.dim, heads: c.heads, dimHead: m.dimHead, outDim: c.outDim });
}

/** FLOPs of a plain pre-norm transformer over `tokens` tokens of width `dim` (self-attention + MLP ratio `mlpRatio`). */
export function transformerFlops(p: { batch: number; tokens: number; dim: number; heads: number; depth: number; mlpRatio?: number }): number {
  const dh = p.dim / p.heads;
  const per =
    attentionFlops({ batch: p.batch, tq: p.tokens, tk: p.tokens, dim: p.dim, contextDim: p.dim, heads: p.heads, dimHead: dh }) +
    mlpFlops(p.batch, p.tokens, p.dim, Math.round((p.mlpRatio ?? 4) * p.dim));
  return p.depth * per;
}

/** FLOPs of a `PerceiverEncoder` call on `inputs` elements (flat encoder; HiP levels included). */
export function perceiverEncoderFlops(e: PerceiverEncoder, batch: number, inputs: number): number {
  const c = e.config;
  let total = 0;
  const g = c.groups;
  const per = Math.ceil(inputs / g);
  const cross = e.cross_attend;
  total += attentionFlops({ batch: batch * g, tq: c.numLatents, tk: per, dim: c.latentDim, contextDim: c.inputDim, heads: c.crossHeads, dimHead: cross.attn.dimHead });
  if (cross.mlp) total += mlpFlops(batch * g, c.numLatents, c.latentDim, cross.mlp.config.hidden);
  const repeats = c.shareWeights ? c.numBlocks : 1;
  for (const l of e.self_attends) {
    total +=
      repeats *
      (attentionFlops({ batch: batch * g, tq: c.numLatents, tk: c.numLatents, dim: c.latentDim, contextDim: c.latentDim, heads: c.selfHeads, dimHead: l.attn.dimHead }) +
        (l.mlp ? mlpFlops(batch * g, c.numLatents, c.latentDim, l.mlp.config.hidden) : 0));
  }
  let prevG = g, prevN = c.numLatents, prevD = c.latentDim;
  for (const level of c.hipLevels) {
    const m = (prevG / level.groups) * prevN;
    const dh = Math.max(1, Math.floor(prevD / level.crossHeads));
    total += attentionFlops({ batch: batch * level.groups, tq: level.numLatents, tk: m, dim: level.latentDim, contextDim: prevD, heads: level.crossHeads, dimHead: dh });
    total += mlpFlops(batch * level.groups, level.numLatents, level.latentDim, level.latentDim);
    total +=
      level.selfAttends *
      (attentionFlops({ batch: batch * level.groups, tq: level.numLatents, tk: level.numLatents, dim: level.latentDim, contextDim: level.latentDim, heads: level.heads, dimHead: level.latentDim / level.heads }) +
        mlpFlops(batch * level.groups, level.numLatents, level.latentDim, Math.round(level.mlpRatio * level.latentDim)));
    prevG = level.groups;
    prevN = level.numLatents;
    prevD = level.latentDim;
  }
  return total;
}

/** FLOPs of a `RinNetwork` forward pass: stem, read/compute/write of every block, readout. */
export function rinNetworkFlops(net: RinNetwork, batch: number): number {
  const c = net.config;
  const n = net.numInterfaceTokens, l = net.numLatentTokens;
  const patchIn = net.stem.proj.config.inFeatures;
  let total = 2 * batch * n * patchIn * c.interfaceDim * 2; // stem + readout
  for (const block of net.blocks) {
    const dh = block.read.attn.dimHead;
    total += attentionFlops({ batch, tq: l, tk: n, dim: c.latentDim, contextDim: c.interfaceDim, heads: c.readHeads, dimHead: dh });
    if (block.read.mlp) total += mlpFlops(batch, l, c.latentDim, block.read.mlp.config.hidden);
    for (const layer of block.compute) {
      total += attentionFlops({ batch, tq: l, tk: l, dim: c.latentDim, contextDim: c.latentDim, heads: c.latentHeads, dimHead: layer.attn.dimHead });
      if (layer.mlp) total += mlpFlops(batch, l, c.latentDim, layer.mlp.config.hidden);
    }
    if (block.write) {
      total += attentionFlops({ batch, tq: n, tk: l, dim: c.interfaceDim, contextDim: c.latentDim, heads: c.readHeads, dimHead: dh });
      if (block.write.mlp) total += mlpFlops(batch, n, c.interfaceDim, block.write.mlp.config.hidden);
    }
    if (block.conv) total += batch * n * c.interfaceDim * 9 * 2;
  }
  return total;
}
