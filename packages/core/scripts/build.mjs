// Builds @brickml/core: one ESM bundle (esbuild) + declarations (tsc).
// Only the bare `@tensorflow/tfjs-core` specifier stays external; the deep imports of its gradient
// and chained-op registration modules are bundled, because plain Node ESM cannot load them.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
rmSync('dist', { recursive: true, force: true });

const externals = new Set(Object.keys({ ...require('../package.json').dependencies, ...require('../package.json').peerDependencies }));
const keepExternal = {
  name: 'externals',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { external: true };
      const pkg = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      // Bare package imports stay external; deep imports into tfjs-core are bundled.
      if (externals.has(pkg) && args.path === pkg) return { external: true };
      if (externals.has(pkg) && pkg !== '@tensorflow/tfjs-core') return { external: true };
      return undefined;
    });
  },
};

await build({
  entryPoints: ['src/index.ts'],
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  outfile: 'dist/index.js',
  sourcemap: true,
  mainFields: ['module', 'main'],
  conditions: ['source'],
  plugins: [keepExternal],
  logLevel: 'warning',
});
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--emitDeclarationOnly', '--declaration'], { stdio: 'inherit' });
