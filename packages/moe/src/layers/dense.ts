/**
 * `dense` MoE: every expert runs on every token and the outputs are masked by the routing — the
 * reference the sparse layers are tested against (and the compute cost the issue compares with).
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '@brickml/core';
import type { ExpertMLP } from '../experts.js';
import { contiguousRows } from '../ops/rows.js';
import { activationBackward } from '../ops/activation.js';
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
 * fit {@link DENSE_CHUNK_ELEMENTS} (all of them for small layers); when there are several chunks,
 * each recomputes its activations in the backward pass instead of keeping them.
 *
 * @param x [T, d]
 */
export function denseMoE(
  x: tf.Tensor2D,
  routing: Routing,
  experts: ExpertMLP,
  options: DenseOptions = {},
): LayerResult {
  return tidyObject(() => denseInScope(x, routing, experts, options));
}

/** Options of {@link denseMoE}. */
export interface DenseOptions {
  /** Gate [T, E] (default: from the routing, {@link routingGate}). */
  gate?: tf.Tensor2D;
  /** Hidden elements per chunk of experts (default {@link DENSE_CHUNK_ELEMENTS}). */
  chunkElements?: number;
}

function denseInScope(
  x: tf.Tensor2D,
  routing: Routing,
  experts: ExpertMLP,
  options: DenseOptions,
): LayerResult {
  const [T, d] = x.shape;
  const { numExperts: E, ffnHidden: F } = experts.config;
  const gate = options.gate ?? routingGate(routing);
  const chunkElements = options.chunkElements ?? DENSE_CHUNK_ELEMENTS;
  const chunk = Math.max(1, Math.min(E, Math.floor(chunkElements / (T * F))));
  const checkpoint = chunk < E; // several chunks: a large layer, recompute activations in backward
  let y: tf.Tensor | null = null;
  for (let e0 = 0; e0 < E; e0 += chunk) {
    const n = Math.min(chunk, E - e0);
    // [E, d, F] → experts e0 … e0+n−1 side by side: [d, n·F]
    const stacked = (w: tf.Tensor) =>
      tf.reshape(tf.transpose(n === E ? w : contiguousRows(w, e0, n), [1, 0, 2]), [d, n * F]);
    const w1 = stacked(experts.w1);
    const v1 = experts.v1 ? stacked(experts.v1) : undefined;
    const w2 = tf.reshape(n === E ? experts.w2 : contiguousRows(experts.w2, e0, n), [n * F, d]);
    const g = tf.slice(gate, [0, e0], [T, n]); // [T, n]
    const yc = checkpoint
      ? checkpointedChunk(experts, x, w1, v1, w2, g)
      : denseChunk(experts, x, w1, v1, w2, g);
    y = y === null ? yc : tf.add(y, yc);
  }
  return {
    y: y as tf.Tensor2D,
    droppedCopies: tf.scalar(0),
    keptPerExpert: routing.counts,
    computedRows: tf.scalar(T * E),
  };
}

/**
 * One chunk of n experts: `[g_e·act(x·w1_e) …] · [w2_e; …]`.
 * @param x [T, d]; w1, v1 [d, n·F]; w2 [n·F, d]; g [T, n]
 * @returns [T, d]
 */
function denseChunk(
  experts: ExpertMLP,
  x: tf.Tensor,
  w1: tf.Tensor,
  v1: tf.Tensor | undefined,
  w2: tf.Tensor,
  g: tf.Tensor,
): tf.Tensor {
  const [T, n] = g.shape as [number, number];
  const F = experts.config.ffnHidden;
  const a = experts.activate(matmul(x, w1), v1 ? matmul(x, v1) : undefined); // [T, n·F]
  const gated = tf.reshape(tf.mul(tf.reshape(a, [T, n, F]), tf.reshape(g, [T, n, 1])), [T, n * F]);
  return matmul(gated, w2);
}

/**
 * {@link denseChunk} as one op that keeps only its inputs and recomputes the hidden activations in
 * the backward pass (activation checkpointing): a large dense layer's `[T, n·F]` activations, and
 * the copies tfjs-wasm makes of every tensor saved for backward, would not fit wasm's 4 GB heap.
 */
function checkpointedChunk(
  experts: ExpertMLP,
  x: tf.Tensor,
  w1: tf.Tensor,
  v1: tf.Tensor | undefined,
  w2: tf.Tensor,
  g: tf.Tensor,
): tf.Tensor {
  const [T, n] = g.shape as [number, number];
  const F = experts.config.ffnHidden;
  const act = experts.config.activation;
  // t [T, n·F] ⊙ gate [T, n], broadcast over each expert's F columns
  const gateBy = (t: tf.Tensor, gt: tf.Tensor) =>
    tf.reshape(tf.mul(tf.reshape(t, [T, n, F]), tf.reshape(gt, [T, n, 1])), [T, n * F]);
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const ins = args as tf.Tensor[];
    save(ins);
    return {
      value: denseChunk(
        experts,
        ins[0],
        ins[1],
        v1 ? ins[2] : undefined,
        ins[v1 ? 3 : 2],
        ins[v1 ? 4 : 3],
      ),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw1] = saved;
        const sv1 = v1 ? saved[2] : undefined;
        const [sw2, sg] = v1 ? [saved[3], saved[4]] : [saved[2], saved[3]];
        const h = tf.matMul(sx, sw1); // recomputed [T, n·F]
        const v = sv1 ? tf.matMul(sx, sv1) : undefined;
        const a = experts.activate(h, v);
        const dGated = tf.matMul(dy, tf.transpose(sw2)); // [T, n·F]
        const dw2 = tf.matMul(tf.transpose(gateBy(a, sg)), dy); // [n·F, d]
        const dg = tf.sum(tf.reshape(tf.mul(dGated, a), [T, n, F]), 2); // [T, n]
        const { dh, dv } = activationBackward(act, h, v, gateBy(dGated, sg));
        const xT = tf.transpose(sx);
        let dx = tf.matMul(dh, tf.transpose(sw1));
        if (dv && sv1) dx = tf.add(dx, tf.matMul(dv, tf.transpose(sv1)));
        const grads = [dx, tf.matMul(xT, dh)];
        if (dv) grads.push(tf.matMul(xT, dv));
        grads.push(dw2, dg);
        return grads;
      },
    };
  }) as any) as (...xs: tf.Tensor[]) => tf.Tensor;
  return v1 ? op(x, w1, v1, w2, g) : op(x, w1, w2, g);
}
