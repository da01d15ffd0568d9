// A MoE as the feed-forward of @brickml/attention's TransformerBlock (its `feedForward` config
// field): built from the registry, trained a step with the aux loss, round-tripped through
// toConfig/build. The test lives here because attention does not depend on moe; it imports
// @brickml/attention from the workspace only for this test.
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AdamW, BrickConfigError, Rng, ShapeError, build } from '@brickml/core';
import '@brickml/attention'; // registers TransformerBlock
import type { TransformerBlock } from '@brickml/attention';
import { MoE, type MoEConfig } from '../src/index.js';

const dim = 16;
const moeConfig = (kind: 'dense' | 'capacity' | 'dropless'): MoEConfig & { type: 'MoE' } => ({
  type: 'MoE',
  kind,
  dim,
  ffnHidden: 32,
  numExperts: 4,
  topK: 2,
  blockSize: 16,
  capacityFactor: 2,
});

function moeBlock(kind: 'dense' | 'capacity' | 'dropless', seed = 0): TransformerBlock {
  return build<TransformerBlock>({ type: 'TransformerBlock', dim, heads: 2, feedForward: moeConfig(kind) }, { rng: new Rng(seed) });
}

async function scalar(t: tf.Tensor): Promise<number> {
  return (await t.data())[0];
}

const SNIPPET_START = "await tf.setBackend('cpu');";

