/**
 * Attention example: a Recurrent Interface Network (RIN) reading `shapes` images, with each block's
 * read-attention map — how much the latents read from each image patch — drawn over the input.
 *
 * At initialisation the read is uniform (queries and keys start near zero), so the maps say
 * nothing. The example therefore first trains the RIN briefly to name the colour of the shape in
 * the image (from the mean of its final latents; only the shape's patches carry it), then runs a
 * forward pass and draws the maps before and after, with the share of the read that lands on the
 * shape.
 *
 * Browser: the Run button on the @brickml/attention page. Terminal: `npm run example -- rin-read-attention`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, LayerNorm, Linear, Module, Rng, SHAPE_NAMES, SHAPE_PALETTE, Trainer, heatmapRgba, lossCurveSpec, shapeCoverage, shapes,
  type RgbaImage, type ShapeKind, type ShapesBatch, type ShapesSample, type StepRecord,
} from '@brickml/core';
import { RinNetwork, rinNetworkFlops } from '@brickml/attention';
import { nextFrame, throwIfAborted, type ExampleContext, type ExampleMeta } from './context.js';
import { imageFromBatch, tile, upscale } from './lib/pictures.js';

export const meta: ExampleMeta = {
  title: 'RIN read attention over shapes',
  description: 'Trains a small RinNetwork to name the colour of the shape in shapes images, then draws each block’s read-attention map over the input.',
};

/** A RIN with a classification head on the mean of its final latents. */
class RinClassifier extends Module {
  readonly rin: RinNetwork;
  readonly norm: LayerNorm;
  readonly head: Linear;

  constructor(rin: RinNetwork, classes: number, rng: Rng) {
    super();
    this.rin = rin;
    this.norm = new LayerNorm({ dim: rin.config.latentDim });
    this.head = new Linear({ inFeatures: rin.config.latentDim, outFeatures: classes }, { rng });
  }

  /** images [B, 3, H, W] → logits [B, classes] */
  forward(images: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const { latents } = this.rin.forward(images); // [B, L, D]
      return this.head.forward(this.norm.forward(tf.mean(latents, 1))); // [B, classes]
    });
  }
}

/** Share of each patch covered by the image's shape, `[gh·gw]`. */
function patchCoverage(sample: ShapesSample, i: number, side: number, patch: number): Float32Array {
  const l = sample.labels;
  const cov = shapeCoverage(l.shape[i] as ShapeKind, l.x[i], l.y[i], l.size[i], side, 4);
  const g = side / patch;
  const out = new Float32Array(g * g);
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out[Math.floor(y / patch) * g + Math.floor(x / patch)] += cov[y * side + x];
  for (let k = 0; k < out.length; k++) out[k] /= patch * patch;
  return out;
}

/** Read maps of every block for a batch of host images: per block `[B·gh·gw]`. */
async function readMaps(rin: RinNetwork, sample: ShapesSample): Promise<Float32Array[]> {
  const x = tf.tensor4d(sample.images, sample.shape);
  const out = rin.forward(x, { returnReadMaps: true });
  const maps = await Promise.all(out.readMaps!.map(async (m) => (await m.data()) as Float32Array));
  tf.dispose([x, out.output, out.latents, out.interface, ...out.readMaps!]);
  return maps;
}

/** Share of the read attention on the shape: Σ weight·coverage / Σ weight. */
function shareOnShape(values: ArrayLike<number>, cover: Float32Array): number {
  let on = 0, total = 0;
  for (let k = 0; k < cover.length; k++) {
    on += values[k] * cover[k];
    total += values[k];
  }
  return on / total;
}

