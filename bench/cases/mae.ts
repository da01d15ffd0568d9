/**
 * Masked autoencoder (@brickml/ssl `MaskedAutoencoder`) in BrickML vs PyTorch (reference:
 * bench/torch/mae.py, built on brickml_torch's PatchEmbed / TransformerBlock / LayerNorm / Linear
 * mirrors):
 *
 * - `mae-train-step`: one MAE pre-training step at CIFAR scale — 32×32×3 images, patch 4 (L = 64
 *   patches), masking ratio 0.75 (K = 16 visible patches), a ViT encoder of width 128 × 4 blocks on
 *   the visible tokens only, a decoder of width 128 × 2 blocks on all 64 tokens (mask tokens at the
 *   removed positions), per-patch MSE averaged over the removed patches, backward, AdamW update;
 *   batch 32.
 *
 * The masking is shared, not redrawn: the per-sample noise whose ascending argsort is MAE's
 * `ids_shuffle` (`random_masking` in `models_mae.py`) is an input, `in.noise` [B, L] float32, written
 * into the artifact; both sides take its stable argsort (ties by index), keep the first K of the
 * shuffle, so they remove exactly the same patches.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng, parseConfig } from '@brickml/core';
import { transformerFlops } from '@brickml/attention';
import { MaskedAutoencoder, type MaskedAutoencoderConfig, type RandomMasking } from '@brickml/ssl';
import { trainStepInstance, type BenchCase } from '../case.js';

/** A MaskedAutoencoder config with every default filled (what the PyTorch mirror reads). */
type MaeConfig = MaskedAutoencoder['config'];

const TRAIN = {
  seed: 3,
  // Batch 16: a step takes ~1 s on wasm (B32 took 1.7–2.3 s on this 2-core machine).
  batch: 16,
  net: {
    channels: 3,
    imageSize: 32,
    patchSize: 4, // 8×8 = 64 patches of 4·4·3 = 48 values
    dim: 128,
    depth: 4,
    heads: 4,
    decoderDim: 128,
    decoderDepth: 2,
    decoderHeads: 4,
    mlpRatio: 4,
    maskRatio: 0.75,
    normPixLoss: false,
  } satisfies MaskedAutoencoderConfig,
  // MAE's betas and weight decay (main_pretrain.py); a larger lr than MAE's 1.5e-4·B/256 so that
  // the first step visibly moves every weight.
  adamw: { lr: 1e-3, betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0.05 },
};

/**
 * MAE's weight-decay groups (timm `add_weight_decay`, used by `main_pretrain.py`): no decay for
 * 1-D tensors (norm scales and shifts, biases) and anything named `*.bias`; the mask token and
 * every matrix are decayed.
 */
const maeNoDecay = (name: string, p: tf.Variable) => p.rank <= 1 || name.endsWith('.bias');

/**
 * The masking that `noise` [B, L] decides, by MAE's `random_masking` rule (the rule of ssl's
 * `randomMasking`, which draws its noise itself): `ids_shuffle` is the ascending argsort of each
 * row (ties by index, as a stable sort), the first K = ⌊L(1 − ratio)⌋ positions of the shuffle are
 * kept, the others removed.
 */
function maskingFromNoise(noise: Float32Array, batch: number, length: number, ratio: number): RandomMasking {
  if (noise.length !== batch * length) throw new Error(`bench mae: noise has ${noise.length} values, expected ${batch}×${length}`);
  const keep = Math.floor(length * (1 - ratio));
  const idsKeep = new Int32Array(batch * keep);
  const idsRestore = new Int32Array(batch * length);
  const mask = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const row = noise.subarray(b * length, (b + 1) * length);
    const shuffle = Array.from({ length }, (_, i) => i).sort((i, j) => row[i] - row[j] || i - j);
    shuffle.forEach((pos, rank) => {
      idsRestore[b * length + pos] = rank;
      if (rank < keep) idsKeep[b * keep + rank] = pos;
      else mask[b * length + pos] = 1;
    });
  }
  return { keep, idsKeep, idsRestore, mask };
}

/**
 * Forward FLOPs of one MAE pass (matrix products only, a multiply-add = 2; norms, softmax, GELU and
 * the loss ignored): patch embedding of all L patches, the encoder on K tokens, the one-hot gather
 * [B, K, L]·[B, L, dim] and restore [B, L, K]·[B, K, dd] products, decoder_embed, the decoder on L
 * tokens and decoder_pred.
 */
