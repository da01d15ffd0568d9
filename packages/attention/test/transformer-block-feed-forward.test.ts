import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  AdamW,
  BrickConfigError,
  Linear,
  Module,
  Rng,
  ShapeError,
  build,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
} from '@brickml/core';
import { TransformerBlock } from '../src/index.js';
import { maxAbsDiff, paramShapes, randn } from './helpers.js';

// TransformerBlock's `feedForward` config field with core bricks and a test brick that returns an
// auxiliary loss the way @brickml/moe's MoE does (`{ y, auxLoss }`). The same with a real MoE is in
// packages/moe/test/feed-forward.test.ts (attention does not depend on moe).

/** A feed-forward brick with an auxiliary loss: y = proj(x), auxLoss = coef · mean(y²). */
class AuxFeedForward extends Module {
  static readonly type = 'TestAuxFeedForward';
  static readonly schema = z.object({ dim: schemas.positiveInt, coef: z.number().default(0.5) }).strict();
  readonly config: { dim: number; coef: number };
  readonly proj: Linear;
  constructor(config: { dim: number; coef?: number }, { rng }: BrickOptions = {}) {
    super();
    this.config = parseConfig(AuxFeedForward, config);
    this.proj = new Linear({ inFeatures: this.config.dim, outFeatures: this.config.dim }, { rng });
  }
  forward(x: tf.Tensor): { y: tf.Tensor; auxLoss: tf.Scalar; extra: tf.Tensor } {
    return tf.tidy(() => {
      const y = this.proj.forward(x);
      return { y, auxLoss: tf.mul(this.config.coef, tf.mean(tf.square(y))) as tf.Scalar, extra: tf.ones([3]) };
    }) as unknown as { y: tf.Tensor; auxLoss: tf.Scalar; extra: tf.Tensor };
  }
  override toConfig() {
    return { type: AuxFeedForward.type, ...this.config };
  }
}
registerBrick(AuxFeedForward);

