/**
 * A small model, where per-op overhead dominates: core's `MLP` brick 784-256-10 (ReLU) on a batch
 * of 128 bundled `shapes` images (32×32 renders, grey, centre 28×28 crop = 784 features; labels =
 * the shape class), softmax cross-entropy, backward, AdamW (decoupled weight decay 0.01 on every
 * parameter, as torch.optim.AdamW with one group). Reference: bench/torch/mlp.py (nn.Linear × 2,
 * F.cross_entropy, torch.optim.AdamW).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, MLP, Rng, shapes } from '@brickml/core';
import { trainStepInstance, type BenchCase } from '../case.js';

const TRAIN = {
  seed: 11,
  batch: 128,
  net: { dim: 784, hidden: 256, outDim: 10, activation: 'relu' as const },
  adamw: { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01 },
};

/** `n` shapes images as [n, 784]: mean over RGB of the 32×32 render, centre 28×28 crop. */
function shapeFeatures(n: number, seed: number): { x: Float32Array; labels: Int32Array } {
  const s = shapes({ batchSize: n, size: 32, seed, range: [0, 1] }).sample(n);
  const [, c, h, w] = s.shape; // nchw
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < 28; y++)
      for (let xx = 0; xx < 28; xx++) {
        let v = 0;
        for (let ch = 0; ch < c; ch++) v += s.images[((i * c + ch) * h + y + 2) * w + xx + 2];
        x[i * 784 + y * 28 + xx] = v / c;
      }
  return { x, labels: s.labels.shape };
}

function trainCase(): BenchCase {
  const { batch, net } = TRAIN;
  const macs = batch * (net.dim * net.hidden + net.hidden * net.outDim);
  return {
    id: 'mlp-train-step',
    title: `MLP 784-256-10 train step (B${batch}, shapes 28×28 grey, cross-entropy, AdamW)`,
    flops: 3 * 2 * macs, // forward + backward ≈ 3 × forward products (the input gradient of fc1 is not needed, so slightly less)
    reference: { module: 'mlp' },
    meta: { net, batch, adamw: TRAIN.adamw },
    // Parity: loss, every gradient and every updated weight. AdamW's first step moves each weight by
    // ≈ ±lr = 1e-3 and amplifies float32 gradient differences of elements with |g| ≈ eps; 5e-5 still
    // catches an update of the wrong sign (2e-3 off).
    tolerance: 5e-5,
    async setup() {
      const rng = new Rng(TRAIN.seed);
      const mlp = new MLP(net, { rng });
      mlp.train();
      const data = shapeFeatures(batch, TRAIN.seed);
      const x = tf.tensor2d(data.x, [batch, net.dim]); // [batch, 784]
      const labels = tf.tensor1d(data.labels, 'int32'); // [batch]
      const onehot = tf.oneHot(labels, net.outDim).toFloat(); // [batch, 10]
      const named = mlp.namedParameters();
      const opt = new AdamW(named, TRAIN.adamw);
      // mean over the batch of −log softmax(logits)[label]
      const lossFn = () => tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(mlp.forward(x))), -1))) as tf.Scalar;
      return trainStepInstance({
        id: 'mlp', named, opt, lossFn,
        inputs: { 'in.x': x, 'in.labels': labels },
        facts: () => ({ parameters: mlp.numParameters() }),
        dispose: () => {
          mlp.dispose();
          tf.dispose([x, labels, onehot]);
        },
      });
    },
  };
}

export function mlpCases(): BenchCase[] {
  return [trainCase()];
}
