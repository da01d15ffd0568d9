// Learning tests (cpu backend, fixed seeds): small models trained for a few hundred steps on the
// procedural `shapes` data set. The figures are printed and asserted with margins.
import * as tf from '@tensorflow/tfjs-core';
import '../src/index.js';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, build, patchifyImage, shapes } from '@brickml/core';
import { RinNetwork, type PerceiverIO } from '../src/index.js';
import { trainStep } from './train-util.js';

describe('PerceiverIO learns', () => {
  // Learning test (measured on the cpu backend, seed 0): see the accuracy in the assertion message.
  it('learns to classify `shapes` (circle/square/triangle, 16×16) far above chance (1/3) in 250 steps', async () => {
    const p = 4;
    const io = build<PerceiverIO>(
      {
        type: 'PerceiverIO',
        inputPosition: { type: 'FourierPositionEncoding', indexDims: [4, 4], numBands: 4 },
        inputAdapter: { type: 'MLP', dim: 3 * p * p + 18, hidden: 64, outDim: 32, init: 'xavierUniform' },
        encoder: { type: 'PerceiverEncoder', inputDim: 32, numLatents: 8, latentDim: 32, crossDimHead: 32, selfHeads: 4, selfAttendsPerBlock: 2, selfMlpRatio: 2 },
        decoder: { type: 'PerceiverDecoder', latentDim: 32, queryDim: 32, numQueries: 1, outDim: 3 },
      },
      { rng: new Rng(0) },
    );
    const steps = 250;
    const data = shapes({ size: 16, batchSize: 32, seed: 1, sizeRange: [0.5, 0.8] });
    const opt = new AdamW(io, { lr: { kind: 'warmupCosine', peakLr: 3e-3, warmupSteps: 20, totalSteps: steps }, weightDecay: 0 });
    let before = 0;
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const { images, labels } = data.next();
      const x = patchifyImage(images, p, p); // [B, 16, 48] patch tokens
      losses.push(
        await trainStep(io, opt, () =>
          tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels.shape, 3), tf.reshape(io.forward(x), [-1, 3])) as tf.Scalar),
        ),
      );
      tf.dispose([images, labels, x]);
      if (s === 2) before = tf.memory().numTensors; // after the optimizer made its slots
      if (s === 12) expect(tf.memory().numTensors).toBe(before); // no growth per step
    }
    const test = shapes({ size: 16, batchSize: 300, seed: 99, sizeRange: [0.5, 0.8] }).next();
    io.eval();
    const acc = tf.tidy(() =>
      tf.mean(tf.cast(tf.equal(tf.argMax(tf.reshape(io.forward(patchifyImage(test.images, p, p)), [-1, 3]), -1), test.labels.shape), 'float32')),
    );
    const accuracy = (await acc.data())[0];
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const msg = `accuracy ${accuracy.toFixed(3)}, loss ${mean(losses.slice(0, 10)).toFixed(3)} → ${mean(losses.slice(-20)).toFixed(3)}`;
    console.log(`PerceiverIO shapes: ${msg}`);
    expect(accuracy, msg).toBeGreaterThan(0.6);
    tf.dispose([test.images, test.labels, acc]);
    opt.dispose();
    io.dispose();
  }, 600_000); // ~75 s of CPU time uncontended (batch 32, 250 steps); generous for loaded machines
});

describe('RinNetwork learns', () => {
  // Learning test (cpu backend, seed 0): the reconstruction error is printed and asserted to fall.
  it('autoencodes `shapes` with falling reconstruction error (16×16, 80 steps)', async () => {
    const net = new RinNetwork(
      { inputSize: [16, 16], patchSize: 4, interfaceDim: 32, latentDim: 32, numLatents: 8, numBlocks: 2, computeLayers: 1, readHeads: 2, latentHeads: 2, noiseCondition: false },
      { rng: new Rng(0) },
    );
    const steps = 80;
    const data = shapes({ size: 16, batchSize: 16, seed: 2 });
    const opt = new AdamW(net, { lr: 3e-3, weightDecay: 0 });
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      const { images, labels } = data.next();
      losses.push(await trainStep(net, opt, () => tf.tidy(() => tf.mean(tf.square(tf.sub(net.forward(images).output, images))) as tf.Scalar)));
      tf.dispose([images, labels]);
    }
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const first = mean(losses.slice(0, 10)), last = mean(losses.slice(-10));
    console.log(`RIN shapes autoencoder: MSE ${first.toFixed(4)} (steps 1-10) → ${last.toFixed(4)} (steps ${steps - 9}-${steps})`);
    expect(last, `MSE ${first} → ${last}`).toBeLessThan(0.3 * first);
    opt.dispose();
    net.dispose();
  }, 600_000); // ~30 s of CPU time uncontended
});
