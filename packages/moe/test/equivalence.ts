// The layer-equivalence suite (dropless == dense, capacity == dense / drops exactly the rule's
// copies), defined once and run on each backend by moe.test.ts (cpu) and wasm.test.ts.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '@brickml/core';
import {
  ExpertMLP,
  capacityMoE,
  denseMoE,
  droplessMoE,
  expertCapacity,
  routeTopK,
  type BlockSparseImpl,
  type Routing,
} from '../src/index.js';
import { host, maxAbs, maxAbsDiff, randn } from './helpers.js';

export const T = 24;
export const d = 6;
export const F = 8;
export const E = 4;
export const b = 4;

/** Router logits for the routing scenarios the issue names. */
function scenarioLogits(name: string, seed: number): tf.Tensor2D {
  const base = randn([T, E], seed) as tf.Tensor2D;
  if (name === 'random') return base;
  const bias = new Float32Array(E);
  if (name === 'zero-token expert') bias[2] = -20; // expert 2 never chosen
  if (name === 'one expert takes all') bias[1] = 20; // every token's first choice is expert 1
  return tf.add(base, tf.tensor1d(bias)) as tf.Tensor2D;
}

type LayerFn = (x: tf.Tensor2D, r: Routing, ex: ExpertMLP) => tf.Tensor;

/** Output and gradients (x, logits, every expert weight) of sum(layer · R). */
function outputAndGrads(
  layer: LayerFn,
  ex: ExpertMLP,
  x: tf.Tensor2D,
  logits: tf.Tensor2D,
  k: number,
  R: tf.Tensor,
) {
  const xv = tf.variable(x);
  const lv = tf.variable(logits);
  const params = ex.parameters();
  const { value, grads } = tf.variableGrads(() => {
    const routing = routeTopK(lv as unknown as tf.Tensor2D, { k });
    return tf.sum(tf.mul(layer(xv as unknown as tf.Tensor2D, routing, ex), R)) as tf.Scalar;
  }, [xv, lv, ...params]);
  const y = layer(x, routeTopK(logits, { k }), ex);
  const out = {
    y,
    value,
    gx: grads[xv.name],
    gl: grads[lv.name],
    gp: params.map((p) => grads[p.name]),
  };
  xv.dispose();
  lv.dispose();
  return out;
}

const dense: LayerFn = (x, r, ex) => denseMoE(x, r, ex).y;

