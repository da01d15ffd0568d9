/**
 * Core's replacements for tfjs-backend-wasm kernels that copy far more than they need (`Slice`,
 * `Tile`, `Identity`). Core's backend selection installs them when wasm is chosen; call this yourself after
 * `tf.setBackend('wasm')` if you select the backend without BrickML. Idempotent.
 */
import { installWasmIdentity } from './identity.js';
import { installWasmSlice } from './slice.js';
import { installWasmTile } from './tile.js';

export function installWasmFastPaths(): void {
  installWasmSlice();
  installWasmTile();
  installWasmIdentity();
}
