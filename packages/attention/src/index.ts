/**
 * @brickml/attention: multi-head attention, position encodings, transformer blocks, Perceiver IO
 * (with HiP grouping) and RIN adaptive-compute networks.
 *
 * Importing this package registers its bricks (`MultiHeadAttention`, `TransformerBlock`,
 * `SinCosPositionEncoding`, `FourierPositionEncoding`, `LearnedPositionEncoding`,
 * `RotaryEmbedding`, `PerceiverEncoder`, `PerceiverDecoder`, `PerceiverIO`, `RinBlock`,
 * `RinNetwork`) so `build(config)` can make them.
 *
 * Conventions: masks `true` = may attend (key padding [B, Tk] AND attention mask [B|1, Tq, Tk]);
 * fully masked query rows get zero weights (output = the output projection's bias); projection
 * features are head-major; cross-attention normalises the context stream by default
 * (`normContext: true`, Perceiver) while RIN defaults to false (pix2seq); LayerNorm eps 1e-5 for
 * generic bricks, 1e-6 for RIN (pix2seq).
 * @packageDocumentation
 */
import '@brickml/core';

export * from './attention/sdpa.js';
export * from './attention/multi-head.js';
export * from './position/sincos.js';
export * from './position/fourier.js';
export * from './position/learned.js';
export * from './position/rotary.js';
export * from './transformer-block.js';
export * from './perceiver/encoder.js';
export * from './perceiver/decoder.js';
export * from './perceiver/perceiver-io.js';
export * from './rin/depthwise-conv.js';
export * from './rin/rin-block.js';
export * from './rin/rin-network.js';
export * from './fast-weights/fast-weights-rnn.js';
export * from './flops.js';
export * from './gather-rows.js';
