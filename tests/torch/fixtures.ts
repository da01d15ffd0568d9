/**
 * Writes the parity fixtures that `python/brickml_torch/parity.py` reads: one folder per case with
 * a BrickML checkpoint (`config.json` + `model.safetensors`, core `save`), `io.safetensors` (the
 * inputs `in.<name>` and BrickML's outputs `out.<name>`, float32/int32) and `case.json` (how the
 * mirror is called: positional inputs, keyword inputs, the patch grid, the output names).
 *
 * Every parameter gets N(0, 0.1²) noise on top of its seeded initial value (norm scales leave 1,
 * zero-initialised parts leave 0), so a weight that the mirror reads in the wrong place shows.
 *
 *   node packages/diffusion/scripts/run.mjs tests/torch/fixtures.ts <dir>     (or import writeParityFixtures)
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  build,
  encodeSafetensors,
  load,
  manualSeed,
  save,
  type BrickConfig,
  type Module,
  type Rng,
} from '@brickml/core';
import '@brickml/attention';
import '@brickml/moe';
import '@brickml/diffusion';
import { randomMasking } from '@brickml/ssl';
import '@brickml/rl';

/** How the mirror is called, written to case.json. */
export interface CallSpec {
  /** Input names passed positionally (tensors `in.<name>`). */
  args: string[];
  /** Python keyword → input name. */
  kwargs?: Record<string, string>;
  /** Patch grid passed as the mirror's `grid` argument. */
  grid?: number[];
  /** Output names, in the order the mirror returns them (a tuple for more than one), or keys of a returned dict. */
  outputs: string[];
  /** The mirror's method to call (default: forward). */
  method?: string;
  /** Call the mirror in training mode (BatchNorm's batch statistics and running-stat updates). */
  train?: boolean;
  /** Module state tensors (e.g. `running_mean`) read after the call, appended to the outputs under these names. */
  after?: string[];
  /** Positions of the outputs to compare among the mirror's (nested tuples flattened), when it returns more. */
  take?: number[];
}

/** One parity case: a brick config, its inputs and how BrickML computes the outputs. */
export interface ParityCase {
  name: string;
  config: BrickConfig;
  inputs: (rng: Rng) => Record<string, tf.Tensor>;
  run: (m: Module, inputs: Record<string, tf.Tensor>) => Record<string, tf.Tensor>;
  call: CallSpec;
  /** A saved model to use as it is (no seeded build, no perturbation), e.g. the shipped flagship's denoiser. */
  module?: () => Promise<Module>;
}

const fwd = (m: Module) =>
  (m as unknown as { forward: (...a: unknown[]) => unknown }).forward.bind(m);
const one =
  (...names: string[]) =>
  (m: Module, i: Record<string, tf.Tensor>) => ({
    y: fwd(m)(...names.map((n) => i[n])) as tf.Tensor,
  });
const normal = (shape: number[]) => (rng: Rng) => ({ x: rng.normalTensor(shape) });

const mha = (extra: Record<string, unknown>): BrickConfig => ({
  type: 'MultiHeadAttention',
  dim: 12,
  heads: 3,
  ...extra,
});
const rinFields = {
  latentDim: 16,
  interfaceDim: 12,
  readHeads: 2,
  latentHeads: 2,
  writeDepthwiseConv: true,
};

/** A small ViT encoder for the ssl cases. */
const vitSmall = { type: 'ViTEncoder', channels: 3, imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2 };

