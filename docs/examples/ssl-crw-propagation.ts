/**
 * SSL example: a small contrastive random walk (@brickml/ssl's `ContrastiveRandomWalk`) learns
 * from unlabelled `movingSprites` clips in the page, then propagates the frame-0 sprite masks of
 * held-out videos to their later frames with `evaluateMaskPropagation`; the page draws the
 * propagated masks (`labelOverlay`) beside the ground truth and logs J and F for the CRW, for the
 * same network untrained, for raw pixels of the same windows and for copying the first mask.
 *
 * Much smaller than the package's example (16×16 frames, 6×6 windows, a 2-layer MLP encoder): a
 * step budget or a time budget, whichever runs out first (quick mode: 100 steps or 20 s; full: 300
 * steps or 60 s). wasm finishes the steps; WebGPU on a software rasteriser (SwiftShader) stops on
 * the time budget.
 *
 * Browser: the Run button on the @brickml/ssl page. Terminal: `npm run example -- ssl-crw-propagation`.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  Rng,
  Trainer,
  imageGridSync,
  linePlotSpec,
  movingSprites,
  type MovingSpritesBatch,
} from '@brickml/core';
import {
  ContrastiveRandomWalk,
  type ContrastiveRandomWalkConfig,
  channelStats,
  crwNodeFeatures,
  evaluateMaskPropagation,
  labelOverlay,
  pixelNodeFeatures,
  type MaskPropagationResult,
  type PropagationMethod,
} from '@brickml/ssl';
import { nextFrame, throwIfAborted, type ExampleContext, type ExampleMeta } from './context.js';

export const meta: ExampleMeta = {
  title: 'Contrastive random walk: mask propagation on movingSprites',
  description:
    'Trains a small CRW on unlabelled sprite videos in the page, propagates frame-0 masks over held-out videos and compares J/F with raw pixels and copying the first mask.',
};

/** The training curve: walk loss (cross-entropy of the palindrome walks) and walk accuracy, against steps. */
function lossSpec(steps: number[], loss: number[], accuracy: number[], title: string) {
  return linePlotSpec({
    series: [
      { name: 'walk loss', x: steps, y: loss },
      { name: 'walk accuracy', x: steps, y: accuracy },
    ],
    title,
    xLabel: 'step',
    yLabel: 'value',
    width: 420,
    height: 200,
  });
}

