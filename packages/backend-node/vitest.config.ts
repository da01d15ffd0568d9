import { defineProject } from 'vitest/config';

// Unlike core, this package's tests resolve `@brickml/core` to its build (packages/core/dist, built
// first by `turbo run test`; by hand: `npm run build -w @brickml/core`), which is also what users
// run. With core's `source` condition, vitest inlines tfjs-core's ESM gradient registration module by
// module next to the CJS tfjs-core that the backends load, and after a backend switch some gradients
// failed ("Cannot read properties of null (reading 'clone')" in Cast_grad) in ways that moved with
// unrelated code changes; core's bundled build and plain Node never showed it.
export default defineProject({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file runs in its own process: the tfjs backend, Dawn and SwiftShader are per-process state.
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