describe('TransformerBlock feedForward', () => {
  it('keeps the default MLP and its parameter names (mlp.*) without feedForward; forwardWithAux gives auxLoss 0', async () => {
    const blk = new TransformerBlock({ dim: 8, heads: 2 }, { rng: new Rng(0) });
    const names = blk.namedParameters().map(([n]) => n);
    expect(names).toContain('mlp.fc1.weight');
    expect(names).toContain('mlp.fc2.bias');
    expect(names.some((n) => n.startsWith('feed_forward'))).toBe(false);
    expect(blk.feed_forward).toBeNull();
    expect(blk.toConfig()).not.toHaveProperty('feedForward');
    const x = randn(new Rng(1), [2, 5, 8]);
    const { output, auxLoss } = blk.forwardWithAux(x);
    const y = blk.forward(x);
    expect(await maxAbsDiff(output, y)).toBe(0);
    expect(auxLoss.shape).toEqual([]);
    expect((await auxLoss.data())[0]).toBe(0);
    tf.dispose([x, output, auxLoss, y]);
    blk.dispose();
  });

  it('builds the brick from the registry under feed_forward.*; an MLP there equals the default block with the same weights', async () => {
    const base = new TransformerBlock({ dim: 8, heads: 2, mlpRatio: 3 }, { rng: new Rng(0) });
    const custom = build<TransformerBlock>(
      { type: 'TransformerBlock', dim: 8, heads: 2, feedForward: { type: 'MLP', dim: 8, hidden: 24 } },
      { rng: new Rng(0) },
    );
    expect(custom.mlp).toBeNull();
    expect(custom.feed_forward?.typeName).toBe('MLP');
    const names = custom.namedParameters().map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['feed_forward.fc1.weight', 'feed_forward.fc2.weight', 'norm2.weight']));
    expect(names.some((n) => n.startsWith('mlp.'))).toBe(false);
    // Same parameters under the other name: same function.
    const source = new Map(base.namedParameters().map(([n, p]) => [n.replace(/^mlp\./, 'feed_forward.'), p]));
    for (const [n, p] of custom.namedParameters()) p.assign(source.get(n)!);
    const x = randn(new Rng(2), [2, 5, 8]);
    const a = base.forward(x);
    const b = custom.forward(x);
    expect(await maxAbsDiff(a, b)).toBeLessThan(1e-6);
    tf.dispose([x, a, b]);
    base.dispose();
    custom.dispose();
  });

  it('round-trips through toConfig and build (the nested config with its defaults filled)', async () => {
    const config = { type: 'TransformerBlock', dim: 8, heads: 2, feedForward: { type: 'TestAuxFeedForward', dim: 8 } };
    const blk = build<TransformerBlock>(config, { rng: new Rng(3) });
    const saved = blk.toConfig();
    expect(saved.feedForward).toEqual({ type: 'TestAuxFeedForward', dim: 8, coef: 0.5 });
    const again = build<TransformerBlock>(JSON.parse(JSON.stringify(saved)), { rng: new Rng(3) });
    expect(again.toConfig()).toEqual(saved);
    expect(paramShapes(again)).toEqual(paramShapes(blk));
    const x = randn(new Rng(4), [1, 3, 8]);
    const [a, b] = [blk.forward(x), again.forward(x)];
    expect(await maxAbsDiff(a, b)).toBe(0);
    tf.dispose([x, a, b]);
    blk.dispose();
    again.dispose();
  });

  it('returns the brick auxiliary loss from forwardWithAux, differentiable, and trains one step on task + aux', async () => {
    const blk = new TransformerBlock({ dim: 8, heads: 2, feedForward: { type: 'TestAuxFeedForward', dim: 8, coef: 2 } }, { rng: new Rng(5) });
    const x = randn(new Rng(6), [2, 4, 8]);
    const before = tf.memory().numTensors;
    const { output, auxLoss } = blk.forwardWithAux(x);
    expect(output.shape).toEqual([2, 4, 8]);
    expect(auxLoss.shape).toEqual([]);
    // Recompute the aux loss by hand: 2 · mean(proj(norm2(h))²) with h the post-attention stream.
    const expected = tf.tidy(() => {
      const h = tf.add(x, blk.attn.forward(blk.norm1.forward(x)));
      const ff = blk.feed_forward as unknown as AuxFeedForward;
      return tf.mul(2, tf.mean(tf.square(ff.proj.forward(blk.norm2!.forward(h)))));
    });
    expect(Math.abs((await auxLoss.data())[0] - (await expected.data())[0])).toBeLessThan(1e-6);
    tf.dispose([output, auxLoss, expected]);
    expect(tf.memory().numTensors).toBe(before); // the brick's other outputs are disposed

    const opt = new AdamW(blk, { lr: 1e-2 });
    const target = randn(new Rng(7), [2, 4, 8]);
    const ffWeight = blk.namedParameters().find(([n]) => n === 'feed_forward.proj.weight')![1];
    const w0 = ffWeight.clone();
    const { value, grads } = tf.variableGrads(() => {
      const r = blk.forwardWithAux(x);
      return tf.add(tf.mean(tf.square(tf.sub(r.output, target))), r.auxLoss) as tf.Scalar;
    }, blk.parameters());
    expect(Number.isFinite((await value.data())[0])).toBe(true);
    expect(Object.keys(grads)).toHaveLength(blk.parameters().length);
    opt.step(Object.fromEntries(blk.namedParameters().map(([n, p]) => [n, grads[p.name]])));
    expect(await maxAbsDiff(w0, ffWeight)).toBeGreaterThan(0);
    tf.dispose([x, target, w0, value, ...Object.values(grads)]);
    opt.dispose();
    blk.dispose();
  });

  it('throws a ShapeError naming the brick and both shapes when the feed-forward output has the wrong shape', () => {
    const blk = build<TransformerBlock>(
      { type: 'TransformerBlock', dim: 8, heads: 2, feedForward: { type: 'MLP', dim: 8, hidden: 16, outDim: 4 } },
      { rng: new Rng(0) },
    );
    const x = randn(new Rng(1), [2, 5, 8]);
    const before = tf.memory().numTensors;
    expect(() => blk.forward(x)).toThrow(ShapeError);
    expect(() => blk.forward(x)).toThrow(/feedForward brick MLP must map \[B, N, dim\] to \[B, N, dim\] \(dim 8\): input \[2, ?5, ?8\] gave \[2, ?5, ?4\]/);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    blk.dispose();
  });

  it('rejects bad feedForward configs before allocating, with the field named', () => {
    const before = tf.memory().numTensors;
    expect(() => new TransformerBlock({ dim: 8, feedForward: { type: 'MLP', dim: 4, hidden: 8 } })).toThrow(
      /'feedForward.dim' \(4\) must equal 'dim' \(8\)/,
    );
    expect(() => new TransformerBlock({ dim: 8, mlpHidden: 16, feedForward: { type: 'MLP', dim: 8, hidden: 8 } })).toThrow(
      /config field 'mlpHidden' \(16\) configures the default MLP and does not apply with 'feedForward'/,
    );
    expect(() => new TransformerBlock({ dim: 8, activation: 'swiglu', feedForward: { type: 'MLP', dim: 8, hidden: 8 } })).toThrow(BrickConfigError);
    expect(() => new TransformerBlock({ dim: 8, feedForward: { type: 'NoSuchBrick' } })).toThrow(/unknown brick type 'NoSuchBrick' \(at 'feedForward'\)/);
    expect(() => new TransformerBlock({ dim: 8, feedForward: { type: 'MoE', dim: 8 } })).toThrow(/provided by @brickml\/moe/);
    expect(() => new TransformerBlock({ dim: 8, feedForward: { type: 'MLP', dim: 8 } })).toThrow(/MLP 'feedForward': config field 'hidden'/);
    expect(() => new TransformerBlock({ dim: 8, feedForward: { type: 'TransformerBlock', dim: 8 } })).toThrow(/not a feed-forward brick/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
