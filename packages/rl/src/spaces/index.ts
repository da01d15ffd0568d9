export * from './space.js';
export * from './discrete.js';
export * from './box.js';
