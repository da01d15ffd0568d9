/**
 * tfjs-backend-wasm's Emscripten glue, when its module is instantiated under Node (the first
 * `tf.setBackend('wasm')`), adds two process listeners:
 *
 * ```js
 * process.on('uncaughtException', function (ex) { if (!(ex instanceof ExitStatus)) throw ex; });
 * process.on('unhandledRejection', function (reason) { throw reason; });
 * ```
 *
 * Rethrowing from inside the listener makes Node report the error at the glue's `throw`, so every
 * uncaught error of the program (its own, long after the backend loaded) is printed below the
 * glue's source line — the whole minified module, tens of kilobytes — and the process exits with
 * code 7 ("internal exception handler failure") instead of 1. The glue's own cleanup (`_dispose`)
 * runs only when the backend is removed.
 *
 * {@link removeWasmProcessHandlers} removes exactly those two listeners (recognised by their code),
 * which restores Node's default: the error and its stack, exit code 1. Core's backend selection
 * calls it right after the wasm backend initialises.
 */

type Listener = (...args: unknown[]) => void;
type ProcessLike = {
  listeners(event: string): Listener[];
  removeListener(event: string, listener: Listener): unknown;
};

/** The glue's `uncaughtException` listener: rethrows anything that is not its own `ExitStatus`. */
const GLUE_UNCAUGHT = /\binstanceof\s+ExitStatus\b[\s\S]*\bthrow\b/;
/** The glue's `unhandledRejection` listener: `function (reason) { throw reason; }` (or an arrow). */
const GLUE_REJECTION = /^(?:function\s*)?\(?\s*([\w$]+)\s*\)?\s*(?:=>)?\s*\{\s*throw\s+\1\s*;?\s*\}$/;

function source(fn: Listener): string {
  try {
    return Function.prototype.toString.call(fn).trim();
  } catch {
    return '';
  }
}

/**
 * Removes the `uncaughtException` / `unhandledRejection` listeners that tfjs-backend-wasm's
 * Emscripten glue installs under Node (see the file comment); other listeners are untouched.
 * Returns how many were removed. A no-op outside Node. Core's backend selection (`useBackend` of
 * @brickml/backend-node) calls it when it sets up wasm; call it yourself after
 * `tf.setBackend('wasm')` if you select the backend without BrickML.
 */
export function removeWasmProcessHandlers(): number {
  const proc = (globalThis as { process?: Partial<ProcessLike> }).process;
  if (!proc || typeof proc.listeners !== 'function' || typeof proc.removeListener !== 'function') return 0;
  const p = proc as ProcessLike;
  let removed = 0;
  for (const [event, pattern] of [
    ['uncaughtException', GLUE_UNCAUGHT],
    ['unhandledRejection', GLUE_REJECTION],
  ] as const) {
    for (const listener of p.listeners(event)) {
      if (pattern.test(source(listener))) {
        p.removeListener(event, listener);
        removed++;
      }
    }
  }
  return removed;
}
