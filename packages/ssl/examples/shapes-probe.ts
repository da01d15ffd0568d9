/**
 * Shared by the MAE and I-JEPA examples (not an example itself): the evaluation of an image
 * encoder on the known factors of 16×16 `shapes` — linear probe and k-NN per factor (shape,
 * colour, size) on 1,000 train / 500 held-out images, plus two collapse diagnostics of the
 * held-out features — and the supervised baseline (the same ViT encoder trained with cross-entropy
 * on the shape label for the same steps and batch).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, Linear, Module, Rng, SHAPE_PALETTE, Trainer, classificationReport, extractFeatures, knnClassify, probeFeatures, shapes, type ShapesBatch,
} from '@brickml/core';
import { ViTEncoder, embeddingStd, participationRatio, type ViTEncoderConfig } from '../src/index.js';

/** Probe and k-NN accuracy of one factor. */
export interface FactorScores {
  probe: number;
  knn: number;
}

/** One encoder's evaluation on `shapes`. */
export interface EncoderReport {
  shape: FactorScores;
  colour: FactorScores;
  size: FactorScores;
  /** {@link embeddingStd} of the held-out features (0 = collapsed, 1/√D = spread over the sphere). */
  featureStd: number;
  /** {@link participationRatio} of the held-out features (effective number of dimensions). */
  participationRatio: number;
}

/** The labelled splits: images `[n, 3, 16, 16]` and, per factor, int32 class labels (size: 3 equal-width bins of [0.35, 0.75]). */
export interface ShapesProbeSplits {
  train: tf.Tensor;
  test: tf.Tensor;
  factors: Record<'shape' | 'colour' | 'size', [tf.Tensor, tf.Tensor]>;
  dispose(): void;
}

/** 1,000 train / 500 held-out `shapes` images (a generator seeded apart from the training data). */
export function shapesProbeSplits(seed: number): ShapesProbeSplits {
  const probeData = shapes({ size: 16, batchSize: 1, seed: seed + 2 });
  const trainSet = probeData.toBatch(probeData.fixedSplit(1000, seed + 200));
  const testSet = probeData.toBatch(probeData.fixedSplit(500, seed + 300));
  const sizeClass = (t: tf.Tensor) => tf.tidy(() => tf.cast(tf.clipByValue(tf.floor(tf.div(tf.sub(t, 0.35), 0.4 / 3)), 0, 2), 'int32'));
  const factors = {
    shape: [trainSet.labels.shape, testSet.labels.shape] as [tf.Tensor, tf.Tensor],
    colour: [trainSet.labels.colour, testSet.labels.colour] as [tf.Tensor, tf.Tensor],
    size: [sizeClass(trainSet.labels.size), sizeClass(testSet.labels.size)] as [tf.Tensor, tf.Tensor],
  };
  return { train: trainSet.images, test: testSet.images, factors, dispose: () => tf.dispose([trainSet, testSet, ...factors.size]) };
}

/** Probe and k-NN per factor of `encode` (images → `[n, D]`; features computed once), and the diagnostics of its held-out features. */
export async function evaluateOnShapes(name: string, encode: (x: tf.Tensor) => tf.Tensor, splits: ShapesProbeSplits): Promise<EncoderReport> {
  const trainF = await extractFeatures(encode, splits.train);
  const testF = await extractFeatures(encode, splits.test);
  const scores = {} as Record<'shape' | 'colour' | 'size', FactorScores>;
  for (const [factor, [ytr, yte]] of Object.entries(splits.factors) as Array<['shape' | 'colour' | 'size', [tf.Tensor, tf.Tensor]]>) {
    const [trainY, testY] = [await ytr.data(), await yte.data()];
    const k = factor === 'colour' ? SHAPE_PALETTE.length : 3;
    const probe = await probeFeatures(trainF, trainY, testF, testY, k);
    const knn = classificationReport(testY, await knnClassify(trainF, trainY, testF, k), k);
    scores[factor] = { probe: probe.accuracy, knn: knn.accuracy };
  }
  const features = tf.tensor2d(testF.data, [testF.n, testF.dim]);
  const report = { ...scores, featureStd: await embeddingStd(features), participationRatio: await participationRatio(features) };
  features.dispose();
  console.log(
    `${name.padEnd(14)} ${(['shape', 'colour', 'size'] as const).map((f) => `${f} probe ${report[f].probe.toFixed(3)} k-NN ${report[f].knn.toFixed(3)}`).join(' · ')}` +
      ` · std ${report.featureStd.toFixed(3)} · PR ${report.participationRatio.toFixed(1)}`,
  );
  return report;
}

/** Raw pixels as features: images `[n, 3, 16, 16]` → `[n, 768]`. */
export const rawPixels = (x: tf.Tensor): tf.Tensor => tf.reshape(x, [x.shape[0]!, -1]);

/** A ViT encoder with a Linear classifier on its mean-pooled tokens, trained with cross-entropy on the shape label. */
class SupervisedViT extends Module {
  readonly encoder: ViTEncoder;
  readonly fc: Linear;
  constructor(config: ViTEncoderConfig, rng: Rng) {
    super();
    this.encoder = new ViTEncoder(config, { rng });
    this.fc = new Linear({ inFeatures: config.dim, outFeatures: 3 }, { rng });
  }
  loss(images: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(labels as tf.Tensor1D, 3), this.fc.forward(tf.mean(this.encoder.forward(images), 1))) as tf.Scalar);
  }
}

/**
 * The supervised baseline: the same ViT encoder trained on the shape label (cross-entropy through a
 * Linear classifier on its mean-pooled tokens) for `steps` batches of `batchSize` `shapes` images,
 * AdamW at `lr`. Returns the encoder (the classifier is dropped) and its training time.
 */
export async function trainSupervisedViT(config: ViTEncoderConfig, o: { steps: number; batchSize: number; lr: number; seed: number }): Promise<{ encoder: ViTEncoder; trainSeconds: number; finalLoss: number | null }> {
  const model = new SupervisedViT(config, new Rng(o.seed + 7));
  const optimizer = new AdamW(model.namedParameters(), { lr: o.lr, weightDecay: 0.05 });
  const data = shapes({ size: 16, batchSize: o.batchSize, seed: o.seed + 1 });
  const trainer = new Trainer<ShapesBatch>({ model, optimizer, data, steps: o.steps, seed: o.seed, label: 'supervised', loss: (b) => model.loss(b.images, b.labels.shape) });
  const t0 = performance.now();
  await trainer.fit();
  const tail = trainer.history.slice(-20);
  optimizer.dispose();
  model.fc.dispose();
  return { encoder: model.encoder, trainSeconds: Math.round((performance.now() - t0) / 1000), finalLoss: tail.length ? tail.reduce((a, r) => a + r.loss, 0) / tail.length : null };
}
