/**
 * MoE layer training step (forward + loss + backward w.r.t. the input and every parameter) with the
 * `MoE` brick of @brickml/moe at MegaBlocks-like size: 4096 tokens, width 512, 8 experts of hidden
 * 1024, exact GELU, softmax router with raw (unnormalised) top-k weights.
 *
 * - `moe-top{k}-dropless`: `kind: 'dropless'` (block 128; on wasm the `grouped` implementation),
 *   against `bench/torch/moe.py`, the usual PyTorch dense-loop MoE loaded with the same weights.
 * - `moe-top{k}-capacity125`: `kind: 'capacity'` at capacity factor 1.25; it may drop token copies,
 *   so it is timed against the dropless case's PyTorch row without parity. With this freshly
 *   initialised router (std 0.02, N(0, 1) tokens) routing is near-uniform (max load 1.07× / 1.02×
 *   the mean), so nothing is dropped: `facts()` reports `droppedFraction` 0 and the capacity layer
 *   computes E·C rows (5120 / 10240) where dropless computes its padded rows (4608 / 8832).
 *
 * Loss: `sum(y ⊙ r) + auxLoss` with a fixed random r [T, d]; the aux loss (load balancing α = 0.1
 * and router z-loss c_z = 1e-3, BrickML's defaults) is mirrored exactly in the reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@brickml/core';
import { MoE, readMoEStats, type MoEConfig } from '@brickml/moe';
import type { BenchCase } from '../case.js';

const TOKENS = 4096;
const DIM = 512;
const HIDDEN = 1024;
const EXPERTS = 8;
const BLOCK = 128;
const CAPACITY_FACTOR = 1.25;

/**
 * FLOPs of the useful work of one step, the same for every layer kind: the router product and k
 * copies of every token through one expert MLP (two d×F products), ×3 for forward + backward.
 * Padding rows (dropless), empty capacity slots and the routing bookkeeping are not counted.
 */
function stepFlops(k: number): number {
  const router = 2 * TOKENS * DIM * EXPERTS;
  const experts = k * TOKENS * 2 * (2 * DIM * HIDDEN);
  return 3 * (router + experts);
}

/**
 * Smallest gap over tokens between the k-th and (k+1)-th router score (0 = an exact tie). Parity
 * assumes both implementations choose the same experts; a gap near float32 rounding (~1e-7) could
 * flip a choice between them.
 * @param scores [T, E]
 */
function routingMargin(scores: number[][], k: number): number {
  let m = Infinity;
  for (const row of scores) {
    const s = [...row].sort((a, b) => b - a);
    m = Math.min(m, s[k - 1] - s[k]);
  }
  return m;
}

function moeCase(k: number, kind: 'dropless' | 'capacity'): BenchCase {
  const config: MoEConfig = {
    kind,
    dim: DIM,
    ffnHidden: HIDDEN,
    numExperts: EXPERTS,
    topK: k,
    activation: 'gelu',
    score: 'softmax',
    normalizeWeights: false,
    jitterEps: 0,
    loadBalanceCoef: 0.1,
    zLossCoef: 1e-3,
    blockSize: BLOCK,
    capacityFactor: CAPACITY_FACTOR,
  };
  const dropless = kind === 'dropless';
  return {
    id: `moe-top${k}-${dropless ? 'dropless' : 'capacity125'}`,
    title:
      `MoE fwd+bwd, ${TOKENS} tok × ${DIM}, ${EXPERTS} experts × ${HIDDEN} hidden, top-${k}, ` +
      (dropless ? `dropless (block ${BLOCK})` : `capacity factor ${CAPACITY_FACTOR}`),
    flops: stepFlops(k),
    reference: dropless
      ? { module: 'moe' }
      : { sameAs: `moe-top${k}-dropless`, why: 'drops tokens by design: no exact reference' },
    meta: { ...config, tokens: TOKENS, aux: true },
    // Default tolerance (1e-3 absolute) on purpose. Measured on wasm: the largest outputs are
    // grad.router.weight (|max| 45 top-1, 59 top-2: sums over 4096 tokens) with max |Δ| 1.0e-4 /
    // 1.1e-4, i.e. ~2e-6 relative (float32, another summation order); grad.experts.* (|max| ≤ 8)
    // ≤ 1.2e-5; y and grad.x ≤ 4e-7. A routing flip (see routingMargin) would fail it by far.
    async setup() {
      const moe = new MoE(config, { rng: new Rng(1) });
      const named = moe.namedParameters(); // router.weight [E, d], experts.w1 [E, d, F], experts.w2 [E, F, d]
      const rng = new Rng(2);
      const x0 = rng.normalTensor([TOKENS, DIM]); // [T, d]
      const x = tf.variable(x0, true); // [T, d]
      x0.dispose();
      const r = rng.normalTensor([TOKENS, DIM]); // [T, d] fixed loss weights
      const vars: tf.Variable[] = [x, ...named.map(([, p]) => p)];

      /** Loss and the gradients of `vars` (same order), inside the caller's tidy. */
      const lossAndGrads = () => {
        const { value, grads } = tf.variableGrads(() => {
          const out = moe.forward(x);
          return tf.add(tf.sum(tf.mul(out.y, r)), out.auxLoss) as tf.Scalar;
        }, vars);
        return { loss: value, grads: vars.map((v) => grads[v.name]) };
      };

      // Routing facts of this (fixed) state: the weights never change, so neither does routing.
      const out0 = moe.forward(x);
      const stats = await readMoEStats(out0);
      const { sparseImpl: impl, capacity } = out0.info; // capacity: slots per expert
      const margin = routingMargin(await out0.routing.scores.array(), k);
      tf.dispose(out0 as unknown as tf.TensorContainer);

      return {
        tensors: () => ({
          'in.x': x,
          'in.r': r,
          ...Object.fromEntries(named.map(([name, p]) => [`param.${name}`, p])),
        }),
        outputs: async () =>
          tf.tidy(() => {
            const y = moe.forward(x).y; // [T, d]
            const { loss, grads } = lossAndGrads();
            const outs: Record<string, tf.Tensor> = { y, loss, 'grad.x': grads[0] };
            named.forEach(([name], i) => (outs[`grad.${name}`] = grads[i + 1]));
            return outs;
          }),
        step: async () => {
          // One scalar per gradient, read together: every product has finished on any backend.
          const sums = tf.tidy(() => {
            const { loss, grads } = lossAndGrads();
            return [loss, ...grads.map((g) => tf.sum(g))];
          });
          await Promise.all(sums.map((s) => s.data()));
          tf.dispose(sums);
        },
        facts: () => ({
          droppedFraction: stats.fractionDropped,
          droppedCopies: stats.droppedCopies,
          computedRows: stats.computedRows,
          paddingRows: stats.paddingRows,
          maxLoadRatio: Number(stats.maxLoadRatio.toFixed(3)),
          routingMargin: Number(margin.toPrecision(3)),
          ...(impl ? { sparseImpl: impl } : {}),
          ...(capacity !== undefined ? { capacity } : {}),
        }),
        dispose: () => {
          moe.dispose();
          tf.dispose([x, r]);
        },
      };
    },
  };
}

export function moeCases(): BenchCase[] {
  return [1, 2].flatMap((k) => [moeCase(k, 'dropless'), moeCase(k, 'capacity')]);
}
