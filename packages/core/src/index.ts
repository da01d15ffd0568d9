/**
 * @brickml/core: the base every BrickML package stands on.
 *
 * Importing it registers tfjs-core's gradients and chained ops (so training works in plain Node)
 * and core's bricks (Linear, LayerNorm, RMSNorm, MLP, Embedding, Dropout, Sequential, patch
 * embedding).
 * @packageDocumentation
 */
import './engine/register.js';

export * from './errors.js';
export * from './rng.js';
export * from './module/module.js';
export * from './module/registry.js';
export * from './engine/backend.js';
export * from './ops/index.js';
export * from './bricks/index.js';
export * from './testing/index.js';
