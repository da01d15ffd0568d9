import { defineConfig } from 'vitest/config';

/**
 * The docs package's tests (`npm test` runs them through turbo after the docs build):
 * - test/site.test.ts: the built site in headless chromium (pages, links, live examples on WebGPU
 *   and wasm, screenshots under out/screenshots/);
 * - ../tests/packaging/pack.test.ts: `npm pack` of every package, one technique package installed
 *   alone from its tarballs in a fresh project and its README snippet run with plain node;
 * - ../tests/snippets/snippets.test.ts: every ts/js code block of the READMEs and docs pages, run as
 *   written (Node snippets with tsx, browser snippets in headless chromium).
 * Files run one after the other: all are heavy, and the machine may have two cores.
 */
export default defineConfig({
  ssr: { resolve: { conditions: ['source', 'node', 'import', 'module', 'default'] } },
  test: {
    include: ['test/**/*.test.ts', '../tests/packaging/**/*.test.ts', '../tests/snippets/**/*.test.ts', '../tests/torch/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 900_000,
    pool: 'forks',
  },
});