/** Defines the suite for the block-sparse implementations `impls` on the current backend. */
export function defineEquivalenceTests(impls: BlockSparseImpl[]): void {
  describe('dropless equals dense (output and gradients)', () => {
    for (const activation of ['gelu', 'swiglu'] as const) {
      for (const k of [1, 2]) {
        for (const scenario of ['random', 'zero-token expert', 'one expert takes all']) {
          for (const impl of impls) {
            it(`${activation}, top-${k}, ${scenario}, ${impl}`, async () => {
              const ex = new ExpertMLP(
                { numExperts: E, dim: d, ffnHidden: F, activation, initStd: 0.5 },
                { rng: new Rng(11) },
              );
              const x = randn([T, d], 1) as tf.Tensor2D;
              const logits = scenarioLogits(scenario, 2);
              const R = randn([T, d], 3);
              const dl: LayerFn = (xx, r, e) => droplessMoE(xx, r, e, { blockSize: b, impl }).y;
              const ref = outputAndGrads(dense, ex, x, logits, k, R);
              const got = outputAndGrads(dl, ex, x, logits, k, R);
              expect(await maxAbs(ref.y)).toBeGreaterThan(0.1); // a real signal
              expect(await maxAbsDiff(got.y, ref.y)).toBeLessThan(2e-5);
              expect(await maxAbsDiff(got.gx, ref.gx)).toBeLessThan(2e-5);
              expect(await maxAbsDiff(got.gl, ref.gl)).toBeLessThan(2e-5);
              for (let i = 0; i < ref.gp.length; i++)
                expect(await maxAbsDiff(got.gp[i], ref.gp[i])).toBeLessThan(2e-5);
              if (scenario === 'zero-token expert') {
                // The unused expert gets exactly zero gradient on both paths.
                expect(await maxAbs(tf.slice(got.gp[0], [2, 0, 0], [1, d, F]))).toBe(0);
              }
              ex.dispose();
            });
          }
        }
      }
    }

    it('counts padded rows: below one block per expert, and exactly the group padding on the host path', async () => {
      const ex = new ExpertMLP({ numExperts: E, dim: d, ffnHidden: F }, { rng: new Rng(1) });
      const x = randn([T, d], 1) as tf.Tensor2D;
      const routing = routeTopK(scenarioLogits('random', 5), { k: 2 });
      const counts = await host(routing.counts);
      const padded = counts.map((c) => Math.ceil(c / b) * b).reduce((a, c) => a + c, 0);
      const grouped = droplessMoE(x, routing, ex, { blockSize: b, impl: 'grouped' });
      expect((await host(grouped.computedRows))[0]).toBe(padded);
      expect(padded - T * 2).toBeLessThan(E * b);
      expect((await host(grouped.droppedCopies))[0]).toBe(0);
      const batched = droplessMoE(x, routing, ex, { blockSize: b, impl: 'batched' });
      expect((await host(batched.computedRows))[0] - T * 2).toBeLessThan(E * b);
    });
  });

  /** Host-side capacity rule: copies claim slots in ascending t·k + s; the first C of each expert stay. */
  async function keptMask(routing: Routing, C: number): Promise<number[]> {
    const idx = await host(routing.indices);
    const used = new Array(E).fill(0);
    return idx.map((e) => (used[e]++ < C ? 1 : 0));
  }

  describe('capacity', () => {
    it('equals dense when the capacity holds every copy', async () => {
      const ex = new ExpertMLP(
        { numExperts: E, dim: d, ffnHidden: F, initStd: 0.5 },
        { rng: new Rng(2) },
      );
      const x = randn([T, d], 4) as tf.Tensor2D;
      const R = randn([T, d], 5);
      for (const k of [1, 2]) {
        const cap: LayerFn = (xx, r, e) => capacityMoE(xx, r, e, { capacityFactor: E / k }).y; // C = T
        const ref = outputAndGrads(dense, ex, x, scenarioLogits('one expert takes all', 6), k, R);
        const got = outputAndGrads(cap, ex, x, scenarioLogits('one expert takes all', 6), k, R);
        expect(await maxAbsDiff(got.y, ref.y)).toBeLessThan(2e-5);
        expect(await maxAbsDiff(got.gx, ref.gx)).toBeLessThan(2e-5);
        expect(await maxAbsDiff(got.gl, ref.gl)).toBeLessThan(2e-5);
        for (let i = 0; i < ref.gp.length; i++)
          expect(await maxAbsDiff(got.gp[i], ref.gp[i])).toBeLessThan(2e-5);
      }
    });

    it('drops exactly the copies over capacity: equals dense with those copies zeroed', async () => {
      const ex = new ExpertMLP(
        { numExperts: E, dim: d, ffnHidden: F, initStd: 0.5 },
        { rng: new Rng(3) },
      );
      const x = randn([T, d], 7) as tf.Tensor2D;
      for (const [k, cf, scenario] of [
        [1, 1.0, 'random'],
        [2, 0.5, 'random'],
        [2, 1.25, 'one expert takes all'],
      ] as const) {
        const routing = routeTopK(scenarioLogits(scenario, 8), { k });
        const C = expertCapacity(cf, k, T, E);
        expect(C).toBe(Math.floor((cf * k * T) / E));
        const kept = await keptMask(routing, C);
        const droppedHost = kept.filter((v) => v === 0).length;
        expect(droppedHost).toBeGreaterThan(0);
        const out = capacityMoE(x, routing, ex, { capacityFactor: cf });
        expect((await host(out.droppedCopies))[0]).toBe(droppedHost);
        const counts = await host(routing.counts);
        expect(await host(out.keptPerExpert)).toEqual(counts.map((c) => Math.min(c, C)));
        const maskedRouting = {
          ...routing,
          weights: tf.mul(routing.weights, tf.tensor2d(kept, [T, k])) as tf.Tensor2D,
        };
        expect(await maxAbsDiff(out.y, denseMoE(x, maskedRouting, ex).y)).toBeLessThan(2e-5);
      }
    });
  });
}
