import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BrickConfigError, Rng, build } from '@brickml/core';
import { ExpertMLP, MoE, denseMoE, readMoEStats, routeTopK } from '../src/index.js';
import { host, maxAbsDiff, randn } from './helpers.js';
import { E, F, T, b, d, defineEquivalenceTests } from './equivalence.js';

defineEquivalenceTests(['grouped', 'batched']);

describe('MoE brick', () => {
  const config = {
    dim: d,
    ffnHidden: F,
    numExperts: E,
    topK: 2,
    blockSize: b,
    initStd: 0.5,
    routerInitStd: 1,
  };

  it('the three kinds agree through the brick when nothing is dropped, with aux losses attached', async () => {
    const x = randn([2, 12, d], 9);
    const outs = (['dense', 'capacity', 'dropless'] as const).map((kind) => {
      const m = new MoE({ ...config, kind, capacityFactor: E / 2 }, { rng: new Rng(5) });
      return m.forward(x);
    });
    expect(outs[0].y.shape).toEqual([2, 12, d]);
    for (const o of outs.slice(1)) {
      expect(await maxAbsDiff(o.y, outs[0].y)).toBeLessThan(2e-5);
      expect(await host(o.auxLoss)).toEqual(await host(outs[0].auxLoss));
    }
    const s = await readMoEStats(outs[2]);
    expect(s.tokensPerExpert.reduce((a, c) => a + c)).toBe(48);
    expect(s.droppedCopies).toBe(0);
    expect(s.paddingRows).toBeLessThan(E * b);
    expect(s.loadBalanceLoss + s.zLoss).toBeCloseTo((await host(outs[2].auxLoss))[0], 6);
    const ds = await readMoEStats(outs[0]);
    expect(ds.computedRows).toBe(24 * E);
    expect(ds.paddingRows).toBe(24 * E - 48);
    expect(ds.paddingFlops).toBe(2 * (d * F * 2) * (24 * E - 48));
  });

  for (const activation of ['gelu', 'gelu_tanh', 'silu', 'relu', 'swiglu'] as const) {
    it(`dense in checkpointed chunks equals dense in one chunk (${activation}: values and gradients)`, async () => {
      const ex = new ExpertMLP(
        { numExperts: E, dim: d, ffnHidden: F, activation, initStd: 0.5 },
        { rng: new Rng(8) },
      );
      const x = tf.variable(randn([T, d], 1)) as tf.Variable<tf.Rank.R2>;
      const logits = tf.variable(randn([T, E], 2)) as tf.Variable<tf.Rank.R2>;
      const run = (chunkElements?: number) =>
        tf.variableGrads(() => {
          const y = denseMoE(x, routeTopK(logits, { k: 2 }), ex, { chunkElements }).y;
          return tf.sum(tf.square(y)) as tf.Scalar;
        }, [x, logits, ...ex.parameters()]);
      const whole = run();
      for (const perChunk of [1, 3]) {
        const chunked = run(T * F * perChunk); // 4 chunks of 1 expert; chunks of 3 and 1
        expect(await maxAbsDiff(chunked.value, whole.value)).toBeLessThan(1e-5);
        for (const v of [x, logits, ...ex.parameters()]) {
          expect(await maxAbsDiff(chunked.grads[v.name], whole.grads[v.name])).toBeLessThan(1e-5);
        }
      }
      tf.dispose([x, logits]);
    });
  }

  it('has PyTorch-style parameter names and round-trips its config', () => {
    const m = build<MoE>({ type: 'MoE', ...config, activation: 'swiglu' });
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['router.weight', [E, d]],
      ['experts.w1', [E, d, F]],
      ['experts.v1', [E, d, F]],
      ['experts.w2', [E, F, d]],
    ]);
    expect(build(m.toConfig()).toConfig()).toEqual(m.toConfig());
  });

  it('is deterministic under a seed (parameters, jitter and routing)', async () => {
    const run = async () => {
      const m = new MoE({ ...config, jitterEps: 0.05 }, { rng: new Rng(21) });
      const o = m.forward(randn([T, d], 3), { rng: new Rng(4) });
      return [await host(o.routing.indices), await host(o.y)];
    };
    expect(await run()).toEqual(await run());
  });

  it('does not leak tensors across training steps', async () => {
    const m = new MoE({ ...config }, { rng: new Rng(1) });
    const x = randn([T, d], 2);
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const o = m.forward(x);
          return tf.add(tf.mean(tf.square(o.y)), o.auxLoss) as tf.Scalar;
        }, m.parameters());
        tf.dispose(Object.values(grads));
      });
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad configs naming the brick, the field, what was expected and what came', () => {
    const bad = (over: Record<string, unknown>) => () => build({ type: 'MoE', ...config, ...over });
    expect(bad({ topK: 5 })).toThrow(BrickConfigError);
    expect(bad({ topK: 5 })).toThrow(
      /MoE: config field 'topK' must be ≤ numExperts \(4\) \(got 5\)/,
    );
    expect(bad({ numExperts: 0 })).toThrow(/MoE: config field 'numExperts' .*>0.*\(got 0\)/);
    expect(bad({ blockSize: 6 })).toThrow(
      /MoE: config field 'blockSize' must be a power of two .*\(got 6\)/,
    );
    expect(bad({ ffnHidden: 10 })).toThrow(
      /MoE: config field 'ffnHidden' must be a multiple of blockSize \(4\) for kind 'dropless' \(got 10\)/,
    );
    expect(() => build({ type: 'MoE', ...config, kind: 'dense', ffnHidden: 10 })).not.toThrow();
    expect(bad({ kind: 'sparse' })).toThrow(/MoE: config field 'kind'.*\(got "sparse"\)/);
  });

  it('checks the input width at the boundary', () => {
    const m = new MoE(config);
    expect(() => m.forward(tf.zeros([3, d + 1]))).toThrow(
      /MoE: argument 'x' expected shape \[\.\.\., 6\], got \[3, 7\]/,
    );
  });
});
