export * from './conv2d.js';
export * from './norm2d.js';
export * from './pool.js';
export * from './resnet.js';
