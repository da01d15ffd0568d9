export * from './progress.js';
export * from './trainer.js';
