/**
 * MoE example: the same tokens through a dropless (MegaBlocks-style, block-sparse) MoE layer and a
 * capacity-factor (Switch/GShard-style) MoE layer with identical weights. Draws the load on each
 * expert, what each layer kept and dropped, and how the share of dropped tokens and the rows
 * computed change with the capacity factor.
 *
 * Browser: the Run button on the @brickml/moe page. Terminal: `npm run example -- moe-dropless-vs-capacity`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type VegaLiteSpec } from '@brickml/core';
import { MoE, readMoEStats, type MoEConfig, type MoEInfo, type MoEOutput, type MoEStats } from '@brickml/moe';
import { throwIfAborted, type ExampleContext, type ExampleMeta } from './context.js';

export const meta: ExampleMeta = {
  title: 'Dropless MoE versus a capacity factor',
  description: 'Routes the same tokens through a dropless and a capacity-factor MoE layer; plots expert load, tokens dropped and rows computed.',
};

const VL = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * Tokens whose mean is not zero, as in real networks: every token shares a component `shift·μ`,
 * so the (random) router prefers some experts and the load is uneven.
 */
function skewedTokens(rng: Rng, tokens: number, dim: number, shift: number): tf.Tensor2D {
  const mu = rng.normalArray(dim);
  const x = rng.normalArray(tokens * dim);
  for (let t = 0; t < tokens; t++) for (let d = 0; d < dim; d++) x[t * dim + d] += shift * mu[d];
  return tf.tensor2d(x, [tokens, dim]);
}

async function runLayer(config: MoEConfig, x: tf.Tensor2D): Promise<{ stats: MoEStats; info: MoEInfo; y: Float32Array }> {
  const moe = new MoE(config, { rng: new Rng(7) }); // same seed: same router and experts for every kind
  try {
    moe.eval();
    const out: MoEOutput = moe.forward(x);
    const stats = await readMoEStats(out);
    const y = (await out.y.data()) as Float32Array;
    const info = { ...out.info };
    tf.dispose(out as unknown as tf.TensorContainer);
    return { stats, info, y };
  } finally {
    moe.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Stacked bars of kept / dropped copies per expert, with the capacity as a rule. */
function loadPanel(title: string, stats: MoEStats, capacity?: number): VegaLiteSpec {
  const values = stats.tokensPerExpert.flatMap((routed, e) => [
    { expert: `${e}`, status: 'kept', copies: stats.keptPerExpert[e] },
    { expert: `${e}`, status: 'dropped', copies: routed - stats.keptPerExpert[e] },
  ]);
  const bars = {
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'expert', type: 'ordinal', title: 'expert', axis: { labelAngle: 0 } },
      y: { field: 'copies', type: 'quantitative', title: 'token copies', stack: 'zero' },
      color: {
        field: 'status',
        type: 'nominal',
        scale: { domain: ['kept', 'dropped'], range: ['#4c78a8', '#e45756'] },
        title: null,
      },
      order: { field: 'status', sort: 'descending' },
    },
  };
  const layer: unknown[] = [bars];
  if (capacity !== undefined) {
    layer.push({
      data: { values: [{ capacity }] },
      mark: { type: 'rule', strokeDash: [4, 3], color: 'black' },
      encoding: { y: { field: 'capacity', type: 'quantitative' } },
    });
  }
  return { title, width: 220, height: 180, layer };
}

