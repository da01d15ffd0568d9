// TypeDoc → Markdown (typedoc-plugin-markdown) → VitePress pages (typedoc-vitepress-theme).
//
// One module per @brickml package that has a `src/index.ts` (so a package's pages appear as soon as
// it lands), all in one TypeScript program: tsconfig.typedoc.json resolves @brickml/* to their
// sources (`source` condition), so the API reference needs no prior build and cross-package links
// (an attention brick extending core's `Module`) resolve. `typedoc-plugins.mjs` names each module
// after its npm package. Output: docs/api/ (generated, git-ignored) + api/typedoc-sidebar.json.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packagesDir = join(here, '..', 'packages');
const packages = readdirSync(packagesDir)
  .filter((d) => existsSync(join(packagesDir, d, 'src', 'index.ts')) && existsSync(join(packagesDir, d, 'package.json')))
  .sort();

/** @type {Partial<import('typedoc').TypeDocOptions & import('typedoc-plugin-markdown').PluginOptions & Record<string, unknown>>} */
const config = {
  entryPointStrategy: 'resolve',
  entryPoints: packages.map((d) => join(packagesDir, d, 'src', 'index.ts')),
  tsconfig: join(here, 'tsconfig.typedoc.json'),
  plugin: ['typedoc-plugin-markdown', 'typedoc-vitepress-theme', join(here, 'typedoc-plugins.mjs')],
  out: join(here, 'api'),
  docsRoot: here,
  readme: 'none',
  name: 'API reference',
  entryFileName: 'index',
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  disableSources: true,
  hidePageHeader: true,
  useCodeBlocks: true,
  parametersFormat: 'table',
  interfacePropertiesFormat: 'table',
  classPropertiesFormat: 'table',
  typeDeclarationFormat: 'table',
  sanitizeComments: true,
  sidebar: { autoConfiguration: true, format: 'vitepress', pretty: true, collapsed: true },
  validation: { notExported: false, invalidLink: true, notDocumented: false },
  // Type errors belong to each package's own `typecheck` task; the docs document what is there.
  skipErrorChecking: true,
  logLevel: 'Error',
};

export default config;