/** The cases: every mirrored brick, with the options that change its computation. */
export const PARITY_CASES: ParityCase[] = [
  {
    name: 'linear',
    config: { type: 'Linear', inFeatures: 6, outFeatures: 5 },
    inputs: normal([2, 3, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'linear-nobias',
    config: { type: 'Linear', inFeatures: 6, outFeatures: 4, bias: false },
    inputs: normal([7, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'layernorm',
    config: { type: 'LayerNorm', dim: 8 },
    inputs: normal([2, 5, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'layernorm-nobias',
    config: { type: 'LayerNorm', dim: 8, eps: 1e-6, bias: false },
    inputs: normal([3, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'rmsnorm',
    config: { type: 'RMSNorm', dim: 8 },
    inputs: normal([2, 4, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'dropout-eval',
    config: { type: 'Dropout', p: 0.3 },
    inputs: normal([4, 5]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  ...(['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu'] as const).map((activation) => ({
    name: `mlp-${activation}`,
    config: {
      type: 'MLP',
      dim: 8,
      hidden: 16,
      activation,
      ...(activation === 'silu' ? { outDim: 5 } : {}),
    },
    inputs: normal([2, 3, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  })),
  {
    name: 'embedding',
    config: { type: 'Embedding', numEmbeddings: 10, dim: 6 },
    inputs: () => ({
      ids: tf.tensor2d(
        [
          [0, 3, 9],
          [9, 1, 1],
        ],
        [2, 3],
        'int32',
      ),
    }),
    run: one('ids'),
    call: { args: ['ids'], outputs: ['y'] },
  },
  {
    name: 'sequential',
    config: {
      type: 'Sequential',
      layers: [
        { type: 'Linear', inFeatures: 6, outFeatures: 8 },
        { type: 'LayerNorm', dim: 8 },
        { type: 'MLP', dim: 8, hidden: 12, activation: 'silu' },
      ],
    },
    inputs: normal([2, 3, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'patch-embed',
    config: { type: 'PatchEmbed', channels: 3, patchSize: 4, dim: 10 },
    inputs: normal([2, 3, 8, 12]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'patch-embed-video',
    config: { type: 'PatchEmbed', channels: 2, patchSize: [2, 4], tubelet: 2, dim: 10 },
    inputs: normal([2, 4, 2, 4, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'patch-unembed',
    config: { type: 'PatchUnembed', channels: 3, patchSize: [2, 4], dim: 10 },
    inputs: normal([2, 6, 10]),
    run: (m, i) => ({ y: fwd(m)(i.x, { frames: 1, rows: 2, cols: 3 }) as tf.Tensor }),
    call: { args: ['x'], grid: [2, 3], outputs: ['y'] },
  },
  {
    // HWIO in BrickML, OIHW in PyTorch: the mirror permutes on load and back on save
    name: 'conv2d-same-stride2-groups',
    config: {
      type: 'Conv2d',
      inChannels: 4,
      outChannels: 6,
      kernelSize: 3,
      stride: 2,
      padding: 'same',
      groups: 2,
    },
    inputs: normal([2, 7, 9, 4]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'conv2d-dilated',
    config: {
      type: 'Conv2d',
      inChannels: 3,
      outChannels: 5,
      kernelSize: [3, 2],
      dilation: [2, 1],
      padding: [1, 2],
      bias: false,
    },
    inputs: normal([1, 8, 6, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'learned-position',
    config: { type: 'LearnedPositionEncoding', numPositions: 6, dim: 8 },
    inputs: normal([2, 6, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'fourier-position',
    config: {
      type: 'FourierPositionEncoding',
      indexDims: [3, 5],
      numBands: 4,
      maxResolution: [6, 7.5],
    },
    inputs: normal([2, 15, 2]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'fourier-position-sine',
    config: {
      type: 'FourierPositionEncoding',
      indexDims: [2, 2, 3],
      numBands: 3,
      concatPos: false,
      sineOnly: true,
    },
    inputs: normal([1, 12, 1]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'sincos-position',
    config: { type: 'SinCosPositionEncoding', dim: 14, grid: [3, 4] },
    inputs: normal([2, 12, 14]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'sincos-position-3d-normalized',
    config: {
      type: 'SinCosPositionEncoding',
      dim: 12,
      grid: [2, 1, 3],
      temperature: 100,
      normalizeTo: 6.5,
    },
    inputs: normal([1, 6, 12]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'mha-self',
    config: mha({}),
    inputs: normal([2, 5, 12]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'mha-cross',
    config: mha({ contextDim: 7, dimHead: 5, outDim: 9, qkvBias: true }),
    inputs: (rng) => ({ x: rng.normalTensor([2, 4, 12]), context: rng.normalTensor([2, 6, 7]) }),
    run: one('x', 'context'),
    call: { args: ['x', 'context'], outputs: ['y'] },
  },
  {
    name: 'mha-masks',
    config: mha({ contextDim: 7 }),
    inputs: (rng) => ({
      x: rng.normalTensor([2, 4, 12]),
      context: rng.normalTensor([2, 6, 7]),
      keyPaddingMask: tf.tensor2d(
        [
          [1, 1, 1, 1, 0, 0],
          [1, 1, 1, 1, 1, 1],
        ],
        [2, 6],
        'int32',
      ),
      // the last query of the first batch sees no key at all (a fully masked row: output = out bias)
      attnMask: tf.tensor3d(
        [
          [
            [1, 0, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
            [0, 1, 1, 0, 1, 1],
            [0, 0, 0, 0, 1, 1],
          ],
        ],
        [1, 4, 6],
        'int32',
      ),
    }),
    run: (m, i) => ({
      y: fwd(m)(i.x, i.context, {
        keyPaddingMask: i.keyPaddingMask,
        attnMask: i.attnMask,
      }) as tf.Tensor,
    }),
    call: {
      args: ['x', 'context'],
      kwargs: { key_padding_mask: 'keyPaddingMask', attn_mask: 'attnMask' },
      outputs: ['y'],
    },
  },
  {
    name: 'mha-qknorm-ln',
    config: mha({ qkNorm: 'layernorm' }),
    inputs: normal([2, 5, 12]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'mha-qknorm-rms-rotary',
    config: mha({ heads: 2, qkNorm: 'rmsnorm', qkNormEps: 1e-6, rotaryDim: 4 }),
    inputs: normal([2, 7, 12]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'block-self',
    config: { type: 'TransformerBlock', dim: 12, heads: 3 },
    inputs: normal([2, 5, 12]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'block-cross',
    config: {
      type: 'TransformerBlock',
      kind: 'cross',
      dim: 12,
      contextDim: 8,
      heads: 2,
      dimHead: 4,
      normContext: false,
      eps: 1e-6,
      activation: 'swiglu',
      mlpRatio: 1.5,
    },
    inputs: (rng) => ({ x: rng.normalTensor([2, 4, 12]), context: rng.normalTensor([2, 6, 8]) }),
    run: one('x', 'context'),
    call: { args: ['x', 'context'], outputs: ['y'] },
  },
  {
    name: 'block-decoder',
    config: {
      type: 'TransformerBlock',
      kind: 'cross',
      dim: 12,
      contextDim: 8,
      heads: 2,
      queryResidual: false,
      mlpRatio: 0,
    },
    inputs: (rng) => ({ x: rng.normalTensor([2, 4, 12]), context: rng.normalTensor([2, 6, 8]) }),
    run: one('x', 'context'),
    call: { args: ['x', 'context'], outputs: ['y'] },
  },
  {
    name: 'perceiver-encoder',
    config: {
      type: 'PerceiverEncoder',
      inputDim: 7,
      numLatents: 5,
      latentDim: 12,
      crossHeads: 1,
      selfHeads: 3,
      selfAttendsPerBlock: 2,
      numBlocks: 2,
      shareWeights: false,
    },
    inputs: normal([2, 9, 7]),
    run: (m, i) => ({ y: fwd(m)(i.x) as tf.Tensor }),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'perceiver-encoder-hip-masked',
    config: {
      type: 'PerceiverEncoder',
      inputDim: 6,
      numLatents: 3,
      latentDim: 8,
      selfHeads: 2,
      numBlocks: 2,
      groups: 4,
      activation: 'gelu_tanh',
      hipLevels: [{ groups: 2, numLatents: 2, latentDim: 10, heads: 2, selfAttends: 1 }],
    },
    inputs: (rng) => ({
      x: rng.normalTensor([2, 10, 6]), // 10 elements in 4 groups: padded to 12, the padding masked
      inputMask: tf.tensor2d(
        [
          [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
          [1, 1, 0, 1, 1, 1, 1, 1, 0, 0],
        ],
        [2, 10],
        'int32',
      ),
    }),
    run: (m, i) => ({ y: fwd(m)(i.x, { inputMask: i.inputMask }) as tf.Tensor }),
    call: { args: ['x', 'inputMask'], outputs: ['y'] },
  },
  {
    name: 'perceiver-decoder-indices',
    config: {
      type: 'PerceiverDecoder',
      latentDim: 12,
      queryDim: 8,
      numQueries: 6,
      heads: 2,
      outDim: 3,
    },
    inputs: (rng) => ({
      latents: rng.normalTensor([2, 5, 12]),
      queryIndices: tf.tensor1d([4, 0, 4, 2], 'int32'),
    }),
    run: (m, i) => ({ y: fwd(m)(i.latents, { queryIndices: i.queryIndices }) as tf.Tensor }),
    call: { args: ['latents'], kwargs: { query_indices: 'queryIndices' }, outputs: ['y'] },
  },
  {
    name: 'perceiver-decoder-queries',
    config: {
      type: 'PerceiverDecoder',
      latentDim: 12,
      queryDim: 8,
      queryResidual: true,
      mlpRatio: 2,
    },
    inputs: (rng) => ({
      latents: rng.normalTensor([2, 5, 12]),
      queries: rng.normalTensor([2, 3, 8]),
    }),
    run: (m, i) => ({ y: fwd(m)(i.latents, { queries: i.queries }) as tf.Tensor }),
    call: { args: ['latents'], kwargs: { queries: 'queries' }, outputs: ['y'] },
  },
  {
    name: 'perceiver-io-fourier',
    config: {
      type: 'PerceiverIO',
      inputPosition: { type: 'FourierPositionEncoding', indexDims: [3, 4], numBands: 3 },
      encoder: {
        type: 'PerceiverEncoder',
        inputDim: 3 + 2 * 7,
        numLatents: 4,
        latentDim: 8,
        selfHeads: 2,
      },
      decoder: { type: 'PerceiverDecoder', latentDim: 8, queryDim: 6, numQueries: 5, outDim: 2 },
    },
    inputs: normal([2, 12, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'perceiver-io-image',
    config: {
      type: 'PerceiverIO',
      inputPosition: { type: 'LearnedPositionEncoding', numPositions: 12, dim: 3 },
      inputAdapter: { type: 'Linear', inFeatures: 3, outFeatures: 8 },
      encoder: { type: 'PerceiverEncoder', inputDim: 8, numLatents: 4, latentDim: 8, selfHeads: 2 },
      decoder: { type: 'PerceiverDecoder', latentDim: 8, queryDim: 6, numQueries: 12, outDim: 3 },
    },
    inputs: normal([2, 3, 3, 4]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  ...(
    [
      ['moe-dropless', { kind: 'dropless', topK: 2, activation: 'gelu' }],
      [
        'moe-capacity',
        {
          kind: 'capacity',
          topK: 2,
          capacityFactor: 0.75,
          score: 'sigmoid',
          normalizeWeights: true,
          activation: 'swiglu',
        },
      ],
      [
        'moe-dense',
        { kind: 'dense', topK: 1, activation: 'relu', loadBalanceCoef: 0.5, zLossCoef: 0.01 },
      ],
    ] as const
  ).map(([name, extra]) => ({
    name,
    config: {
      type: 'MoE',
      dim: 8,
      ffnHidden: 12,
      numExperts: 4,
      blockSize: 4,
      initStd: 0.2,
      routerInitStd: 0.5,
      ...extra,
    },
    inputs: normal([2, 5, 8]),
    run: (m: Module, i: Record<string, tf.Tensor>) => {
      const r = fwd(m)(i.x) as { y: tf.Tensor; auxLoss: tf.Tensor };
      return { y: r.y, auxLoss: r.auxLoss };
    },
    call: { args: ['x'], outputs: ['y', 'auxLoss'] },
  })),
  {
    name: 'block-moe',
    config: {
      type: 'TransformerBlock',
      dim: 8,
      heads: 2,
      feedForward: {
        type: 'MoE',
        dim: 8,
        ffnHidden: 12,
        numExperts: 4,
        topK: 2,
        blockSize: 4,
        initStd: 0.2,
      },
    },
    inputs: normal([2, 5, 8]),
    run: (m, i) => {
      const r = (
        m as unknown as { forwardWithAux(x: tf.Tensor): { output: tf.Tensor; auxLoss: tf.Tensor } }
      ).forwardWithAux(i.x);
      return { y: r.output, auxLoss: r.auxLoss };
    },
    call: { args: ['x'], method: 'forward_with_aux', outputs: ['y', 'auxLoss'] },
  },
  {
    name: 'rin-network-sincos',
    config: {
      type: 'RinNetwork',
      channels: 2,
      inputSize: [4, 6],
      patchSize: [2, 3],
      numLatents: 3,
      numBlocks: 1,
      computeLayers: 1,
      position: 'sincos',
      noiseCondition: false,
      ...rinFields,
    },
    inputs: normal([2, 2, 4, 6]),
    run: (m, i) => {
      const r = fwd(m)(i.x, {}) as { output: tf.Tensor; latents: tf.Tensor };
      return { output: r.output, latents: r.latents };
    },
    call: { args: ['x'], outputs: ['output', 'latents'] },
  },
  {
    name: 'mlp-denoiser',
    config: {
      type: 'MlpDenoiser',
      channels: 2,
      inputSize: [4, 4],
      hidden: 16,
      noiseEmbedDim: 8,
      numClasses: 3,
      selfCondition: true,
    },
    inputs: (rng) => ({
      x: rng.normalTensor([2, 2, 4, 4]),
      noiseLevel: rng.uniformTensor([2], 0.05, 0.95),
      classLabels: tf.tensor1d([1, 3], 'int32'),
      prevLatents: rng.normalTensor([2, 1, 16]),
    }),
    run: (m, i) => {
      const r = fwd(m)(i.x, {
        noiseLevel: i.noiseLevel,
        classLabels: i.classLabels,
        prevLatents: i.prevLatents,
      }) as { output: tf.Tensor; latents: tf.Tensor };
      return { output: r.output, latents: r.latents };
    },
    call: {
      args: ['x', 'noiseLevel', 'classLabels', 'prevLatents'],
      outputs: ['output', 'latents'],
    },
  },
  {
    name: 'transformer-denoiser-video',
    config: {
      type: 'TransformerDenoiser',
      channels: 2,
      inputSize: [4, 4, 4],
      patchSize: 2,
      tubelet: 2,
      dim: 16,
      depth: 2,
      heads: 2,
      numClasses: 2,
    },
    inputs: (rng) => ({
      x: rng.normalTensor([2, 4, 2, 4, 4]),
      noiseLevel: rng.uniformTensor([2], 0.05, 0.95),
    }),
    run: (m, i) => ({
      output: (fwd(m)(i.x, { noiseLevel: i.noiseLevel }) as { output: tf.Tensor }).output,
    }),
    call: { args: ['x', 'noiseLevel'], outputs: ['output'] },
  },
  {
    name: 'rin-block',
    config: { type: 'RinBlock', ...rinFields, computeLayers: 2 },
    inputs: (rng) => ({
      latents: rng.normalTensor([2, 5, 16]),
      iface: rng.normalTensor([2, 6, 12]),
    }),
    run: (m, i) => {
      const r = fwd(m)(i.latents, i.iface, { grid: { frames: 1, rows: 2, cols: 3 } }) as {
        latents: tf.Tensor;
        interface: tf.Tensor;
      };
      return { latents: r.latents, interface: r.interface };
    },
    call: { args: ['latents', 'iface'], grid: [2, 3], outputs: ['latents', 'interface'] },
  },
  {
    name: 'rin-network',
    config: {
      type: 'RinNetwork',
      channels: 3,
      inputSize: [8, 8],
      patchSize: 2,
      numLatents: 6,
      numBlocks: 2,
      computeLayers: [1, 0],
      numClasses: 3,
      selfCondition: true,
      ...rinFields,
    },
    inputs: (rng) => ({
      x: rng.normalTensor([2, 3, 8, 8]),
      noiseLevel: rng.uniformTensor([2], 0.05, 0.95),
      classLabels: tf.tensor1d([2, 3], 'int32'),
      prevLatents: rng.normalTensor([2, 8, 16]),
    }),
    run: (m, i) => {
      const r = fwd(m)(i.x, {
        noiseLevel: i.noiseLevel,
        classLabels: i.classLabels,
        prevLatents: i.prevLatents,
      }) as { output: tf.Tensor; latents: tf.Tensor };
      return { output: r.output, latents: r.latents };
    },
    call: {
      args: ['x', 'noiseLevel', 'classLabels', 'prevLatents'],
      outputs: ['output', 'latents'],
    },
  },
  // ---- core's image and recurrent bricks (issue 20, second slice) ----
  {
    name: 'groupnorm',
    config: { type: 'GroupNorm', numGroups: 3, numChannels: 6, eps: 1e-4 },
    inputs: normal([2, 4, 5, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'groupnorm-rank2-noaffine',
    config: { type: 'GroupNorm', numGroups: 2, numChannels: 6, affine: false },
    inputs: normal([3, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'batchnorm2d-eval',
    config: { type: 'BatchNorm2d', numFeatures: 5 },
    inputs: normal([2, 3, 4, 5]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    // training mode: batch statistics, and the running statistics move (checked after the call)
    name: 'batchnorm2d-train',
    config: { type: 'BatchNorm2d', numFeatures: 4, momentum: 0.25 },
    inputs: normal([3, 2, 5, 4]),
    run: (m, i) => {
      const y = fwd(m)(i.x) as tf.Tensor;
      const b = m as unknown as { running_mean: tf.Tensor; running_var: tf.Tensor };
      return { y, running_mean: tf.clone(b.running_mean), running_var: tf.clone(b.running_var) };
    },
    call: {
      args: ['x'],
      outputs: ['y', 'running_mean', 'running_var'],
      train: true,
      after: ['running_mean', 'running_var'],
    },
  },
  {
    name: 'batchnorm2d-train-cumulative',
    config: { type: 'BatchNorm2d', numFeatures: 3, momentum: null, affine: false },
    inputs: normal([2, 3, 3, 3]),
    run: (m, i) => {
      const y = fwd(m)(i.x) as tf.Tensor;
      const b = m as unknown as { running_mean: tf.Tensor; running_var: tf.Tensor };
      return { y, running_mean: tf.clone(b.running_mean), running_var: tf.clone(b.running_var) };
    },
    call: {
      args: ['x'],
      outputs: ['y', 'running_mean', 'running_var'],
      train: true,
      after: ['running_mean', 'running_var'],
    },
  },
  {
    name: 'batchnorm1d-eval',
    config: { type: 'BatchNorm1d', numFeatures: 6, eps: 1e-3 },
    inputs: normal([5, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'batchnorm1d-train',
    config: { type: 'BatchNorm1d', numFeatures: 3 },
    inputs: normal([7, 3]),
    run: (m, i) => {
      const y = fwd(m)(i.x) as tf.Tensor;
      const b = m as unknown as { running_mean: tf.Tensor; running_var: tf.Tensor };
      return { y, running_mean: tf.clone(b.running_mean), running_var: tf.clone(b.running_var) };
    },
    call: {
      args: ['x'],
      outputs: ['y', 'running_mean', 'running_var'],
      train: true,
      after: ['running_mean', 'running_var'],
    },
  },
  {
    name: 'maxpool2d-padded',
    config: { type: 'MaxPool2d', kernelSize: 3, stride: 2, padding: 1 },
    inputs: normal([2, 7, 6, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'avgpool2d-exclude-pad',
    config: {
      type: 'AvgPool2d',
      kernelSize: [3, 2],
      stride: [2, 1],
      padding: [1, 1],
      countIncludePad: false,
    },
    inputs: normal([2, 7, 5, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'avgpool2d',
    config: { type: 'AvgPool2d', kernelSize: 2 },
    inputs: normal([1, 6, 5, 2]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'adaptive-avgpool2d',
    config: { type: 'AdaptiveAvgPool2d', outputSize: [3, 2] },
    inputs: normal([2, 7, 5, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    // [kh, kw, Cout/g, Cin] in BrickML, [Cin, Cout/g, kh, kw] in PyTorch
    name: 'conv-transpose2d',
    config: {
      type: 'ConvTranspose2d',
      inChannels: 4,
      outChannels: 6,
      kernelSize: 3,
      stride: 2,
      padding: 1,
      outputPadding: 1,
      groups: 2,
    },
    inputs: normal([2, 4, 5, 4]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'conv-transpose2d-dilated',
    config: {
      type: 'ConvTranspose2d',
      inChannels: 3,
      outChannels: 2,
      kernelSize: [2, 3],
      dilation: [2, 1],
      bias: false,
    },
    inputs: normal([1, 4, 3, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'upsample-nearest',
    config: { type: 'Upsample', scaleFactor: [2, 3] },
    inputs: normal([2, 3, 4, 2]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'upsample-bilinear',
    config: { type: 'Upsample', scaleFactor: 2, mode: 'bilinear' },
    inputs: normal([2, 3, 5, 2]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'basic-block-downsample',
    config: { type: 'BasicBlock', inChannels: 4, outChannels: 8, stride: 2 },
    inputs: normal([2, 6, 6, 4]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'basic-block-train',
    config: { type: 'BasicBlock', inChannels: 4, outChannels: 4 },
    inputs: normal([2, 5, 5, 4]),
    run: (m, i) => {
      const y = fwd(m)(i.x) as tf.Tensor;
      const b = m as unknown as { bn2: { running_var: tf.Tensor } };
      return { y, bn2_running_var: tf.clone(b.bn2.running_var) };
    },
    call: {
      args: ['x'],
      outputs: ['y', 'bn2_running_var'],
      train: true,
      after: ['bn2.running_var'],
    },
  },
  {
    name: 'resnet-imagenet-batch',
    config: {
      type: 'ResNet',
      inChannels: 3,
      widths: [8, 16],
      blocksPerStage: [1, 2],
      strides: [1, 2],
    },
    inputs: normal([2, 16, 16, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'resnet-cifar-group-featuremap',
    config: {
      type: 'ResNet',
      stem: 'cifar',
      inChannels: 2,
      stemWidth: 4,
      widths: [4, 8, 8],
      blocksPerStage: [1, 1, 1],
      strides: [1, 2, 1],
      norm: 'group',
      normGroups: 2,
      output: 'featureMap',
    },
    inputs: normal([2, 8, 8, 2]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'gru-cell',
    config: { type: 'GRUCell', inputSize: 5, hiddenSize: 6 },
    inputs: (rng) => ({ x: rng.normalTensor([3, 5]), h: rng.normalTensor([3, 6]) }),
    run: one('x', 'h'),
    call: { args: ['x', 'h'], outputs: ['y'] },
  },
  {
    name: 'gru-cell-nobias-zero-state',
    config: { type: 'GRUCell', inputSize: 4, hiddenSize: 3, bias: false },
    inputs: normal([2, 4]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'gru-2layer',
    config: { type: 'GRU', inputSize: 4, hiddenSize: 5, numLayers: 2 },
    inputs: (rng) => ({ x: rng.normalTensor([2, 6, 4]), h0: rng.normalTensor([2, 2, 5]) }),
    run: (m, i) => {
      const r = fwd(m)(i.x, i.h0) as { output: tf.Tensor; hidden: tf.Tensor };
      return { output: r.output, hidden: r.hidden };
    },
    call: { args: ['x', 'h0'], outputs: ['output', 'hidden'] },
  },
  {
    name: 'unet-denoiser',
    config: {
      type: 'UNetDenoiser',
      channels: 2,
      inputSize: [8, 8],
      widths: [8, 16, 16],
      blocksPerLevel: 2,
      groups: 4,
      embedDim: 16,
      noiseEmbedDim: 8,
      numClasses: 3,
    },
    inputs: (rng) => ({
      x: rng.normalTensor([2, 2, 8, 8]),
      noiseLevel: rng.uniformTensor([2], 0.05, 0.95),
      classLabels: tf.tensor1d([1, 3], 'int32'),
    }),
    run: (m, i) => ({
      output: (
        fwd(m)(i.x, { noiseLevel: i.noiseLevel, classLabels: i.classLabels }) as {
          output: tf.Tensor;
        }
      ).output,
    }),
    call: { args: ['x', 'noiseLevel', 'classLabels'], outputs: ['output'] },
  },
  {
    // the shipped flagship (packages/diffusion/assets/flagship) is a GaussianDiffusion around a UNetDenoiser: its trained weights as they are
    name: 'unet-denoiser-flagship',
    config: { type: 'UNetDenoiser', inputSize: [16, 16] },
    module: async () => {
      const gd = await load<Module>(FLAGSHIP_DIR);
      return (gd as unknown as { denoiser: Module }).denoiser;
    },
    inputs: (rng) => ({
      x: rng.normalTensor([3, 3, 16, 16]),
      noiseLevel: tf.tensor1d([0.05, 0.5, 0.97]),
      classLabels: tf.tensor1d([0, 2, 3], 'int32'),
    }),
    run: (m, i) => ({
      output: (
        fwd(m)(i.x, { noiseLevel: i.noiseLevel, classLabels: i.classLabels }) as {
          output: tf.Tensor;
        }
      ).output,
    }),
    call: { args: ['x', 'noiseLevel', 'classLabels'], outputs: ['output'] },
  },
  {
    name: 'shapes-classifier',
    config: { type: 'ShapesClassifier', hidden: [24, 16], featureDim: 8 },
    inputs: normal([3, 3, 16, 16]),
    run: (m, i) => {
      const r = fwd(m)(i.x) as { features: tf.Tensor; shapeLogits: tf.Tensor; colourLogits: tf.Tensor; factors: tf.Tensor };
      return { features: r.features, shapeLogits: r.shapeLogits, colourLogits: r.colourLogits, factors: r.factors };
    },
    call: { args: ['x'], outputs: ['features', 'shapeLogits', 'colourLogits', 'factors'] },
  },
  {
    // shapesFD's shipped classifier (packages/diffusion/assets/shapes-classifier), on 32×32 inputs (2×2 average-pooled)
    name: 'shapes-classifier-shipped',
    config: { type: 'ShapesClassifier' },
    module: async () => load<Module>(CLASSIFIER_DIR),
    inputs: (rng) => ({ x: tf.clipByValue(rng.normalTensor([2, 3, 32, 32]), -1, 1) }),
    run: (m, i) => {
      const r = fwd(m)(i.x) as { features: tf.Tensor; shapeLogits: tf.Tensor; colourLogits: tf.Tensor; factors: tf.Tensor };
      return { features: r.features, shapeLogits: r.shapeLogits, colourLogits: r.colourLogits, factors: r.factors };
    },
    call: { args: ['x'], outputs: ['features', 'shapeLogits', 'colourLogits', 'factors'] },
  },  // ---- core's spectral bricks, attention's FastWeightsRNN (tolerances: see parity.test.ts) ----
  {
    name: 'o2p-log-triu',
    config: { type: 'O2PPooling', channels: 4 },
    inputs: normal([2, 12, 4]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'o2p-sqrt-matrix-raw',
    config: { type: 'O2PPooling', channels: 3, normalization: 'sqrt', center: false, output: 'matrix', eps: 0.01 },
    inputs: normal([3, 9, 3]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'o2p-none-triu-unscaled',
    config: { type: 'O2PPooling', channels: 5, normalization: 'none', scaleOffDiagonal: false },
    inputs: normal([2, 7, 5]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    // random tokens: the eigenvalues of D^-½ W D^-½ are distinct (gaps measured in the Python test)
    name: 'ncut-gaussian-learned-sigma',
    config: { type: 'NormalizedCut', dim: 3, segments: 2, sigma: 1.2, learnSigma: true },
    inputs: normal([2, 7, 3]),
    run: (m, i) => {
      const r = (m as unknown as { decompose(x: tf.Tensor): { embedding: tf.Tensor; values: tf.Tensor } }).decompose(i.x);
      return { embedding: r.embedding, values: r.values };
    },
    call: { args: ['x'], outputs: ['embedding', 'values'], method: 'decompose' },
  },
  {
    name: 'ncut-cosine-generalized-keep-trivial',
    config: { type: 'NormalizedCut', dim: 4, segments: 3, affinity: 'cosine', sigma: 0.5, dropTrivial: false, embedding: 'generalized' },
    inputs: normal([2, 6, 4]),
    run: (m, i) => {
      const r = (m as unknown as { decompose(x: tf.Tensor): { embedding: tf.Tensor; values: tf.Tensor } }).decompose(i.x);
      return { embedding: r.embedding, values: r.values };
    },
    call: { args: ['x'], outputs: ['embedding', 'values'], method: 'decompose' },
  },
  {
    name: 'fast-weights-rnn',
    config: { type: 'FastWeightsRNN', inputSize: 3, hiddenSize: 6, innerSteps: 2 },
    inputs: normal([2, 5, 3]),
    run: (m, i) => {
      const r = fwd(m)(i.x) as { output: tf.Tensor; state: { h: tf.Tensor; A: tf.Tensor } };
      return { output: r.output, h: r.state.h, A: r.state.A };
    },
    call: { args: ['x'], outputs: ['output', 'h', 'A'] },
  },
  {
    name: 'fast-weights-rnn-tanh-no-memory',
    config: { type: 'FastWeightsRNN', inputSize: 4, hiddenSize: 5, fastLr: 0, activation: 'tanh', layerNorm: false },
    inputs: normal([2, 4, 4]),
    run: (m, i) => {
      const r = fwd(m)(i.x) as { output: tf.Tensor; state: { h: tf.Tensor; A: tf.Tensor } };
      return { output: r.output, h: r.state.h };
    },
    call: { args: ['x'], outputs: ['output', 'h'], take: [0, 1] }, // A stays 0 with fastLr 0
  },
  // ---- @brickml/ssl ----
  {
    name: 'ssl-projection-head',
    config: { type: 'ProjectionHead', dim: 6, hidden: 10, outDim: 4 },
    inputs: normal([5, 6]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'ssl-projection-head-train',
    config: { type: 'ProjectionHead', dim: 6, hidden: 10, outDim: 4 },
    inputs: normal([5, 6]),
    run: (m, i) => {
      const y = fwd(m)(i.x) as tf.Tensor;
      const bn = (m as unknown as { bn: { running_mean: tf.Tensor; running_var: tf.Tensor } }).bn;
      return { y, 'bn.running_mean': tf.clone(bn.running_mean), 'bn.running_var': tf.clone(bn.running_var) };
    },
    call: { args: ['x'], outputs: ['y', 'bn.running_mean', 'bn.running_var'], train: true, after: ['bn.running_mean', 'bn.running_var'] },
  },
  {
    name: 'ssl-vit-encoder',
    config: { type: 'ViTEncoder', channels: 3, imageSize: 8, patchSize: 4, dim: 16, depth: 2, heads: 4 },
    inputs: normal([2, 3, 8, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'ssl-simclr-loss-train',
    config: { type: 'SimCLR', encoder: vitSmall, encoderDim: 16, hidden: 12, projectionDim: 8, temperature: 0.3 },
    inputs: (rng) => ({ v1: rng.normalTensor([4, 3, 8, 8]), v2: rng.normalTensor([4, 3, 8, 8]) }),
    run: (m, i) => ({ loss: (m as unknown as { loss(a: tf.Tensor, b: tf.Tensor): tf.Tensor }).loss(i.v1, i.v2) }),
    call: { args: ['v1', 'v2'], outputs: ['loss'], method: 'loss', train: true },
  },
  {
    name: 'ssl-simclr-represent',
    config: { type: 'SimCLR', encoder: vitSmall, encoderDim: 16, hidden: 12, projectionDim: 8 },
    inputs: normal([3, 3, 8, 8]),
    run: (m, i) => ({ h: (m as unknown as { represent(a: tf.Tensor): tf.Tensor }).represent(i.x) }),
    call: { args: ['x'], outputs: ['h'], method: 'represent' },
  },
  {
    name: 'ssl-byol-loss-train',
    config: { type: 'BYOL', encoder: vitSmall, encoderDim: 16, hidden: 12, projectionDim: 8, predictorHidden: 10 },
    inputs: (rng) => ({ v1: rng.normalTensor([4, 3, 8, 8]), v2: rng.normalTensor([4, 3, 8, 8]) }),
    run: (m, i) => ({ loss: (m as unknown as { loss(a: tf.Tensor, b: tf.Tensor): tf.Tensor }).loss(i.v1, i.v2) }),
    call: { args: ['v1', 'v2'], outputs: ['loss'], method: 'loss', train: true },
  },
  {
    name: 'ssl-byol-loss-eval-no-predictor',
    config: { type: 'BYOL', encoder: { type: 'MLP', dim: 6, hidden: 8, outDim: 5 }, encoderDim: 5, hidden: 7, projectionDim: 4, predictorHidden: 0 },
    inputs: (rng) => ({ v1: rng.normalTensor([3, 6]), v2: rng.normalTensor([3, 6]) }),
    run: (m, i) => ({ loss: (m as unknown as { loss(a: tf.Tensor, b: tf.Tensor): tf.Tensor }).loss(i.v1, i.v2) }),
    call: { args: ['v1', 'v2'], outputs: ['loss'], method: 'loss' },
  },
  ...([false, true] as const).map((normPixLoss) => ({
    name: `ssl-mae${normPixLoss ? '-normpix' : ''}`,
    config: { type: 'MaskedAutoencoder', channels: 3, imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2, decoderDim: 8, decoderDepth: 1, decoderHeads: 2, normPixLoss },
    inputs: (rng: Rng) => {
      const m = randomMasking(2, 16, 0.75, rng);
      return {
        x: rng.normalTensor([2, 3, 8, 8]),
        idsKeep: tf.tensor2d(m.idsKeep, [2, m.keep], 'int32'),
        idsRestore: tf.tensor2d(m.idsRestore, [2, 16], 'int32'),
        mask: tf.tensor2d(m.mask, [2, 16]),
      };
    },
    run: (m: Module, i: Record<string, tf.Tensor>) => {
      const masking = { keep: i.idsKeep.shape[1] as number, idsKeep: i.idsKeep.dataSync() as Int32Array, idsRestore: i.idsRestore.dataSync() as Int32Array, mask: i.mask.dataSync() as Float32Array };
      const r = fwd(m)(i.x, { masking }) as { loss: tf.Tensor; pred: tf.Tensor; mask: tf.Tensor };
      return { loss: r.loss, pred: r.pred, mask: r.mask };
    },
    call: { args: ['x'], kwargs: { ids_keep: 'idsKeep', mask: 'mask' }, outputs: ['loss', 'pred', 'mask'] },
  })),
  {
    name: 'ssl-ijepa-loss',
    config: { type: 'IJEPA', channels: 3, imageSize: 8, patchSize: 2, dim: 16, depth: 1, heads: 2, predictorDim: 8, predictorDepth: 1, predictorHeads: 2 },
    inputs: (rng) => ({
      x: rng.normalTensor([2, 3, 8, 8]),
      context: tf.tensor2d([[0, 1, 2, 4, 5, 6, 8, 9], [5, 6, 7, 9, 10, 11, 13, 14]], [2, 8], 'int32'),
      targets: tf.tensor3d([[[10, 11, 14, 15], [0, 1, 4, 8]], [[2, 3, 6, 7], [12, 13, 0, 4]]], [2, 2, 4], 'int32'),
    }),
    run: (m, i) => {
      const ctx = i.context.arraySync() as number[][];
      const tg = i.targets.arraySync() as number[][][];
      const masks = { context: ctx.map((r) => Int32Array.from(r)), targets: tg.map((t) => t.map((r) => Int32Array.from(r))) };
      return { loss: (m as unknown as { loss(x: tf.Tensor, masks: unknown): tf.Tensor }).loss(i.x, masks) };
    },
    call: { args: ['x', 'context', 'targets'], outputs: ['loss'], method: 'loss' },
  },
  {
    name: 'ssl-ijepa-represent',
    config: { type: 'IJEPA', channels: 3, imageSize: 8, patchSize: 4, dim: 16, depth: 1, heads: 2, predictorDim: 8 },
    inputs: normal([2, 3, 8, 8]),
    run: (m, i) => ({ y: (m as unknown as { represent(a: tf.Tensor): tf.Tensor }).represent(i.x) }),
    call: { args: ['x'], outputs: ['y'], method: 'represent' },
  },
  {
    name: 'ssl-crw-nodes-conv-encoder',
    config: {
      type: 'ContrastiveRandomWalk',
      encoder: { type: 'Conv2d', inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1 },
      encoderDim: 8,
      encoderInput: 'nhwc',
      pixelMean: [0.1, -0.2, 0.3],
      pixelStd: [0.9, 1.1, 1.3],
      embedDim: 6,
      patchSize: 6,
      stride: 4,
    },
    inputs: normal([1, 3, 3, 8, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'ssl-crw-nodes-flat-encoder',
    config: { type: 'ContrastiveRandomWalk', encoder: { type: 'Linear', inFeatures: 48, outFeatures: 7 }, encoderDim: 7, encoderInput: 'flat', embedDim: 5, patchSize: 4, stride: 4 },
    inputs: normal([2, 2, 3, 8, 8]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
  {
    name: 'ssl-crw-walk-loss',
    config: { type: 'ContrastiveRandomWalk', encoder: { type: 'Linear', inFeatures: 48, outFeatures: 7 }, encoderDim: 7, encoderInput: 'flat', embedDim: 5, patchSize: 4, stride: 4, temperature: 0.2, shortestWalk: 1 },
    inputs: normal([2, 4, 3, 8, 8]),
    run: (m, i) => {
      const r = (m as unknown as { loss(v: tf.Tensor): { loss: tf.Tensor; lossPerWalk: tf.Tensor; accuracyPerWalk: tf.Tensor } }).loss(i.x);
      return { loss: r.loss, lossPerWalk: r.lossPerWalk, accuracyPerWalk: r.accuracyPerWalk };
    },
    call: { args: ['x'], outputs: ['loss', 'lossPerWalk', 'accuracyPerWalk'], method: 'loss' },
  },
  {
    name: 'ssl-transporter-keypoints',
    config: { type: 'Transporter', inChannels: 3, numKeypoints: 3, channels: 6, downsample: 1, gaussianStd: 0.2 },
    inputs: normal([2, 8, 8, 3]),
    run: (m, i) => {
      const r = (m as unknown as { keypoints(x: tf.Tensor): { coords: tf.Tensor; maps: tf.Tensor } }).keypoints(i.x);
      return { coords: r.coords, maps: r.maps };
    },
    call: { args: ['x'], outputs: ['coords', 'maps'], method: 'keypoints' },
  },
  {
    name: 'ssl-transporter-reconstruct',
    config: { type: 'Transporter', inChannels: 3, numKeypoints: 2, channels: 6, downsample: 1, gaussianStd: 0.15 },
    inputs: (rng) => ({ s: rng.normalTensor([2, 8, 8, 3]), t: rng.normalTensor([2, 8, 8, 3]) }),
    run: (m, i) => ({ y: (m as unknown as { reconstruct(a: tf.Tensor, b: tf.Tensor): tf.Tensor }).reconstruct(i.s, i.t) }),
    call: { args: ['s', 't'], outputs: ['y'], method: 'reconstruct' },
  },
  {
    name: 'ssl-transporter-loss-train-no-norm',
    config: { type: 'Transporter', inChannels: 1, numKeypoints: 2, channels: 4, downsample: 2, norm: 'none' },
    inputs: (rng) => ({ s: rng.normalTensor([1, 8, 8, 1]), t: rng.normalTensor([1, 8, 8, 1]) }),
    run: (m, i) => ({ loss: (m as unknown as { loss(a: tf.Tensor, b: tf.Tensor): tf.Tensor }).loss(i.s, i.t) }),
    call: { args: ['s', 't'], outputs: ['loss'], method: 'loss', train: true },
  },
  // ---- @brickml/rl ----
  {
    name: 'rl-actor-critic-discrete',
    config: { type: 'ActorCritic', obsDim: 4, action: { kind: 'discrete', n: 3 }, hidden: [8, 8] },
    inputs: (rng) => ({ obs: rng.normalTensor([5, 4]), actions: tf.tensor1d([0, 2, 1, 1, 2], 'int32') }),
    run: (m, i) => {
      const r = (m as unknown as { evaluate(o: tf.Tensor, a: tf.Tensor): Record<string, tf.Tensor> }).evaluate(i.obs, i.actions);
      return { logProb: r.logProb, entropy: r.entropy, value: r.value };
    },
    call: { args: ['obs', 'actions'], outputs: ['logProb', 'entropy', 'value'], method: 'evaluate' },
  },
  {
    name: 'rl-actor-critic-continuous-relu',
    config: { type: 'ActorCritic', obsDim: 3, action: { kind: 'continuous', dim: 2 }, hidden: [6], activation: 'relu', initLogStd: -0.5 },
    inputs: (rng) => ({ obs: rng.normalTensor([4, 3]), actions: rng.normalTensor([4, 2]) }),
    run: (m, i) => {
      const r = (m as unknown as { evaluate(o: tf.Tensor, a: tf.Tensor): Record<string, tf.Tensor> }).evaluate(i.obs, i.actions);
      return { logProb: r.logProb, entropy: r.entropy, value: r.value };
    },
    call: { args: ['obs', 'actions'], outputs: ['logProb', 'entropy', 'value'], method: 'evaluate' },
  },
  {
    name: 'rl-conv-actor-critic',
    config: {
      type: 'ConvActorCritic',
      imageShape: [6, 6, 2],
      action: { kind: 'continuous', dim: 2 },
      channels: [4, 5],
      kernelSizes: [3, 2],
      strides: [1, 2],
      hidden: 8,
      inputScale: 0.5,
      initLogStd: 0.2,
    },
    inputs: (rng) => ({ obs: rng.normalTensor([3, 72]), actions: rng.normalTensor([3, 2]) }),
    run: (m, i) => {
      const r = (m as unknown as { evaluate(o: tf.Tensor, a: tf.Tensor): Record<string, tf.Tensor> }).evaluate(i.obs, i.actions);
      return { logProb: r.logProb, entropy: r.entropy, value: r.value };
    },
    call: { args: ['obs', 'actions'], outputs: ['logProb', 'entropy', 'value'], method: 'evaluate' },
  },
  {
    name: 'rl-recurrent-actor-critic',
    config: { type: 'RecurrentActorCritic', obsDim: 3, numActions: 2, hiddenSize: 6 },
    inputs: (rng) => ({ x: rng.normalTensor([4, 7]), h: rng.normalTensor([4, 6]) }),
    run: (m, i) => {
      const r = (m as unknown as { step(x: tf.Tensor, h: tf.Tensor): Record<string, tf.Tensor> }).step(i.x, i.h);
      return { logits: r.logits, value: r.value, h: r.h };
    },
    call: { args: ['x', 'h'], outputs: ['logits', 'value', 'h'], method: 'step' },
  },
  {
    name: 'rl-discern-embedding',
    config: { type: 'DiscernEmbedding', inDim: 5, hidden: [8, 6], embedDim: 4 },
    inputs: normal([3, 5]),
    run: one('x'),
    call: { args: ['x'], outputs: ['y'] },
  },
];

/** shapesFD's shipped classifier. */
export const CLASSIFIER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'packages', 'diffusion', 'assets', 'shapes-classifier');

/** The shipped flagship diffusion model (a GaussianDiffusion around a UNetDenoiser). */
export const FLAGSHIP_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'packages',
  'diffusion',
  'assets',
  'flagship',
);

/** Adds N(0, 0.1²) noise to every parameter, so none is a no-op (norm scales leave 1, biases and zero-initialised parts leave 0). */
function perturb(m: Module, rng: Rng): void {
  for (const [, p] of m.namedParameters())
    tf.tidy(() => p.assign(tf.add(p, tf.mul(0.1, rng.normalTensor(p.shape)))));
  // BatchNorm's running statistics, so that evaluation mode is more than an affine map (variances stay positive)
  for (const [name, b] of m.namedBuffers()) {
    if (/(^|\.)running_mean$/.test(name))
      tf.tidy(() => b.assign(tf.mul(0.3, rng.normalTensor(b.shape))));
    if (/(^|\.)running_var$/.test(name))
      tf.tidy(() => b.assign(tf.exp(tf.mul(0.3, rng.normalTensor(b.shape)))));
  }
}

function encodable(t: tf.Tensor) {
  return {
    dtype: t.dtype === 'int32' ? ('I32' as const) : ('F32' as const),
    shape: t.shape,
    data: t.dataSync(),
  };
}

/** Writes every case under `dir` (one folder each); returns the case names. */
export async function writeParityFixtures(
  dir: string,
  cases: ParityCase[] = PARITY_CASES,
): Promise<string[]> {
  const names: string[] = [];
  for (const c of cases) {
    const rng = manualSeed(20 + names.length);
    const m = c.module ? await c.module() : build(c.config, { rng });
    m.eval();
    if (!c.module) perturb(m, rng);
    const inputs = c.inputs(rng);
    const caseDir = join(dir, c.name);
    mkdirSync(caseDir, { recursive: true });
    await save(m, caseDir); // before the call: a training-mode call updates BatchNorm's buffers
    if (c.call.train) m.train();
    const outputs = tf.tidy(() => c.run(m, inputs));
    const io: Record<string, ReturnType<typeof encodable>> = {};
    for (const [k, t] of Object.entries(inputs)) io[`in.${k}`] = encodable(t);
    for (const [k, t] of Object.entries(outputs)) io[`out.${k}`] = encodable(t);
    writeFileSync(join(caseDir, 'io.safetensors'), encodeSafetensors(io));
    writeFileSync(join(caseDir, 'case.json'), `${JSON.stringify(c.call, null, 2)}\n`);
    tf.dispose([...Object.values(inputs), ...Object.values(outputs)]);
    m.dispose();
    names.push(c.name);
  }
  return names;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) throw new Error('fixtures.ts: usage: fixtures.ts <output dir>');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  console.log((await writeParityFixtures(dir)).join('\n'));
}