export async function run(ctx: ExampleContext): Promise<void> {
  const side = ctx.quick ? 16 : 32;
  const patch = 4;
  const grid = side / patch;
  // Quick mode uses one batch size everywhere (WebGPU compiles a program per shape).
  const count = 4;
  const steps = ctx.quick ? 3 : 150;
  const rng = new Rng(0);
  const data = shapes({ batchSize: ctx.quick ? count : 16, size: side as 16 | 32, seed: 1 });
  const shown = data.fixedSplit(count, 3);
  const held = data.fixedSplit(ctx.quick ? count : 200, 4);
  const rin = new RinNetwork(
    {
      inputSize: [side, side],
      patchSize: patch,
      numLatents: 8,
      numBlocks: 2,
      computeLayers: 1,
      latentDim: 64,
      interfaceDim: 64,
      readHeads: 4,
      latentHeads: 4,
      noiseCondition: false,
    },
    { rng },
  );
  const classes = SHAPE_PALETTE.length;
  const model = new RinClassifier(rin, classes, rng);
  const optimizer = new AdamW(model, { lr: 3e-3, weightDecay: 0.01 });
  try {
    ctx.log(
      `RinNetwork: ${rin.numInterfaceTokens} interface tokens (${grid}×${grid} patches of ${patch}×${patch}), ` +
        `${rin.numLatentTokens} latents, ${rin.blocks.length} blocks, ${model.numParameters()} parameters with the head; ` +
        `${(rinNetworkFlops(rin, 1) / 1e6).toFixed(2)} MFLOP per image; on ${ctx.backend}`,
    );
    const before = await readMaps(rin, shown);
    const history: StepRecord[] = [];
    const trainer = new Trainer<ShapesBatch>({
      model,
      optimizer,
      data,
      steps,
      seed: 0,
      clipGradNorm: 1,
      progress: (p) => ctx.progress({ label: 'train', step: p.step, totalSteps: p.totalSteps, values: { loss: p.values.loss } }),
      loss: ({ images, labels }) =>
        tf.losses.softmaxCrossEntropy(tf.oneHot(labels.colour, classes), model.forward(images)) as tf.Scalar,
      onStep: async (r) => {
        history.push(r);
        throwIfAborted(ctx);
        if (r.step % 50 === 0 || r.step === steps) {
          await ctx.plot('loss', lossCurveSpec(history, { title: 'Colour classification loss', smoothing: 0.9, width: 320, height: 200 }));
        }
        await nextFrame();
      },
    });
    await trainer.fit();

    // Held-out accuracy of the classifier.
    const logits = tf.tidy(() => tf.argMax(model.forward(tf.tensor4d(held.images, held.shape)), 1));
    const pred = await logits.data();
    logits.dispose();
    let right = 0;
    for (let i = 0; i < held.n; i++) right += pred[i] === held.labels.colour[i] ? 1 : 0;
    ctx.log(`after ${steps} steps: loss ${history[history.length - 1].loss.toFixed(3)}, held-out accuracy ${((100 * right) / held.n).toFixed(1)}% (${held.n} images, ${classes} colours; chance ${(100 / classes).toFixed(1)}%)`);

    const after = await readMaps(rin, shown);
    const scale = Math.max(1, Math.round(96 / side));
    const rows: RgbaImage[][] = [];
    let areaSum = 0, beforeSum = 0, afterSum = [0, 0];
    for (let i = 0; i < count; i++) {
      const input = upscale(imageFromBatch(shown.images, i, side), scale);
      const cover = patchCoverage(shown, i, side, patch);
      const area = cover.reduce((a, b) => a + b, 0) / cover.length;
      const slice = (m: Float32Array) => m.subarray(i * grid * grid, (i + 1) * grid * grid);
      const draw = (m: Float32Array) => heatmapRgba(slice(m), grid, grid, { overlay: input, alpha: 0.7, colormap: 'inferno', min: 0 });
      rows.push([input, draw(before[0]), draw(after[0]), draw(after[1])]);
      const b0 = shareOnShape(slice(before[0]), cover);
      const a = after.map((m) => shareOnShape(slice(m), cover));
      areaSum += area;
      beforeSum += b0;
      afterSum = afterSum.map((s, k) => s + a[k]);
      ctx.log(
        `image ${i} (${SHAPE_PALETTE[shown.labels.colour[i]].name} ${SHAPE_NAMES[shown.labels.shape[i]]}, ${(100 * area).toFixed(1)}% of the patches' area): ` +
          `read on the shape — block 0 at init ${(100 * b0).toFixed(1)}%, trained: block 0 ${(100 * a[0]).toFixed(1)}%, block 1 ${(100 * a[1]).toFixed(1)}%`,
      );
    }
    ctx.log(
      `mean over the ${count} images: shape area ${((100 * areaSum) / count).toFixed(1)}%, read on the shape at init ${((100 * beforeSum) / count).toFixed(1)}%, ` +
        `trained block 0 ${((100 * afterSum[0]) / count).toFixed(1)}%, block 1 ${((100 * afterSum[1]) / count).toFixed(1)}%`,
    );
    await ctx.image('read-attention', tile(rows, 4), {
      caption: 'Each row: input; read attention of block 0 at initialisation (uniform); block 0 and block 1 after training. Summed over heads and latents, bright = read more.',
      displaySize: 440,
    });
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
