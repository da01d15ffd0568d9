export * from './grad-check.js';
export * from './conformance.js';
