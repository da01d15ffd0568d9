/**
 * `dense` MoE: every expert runs on every token and the outputs are masked by the routing — the
 * reference the sparse layers are tested against (and the compute cost the issue compares with).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '@brickml/core';
import type { ExpertMLP } from '../experts.js';
import type { Routing } from '../router.js';
import { tidyObject, type LayerResult } from './result.js';

/**
 * Gate of every (token, expert) pair: the routing weight when the expert was chosen, else 0.
 * @returns [T, E]
 */
export function routingGate(routing: Routing): tf.Tensor2D {
  const [T, k] = routing.weights.shape;
  return tf.tidy(
    () =>
      tf.sum(tf.mul(tf.reshape(routing.weights, [T, 1, k]), routing.slotMask), 2) as tf.Tensor2D,
  );
}

/**
 * Hidden elements (`T · experts · F`) one chunk of the dense layer may hold: 2²⁴ floats, 64 MiB.
 * Chunks bound the peak memory of the backward pass (wasm's heap is a hard 4 GB wall; at 4096
 * tokens × 16 experts × 1024 the unchunked layer does not fit), and small layers run as one chunk.
 */
export const DENSE_CHUNK_ELEMENTS = 2 ** 24;

/**
 * `y[t] = Σ_e gate[t, e] · FFN_e(x[t])`, computed per chunk of experts c as two plain products:
 * `H_c = x · [w1_e … ]` ([T, n·F]), then `[gate_e·A_e … ] · [w2_e; …]`, which sums the gated expert
 * outputs inside the second product; chunk outputs are added. The chunk holds as many experts as
 * fit {@link DENSE_CHUNK_ELEMENTS} (all of them for small layers).
 *
 * @param x [T, d]
 */
export function denseMoE(x: tf.Tensor2D, routing: Routing, experts: ExpertMLP, options: DenseOptions = {}): LayerResult {
  return tidyObject(() => denseInScope(x, routing, experts, options));
}

/** Options of {@link denseMoE}. */
export interface DenseOptions {
  /** Gate [T, E] (default: from the routing, {@link routingGate}). */
  gate?: tf.Tensor2D;
  /** Hidden elements per chunk of experts (default {@link DENSE_CHUNK_ELEMENTS}). */
  chunkElements?: number;
}

function denseInScope(x: tf.Tensor2D, routing: Routing, experts: ExpertMLP, options: DenseOptions): LayerResult {
  const [T, d] = x.shape;
  const { numExperts: E, ffnHidden: F } = experts.config;
  const gate = options.gate ?? routingGate(routing);
  const chunkElements = options.chunkElements ?? DENSE_CHUNK_ELEMENTS;
  const chunk = Math.max(1, Math.min(E, Math.floor(chunkElements / (T * F))));
  let y: tf.Tensor | null = null;
  for (let e0 = 0; e0 < E; e0 += chunk) {
    const n = Math.min(chunk, E - e0);
    // [E, d, F] → experts e0 … e0+n−1 side by side: [d, n·F]
    const stacked = (w: tf.Tensor) =>
      tf.reshape(tf.transpose(tf.slice(w, [e0, 0, 0], [n, d, F]), [1, 0, 2]), [d, n * F]);
    const h = matmul(x, stacked(experts.w1)); // [T, n·F]
    const a = experts.activate(h, experts.v1 ? matmul(x, stacked(experts.v1)) : undefined);
    const g = tf.slice(gate, [0, e0], [T, n]); // [T, n]
    const gated = tf.reshape(tf.mul(tf.reshape(a, [T, n, F]), tf.reshape(g, [T, n, 1])), [T, n * F]);
    const w2 = n === E ? experts.w2 : tf.slice(experts.w2, [e0, 0, 0], [n, F, d]);
    const yc = matmul(gated, tf.reshape(w2, [n * F, d])); // [T, d]
    y = y === null ? yc : tf.add(y, yc);
  }
  return {
    y: y as tf.Tensor2D,
    droppedCopies: tf.scalar(0),
    keptPerExpert: routing.counts,
    computedRows: tf.scalar(T * E),
  };
}
