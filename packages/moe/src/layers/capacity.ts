/**
 * `capacity` MoE (Switch / GShard, MegaBlocks `moe.py`): each expert takes at most
 * `C = floor(capacityFactor · k · T / E)` token copies into a fixed `[E, C, d]` buffer; the copies
 * over capacity are dropped and contribute zero (only the residual carries them).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '@brickml/core';
import type { ExpertMLP } from '../experts.js';
import type { Routing } from '../router.js';
import { gatherRows } from '../ops/gather-rows.js';
import { groupedMatmul } from '../ops/block-sparse-matmul.js';
import { withoutGradient } from '../ops/no-grad.js';
import { copyOfSlot, copyRanks, tokenOfSlot } from './dispatch.js';
import { combineCopies, tidyObject, type LayerResult } from './result.js';

/** Capacity per expert: `floor(capacityFactor · k · T / E)`. */
export function expertCapacity(
  capacityFactor: number,
  k: number,
  numTokens: number,
  numExperts: number,
): number {
  return Math.floor((capacityFactor * k * numTokens) / numExperts);
}

/** Options of {@link capacityMoE}. */
export interface CapacityOptions {
  /** C in `floor(C · k · T / E)`. */
  capacityFactor: number;
}

/**
 * Expert products over E equal groups of C rows: a batched product `[E, C, K] · [E, K, N]`, or on
 * wasm (where only plain 2-D products are fast) one 2-D product per expert.
 * @param a [E·C, K]
 * @returns [E·C, N]
 */
function equalGroupsMatmul(a: tf.Tensor, w: tf.Tensor, capacity: number): tf.Tensor {
  const E = w.shape[0];
  if (tf.getBackend() === 'wasm') {
    return groupedMatmul(a, w, {
      starts: Array.from({ length: E }, (_, e) => e * capacity),
      rows: new Array(E).fill(capacity),
    });
  }
  const K = a.shape[1] as number;
  const N = w.shape[2] as number;
  return tf.reshape(matmul(tf.reshape(a, [E, capacity, K]), w), [E * capacity, N]);
}

/**
 * Capacity-limited MoE. Copies claim slots in ascending `t·k + s` order (the stable sort by
 * expert), so with k > 1 a token's first choice never loses its slot to a later token.
 *
 * @param x [T, d]
 */
export function capacityMoE(
  x: tf.Tensor2D,
  routing: Routing,
  experts: ExpertMLP,
  { capacityFactor }: CapacityOptions,
): LayerResult {
  return tidyObject(() => capacityInScope(x, routing, experts, capacityFactor));
}

function capacityInScope(
  x: tf.Tensor2D,
  routing: Routing,
  experts: ExpertMLP,
  capacityFactor: number,
): LayerResult {
  const [T, d] = x.shape;
  const k = routing.indices.shape[1];
  const E = experts.config.numExperts;
  const C = expertCapacity(capacityFactor, k, T, E);
  const keptPerExpert = withoutGradient(() => tf.minimum(routing.counts, C)) as tf.Tensor1D;
  const droppedCopies = withoutGradient(() => tf.sub(T * k, tf.sum(keptPerExpert))) as tf.Scalar;
  if (C === 0) {
    return { y: tf.zeros([T, d]), droppedCopies, keptPerExpert, computedRows: tf.scalar(0) };
  }
  const { expert, rank } = copyRanks(routing.indices, E);
  // Slot of each copy in the [E·C] buffer, −1 when over capacity.
  const slot = withoutGradient(() =>
    tf.where(
      tf.less(rank, C),
      tf.add(tf.mul(expert, tf.scalar(C, 'int32')), rank),
      tf.fill([T * k], -1, 'int32'),
    ),
  ) as tf.Tensor1D; // [T·k]
  const copyAt = copyOfSlot(slot, E * C); // [E·C]
  const xc = gatherRows(x, tokenOfSlot(copyAt, k), tf.reshape(slot, [T, k])); // [E·C, d]
  const h = equalGroupsMatmul(xc, experts.w1, C); // [E·C, F]
  const a = experts.activate(h, experts.v1 ? equalGroupsMatmul(xc, experts.v1, C) : undefined);
  const yc = equalGroupsMatmul(a, experts.w2, C); // [E·C, d]
  const copies = gatherRows(yc, slot, tf.reshape(copyAt, [E * C, 1])); // [T·k, d], dropped → 0
  return {
    y: combineCopies(copies, routing.weights),
    droppedCopies,
    keptPerExpert,
    computedRows: tf.scalar(E * C),
  };
}
