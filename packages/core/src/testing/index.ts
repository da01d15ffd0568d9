export * from './grad-check.js';
