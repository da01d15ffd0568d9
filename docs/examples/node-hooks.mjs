// Loaded with `tsx --import ./examples/node-hooks.mjs` by `npm run example`.
//
// @brickml/core's source imports tfjs-core's gradient and chained-op registration modules
// (`@tensorflow/tfjs-core/dist/register_all_gradients.js`), which use extensionless relative
// imports. Core's published build bundles them; when running core from source under tsx, tsx
// resolves the ambiguous `./gradients` (a file `gradients.js` and a folder `gradients/`) to the
// folder and Node fails with ERR_UNSUPPORTED_DIR_IMPORT. This hook tries `<specifier>.js` first
// for extensionless relative imports made from inside tfjs-core's dist/.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (parent.includes('/@tensorflow/tfjs-core/dist/') && /^\\.\\.?\\//.test(specifier) && !/\\.[cm]?js$/.test(specifier)) {
    try {
      return await next(specifier + '.js', context);
    } catch {
      /* fall through to the default resolution */
    }
  }
  return next(specifier, context);
}
`),
);
