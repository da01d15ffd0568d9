import { defineProject } from 'vitest/config';

// Like backend-node, these tests use core's build (packages/core/dist, built first by `turbo run
// test`); the browser test bundles its page with esbuild, which resolves `@brickml/core` the same way.
export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 240_000,
    hookTimeout: 120_000,
  },
});
