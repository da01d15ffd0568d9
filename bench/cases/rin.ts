/**
 * RIN (Recurrent Interface Networks) in BrickML vs PyTorch (reference: bench/torch/rin.py, the
 * network mirrored in bench/torch/rin_model.py):
 *
 * - `rin-train-step`: one training step of a `RinNetwork` at CIFAR-10 scale — 32×32×3 images,
 *   patch 2 (256 interface tokens of width 256), 128 latents of width 512 plus the noise-level
 *   token, 4 blocks × (read, 2 compute layers, write), batch 4: forward, MSE against a fixed
 *   target, backward, AdamW update. (Batch 8 does not fit the wasm backend's 4 GiB heap: see TRAIN.)
 * - `rin-ddim-50`: 50 deterministic DDIM steps (η = 0) of the flagship class-conditional RIN
 *   (the weights shipped in packages/diffusion/assets/flagship when that model is a RIN, else the
 *   flagship RIN recipe with seeded weights), 16 samples with
 *   classifier-free guidance w = 3 (the network runs on the doubled batch of 32 each step).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, Rng, load, noDecayForBiasAndNorm, parseConfig } from '@brickml/core';
import { RinNetwork, attentionFlops, mlpFlops, rinNetworkFlops, type RinNetworkConfig } from '@brickml/attention';
import {
  GaussianDiffusion, ddimSample, shapesDiffusionConfig, type GaussianDiffusionConfig, type SampleOptions,
} from '@brickml/diffusion';
import { trainStepInstance, type BenchCase } from '../case.js';

/** A RinNetwork config with every default filled (what the PyTorch mirror reads). */
type RinConfig = RinNetwork['config'];

/**
 * Forward FLOPs of a RinNetwork on images (matrix products only, a multiply-add = 2; norms,
 * softmax and activations ignored): what @brickml/attention's `rinNetworkFlops` counts, plus the
 * small noise-level MLP it leaves out. Computed from the config, so listing the cases builds nothing.
 */
function rinForwardFlops(c: RinConfig, batch: number): number {
  const [ph, pw] = typeof c.patchSize === 'number' ? [c.patchSize, c.patchSize] : c.patchSize;
  const [h, w] = c.inputSize;
  const n = (h / ph) * (w / pw); // interface tokens
  const l = c.numLatents + (c.noiseCondition ? 1 : 0) + (c.numClasses > 0 ? 1 : 0); // latent tokens
  const D = c.latentDim, C = c.interfaceDim;
  const rwDimHead = c.rwDimHead ?? Math.max(1, Math.floor(Math.min(C, D) / c.readHeads));
  const latentHidden = Math.round(c.latentMlpRatio * D);
  const ifaceHidden = Math.round(c.interfaceMlpRatio * C);
  const layers = typeof c.computeLayers === 'number' ? Array<number>(c.numBlocks).fill(c.computeLayers) : c.computeLayers;
  let total = 2 * batch * n * (c.channels * ph * pw) * C * 2; // stem + readout
  for (const k of layers) {
    total += attentionFlops({ batch, tq: l, tk: n, dim: D, contextDim: C, heads: c.readHeads, dimHead: rwDimHead });
    if (c.latentMlpRatio > 0) total += (1 + k) * mlpFlops(batch, l, D, latentHidden); // read + compute MLPs
    total += k * attentionFlops({ batch, tq: l, tk: l, dim: D, contextDim: D, heads: c.latentHeads, dimHead: D / c.latentHeads });
    if (k === 0 && c.skipEmptyWrite) continue;
    total += attentionFlops({ batch, tq: n, tk: l, dim: C, contextDim: D, heads: c.readHeads, dimHead: rwDimHead });
    if (c.interfaceMlpRatio > 0) total += mlpFlops(batch, n, C, ifaceHidden);
    if (c.writeDepthwiseConv) total += batch * n * C * 9 * 2;
  }
  return total + noiseMlpFlops(c, batch);
}

/** The noise-level MLP (sinusoid → Linear → SiLU → Linear, one token per example). */
function noiseMlpFlops(c: RinConfig, batch: number): number {
  const d = c.noiseEmbedDim ?? Math.max(2, 2 * Math.floor(c.latentDim / 8));
  return c.noiseCondition ? 2 * batch * (d * c.latentDim + c.latentDim * c.latentDim) : 0;
}

