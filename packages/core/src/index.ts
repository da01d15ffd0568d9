/**
 * @brickml/core: the base every BrickML package stands on.
 *
 * Importing it registers tfjs-core's gradients and chained ops (so training works in plain Node)
 * and core's bricks (Linear, LayerNorm, RMSNorm, MLP, Embedding, Dropout, Sequential, patch
 * embedding).
 * @packageDocumentation
 */
import './engine/register.js';
import { registerWasmBatchMatmul } from './engine/wasm/batch-matmul.js';
import { registerFusedAdamW } from './optim/fused-adamw.js';
import { registerLayerNormWebGPU } from './engine/webgpu/layer-norm.js';

registerWasmBatchMatmul();
registerFusedAdamW();
registerLayerNormWebGPU();

export * from './errors.js';
export * from './rng.js';
export * from './module/module.js';
export * from './module/registry.js';
export * from './engine/backend.js';
export * from './ops/index.js';
export * from './bricks/index.js';
export * from './bricks/conv/index.js';
export * from './bricks/recurrent.js';
export * from './linalg/index.js';
export * from './testing/index.js';
export * from './train/index.js';
export * from './optim/optimizer.js';
export * from './optim/adamw.js';
export { FUSED_ADAMW_KERNEL, registerFusedAdamW, fusedAdamWAvailable, type AdamWAttrs } from './optim/fused-adamw.js';
export * from './optim/clip.js';
export * from './optim/schedules.js';
export * from './optim/ema.js';
export * from './io/safetensors.js';
export * from './io/weights.js';
export * from './io/fs.js';
export * from './io/checkpoint.js';
export * from './data/dataset.js';
export { SHAPE_NAMES, SHAPE_PALETTE, BACKGROUND_LEVEL, shapeCoverage, type ShapeKind, type PaletteColour, type ImageBackground, type ImageValueRange } from './data/raster.js';
export * from './data/shapes.js';
export * from './data/moving-sprites.js';
export * from './data/toy2d.js';
export * from './data/associative-recall.js';
export * from './data/files/index.js';
export * from './data/augment/index.js';
export * from './eval/index.js';
export * from './viz/colormap.js';
export * from './viz/png.js';
export * from './viz/plot.js';
export * from './viz/gif.js';
export * from './engine/select.js';
export * from './engine/adapter.js';
export { installWasmFastPaths } from './engine/wasm/fast-paths.js';
export { installWebGPUFastPaths } from './engine/webgpu/fast-paths.js';
export type { WebGPUBackendLike, WebGPUProgramLike } from './engine/webgpu/program.js';
export { FLASH_ATTENTION_KERNEL, FLASH_ATTENTION_GRAD_KERNEL, FLASH_ATTENTION_MAX_HEAD_DIM, flashAttentionUnsupported, registerFlashAttentionWebGPU, type FlashAttentionAttrs } from './engine/webgpu/attention.js';
export { installWasmSlice } from './engine/wasm/slice.js';
export { installWasmTile } from './engine/wasm/tile.js';
export { installWasmIdentity } from './engine/wasm/identity.js';
export { installWasmGather } from './engine/wasm/gather.js';
export { WASM_BATCH_MATMUL_KERNEL, registerWasmBatchMatmul, batchedMatmulKernelUsable } from './engine/wasm/batch-matmul.js';
