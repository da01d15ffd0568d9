import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW, Rng, Trainer, build, gradCheck, gradCheckVariables, movingSprites, type MovingSpritesBatch } from '@brickml/core';
import {
  ContrastiveRandomWalk,
  channelStats,
  gridPatches,
  l2Normalize,
  masksToNodes,
  nodesToPixels,
  palindromeWalkLoss,
  transitionMatrices,
} from '../src/index.js';

const host = async (t: tf.Tensor) => Array.from(await t.data());

/** A tiny CRW with a flat MLP patch encoder (fast on the cpu backend). */
function tinyCrw(seed = 0, extra: Record<string, unknown> = {}) {
  return new ContrastiveRandomWalk(
    {
      encoder: { type: 'MLP', dim: 3 * 8 * 8, hidden: 32, outDim: 16 },
      encoderDim: 16,
      encoderInput: 'flat',
      embedDim: 16,
      patchSize: 8,
      stride: 4,
      ...extra,
    },
    { rng: new Rng(seed) },
  );
}

describe('transition matrices', () => {
  it('are row-stochastic forward and backward, with and without edge dropout', async () => {
    const nodes = tf.tidy(() => l2Normalize(new Rng(1).normalTensor([2, 4, 5, 8])));
    for (const edgeDropout of [0, 0.1, 0.5]) {
      const { forward, backward } = transitionMatrices(nodes, { temperature: 0.07, edgeDropout, rng: new Rng(2) });
      expect(forward.shape).toEqual([2, 3, 5, 5]);
      expect(backward.shape).toEqual([2, 3, 5, 5]);
      for (const p of [forward, backward]) {
        const sums = await host(tf.sum(p, -1));
        for (const s of sums) expect(s).toBeCloseTo(1, 5);
        expect(Math.min(...(await host(p)))).toBeGreaterThanOrEqual(0);
      }
      tf.dispose([forward, backward]);
    }
    nodes.dispose();
  });

  it('backward is a separate softmax of Aᵀ/τ, and dropout zeroes about the rate of the edges', async () => {
    const nodes = tf.tidy(() => l2Normalize(new Rng(3).normalTensor([1, 3, 4, 6])));
    const { forward, backward } = transitionMatrices(nodes, { temperature: 0.5 });
    const q = (await nodes.array()) as number[][][][];
    const f = (await forward.array()) as number[][][][];
    const b = (await backward.array()) as number[][][][];
    const dot = (u: number[], v: number[]) => u.reduce((s, x, i) => s + x * v[i], 0);
    for (let t = 0; t < 2; t++) {
      for (let i = 0; i < 4; i++) {
        const fwd = q[0][t + 1].map((v) => Math.exp(dot(q[0][t][i], v) / 0.5));
        const bwd = q[0][t].map((v) => Math.exp(dot(q[0][t + 1][i], v) / 0.5));
        const zf = fwd.reduce((a, c) => a + c);
        const zb = bwd.reduce((a, c) => a + c);
        for (let j = 0; j < 4; j++) {
          expect(f[0][t][i][j]).toBeCloseTo(fwd[j] / zf, 5);
          expect(b[0][t][i][j]).toBeCloseTo(bwd[j] / zb, 5);
        }
      }
    }
    tf.dispose([forward, backward, nodes]);
    // dropout: with well-separated logits the dropped edges are exactly 0
    const big = tf.tidy(() => l2Normalize(new Rng(4).normalTensor([4, 3, 16, 8])));
    const dropped = transitionMatrices(big, { temperature: 1, edgeDropout: 0.3, rng: new Rng(5) });
    const zeros = (await host(dropped.forward)).filter((v) => v === 0).length / dropped.forward.size;
    expect(zeros).toBeGreaterThan(0.25);
    expect(zeros).toBeLessThan(0.35);
    tf.dispose([big, dropped.forward, dropped.backward]);
    expect(() => transitionMatrices(big, { edgeDropout: 0.1 })).toThrow(/edgeDropout' > 0 needs option 'rng'/);
  });
});

describe('palindrome walk loss', () => {
  it('walks lengths 2..T−1 by default (the 1-step round trip excluded), 1..T−1 with shortestWalk 1', async () => {
    const nodes = tf.tidy(() => l2Normalize(new Rng(6).normalTensor([1, 4, 3, 5])));
    const tr = transitionMatrices(nodes, { temperature: 0.3 });
    const def = palindromeWalkLoss(tr);
    expect(def.walkLengths).toEqual([2, 3]);
    const all = palindromeWalkLoss(tr, { shortestWalk: 1 });
    expect(all.walkLengths).toEqual([1, 2, 3]);
    // hand-computed walk of 2 steps: P12 P23 P32 P21, loss −mean log diag
    const f = (await tr.forward.array()) as number[][][][];
    const b = (await tr.backward.array()) as number[][][][];
    const mm = (x: number[][], y: number[][]) => x.map((r) => y[0].map((_, j) => r.reduce((s, v, k) => s + v * y[k][j], 0)));
    const w2 = mm(mm(mm(f[0][0], f[0][1]), b[0][1]), b[0][0]);
    const w1 = mm(f[0][0], b[0][0]);
    const ce = (w: number[][]) => -w.reduce((s, r, i) => s + Math.log(r[i] + 1e-20), 0) / w.length;
    const per = await host(all.lossPerWalk);
    expect(per[0]).toBeCloseTo(ce(w1), 4);
    expect(per[1]).toBeCloseTo(ce(w2), 4);
    expect((await host(def.lossPerWalk))[0]).toBeCloseTo(ce(w2), 4);
    expect((await def.loss.data())[0]).toBeCloseTo(((await host(def.lossPerWalk)).reduce((a, c) => a + c)) / 2, 5);
    tf.dispose([nodes, tr.forward, tr.backward, def.loss, def.accuracy, def.lossPerWalk, def.accuracyPerWalk, all.loss, all.accuracy, all.lossPerWalk, all.accuracyPerWalk]);
    const short = tf.zeros([1, 2, 3, 4]);
    const t2 = transitionMatrices(short);
    expect(() => palindromeWalkLoss(t2)).toThrow(/need at least 3 frames, got 2/);
    tf.dispose([short, t2.forward, t2.backward]);
  });

  it('is log N for identical nodes, ≈ log N for random features at high temperature, → 0 when each node matches itself', async () => {
    const n = 6;
    const lossOf = (nodes: tf.Tensor, temperature: number) =>
      tf.tidy(() => {
        const r = palindromeWalkLoss(transitionMatrices(nodes, { temperature }));
        return tf.stack([r.loss, r.accuracy]);
      });
    const same = tf.ones([2, 5, n, 4]);
    const [uniform] = await host(lossOf(l2Normalize(same), 0.07));
    expect(uniform).toBeCloseTo(Math.log(n), 4);
    const random = tf.tidy(() => l2Normalize(new Rng(7).normalTensor([8, 5, n, 128])));
    const [rnd] = await host(lossOf(random, 1));
    expect(Math.abs(rnd - Math.log(n)) / Math.log(n)).toBeLessThan(0.03);
    // node i carries e_i in every frame: its nearest neighbour in the next frame is itself
    const ident = tf.tidy(() => tf.tile(tf.reshape(tf.eye(n), [1, 1, n, n]), [2, 5, 1, 1]));
    const [zero, acc] = await host(lossOf(ident, 0.07));
    expect(zero).toBeLessThan(1e-4);
    expect(acc).toBe(1);
    tf.dispose([same, random, ident]);
  });

  it('has correct gradients (finite differences) on a tiny case', async () => {
    const x = new Rng(8).normalTensor([1, 4, 3, 4]);
    const f = (v: tf.Tensor) => palindromeWalkLoss(transitionMatrices(l2Normalize(v), { temperature: 0.5 }), { shortestWalk: 1 }).loss;
    const r = await gradCheck(f, [x], { eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 48 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    x.dispose();
  });
});

describe('gridPatches', () => {
  it('cuts exact reflect-padded windows without jitter, and jittered ones of the same shape', async () => {
    const frames = new Rng(9).normalTensor([2, 3, 8, 8]);
    const { patches, grid } = gridPatches(frames, 4, 2);
    expect(grid).toEqual({ rows: 4, cols: 4, patchSize: 4, stride: 2 });
    expect(patches.shape).toEqual([2 * 16, 3, 4, 4]);
    const padded = tf.mirrorPad(tf.transpose(frames, [0, 2, 3, 1]) as tf.Tensor4D, [[0, 0], [1, 1], [1, 1], [0, 0]], 'reflect');
    const p = (await patches.array()) as number[][][][];
    const ref = (await padded.array()) as number[][][][];
    for (const [f, i, j] of [[0, 0, 0], [1, 2, 3], [0, 3, 1]]) {
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 4; y++) {
          for (let x = 0; x < 4; x++) expect(p[f * 16 + i * 4 + j][c][y][x]).toBeCloseTo(ref[f][2 * i + y][2 * j + x][c], 5);
        }
      }
    }
    const jit = gridPatches(frames, 4, 2, { jitter: { scale: [0.7, 0.9], ratio: [0.75, 4 / 3], rng: new Rng(1) } });
    expect(jit.patches.shape).toEqual(patches.shape);
    const diff = (await host(tf.abs(tf.sub(jit.patches, patches)))).reduce((a, c) => a + c);
    expect(diff).toBeGreaterThan(0);
    expect(() => gridPatches(frames, 4, 3)).toThrow(/patchSize − stride must be even/);
    expect(() => gridPatches(frames, 7, 3)).toThrow(/must be divisible by the stride 3/);
    tf.dispose([frames, patches, padded, jit.patches]);
  });

  it('node labels: average pooling by the stride, and bilinear upsampling back', async () => {
    const m = tf.tidy(() => tf.concat([tf.ones([1, 1, 4, 8]), tf.zeros([1, 1, 4, 8])], 2)); // top half 1
    const nodes = masksToNodes(m, 4);
    expect(nodes.shape).toEqual([1, 4, 1]);
    expect(await host(nodes)).toEqual([1, 1, 0, 0]);
    const px = nodesToPixels(nodes, { rows: 2, cols: 2 }, 4);
    expect(px.shape).toEqual([1, 1, 8, 8]);
    const v = await host(px);
    expect(v[0]).toBe(1);
    expect(v[63]).toBe(0);
    tf.dispose([m, nodes, px]);
  });
});

describe('ContrastiveRandomWalk', () => {
  const clip = (seed: number) => {
    const data = movingSprites({ size: 16, frames: 4, batchSize: 2, seed });
    const b = data.next();
    const videos = b.videos;
    tf.dispose({ ...b, videos: undefined } as unknown as tf.TensorContainer);
    return videos;
  };

  it('round-trips its config and rejects bad configs naming the field', () => {
    const crw = tinyCrw();
    const again = build<ContrastiveRandomWalk>(crw.toConfig());
    expect(again.toConfig()).toEqual(crw.toConfig());
    expect(crw.namedParameters().map(([n]) => n)).toEqual(['encoder.fc1.weight', 'encoder.fc1.bias', 'encoder.fc2.weight', 'encoder.fc2.bias', 'head.weight', 'head.bias']);
    expect(() => tinyCrw(0, { stride: 3 })).toThrow(/config fields 'patchSize' and 'stride' need .*patchSize − stride even.*got patchSize 8, stride 3/);
    expect(() => tinyCrw(0, { pixelMean: [0, 0, 0] })).toThrow(/'pixelMean' and 'pixelStd' go together/);
    expect(() => tinyCrw(0, { temperature: -1 })).toThrow(/ContrastiveRandomWalk: config field 'temperature'/);
    crw.dispose();
    again.dispose();
  });

  it('checks the encoder width and the clip length', () => {
    const crw = tinyCrw(0, { encoderDim: 12 });
    const v = clip(0);
    expect(() => crw.loss(v)).toThrow(/pooled features have shape \[128, 16\], expected \[128, 12\]/);
    const crw2 = tinyCrw();
    const short = tf.slice(v, [0, 0, 0, 0, 0], [2, 2, 3, 16, 16]);
    expect(() => crw2.loss(short)).toThrow(/needs at least 3 frames/);
    tf.dispose([v, short]);
    crw.dispose();
    crw2.dispose();
  });

  it('has correct parameter gradients end to end (eval mode: no jitter, no dropout)', async () => {
    const crw = new ContrastiveRandomWalk(
      { encoder: { type: 'MLP', dim: 3 * 4 * 4, hidden: 6, outDim: 5 }, encoderDim: 5, encoderInput: 'flat', embedDim: 4, patchSize: 4, stride: 4, temperature: 0.5 },
      { rng: new Rng(3) },
    ).eval();
    const v = tf.tidy(() => tf.slice(clip(2), [0, 0, 0, 0, 0], [1, 4, 3, 8, 8])); // 2×2 nodes per frame
    const r = await gradCheckVariables(() => crw.loss(v).loss, crw.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 3e-2, maxChecks: 8 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    v.dispose();
    crw.dispose();
  });

  it('is deterministic under a seed (parameters, jitter, edge dropout)', async () => {
    const v = clip(1);
    const run = async () => {
      const crw = tinyCrw(5);
      const r = crw.loss(v, { rng: new Rng(11) });
      const out = [...(await host(r.loss)), ...(await host(r.accuracy))];
      tf.dispose([r.loss, r.accuracy, r.lossPerWalk, r.accuracyPerWalk]);
      crw.dispose();
      return out;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    const crw = tinyCrw(5);
    const other = crw.loss(v, { rng: new Rng(12) });
    expect((await host(other.loss))[0]).not.toBe(a[0]);
    tf.dispose([other.loss, other.accuracy, other.lossPerWalk, other.accuracyPerWalk, v]);
    crw.dispose();
  });

  it('trains with the Trainer without leaking tensors, and its loss falls on movingSprites', async () => {
    const data = movingSprites({ size: 16, frames: 4, batchSize: 4, seed: 3, background: 'noise', noiseStd: 0.2 });
    const probe = data.toBatch(data.fixedSplit(8, 99));
    const stats = await channelStats(probe.videos);
    tf.dispose(probe);
    const crw = tinyCrw(0, { pixelMean: stats.mean, pixelStd: stats.std });
    const optimizer = new AdamW(crw.namedParameters(), { lr: 3e-3, weightDecay: 0 });
    const counts: number[] = [];
    const trainer = new Trainer<MovingSpritesBatch>({
      model: crw, optimizer, data, steps: 40, progress: 'none', seed: 1,
      loss: (b, ctx) => {
        const r = crw.loss(b.videos, { rng: ctx.rng });
        return { loss: r.loss, metrics: { walkAccuracy: r.accuracy } };
      },
      onStep: () => { counts.push(tf.memory().numTensors); },
    });
    const hist = await trainer.fit();
    expect(new Set(counts.slice(1)).size).toBe(1);
    const first = hist.slice(0, 5).reduce((a, r) => a + r.loss, 0) / 5;
    const last = hist.slice(-5).reduce((a, r) => a + r.loss, 0) / 5;
    expect(last).toBeLessThan(first * 0.9); // measured: 2.38 → 1.93
    const acc = (rs: typeof hist) => rs.reduce((a, r) => a + r.walkAccuracy!, 0) / rs.length;
    expect(acc(hist.slice(-5))).toBeGreaterThan(acc(hist.slice(0, 5)) + 0.05);
    optimizer.dispose();
    crw.dispose();
  });
});
