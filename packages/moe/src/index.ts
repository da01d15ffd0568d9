/**
 * @brickml/moe: mixture-of-experts for BrickML — routers, aux losses, stacked expert MLPs, and the
 * `MoE` brick with three layers behind one config field (`dense`, `capacity`, `dropless`), plus
 * the block-sparse product with a pure-tfjs reference and a WGSL kernel for `webgpu`.
 *
 * Importing it registers the bricks (`Router`, `ExpertMLP`, `MoE`), the WebGPU kernels and
 * gradient of the block-sparse product, and a wasm contiguous-rows kernel (harmless where those
 * backends are absent).
 * @packageDocumentation
 */
import { registerBlockSparseWebGPU } from './ops/webgpu/block-sparse-matmul.wgsl.js';
import { registerContiguousRowsWasm } from './ops/wasm/contiguous-rows.js';

registerBlockSparseWebGPU();
registerContiguousRowsWasm();

export * from './router.js';
export * from './aux-losses.js';
export * from './experts.js';
export * from './moe.js';
export * from './stats.js';
export * from './layers/result.js';
export * from './layers/dense.js';
export * from './layers/capacity.js';
export * from './layers/dropless.js';
export * from './layers/dispatch.js';
export * from './ops/block-sparse-matmul.js';
export * from './ops/gather-rows.js';
export * from './ops/no-grad.js';
export * from './ops/one-hot.js';
export * from './ops/activation.js';
export { registerBlockSparseWebGPU } from './ops/webgpu/block-sparse-matmul.wgsl.js';
export { registerContiguousRowsWasm } from './ops/wasm/contiguous-rows.js';
export * from './ops/rows.js';
