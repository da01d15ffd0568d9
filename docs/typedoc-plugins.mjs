// Local TypeDoc plugin: name each module after its npm package (`@brickml/core`), read from the
// package.json next to the entry point's `src/` folder.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Converter, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getChildrenByKind(ReflectionKind.Module)) {
      const file = mod.sources?.[0]?.fullFileName ?? context.project.getSymbolIdFromReflection?.(mod)?.fileName;
      const pkgDir = file ? dirname(dirname(file)) : undefined;
      if (!pkgDir) continue;
      try {
        mod.name = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')).name;
      } catch {
        /* keep TypeDoc's name */
      }
    }
  });
}
