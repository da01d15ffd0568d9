export * from './matmul.js';
export * from './linear.js';
export * from './norm.js';
export * from './activations.js';
export * from './embedding.js';
export * from './patches.js';
export * from './split.js';
