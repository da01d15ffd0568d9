/**
 * Diffusion example: a small class-conditional RIN diffusion model (v-prediction, sigmoid
 * schedule, the `shapes` recipe of @brickml/diffusion) trained for about a minute on 16×16 `shapes`
 * images, then sampled with DDIM and classifier-free guidance: one row per class (circle, square,
 * triangle), the denoising trajectory of one sample, and the RIN's read attention while sampling.
 *
 * Browser: the Run button on the @brickml/diffusion page. Terminal: `npm run example -- rin-diffusion-shapes`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, SHAPE_NAMES, imageGridPng, lossCurveSpec, type StepRecord } from '@brickml/core';
import {
  GaussianDiffusion, classGridPng, diffusionTrainer, readMapsPng, sampleClassGrid, shapesDiffusionConfig,
  shapesRinConfig, shapesTrainingData, trainWithBudget, trajectoryPng,
} from '@brickml/diffusion';
import { nextFrame, throwIfAborted, type ExampleContext, type ExampleMeta } from './context.js';

export const meta: ExampleMeta = {
  title: 'RIN diffusion on shapes in a minute',
  description: 'Trains a class-conditional RIN diffusion model on 16×16 shapes for about a minute, then samples each class with DDIM.',
};

export async function run(ctx: ExampleContext): Promise<void> {
  const size = 16;
  const seconds = ctx.quick ? Infinity : 60;
  const maxSteps = ctx.quick ? 2 : 5000;
  const sampleSteps = ctx.quick ? 2 : 25;
  const perClass = ctx.quick ? 1 : 6;
  // The package's shapes RIN, slimmed so that a minute buys a few hundred steps on wasm.
  const denoiser = ctx.quick
    ? { ...shapesRinConfig({ size }), numLatents: 4, latentDim: 32, interfaceDim: 16, numBlocks: 1 }
    : { ...shapesRinConfig({ size }), numLatents: 8, latentDim: 64, interfaceDim: 32 };
  // Quick mode: a training batch of 6 = the guided sampling batch (3 classes × conditional and
  // unconditional), so sampling reuses the programs that training compiled (WebGPU compiles a
  // program per shape, which dominates a short run on a software adapter).
  const batchSize = ctx.quick ? 6 : 16;
  const model = new GaussianDiffusion(shapesDiffusionConfig({ size, denoiser }), { rng: new Rng(0) });
  const { data, toData } = shapesTrainingData(size, batchSize, 0);

  // Warm-up then cosine decay over a horizon set from the measured speed, so the decay ends when
  // the time budget does, whatever the backend.
  const warmup = ctx.quick ? 1 : 100;
  const peak = 3e-3;
  let horizon = maxSteps;
  const schedule = (step: number) =>
    step < warmup ? (peak * (step + 1)) / warmup : 0.5 * peak * (1 + Math.cos((Math.PI * Math.min(1, (step - warmup) / Math.max(1, horizon - warmup)))));
  const parts = diffusionTrainer({ model, data, toData, steps: maxSteps, schedule, seed: 0 });
  const history: StepRecord[] = [];
  try {
    ctx.log(`GaussianDiffusion (v-prediction, sigmoid schedule) around a RinNetwork: ${model.numParameters()} parameters; batch ${batchSize} of ${size}×${size} shapes; on ${ctx.backend}`);
    const real = data.fixedSplit(3 * perClass, 9);
    const realImages = tf.tensor4d(real.images, real.shape); // [n, 3, 16, 16]
    try {
      await ctx.image('data', await imageGridPng(realImages, { cols: perClass, scale: 4, pad: 2 }), { caption: 'Training images (shapes)' });
    } finally {
      realImages.dispose();
    }
    const t0 = performance.now();
    let lastPlot = 0;
    const result = await trainWithBudget(parts.trainer, parts.batches, {
      steps: maxSteps,
      seconds,
      progress: (p) => ctx.progress({ label: 'train', step: p.step, totalSteps: horizon, values: { loss: p.values.loss } }),
      onStep: async (r) => {
        history.push(r);
        throwIfAborted(ctx);
        const elapsed = (performance.now() - t0) / 1000;
        if (r.step === 20 && Number.isFinite(seconds)) horizon = Math.max(warmup + 1, Math.floor((r.step / elapsed) * seconds));
        if (performance.now() - lastPlot > 5000 || r.step === maxSteps) {
          lastPlot = performance.now();
          await ctx.plot('loss', lossCurveSpec(history, { title: 'Diffusion loss (v-prediction)', smoothing: 0.95, logY: true, width: 320, height: 200 }));
        }
        await nextFrame();
      },
    });
    await ctx.plot('loss', lossCurveSpec(history, { title: 'Diffusion loss (v-prediction)', smoothing: 0.95, logY: true, width: 320, height: 200 }));
    const tail = history.slice(-Math.min(50, history.length));
    const meanLoss = tail.reduce((s, h) => s + h.loss, 0) / tail.length;
    ctx.log(`trained ${result.steps} steps in ${result.seconds.toFixed(1)} s (${(result.steps / result.seconds).toFixed(1)} steps/s, stopped by ${result.stoppedBy}); mean loss of the last ${tail.length} steps ${meanLoss.toFixed(4)}`);

    // Sample with the EMA weights: one row per class, guidance w = 3.
    ctx.progress({ label: 'sample', step: 0, totalSteps: sampleSteps });
    const sampled = await parts.ema.withAveraged(model, () =>
      sampleClassGrid(model, {
        perClass,
        steps: sampleSteps,
        guidance: 3,
        seed: 1,
        trajectory: true,
        readMaps: true,
        onStep: (s) => ctx.progress({ label: 'sample', step: s.step, totalSteps: s.totalSteps }),
      }),
    );
    try {
      ctx.log(`sampled ${sampled.samples.shape[0]} images with DDIM (${sampled.steps} steps, guidance 3) in ${(sampled.ms / 1000).toFixed(1)} s; rows: ${SHAPE_NAMES.join(', ')}`);
      await ctx.image('samples', await classGridPng(sampled.samples, perClass, { scale: 4 }), {
        caption: `Samples after ${result.steps} training steps, one row per class: ${SHAPE_NAMES.join(', ')}.`,
      });
      if (sampled.trajectory) {
        await ctx.image('trajectory', trajectoryPng(sampled.trajectory, { maxSteps: 8, scale: 4 }), {
          caption: 'Denoising one sample, t = 1 → 0: the noisy state x_t (top) and the model’s estimate of the clean image (bottom).',
        });
      }
      if (sampled.readMaps && sampled.readMaps.maps.length > 0) {
        await ctx.image('read-maps', await readMapsPng(sampled.readMaps, sampled.samples, { indices: Array.from({ length: Math.min(3, sampled.samples.shape[0]) }, (_, i) => i * perClass), scale: 6 }), {
          caption: 'What the RIN reads while sampling (middle step): each block’s read attention over the final sample.',
        });
      }
    } finally {
      sampled.samples.dispose();
    }
  } finally {
    parts.dispose();
    model.dispose();
  }
}
