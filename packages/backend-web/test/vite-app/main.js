// A minimal Vite app: no wasm set-up at all, just useBackend('wasm') and one computation.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@brickml/backend-web';

async function main() {
  const report = await useBackend('wasm');
  const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
  return { report, y: Array.from(await y.data()) };
}
main().then(
  (r) => (globalThis.__result = r),
  (e) => (globalThis.__error = String(e?.stack ?? e)),
);