/** Throws unless the analytic count agrees with the library's count for the built network. */
function checkFlops(net: RinNetwork, batch: number): void {
  const ours = rinForwardFlops(net.config, batch) - noiseMlpFlops(net.config, batch);
  const lib = rinNetworkFlops(net, batch);
  if (ours !== lib) throw new Error(`bench rin: FLOP count ${ours} disagrees with rinNetworkFlops ${lib}`);
}

// ---- case 1: one training step -------------------------------------------------------------

const TRAIN = {
  seed: 1,
  // Batch 4, not 8: on wasm a batch-8 step aborts (out of memory) once the 4 GiB wasm heap is full.
  // The forward alone keeps ~2.3 GB for the backward pass, because tfjs saves tensors for the
  // gradient with `clone` and wasm's Identity kernel copies the data (the cpu backend shares it);
  // batch 4 peaks at ~3.4 GB of heap.
  batch: 4,
  net: {
    channels: 3,
    inputSize: [32, 32],
    patchSize: 2, // 16×16 = 256 interface tokens
    numLatents: 128,
    interfaceDim: 256,
    latentDim: 512,
    numBlocks: 4,
    computeLayers: 2,
  } satisfies RinNetworkConfig,
  adamw: { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 1e-2 },
};

/**
 * `fused: false` is the ablation of AdamW's fused update (one kernel per parameter on wasm/cpu,
 * three dispatches on webgpu): the same step with the op-by-op update, timed against the same
 * PyTorch row (its numbers equal the fused case's within float32, tested in core).
 */
function trainCase(fused = true): BenchCase {
  const config = parseConfig(RinNetwork, TRAIN.net);
  const { batch } = TRAIN;
  return {
    id: fused ? 'rin-train-step' : 'rin-train-step-adamw-ops',
    title: `RIN train step (B${batch}, 256 tok × 256, 129 latents × 512, 4×(read, 2 compute, write), AdamW${fused ? '' : ' op-by-op'})`,
    flops: 3 * rinForwardFlops(config, batch), // forward + backward ≈ 3 × forward (AdamW's ~0.5 GFLOP not counted)
    reference: fused ? { module: 'rin' } : { sameAs: 'rin-train-step', why: 'the same step with the op-by-op AdamW update' },
    meta: { case: 'train', config, batch, adamw: TRAIN.adamw, noDecay: 'noDecayForBiasAndNorm' },
    // Tighter than the default 1e-3, which would check nothing here: the gradients are 1e-7…1e-4
    // (the MSE averages 12288 outputs), and AdamW's first step moves every weight by
    // lr·g/(|g| + eps) ≤ lr = 1e-3. Observed on wasm: loss 2e-6, updated ≤ 7e-6 (elements with
    // |g| ≈ eps, where the update amplifies float32 gradient differences by lr/eps = 1e5),
    // gradients ≤ 3e-6 of each tensor's largest entry.
    tolerance: 1e-4,
    async setup() {
      const rng = new Rng(TRAIN.seed);
      const net = new RinNetwork(config, { rng });
      net.train();
      checkFlops(net, batch);
      const [h, w] = config.inputSize;
      const x = rng.normalTensor([batch, config.channels, h, w]); // [B, C, H, W] network input
      const target = rng.normalTensor([batch, config.channels, h, w]); // [B, C, H, W] fixed target
      const noiseLevel = rng.uniformTensor([batch], 0.02, 0.98); // [B] γ
      const named = net.namedParameters();
      const vars = named.map(([, v]) => v);
      const opt = new AdamW(named, { ...TRAIN.adamw, noDecay: noDecayForBiasAndNorm, fused });

      const lossFn = () => {
        const out = net.forward(x, { noiseLevel }).output; // [B, C, H, W]
        return tf.mean(tf.square(tf.sub(out, target))) as tf.Scalar;
      };
      // One forward + backward without an update: the first pass grows the wasm heap (to ~3.4 GB)
      // and runs ~3× slower than later ones, which would push the parity step past --slow-limit.
      const warm = tf.variableGrads(lossFn, vars);
      tf.dispose([warm.value, ...Object.values(warm.grads)]);

      return trainStepInstance({
        id: 'rin', named, opt, lossFn,
        inputs: { 'in.x': x, 'in.target': target, 'in.noiseLevel': noiseLevel },
        facts: () => ({ parameters: net.numParameters() }),
        dispose: () => {
          net.dispose();
          tf.dispose([x, target, noiseLevel]);
        },
      });
    },
  };
}

