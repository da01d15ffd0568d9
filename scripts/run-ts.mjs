#!/usr/bin/env node
// Runs a TypeScript entry point of a package (a script or an example) in plain Node. Each package that
// has entry points calls it through its own `scripts/run.mjs`, which names the package's root first.
//
// Why not `tsx --conditions=source`: tfjs-core's gradient registration (imported by
// @brickml/core's source) uses extensionless ESM imports that Node cannot load, and tsx 4.23
// resolves `dist/gradients` to the directory rather than `gradients.js`. So the entry is bundled
// with esbuild exactly as @brickml/core's build does it — @brickml/* packages from source, deep
// tfjs-core imports bundled, every other package left external — and the bundle is run.
//
//   node scripts/run.mjs examples/flagship.ts --minutes 8
//
// The bundle goes to node_modules/.cache/brickml-run/<entry>.mjs, or under $BRICKML_RUN_CACHE_DIR
// when that is set (tests use their own folder, so a run beside them keeps its bundle). It must lie
// inside the package, where the bundle's external imports (tfjs-core, ...) resolve.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The package whose entry runs (a file URL of its folder): set by the package's scripts/run.mjs.
const pkgUrl = globalThis.__brickmlRunPackage;
if (!(pkgUrl instanceof URL)) {
  console.error('scripts/run-ts.mjs: run it through a package\'s scripts/run.mjs (node packages/<name>/scripts/run.mjs <entry.ts>)');
  process.exit(2);
}
const pkgRoot = fileURLToPath(pkgUrl);
const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run.mjs <entry.ts> [args...]');
  process.exit(2);
}
const cacheDir = process.env.BRICKML_RUN_CACHE_DIR ? resolve(process.env.BRICKML_RUN_CACHE_DIR) : join(pkgRoot, 'node_modules', '.cache', 'brickml-run');
mkdirSync(cacheDir, { recursive: true });
const outfile = join(cacheDir, `${basename(entry).replace(/\.[cm]?ts$/, '')}.mjs`);

const externals = {
  name: 'externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { external: true };
      if (args.path.startsWith('@brickml/')) return undefined; // bundle from source
      const pkg = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      if (pkg === '@tensorflow/tfjs-core' && args.path !== pkg) return undefined; // deep import: bundle
      return { external: true };
    });
  },
};

await build({
  entryPoints: [resolve(process.cwd(), entry)],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile,
  sourcemap: 'inline',
  conditions: ['source'],
  mainFields: ['module', 'main'],
  plugins: [externals, ...(globalThis.__extraPlugins ?? [])],
  logLevel: 'warning',
  // Brick modules register themselves on import; some packages' "sideEffects" lists name only
  // their index, which would let esbuild drop an imported brick module. Keep every module.
  ignoreAnnotations: true,
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
process.argv = [process.argv[0], resolve(process.cwd(), entry), ...rest];
await import(pathToFileURL(outfile).href);
