/**
 * `dropless` MoE (MegaBlocks dMoE): token copies sorted stably by expert, each expert's group padded
 * to a multiple of the block size, the first projection as a block-sparse SDD and the second as a
 * DSD over the block topology, then unpermuted and combined with the router weights. No copy is
 * ever dropped and the padding is below one block per expert.
 *
 * The forward pass is synchronous, so it runs inside `tf.variableGrads` and core's `Trainer`:
 * - with a block-sparse kernel (WebGPU) the sort, padding and topology stay on the device. The row
 *   count is the static bound `maxPaddedRows(T·k, E, b)`; the kernel skips the unused trailing
 *   block rows, so only the topology's blocks are computed;
 * - on backends whose tensors live in host memory (cpu, wasm, tfjs-node) the E group sizes are read
 *   synchronously (a copy of E numbers, no GPU stall), the matrix has exactly the padded rows and
 *   each expert's group runs as one plain 2-D product (the `grouped` reference);
 * - elsewhere (e.g. WebGL) the `batched` reference runs on the device-side topology.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ExpertMLP } from '../experts.js';
import type { Routing } from '../router.js';
import { gatherRows } from '../ops/gather-rows.js';
import {
  dsd,
  hasBlockSparseKernel,
  maxPaddedRows,
  resolveBlockSparseImpl,
  roundUp,
  sdd,
  topologyFromCounts,
  type BlockSparseImpl,
  type HostGroups,
  type SparseTopology,
} from '../ops/block-sparse-matmul.js';
import { withoutGradient } from '../ops/no-grad.js';
import { copyOfSlot, copyRanks, tokenOfSlot } from './dispatch.js';
import { combineCopies, tidyObject, type LayerResult } from './result.js';

/** Backends whose tensor data lives in host memory, where reading E group sizes synchronously is a copy. */
export const HOST_MEMORY_BACKENDS: ReadonlySet<string> = new Set(['cpu', 'wasm', 'tensorflow']);

/** Options of {@link droplessMoE}. */
export interface DroplessOptions {
  /** Block edge b (a power of two); each expert's group is padded to a multiple of it. */
  blockSize: number;
  /** Block-sparse implementation (default `auto`, see the module comment). */
  impl?: BlockSparseImpl;
}

/** Result of {@link droplessMoE}: the layer result plus the topology it ran on. */
export interface DroplessResult extends LayerResult {
  topology: SparseTopology;
  /** The implementation that ran. */
  impl: Exclude<BlockSparseImpl, 'auto'>;
}

/**
 * Dropless block-sparse MoE.
 * @param x [T, d]
 */
export function droplessMoE(
  x: tf.Tensor2D,
  routing: Routing,
  experts: ExpertMLP,
  options: DroplessOptions,
): DroplessResult {
  return tidyObject(() => droplessInScope(x, routing, experts, options));
}

function droplessInScope(
  x: tf.Tensor2D,
  routing: Routing,
  experts: ExpertMLP,
  options: DroplessOptions,
): DroplessResult {
  const { blockSize: b, impl: requested = 'auto' } = options;
  const [T] = x.shape;
  const k = routing.indices.shape[1];
  const E = experts.config.numExperts;
  const backend = tf.getBackend();
  const useHost =
    requested === 'grouped' ||
    (requested === 'auto' && !hasBlockSparseKernel(backend) && HOST_MEMORY_BACKENDS.has(backend));
  let host: HostGroups | undefined;
  let P: number;
  if (useHost) {
    if (!HOST_MEMORY_BACKENDS.has(backend)) {
      throw new Error(
        `droplessMoE: impl 'grouped' reads the expert group sizes synchronously, which backend '${backend}' cannot do; ` +
          `use 'auto', 'kernel' or 'batched' (host-memory backends: ${[...HOST_MEMORY_BACKENDS].join(', ')})`,
      );
    }
    const counts = routing.counts.dataSync(); // E numbers already in host memory on these backends
    const rows = Array.from(counts, (c) => roundUp(Math.round(c), b));
    const starts: number[] = [];
    let acc = 0;
    for (const r of rows) {
      starts.push(acc);
      acc += r;
    }
    host = { starts, rows };
    P = acc;
  } else {
    P = maxPaddedRows(T * k, E, b);
  }
  const topology = topologyFromCounts(routing.counts, b, P, host);
  const impl = resolveBlockSparseImpl(requested, topology);
  // Destination row of every copy: its expert's padded start plus its rank within the expert.
  const { expert, rank } = copyRanks(routing.indices, E);
  const dest = withoutGradient(() => {
    const starts = tf.cumsum(tf.mul(tf.ceil(tf.div(routing.counts, b)), b), 0, true); // [E] padded group starts
    return tf.add(tf.cast(tf.gather(starts, expert), 'int32'), rank);
  }) as tf.Tensor1D; // [T·k]
  const copyAt = copyOfSlot(dest, P); // [P], −1 for padding
  const xp = gatherRows(x, tokenOfSlot(copyAt, k), tf.reshape(dest, [T, k])); // [P, d] sorted, padded
  const opts = { impl };
  const h = sdd(xp, experts.w1, topology, opts); // [P, F] non-zero blocks of the [P, E·F] hidden
  const a = experts.activate(h, experts.v1 ? sdd(xp, experts.v1, topology, opts) : undefined);
  const yp = dsd(a, experts.w2, topology, opts); // [P, d]
  const copies = gatherRows(yp, dest, tf.reshape(copyAt, [P, 1])); // [T·k, d]
  const computedRows = impl === 'kernel' ? tf.cast(topology.usedRows, 'float32') : tf.scalar(P);
  return {
    y: combineCopies(copies, routing.weights),
    droppedCopies: tf.scalar(0),
    keptPerExpert: routing.counts,
    computedRows: computedRows as tf.Scalar,
    topology,
    impl,
  };
}