export async function run(ctx: ExampleContext): Promise<void> {
  const tokens = ctx.quick ? 64 : 1024;
  const dim = ctx.quick ? 16 : 32;
  const numExperts = ctx.quick ? 4 : 8;
  const topK = 2;
  const ffnHidden = ctx.quick ? 32 : 64;
  const blockSize = 16;
  const factors = ctx.quick ? [1, 2] : [0.5, 0.75, 1, 1.25, 1.5, 2, 3];
  const base = { dim, ffnHidden, numExperts, topK, blockSize } satisfies MoEConfig;
  const x = skewedTokens(new Rng(1), tokens, dim, 1.0); // [T, d]
  try {
    ctx.log(`${tokens} tokens of width ${dim}, ${numExperts} experts (hidden ${ffnHidden}), top-${topK} routing, on ${ctx.backend}`);
    const total = 2 + factors.length;
    let done = 0;
    const step = () => {
      done += 1;
      ctx.progress({ label: 'layers', step: done, totalSteps: total });
      throwIfAborted(ctx);
    };
    const dense = await runLayer({ ...base, kind: 'dense' }, x);
    step();
    const dropless = await runLayer({ ...base, kind: 'dropless' }, x);
    step();
    const sweep: { factor: number; stats: MoEStats; y: Float32Array }[] = [];
    for (const factor of factors) {
      sweep.push({ factor, ...(await runLayer({ ...base, kind: 'capacity', capacityFactor: factor }, x)) });
      step();
    }
    const d = dropless.stats;
    ctx.log(
      `load (share of the ${tokens * topK} token copies per expert): ${d.load.map((l) => (100 * l).toFixed(1) + '%').join(' ')} ` +
        `— the busiest expert gets ${d.maxLoadRatio.toFixed(2)}× its even share`,
    );
    ctx.log(
      `dropless (block-sparse '${dropless.info.sparseImpl}' path): dropped ${d.droppedCopies} copies (${(100 * d.fractionDropped).toFixed(1)}%), ` +
        `computed ${d.computedRows} rows for ${tokens * topK} copies (${d.paddingRows} padding rows, blocks of ${blockSize}), ` +
        `max |y − dense reference| = ${maxAbsDiff(dropless.y, dense.y).toExponential(1)}`,
    );
    for (const s of sweep) {
      const c = s.stats;
      ctx.log(
        `capacity factor ${s.factor}: capacity ${Math.floor((s.factor * topK * tokens) / numExperts)} per expert, ` +
          `dropped ${c.droppedCopies} copies (${(100 * c.fractionDropped).toFixed(1)}%), computed ${c.computedRows} rows, ` +
          `max |y − dense reference| = ${maxAbsDiff(s.y, dense.y).toExponential(1)}`,
      );
    }
    const one = sweep.find((s) => s.factor === 1) ?? sweep[0];
    await ctx.plot(
      'expert-load',
      {
        $schema: VL,
        background: 'white',
        hconcat: [
          loadPanel('dropless', d),
          loadPanel(`capacity factor ${one.factor}`, one.stats, Math.floor((one.factor * topK * tokens) / numExperts)),
        ],
        resolve: { scale: { y: 'shared' } },
      },
      { caption: 'Token copies per expert. The capacity-factor layer drops what exceeds its capacity (dashed); the dropless layer keeps every copy.' },
    );
    const rows = [
      ...sweep.map((s) => ({ factor: s.factor, layer: 'capacity factor', dropped: 100 * s.stats.fractionDropped, rows: s.stats.computedRows / (tokens * topK) })),
      ...factors.map((f) => ({ factor: f, layer: 'dropless', dropped: 100 * d.fractionDropped, rows: d.computedRows / (tokens * topK) })),
    ];
    const line = (field: string, title: string) => ({
      width: 260,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'factor', type: 'quantitative', title: 'capacity factor' },
        y: { field, type: 'quantitative', title },
        color: { field: 'layer', type: 'nominal', title: null, scale: { domain: ['dropless', 'capacity factor'], range: ['#4c78a8', '#e45756'] } },
      },
    });
    await ctx.plot(
      'capacity-sweep',
      {
        $schema: VL,
        background: 'white',
        data: { values: rows },
        hconcat: [line('dropped', 'token copies dropped (%)'), line('rows', 'rows computed / token copies')],
      },
      { caption: 'Raising the capacity factor drops fewer tokens but computes (mostly empty) slots for every expert; dropless drops none and pads each expert only to a block.' },
    );
  } finally {
    x.dispose();
  }
}
