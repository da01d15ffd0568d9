/**
 * Perceiver IO encoder forward pass (no gradient), in the ImageNet configuration of Perceiver IO
 * scaled down: RGB pixels of a 32×64 image with 64-band Fourier position features concatenated
 * (deepmind's `concat_pos` + sin + cos: 2 + 2·2·64 = 258 channels, 261 with RGB), one
 * single-head cross-attend of 256 latents of width 512 (q/k/v width = input channels, as deepmind's
 * `qk_channels`), then 2 repeats of a block of 3 weight-shared 8-head latent self-attention layers
 * (6 applied), MLP ratio 1, exact GELU, LayerNorm eps 1e-5 — BrickML's `PerceiverEncoder` defaults.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';
import {
  FourierPositionEncoding,
  PerceiverEncoder,
  attentionFlops,
  mlpFlops,
  perceiverEncoderFlops,
  type PerceiverEncoderConfig,
} from '@brickml/attention';
import type { BenchCase } from '../case.js';

const batch = 4;
const grid = [32, 64]; // [H, W] → M = 2048 tokens, row-major
const channels = 3; // RGB
const numBands = 64;
const tokens = grid[0] * grid[1];
const posChannels = grid.length * (2 * numBands + 1); // 258

const encoderConfig = {
  inputDim: channels + posChannels, // 261
  numLatents: 256,
  latentDim: 512,
  crossHeads: 1,
  selfHeads: 8,
  selfAttendsPerBlock: 3,
  numBlocks: 2,
  shareWeights: true,
} satisfies PerceiverEncoderConfig;

/** Rebuilt per backend from the same seed, so every backend gets the same weights. */
function build() {
  const rng = new Rng(7);
  const encoder = new PerceiverEncoder(encoderConfig, { rng }).eval();
  // LayerNorm scales/shifts and Linear biases start at 1/0; perturb every rank-1 parameter so the
  // parity check also covers them (a dropped bias or a swapped norm would otherwise go unseen).
  for (const [name, p] of encoder.namedParameters()) {
    if (p.rank !== 1) continue;
    const scale = /norm\w*\.weight$/.test(name);
    tf.tidy(() => p.assign(rng.normalTensor(p.shape, scale ? 1 : 0, 0.1)));
  }
  const position = new FourierPositionEncoding({ indexDims: grid, numBands });
  const pixels = rng.normalTensor([batch, tokens, channels]); // [batch, tokens, 3]
  return { encoder, position, pixels };
}

// Forward FLOPs (matrix products only): the cross-attend reads M tokens of C channels with one
// C-wide head, then 6 self-attention layers of 8×64 heads; every MLP is D → D → D (ratio 1).
const { inputDim: c, numLatents: n, latentDim: d, selfHeads } = encoderConfig;
const selfLayers = encoderConfig.selfAttendsPerBlock * encoderConfig.numBlocks;
const crossFlops = attentionFlops({
  batch,
  tq: n,
  tk: tokens,
  dim: d,
  contextDim: c,
  heads: 1,
  dimHead: c,
});
const selfFlops = attentionFlops({
  batch,
  tq: n,
  tk: n,
  dim: d,
  contextDim: d,
  heads: selfHeads,
  dimHead: d / selfHeads,
});
const flops = crossFlops + selfLayers * selfFlops + (1 + selfLayers) * mlpFlops(batch, n, d, d);

export function perceiverCases(): BenchCase[] {
  return [
    {
      id: 'perceiver-encoder-fwd',
      title:
        `Perceiver IO encoder fwd (B${batch}, ${grid.join('×')} RGB + ${numBands}-band Fourier = ${encoderConfig.inputDim} ch, ` +
        `256×512 latents, 1-head cross + 2×3 shared 8-head self)`,
      flops,
      reference: { module: 'perceiver' },
      meta: {
        batch,
        grid,
        channels,
        numBands,
        ...encoderConfig,
        eps: 1e-5,
        activation: 'gelu',
        crossMlpRatio: 1,
        selfMlpRatio: 1,
      },
      async setup() {
        const { encoder, position, pixels } = build();
        const counted = perceiverEncoderFlops(encoder, batch, tokens);
        if (counted !== flops) {
          throw new Error(
            `perceiver bench: perceiverEncoderFlops ${counted} ≠ hand count ${flops}`,
          );
        }
        return {
          tensors: () => ({
            'in.pixels': pixels,
            ...Object.fromEntries(
              encoder.namedParameters().map(([name, p]) => [`param.${name}`, p as tf.Tensor]),
            ),
          }),
          outputs: async () =>
            tf.tidy(() => {
              const x = position.forward(pixels); // [batch, tokens, 261]
              const z0 = tf.broadcastTo(tf.expandDims(encoder.latents, 0), [batch, n, d]); // [batch, latents, dim]
              return {
                pos: tf.clone(position.table()), // [tokens, 258]
                cross: encoder.cross_attend.forward(z0, x), // [batch, latents, dim], after the cross-attend only
                latents: encoder.forward(x), // [batch, latents, dim]
              };
            }),
          step: async () => {
            const z = tf.tidy(() => encoder.forward(position.forward(pixels))); // [batch, latents, dim]
            await z.data();
            z.dispose();
          },
          dispose: () => {
            encoder.dispose();
            position.dispose();
            pixels.dispose();
          },
        };
      },
    },
  ];
}