describe('TransformerBlock with a MoE feed-forward', () => {
  it('attention README snippet runs and is what the README shows', async () => {
    const readme = readFileSync(new URL('../../attention/README.md', import.meta.url), 'utf8');
    const self = readFileSync(new URL(import.meta.url), 'utf8');
    const from = self.indexOf(`    ${SNIPPET_START}`, self.indexOf('attention README snippet runs'));
    const body = self.slice(from, self.indexOf('    // end of snippet', from));
    const dedented = body
      .split('\n')
      .map((l) => l.slice(4))
      .join('\n');
    expect(readme).toContain(dedented.trim());

    await tf.setBackend('cpu');
    const block = build<TransformerBlock>(
      {
        type: 'TransformerBlock', dim: 64, heads: 4,
        feedForward: { type: 'MoE', kind: 'dropless', dim: 64, ffnHidden: 128, numExperts: 8, topK: 2, blockSize: 16 },
      },
      { rng: new Rng(0) },
    );
    const x = new Rng(1).normalTensor([2, 16, 64]); // [batch, tokens, dim]
    const { value, grads } = tf.variableGrads(() => {
      const { output, auxLoss } = block.forwardWithAux(x); // auxLoss: the MoE's aux losses, a scalar
      const task = tf.mean(tf.square(output)); // your loss
      return tf.add(task, auxLoss) as tf.Scalar; // several blocks: add every block's auxLoss
    }, block.parameters());
    console.log(block.namedParameters().map(([name]) => name).filter((n) => n.startsWith('feed_forward')));
    // [ 'feed_forward.router.weight', 'feed_forward.experts.w1', 'feed_forward.experts.w2' ]
    console.log((await value.data())[0], Object.keys(grads).length);
    // end of snippet

    expect(block.namedParameters().map(([name]) => name).filter((n) => n.startsWith('feed_forward'))).toEqual([
      'feed_forward.router.weight',
      'feed_forward.experts.w1',
      'feed_forward.experts.w2',
    ]);
    expect(Object.keys(grads)).toHaveLength(block.parameters().length);
    expect(Number.isFinite(await scalar(value))).toBe(true);
    tf.dispose([x, value, ...Object.values(grads)]);
    block.dispose();
  });

  it('builds the MoE from the registry under feed_forward.* (no mlp.*), with the input shape out', async () => {
    const block = moeBlock('dropless');
    expect(block.feed_forward).toBeInstanceOf(MoE);
    expect(block.mlp).toBeNull();
    const names = block.namedParameters().map(([n]) => n);
    expect(names).toEqual(expect.arrayContaining(['norm2.weight', 'feed_forward.router.weight', 'feed_forward.experts.w1', 'feed_forward.experts.w2']));
    expect(names.some((n) => n.startsWith('mlp.'))).toBe(false);
    const x = new Rng(1).normalTensor([2, 6, dim]);
    const before = tf.memory().numTensors;
    const y = block.forward(x);
    const { output, auxLoss } = block.forwardWithAux(x);
    expect(y.shape).toEqual([2, 6, dim]);
    expect(output.shape).toEqual([2, 6, dim]);
    expect(auxLoss.shape).toEqual([]);
    expect(auxLoss.dtype).toBe('float32');
    // The block's aux loss is the MoE's, on the block's normalised post-attention stream.
    const direct = tf.tidy(() => {
      const h = tf.add(x, block.attn.forward(block.norm1.forward(x)));
      const out = (block.feed_forward as unknown as MoE).forward(block.norm2!.forward(h));
      return { y: tf.add(h, out.y), aux: out.auxLoss };
    });
    expect(Math.abs((await scalar(auxLoss)) - (await scalar(direct.aux)))).toBeLessThan(1e-6);
    expect(await scalar(auxLoss)).toBeGreaterThan(0);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(direct.y, output))));
    expect(await scalar(diff)).toBeLessThan(1e-5);
    tf.dispose([y, output, auxLoss, direct.y, direct.aux, diff]);
    expect(tf.memory().numTensors).toBe(before); // routing and the other MoE outputs are disposed
    x.dispose();
    block.dispose();
  });

  it.each(['dense', 'capacity', 'dropless'] as const)('trains one step with task + aux loss (%s): every parameter gets a gradient and moves', async (kind) => {
    const block = moeBlock(kind, 3);
    const optimizer = new AdamW(block, { lr: 1e-2 });
    const x = new Rng(4).normalTensor([2, 8, dim]);
    const target = new Rng(5).normalTensor([2, 8, dim]);
    const before = new Map(block.namedParameters().map(([n, p]) => [n, p.clone()]));
    const lossOf = () =>
      tf.tidy(() => {
        const { output, auxLoss } = block.forwardWithAux(x);
        return tf.add(tf.mean(tf.square(tf.sub(output, target))), auxLoss) as tf.Scalar;
      });
    const loss0 = lossOf();
    const { value, grads } = tf.variableGrads(lossOf, block.parameters());
    expect(Math.abs((await scalar(value)) - (await scalar(loss0)))).toBeLessThan(1e-6);
    const byPath = Object.fromEntries(block.namedParameters().map(([n, p]) => [n, grads[p.name]]));
    expect(Object.keys(byPath).sort()).toEqual(block.namedParameters().map(([n]) => n).sort());
    for (const [n, g] of Object.entries(byPath)) {
      expect(g, n).toBeDefined();
      const norm = tf.tidy(() => tf.sum(tf.abs(g)));
      expect(await scalar(norm), `gradient of ${n}`).toBeGreaterThan(0);
      norm.dispose();
    }
    optimizer.step(byPath);
    for (const [n, p] of block.namedParameters()) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(p, before.get(n)!))));
      expect(await scalar(d), `${n} moved`).toBeGreaterThan(0);
      d.dispose();
    }
    const loss1 = lossOf();
    expect(Number.isFinite(await scalar(loss1))).toBe(true);
    tf.dispose([x, target, loss0, loss1, value, ...Object.values(grads), ...before.values()]);
    optimizer.dispose();
    block.dispose();
  });

  it('round-trips through toConfig and build: same config, same parameters, same output with the same weights', async () => {
    const block = moeBlock('dropless', 1);
    const saved = block.toConfig();
    expect(saved.feedForward).toEqual((block.feed_forward as unknown as MoE).toConfig());
    expect(saved.feedForward).toMatchObject({ type: 'MoE', kind: 'dropless', dim, numExperts: 4, loadBalanceCoef: 0.1 });
    const again = build<TransformerBlock>(JSON.parse(JSON.stringify(saved)), { rng: new Rng(99) });
    expect(again.toConfig()).toEqual(saved);
    const src = new Map(block.namedParameters());
    expect(again.namedParameters().map(([n, p]) => [n, p.shape])).toEqual(block.namedParameters().map(([n, p]) => [n, p.shape]));
    for (const [n, p] of again.namedParameters()) p.assign(src.get(n)!);
    const x = new Rng(2).normalTensor([1, 5, dim]);
    const a = block.forwardWithAux(x);
    const b = again.forwardWithAux(x);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a.output, b.output))));
    expect(await scalar(d)).toBe(0);
    expect(await scalar(a.auxLoss)).toBe(await scalar(b.auxLoss));
    tf.dispose([x, a.output, a.auxLoss, b.output, b.auxLoss, d]);
    block.dispose();
    again.dispose();
  });

  it('says clearly when the MoE does not fit the block', () => {
    expect(() => build({ type: 'TransformerBlock', dim, heads: 2, feedForward: { ...moeConfig('dropless'), dim: 8 } })).toThrow(
      /TransformerBlock: config field 'feedForward.dim' \(8\) must equal 'dim' \(16\)/,
    );
    expect(() => build({ type: 'TransformerBlock', dim, heads: 2, feedForward: { ...moeConfig('dropless'), ffnHidden: 24 } })).toThrow(
      /MoE 'feedForward': config field 'ffnHidden' must be a multiple of blockSize/,
    );
    expect(() => build({ type: 'TransformerBlock', dim, heads: 2, mlpRatio: 2, feedForward: moeConfig('dense') })).toThrow(BrickConfigError);
    const block = moeBlock('dense');
    const x = new Rng(1).normalTensor([2, 6, 8]);
    expect(() => block.forward(x)).toThrow(ShapeError);
    x.dispose();
    block.dispose();
  });
});
