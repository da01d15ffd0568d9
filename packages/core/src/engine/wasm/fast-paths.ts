/**
 * Core's replacements for tfjs-backend-wasm kernels that copy far more than they need (`Slice`,
 * `Tile`, `Identity`, `GatherV2`). Core's backend selection installs them when wasm is chosen; call this yourself after
 * `tf.setBackend('wasm')` if you select the backend without BrickML. Idempotent.
 */
import { installWasmGather } from './gather.js';
import { installWasmIdentity } from './identity.js';
import { installWasmSlice } from './slice.js';
import { installWasmTile } from './tile.js';

export function installWasmFastPaths(): void {
  installWasmSlice();
  installWasmTile();
  installWasmIdentity();
  installWasmGather();
}