// ---- case 2: DDIM sampling of the flagship -------------------------------------------------

const DDIM = { seed: 2, n: 16, steps: 50, guidance: 3, eta: 0, intermediateStep: 25 };
const flagshipDir = () => join(process.cwd(), 'packages/diffusion/assets/flagship');

function ddimCase(): BenchCase {
  const dir = flagshipDir();
  const shippedConfig: GaussianDiffusionConfig | null =
    existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'config.json')) ? JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) : null;
  // The shipped flagship is a conv U-Net now; its RIN recipe is timed with seeded weights then.
  const shipped = shippedConfig !== null && (shippedConfig.denoiser as { type?: string }).type === 'RinNetwork';
  const raw: GaussianDiffusionConfig = shipped ? shippedConfig : shapesDiffusionConfig();
  const { denoiser: _net, ...diffusion } = parseConfig(GaussianDiffusion, raw);
  const denoiser = parseConfig(RinNetwork, raw.denoiser);
  const guided = DDIM.guidance !== 0;
  const perStep = rinForwardFlops(denoiser, (guided ? 2 : 1) * DDIM.n);
  return {
    id: 'rin-ddim-50',
    title: `RIN DDIM ${DDIM.steps} steps (flagship ${shipped ? 'shipped' : 'seeded'} weights, ${DDIM.n} samples 16×16, guidance w=${DDIM.guidance})`,
    flops: DDIM.steps * perStep, // one network pass on 2n per step (conditional + null class)
    reference: { module: 'rin' },
    meta: { case: 'ddim', weights: shipped ? 'shipped' : 'seeded', diffusion, denoiser, ...DDIM },
    async setup() {
      const model = shipped
        ? await load<GaussianDiffusion>(dir)
        : new GaussianDiffusion(raw, { rng: new Rng(DDIM.seed) });
      model.eval();
      if (!(model.denoiser instanceof RinNetwork)) throw new Error('bench rin-ddim-50: the flagship denoiser is not a RinNetwork');
      checkFlops(model.denoiser, (guided ? 2 : 1) * DDIM.n);
      const rng = new Rng(DDIM.seed);
      const noise = rng.normalTensor(model.sampleShape(DDIM.n)); // [n, C, H, W] x_1
      // Class per sample, the null class (id = numClasses) included.
      const labels = Array.from({ length: DDIM.n }, () => rng.int(0, model.numClasses + 1));
      const classes = tf.tensor1d(labels, 'int32'); // [n]
      const sample = (onStep?: SampleOptions['onStep']) =>
        ddimSample(model, { noise, classes: labels, steps: DDIM.steps, guidance: DDIM.guidance, eta: DDIM.eta, onStep });

      return {
        tensors: () => ({
          ...Object.fromEntries(model.denoiser.namedParameters().map(([path, v]) => [`param.${path}`, v as tf.Tensor])),
          'in.noise': noise,
          'in.classes': classes,
        }),
        outputs: async () => {
          let kept: tf.Tensor | null = null;
          const { samples } = await sample(({ step, x0 }) => {
            if (step === DDIM.intermediateStep) kept = tf.clone(x0); // x̂0 [n, C, H, W], data range
          });
          return { samples, [`x0.step${DDIM.intermediateStep}`]: kept! };
        },
        step: async () => {
          const { samples } = await sample();
          await samples.data();
          samples.dispose();
        },
        dispose: () => {
          model.dispose();
          tf.dispose([noise, classes]);
        },
      };
    },
  };
}

export function rinCases(): BenchCase[] {
  return [trainCase(), trainCase(false), ddimCase()];
}
