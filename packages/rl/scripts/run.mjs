#!/usr/bin/env node
// Runs a TypeScript entry point of this package with the repository's scripts/run-ts.mjs (see there).
globalThis.__brickmlRunPackage = new URL('..', import.meta.url); // this package's folder
await import('../../../scripts/run-ts.mjs');
