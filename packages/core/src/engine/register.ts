// Side-effect module: makes `@tensorflow/tfjs-core` trainable on its own.
//
// tfjs-core registers no gradients and no chained ops (`x.add(y)`) unless the union package
// `@tensorflow/tfjs` is loaded, and its registration modules use extensionless ESM imports that
// plain Node cannot resolve. Core's build bundles these two modules (see scripts/build.mjs), and
// the kernel/gradient registries and the engine live on `globalThis`, so the bundled copy
// registers into the same engine the user's `@tensorflow/tfjs-core` uses.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