export async function run(ctx: ExampleContext): Promise<void> {
  const seed = 0;
  const maxSteps = ctx.quick ? 100 : 300;
  const budgetSeconds = ctx.quick ? 20 : 60;
  const heldOut = ctx.quick ? 4 : 12;
  const size = 16;
  const patch = 6;
  const stride = 2;
  const dataOptions = { size: size as 16, background: 'noise' as const, noiseStd: 0.1 };

  // Unlabelled training clips: 4 frames of 1–3 sprites on a static noise background.
  const train = movingSprites({ ...dataOptions, frames: 4, batchSize: 4, seed: seed + 1 });
  const probe = train.toBatch(train.fixedSplit(32, seed + 2));
  const stats = await channelStats(probe.videos); // per-channel mean/std: standardises the windows
  tf.dispose(probe);

  const config: ContrastiveRandomWalkConfig = {
    encoder: { type: 'MLP', dim: 3 * patch * patch, hidden: 128, outDim: 64 },
    encoderDim: 64,
    encoderInput: 'flat', // each 6×6 window flattened
    patchSize: patch,
    stride,
    jitter: false,
    pixelMean: stats.mean,
    pixelStd: stats.std,
  };
  const crw = new ContrastiveRandomWalk(config, { rng: new Rng(seed) });
  const untrained = new ContrastiveRandomWalk(config, { rng: new Rng(seed + 7) }); // baseline: same network, fresh weights
  const optimizer = new AdamW(crw.namedParameters(), { lr: 2e-3, weightDecay: 1e-4 });
  const trainer = new Trainer<MovingSpritesBatch>({
    model: crw,
    optimizer,
    data: train,
    steps: maxSteps,
    seed,
    progress: 'none',
    loss: (b, c) => {
      const r = crw.loss(b.videos, { rng: c.rng });
      return { loss: r.loss, metrics: { walkAccuracy: r.accuracy } };
    },
  });
  const nodes = (size / stride) ** 2;
  ctx.log(
    `CRW: ${crw.numParameters().toLocaleString()} parameters; ${size}×${size} frames cut into ${nodes} overlapping ${patch}×${patch} windows (stride ${stride}); ` +
      `up to ${maxSteps} steps of 4 clips × 4 frames or ${budgetSeconds} s on ${ctx.backend}`,
  );
  try {
    // Training, one step per loop turn so the time budget and the Stop button are checked between steps.
    const t0 = performance.now();
    const xs: number[] = [],
      losses: number[] = [],
      accs: number[] = [];
    const drawEvery = Math.max(1, Math.round(maxSteps / 20));
    while (trainer.step < maxSteps && performance.now() - t0 < budgetSeconds * 1000) {
      const batch = train.next();
      let rec;
      try {
        rec = await trainer.trainStep(batch);
      } finally {
        tf.dispose(batch);
      }
      xs.push(rec.step);
      losses.push(rec.loss);
      accs.push(rec.walkAccuracy ?? NaN);
      ctx.progress({
        label: 'train',
        step: rec.step,
        totalSteps: maxSteps,
        values: { loss: rec.loss, walkAccuracy: rec.walkAccuracy ?? NaN },
      });
      if (rec.step % drawEvery === 0)
        await ctx.plot(
          'loss',
          lossSpec(xs, losses, accs, 'CRW training: palindrome-walk loss and walk accuracy'),
        );
      throwIfAborted(ctx);
      await nextFrame();
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    if (trainer.step < maxSteps)
      ctx.log(
        `stopped at the ${budgetSeconds} s budget after ${trainer.step} of ${maxSteps} steps`,
      );
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
    const k = Math.max(1, Math.min(5, Math.floor(losses.length / 2))); // first and last k steps do not overlap
    ctx.log(
      `trained ${trainer.step} steps in ${trainSeconds.toFixed(1)} s; walk loss ${mean(losses.slice(0, k)).toFixed(3)} (first ${k}) → ${mean(losses.slice(-k)).toFixed(3)} (last ${k}), ` +
        `walk accuracy ${mean(accs.slice(0, k)).toFixed(2)} → ${mean(accs.slice(-k)).toFixed(2)}`,
    );
    await ctx.plot(
      'loss',
      lossSpec(
        xs,
        losses,
        accs,
        `CRW training: ${trainer.step} steps in ${trainSeconds.toFixed(0)} s on ${ctx.backend}`,
      ),
    );

    // Held-out 6-frame videos from a differently seeded stream: propagate the frame-0 masks.
    const held = movingSprites({
      ...dataOptions,
      frames: 6,
      batchSize: 1,
      seed: seed + 3,
    }).fixedSplit(heldOut, seed + 1000);
    const propagation = { context: 20, topk: 10, radius: 4, temperature: 0.05, keep: 2 };
    const methods: Record<string, PropagationMethod> = {
      'CRW features': { features: crwNodeFeatures(crw, { stride }) },
      'untrained CRW': { features: crwNodeFeatures(untrained, { stride }) },
      'raw pixels': {
        features: pixelNodeFeatures({
          patchSize: patch,
          stride,
          pixelMean: stats.mean,
          pixelStd: stats.std,
        }),
      },
      'copy first mask': 'copyFirst',
    };
    const results: Record<string, MaskPropagationResult> = {};
    for (const [name, method] of Object.entries(methods)) {
      throwIfAborted(ctx);
      results[name] = await evaluateMaskPropagation(held, method, propagation);
      const r = results[name];
      ctx.log(
        `${name.padEnd(16)} J ${r.J.toFixed(3)}  F ${r.F.toFixed(3)}  (${r.objects} objects in ${heldOut} held-out videos, frames 1–5)`,
      );
      await nextFrame();
    }

    // Pictures: per video, rows = ground truth, CRW, copy first mask; frames left to right.
    const [, T, , H, W] = held.videoShape;
    const S = held.maskShape[2];
    for (let v = 0; v < propagation.keep; v++) {
      const frames = held.videos.subarray(v * T * 3 * H * W, (v + 1) * T * 3 * H * W);
      const gt = new Int32Array(T * H * W);
      for (let t = 0; t < T; t++) {
        for (let s = 0; s < S; s++) {
          for (let p = 0; p < H * W; p++)
            if (held.masks[((v * T + t) * S + s) * H * W + p] > 0.5) gt[t * H * W + p] = s + 1;
        }
      }
      const rows = [
        labelOverlay(frames, gt, T, H, W),
        labelOverlay(frames, results['CRW features'].labelMaps[v], T, H, W),
        labelOverlay(frames, results['copy first mask'].labelMaps[v], T, H, W),
      ];
      const all = new Float32Array(rows.length * T * 3 * H * W);
      rows.forEach((r, i) => all.set(r, i * r.length));
      const grid = imageGridSync(
        { data: all, shape: [rows.length * T, 3, H, W] },
        { cols: T, range: [0, 1], scale: 4, pad: 2 },
      );
      await ctx.image(`propagation-${v}`, grid, {
        caption: `held-out video ${v + 1}, frames 0–${T - 1} left to right; rows: true masks, CRW propagation from frame 0, copy of the frame-0 mask`,
        displaySize: 460,
      });
    }
  } finally {
    crw.dispose();
    untrained.dispose();
    optimizer.dispose();
  }
}