function maeForwardFlops(c: MaeConfig, batch: number): number {
  const g = c.imageSize / c.patchSize;
  const L = g * g;
  const K = Math.floor(L * (1 - c.maskRatio));
  const patch = c.channels * c.patchSize * c.patchSize;
  return (
    2 * batch * L * patch * c.dim + // patch_embed
    2 * batch * K * L * c.dim + // gather of the visible tokens
    transformerFlops({ batch, tokens: K, dim: c.dim, heads: c.heads, depth: c.depth, mlpRatio: c.mlpRatio }) +
    2 * batch * K * c.dim * c.decoderDim + // decoder_embed
    2 * batch * L * K * c.decoderDim + // restore to L positions
    transformerFlops({ batch, tokens: L, dim: c.decoderDim, heads: c.decoderHeads, depth: c.decoderDepth, mlpRatio: c.mlpRatio }) +
    2 * batch * L * c.decoderDim * patch // decoder_pred
  );
}

function trainCase(): BenchCase {
  const config = parseConfig(MaskedAutoencoder, TRAIN.net);
  const { batch } = TRAIN;
  const g = config.imageSize / config.patchSize;
  const L = g * g;
  const K = Math.floor(L * (1 - config.maskRatio));
  return {
    id: 'mae-train-step',
    title:
      `MAE train step (B${batch}, 32×32 patch 4: ${K} of ${L} patches visible, enc ${config.depth}×${config.dim}, ` +
      `dec ${config.decoderDepth}×${config.decoderDim}, AdamW)`,
    flops: 3 * maeForwardFlops(config, batch), // forward + backward ≈ 3 × forward (AdamW not counted)
    reference: { module: 'mae' },
    meta: { config, batch, adamw: TRAIN.adamw, noDecay: 'rank<=1 or .bias', visible: K },
    // Parity outputs: `loss`, `grad.<path>` and `gradScaled.<path>` (the gradient over its own
    // max |·|) of every parameter, `updated.<path>` after the AdamW step.
    // Measured on wasm and cpu (2026-12-07), B16: loss ≤ 4.8e-7 (of 2.76); gradients ≤ 1.9e-7
    // absolute and ≤ 1.7e-6 of each tensor's largest entry (`gradScaled.*`); updated weights ≤ 3.4e-6
    // (B32: ≤ 3.0e-7, 2.3e-6, 9.5e-6). A one-patch change of one sample's masking moves the loss by
    // 2e-3. AdamW's first step moves each weight by lr·g/(|g| + eps) ≈ ±lr = 1e-3, and elements with
    // |g| ≈ eps amplify float32 gradient differences by lr/eps = 1e5 (the updated-weight errors), so
    // the absolute tolerance is 5e-5: an update of the wrong sign is 2e-3 off. The raw gradients span
    // 4e-6 (encoder q/k) to 0.2 (decoder_pred), too wide for one absolute tolerance; `gradScaled.*`
    // (each gradient divided by its own max |·|, on both sides) checks every one to 5e-5 relative.
    tolerance: 5e-5,
    async setup() {
      const rng = new Rng(TRAIN.seed);
      const mae = new MaskedAutoencoder(config, { rng });
      mae.train();
      const images = rng.normalTensor([batch, config.channels, config.imageSize, config.imageSize]); // [B, C, H, W]
      const noiseValues = rng.uniformArray(batch * L); // [B·L] the shuffle noise, float32
      const noise = tf.tensor2d(noiseValues, [batch, L]); // [B, L]
      const masking = maskingFromNoise(noiseValues, batch, L, config.maskRatio);
      const named = mae.namedParameters();
      const opt = new AdamW(named, { ...TRAIN.adamw, noDecay: maeNoDecay });
      const lossFn = () => mae.forward(images, { masking }).loss; // pred and mask are disposed by variableGrads' tidy
      return trainStepInstance({
        id: 'mae', named, opt, lossFn,
        inputs: {
          // The fixed sin-cos position tables (buffers): loaded too, so the mirror computes nothing of its own.
          ...Object.fromEntries(mae.namedBuffers().map(([path, v]) => [`buffer.${path}`, v as tf.Tensor])),
          'in.images': images,
          'in.noise': noise,
        },
        extraGradOutputs: (path, gr) => ({ [`gradScaled.${path}`]: tf.tidy(() => tf.div(gr, tf.max(tf.abs(gr)))) }), // max |·| = 1
        facts: () => ({ parameters: mae.numParameters(), visible: K, patches: L }),
        dispose: () => {
          mae.dispose();
          tf.dispose([images, noise]);
        },
      });
    },
  };
}

export function maeCases(): BenchCase[] {
  return [trainCase()];
}
