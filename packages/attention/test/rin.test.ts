import * as tf from '@tensorflow/tfjs-core';
import '../src/index.js'; // registers the bricks (the named imports below may be type-only)
import { describe, expect, it } from 'vitest';
import { Rng, ShapeError, build, gradCheckVariables } from '@brickml/core';
import { DepthwiseConvResidual, defaultDepthwiseImpl, depthwiseConv3x3, RinBlock, RinNetwork, sinusoidalEmbedding, type RinNetworkConfig } from '../src/index.js';
import { host, maxAbsDiff, paramShapes, projectionLoss, randn, randomizeParameters } from './helpers.js';

const tiny: RinNetworkConfig = {
  channels: 3,
  inputSize: [8, 8],
  patchSize: 2,
  interfaceDim: 8,
  latentDim: 12,
  numLatents: 3,
  numBlocks: 2,
  computeLayers: [1, 0],
  readHeads: 2,
  latentHeads: 2,
  latentMlpRatio: 2,
  interfaceMlpRatio: 1,
  numClasses: 3,
};

describe('RinBlock', () => {
  it('read → compute → write; with K = 0 the write is skipped (pix2seq) and the interface passes through exactly', async () => {
    const rng = new Rng(1);
    const blk = build<RinBlock>({ type: 'RinBlock', latentDim: 12, interfaceDim: 8, computeLayers: 0, readHeads: 2 }, { rng });
    expect(blk.write).toBeNull();
    const z = randn(rng, [2, 4, 12]);
    const x = randn(rng, [2, 10, 8]);
    const out = blk.forward(z, x);
    expect(await maxAbsDiff(out.interface, x)).toBe(0);
    expect(await maxAbsDiff(out.latents, z)).toBeGreaterThan(1e-3); // the read still updates the latents
    tf.dispose([z, x, out.latents]);
    blk.dispose();
  });

  it('a zero-initialised write (attention output projection and MLP output) passes the interface through, K = 0 or 2', async () => {
    const rng = new Rng(2);
    for (const k of [0, 2]) {
      const blk = new RinBlock({ latentDim: 12, interfaceDim: 8, computeLayers: k, skipEmptyWrite: false, zeroInitWrite: true }, { rng });
      expect(blk.write).not.toBeNull();
      const z = randn(rng, [2, 4, 12]);
      const x = randn(rng, [2, 10, 8]);
      const out = blk.forward(z, x);
      expect(await maxAbsDiff(out.interface, x)).toBe(0);
      // and the write is live once its output weights move
      randomizeParameters(blk, 5);
      const moved = blk.forward(z, x);
      expect(await maxAbsDiff(moved.interface, x)).toBeGreaterThan(1e-3);
      tf.dispose([z, x, out.latents, out.interface, moved.latents, moved.interface]);
      blk.dispose();
    }
  });

  it('names parameters read / compute.k / write (pix2seq read_unit, latent_processing_unit, write_unit)', () => {
    const blk = new RinBlock({ latentDim: 8, interfaceDim: 8, computeLayers: 2, writeDepthwiseConv: true });
    const names = blk.namedParameters().map(([n]) => n);
    expect(names).toContain('read.attn.q.weight');
    expect(names).toContain('read.mlp.fc2.bias');
    expect(names).toContain('compute.1.attn.out.weight');
    expect(names).toContain('write.attn.k.weight');
    expect(names).toContain('conv.weight');
    expect(names.some((n) => n.startsWith('read.norm_context'))).toBe(false); // normContext false (pix2seq)
    blk.dispose();
  });

  it('gradients match finite differences (with the depthwise conv): float32, eps 1e-2, atol 2e-3, rtol 2e-2', async () => {
    const rng = new Rng(3);
    const blk = new RinBlock({ latentDim: 8, interfaceDim: 6, computeLayers: 1, readHeads: 2, latentHeads: 2, latentMlpRatio: 2, writeDepthwiseConv: true }, { rng });
    randomizeParameters(blk, 9, 0.4);
    const z = randn(rng, [2, 3, 8], 0.8);
    const x = randn(rng, [2, 6, 6], 0.8);
    const grid = { frames: 1, rows: 2, cols: 3 };
    const r = await gradCheckVariables(
      () => tf.tidy(() => {
        const o = blk.forward(z, x, { grid });
        return tf.add(projectionLoss(o.latents, 1), projectionLoss(o.interface, 2)) as tf.Scalar;
      }),
      blk.parameters(),
      { eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 8 },
    );
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    tf.dispose([z, x]);
    blk.dispose();
  });
});

describe('DepthwiseConvResidual', () => {
  it('equals x + a direct 3×3 depthwise convolution (zero padding) of LN(x), per frame', async () => {
    const rng = new Rng(4);
    const conv = new DepthwiseConvResidual(3, 1e-6, rng);
    tf.tidy(() => conv.bias.assign(rng.normalTensor([3])));
    const grid = { frames: 2, rows: 3, cols: 4 };
    const x = randn(rng, [1, 24, 3]);
    const y = await host(conv.forward(x, grid));
    const ln = await host(conv.norm.forward(x));
    const w = await host(conv.weight);
    const b = await host(conv.bias);
    const xs = await host(x);
    for (let f = 0; f < 2; f++)
      for (let r = 0; r < 3; r++)
        for (let c = 0; c < 4; c++)
          for (let ch = 0; ch < 3; ch++) {
            let acc = b[ch];
            for (let dy = -1; dy <= 1; dy++)
              for (let dx = -1; dx <= 1; dx++) {
                const rr = r + dy, cc = c + dx;
                if (rr < 0 || rr >= 3 || cc < 0 || cc >= 4) continue;
                acc += ln[((f * 3 + rr) * 4 + cc) * 3 + ch] * w[ch * 9 + (dy + 1) * 3 + (dx + 1)];
              }
            const t = ((f * 3 + r) * 4 + c) * 3 + ch;
            expect(y[t]).toBeCloseTo(xs[t] + acc, 5);
          }
    x.dispose();
    conv.dispose();
  });
});

describe('depthwiseConv3x3', () => {
  it('native (tf.depthwiseConv2d) and shifted (nine multiply-adds) agree, values and all three gradients', async () => {
    expect(defaultDepthwiseImpl()).toBe('native'); // the cpu backend has the convolution's gradients
    const rng = new Rng(14);
    const [h, w, b] = [randn(rng, [3, 5, 6, 7]), randn(rng, [7, 1, 3, 3]), randn(rng, [7])];
    const dy = randn(rng, [3, 5, 6, 7]);
    const run = (impl: 'native' | 'shifted') =>
      tf.tidy(() => {
        const f = (a: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => depthwiseConv3x3(a, ww, bb, impl);
        return [f(h, w, b), ...tf.grads(f)([h, w, b], dy)];
      });
    const [native, shifted] = [run('native'), run('shifted')];
    for (let i = 0; i < 4; i++) {
      expect(native[i].shape).toEqual(shifted[i].shape);
      const [a, s] = [await host(native[i]), await host(shifted[i])];
      let m = 0;
      for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j] - s[j]));
      expect(m, `output ${i}`).toBeLessThan(1e-4);
    }
    tf.dispose([...native, ...shifted, h, w, b, dy]);
  });
});

describe('RinNetwork', () => {
  it('images: output has the input layout; latents are [learned, noise token, class token]', async () => {
    const rng = new Rng(5);
    const net = build<RinNetwork>({ type: 'RinNetwork', ...tiny }, { rng });
    expect(net.numLatentTokens).toBe(5);
    expect(net.numInterfaceTokens).toBe(16);
    const x = randn(rng, [2, 3, 8, 8]);
    const gamma = tf.tensor1d([0.3, 0.9]);
    const out = net.forward(x, { noiseLevel: gamma, classLabels: tf.tensor1d([0, 2], 'int32') });
    expect(out.output.shape).toEqual([2, 3, 8, 8]);
    expect(out.latents.shape).toEqual([2, 5, 12]);
    expect(out.interface.shape).toEqual([2, 16, 8]);
    // token 3 is the noise token, token 4 the class token
    const z0 = net.initialLatents(2, { noiseLevel: gamma, classLabels: tf.tensor1d([0, 2], 'int32') });
    const noiseTok = net.noise_embed!.forward(sinusoidalEmbedding(tf.mul(gamma, 1000), 2 * Math.floor(12 / 8)));
    expect(await maxAbsDiff(tf.slice(z0, [0, 3, 0], [2, 1, 12]).reshape([2, 12]), noiseTok)).toBe(0);
    const classRows = tf.gather(net.class_embed!.weight, tf.tensor1d([0, 2], 'int32'));
    expect(await maxAbsDiff(tf.slice(z0, [0, 4, 0], [2, 1, 12]).reshape([2, 12]), classRows)).toBe(0);
    // no class labels = the null class (row numClasses)
    const zNull = net.initialLatents(2, { noiseLevel: gamma });
    const nullRow = tf.slice(net.class_embed!.weight, [3, 0], [1, 12]);
    expect(await maxAbsDiff(tf.slice(zNull, [1, 4, 0], [1, 1, 12]).reshape([1, 12]), nullRow)).toBe(0);
    expect(() => net.forward(x)).toThrow(/RinNetwork.*'noiseLevel' \[2\] is required/);
    tf.dispose([x, gamma, out.output, out.latents, out.interface, z0, noiseTok, classRows, zNull, nullRow]);
    net.dispose();
  });

  it('sinusoidalEmbedding: [sin(s·f), cos(s·f)] with f_i = 10000^(−i/(h−1))', async () => {
    const e = await host(sinusoidalEmbedding(tf.tensor1d([2]), 4));
    const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 5);
    [Math.sin(2), Math.sin(2e-4), Math.cos(2), Math.cos(2e-4)].forEach((v, i) => close(e[i], v));
  });

  it('B = 1, K = 0: the interface passes through the block unchanged (write skipped, pix2seq)', async () => {
    const rng = new Rng(6);
    const net = new RinNetwork({ ...tiny, numBlocks: 1, computeLayers: 0, noiseCondition: false, numClasses: 0 }, { rng });
    const x = randn(rng, [1, 3, 8, 8]);
    const out = net.forward(x);
    const initial = net.interface_pos.forward(net.stem_ln.forward(net.stem.forward(x)));
    expect(await maxAbsDiff(out.interface, initial)).toBe(0);
    tf.dispose([x, out.output, out.latents, out.interface, initial]);
    net.dispose();
  });

  it('self-conditioning off equals self-conditioning with zero previous latents (at initialisation)', async () => {
    const x = randn(new Rng(7), [2, 3, 8, 8]);
    const gamma = tf.tensor1d([0.5, 0.1]);
    const off = new RinNetwork(tiny, { rng: new Rng(11) });
    const on = new RinNetwork({ ...tiny, selfCondition: true }, { rng: new Rng(11) });
    expect(on.latent_prev_ln!.weight ? Array.from(await on.latent_prev_ln!.weight.data()) : []).toEqual(new Array(12).fill(0));
    const a = off.forward(x, { noiseLevel: gamma });
    const zeros = tf.zeros([2, 5, 12]);
    const b = on.forward(x, { noiseLevel: gamma, prevLatents: zeros });
    const c = on.forward(x, { noiseLevel: gamma }); // absent = zeros
    expect(await maxAbsDiff(a.output, b.output)).toBe(0);
    expect(await maxAbsDiff(a.latents, b.latents)).toBe(0);
    expect(await maxAbsDiff(b.output, c.output)).toBe(0);
    // warm-starting from previous latents acts once the output norm has moved
    randomizeParameters(on, 3, 0.2);
    const d = on.forward(x, { noiseLevel: gamma, prevLatents: b.latents });
    const e = on.forward(x, { noiseLevel: gamma, prevLatents: zeros });
    expect(await maxAbsDiff(d.output, e.output)).toBeGreaterThan(1e-4);
    tf.dispose([x, gamma, zeros, a.output, a.latents, a.interface, b.output, b.latents, b.interface, c.output, c.latents, c.interface]);
    tf.dispose([d.output, d.latents, d.interface, e.output, e.latents, e.interface]);
    off.dispose();
    on.dispose();
  });

  it('read maps: per block, read attention summed over heads and latent queries, on the patch grid', async () => {
    const rng = new Rng(8);
    const net = new RinNetwork(tiny, { rng });
    const x = randn(rng, [2, 3, 8, 8]);
    const gamma = tf.tensor1d([0.5, 0.5]);
    const out = net.forward(x, { noiseLevel: gamma, returnReadMaps: true });
    expect(out.readMaps!.length).toBe(2);
    for (const m of out.readMaps!) {
      expect(m.shape).toEqual([2, 4, 4]);
      const v = await host(m);
      expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
      const sums = await host(tf.sum(m, [1, 2]));
      // each of the 2 heads gives each of the 5 latent tokens a distribution over the 16 patches
      for (const s of sums) expect(s).toBeCloseTo(2 * 5, 4);
    }
    // the first map equals the read weights of block 0 computed directly
    const iface = net.interface_pos.forward(net.stem_ln.forward(net.stem.forward(x)));
    const z0 = net.initialLatents(2, { noiseLevel: gamma });
    const { weights } = net.blocks[0].read.forwardWithWeights(z0, iface);
    expect(await maxAbsDiff(tf.reshape(tf.sum(weights, [1, 2]), [2, 4, 4]), out.readMaps![0])).toBeLessThan(1e-5);
    const plain = net.forward(x, { noiseLevel: gamma });
    expect(plain.readMaps).toBeUndefined();
    expect(await maxAbsDiff(plain.output, out.output)).toBe(0);
    net.dispose();
  });

  it('video [B, T, C, H, W] with tubelets, sin-cos 3-D positions and the depthwise write conv', async () => {
    const rng = new Rng(9);
    const net = new RinNetwork(
      { ...tiny, inputSize: [4, 8, 8], tubelet: 2, position: 'sincos', writeDepthwiseConv: true, numClasses: 0, computeLayers: 1 },
      { rng },
    );
    expect(net.grid).toEqual({ frames: 2, rows: 4, cols: 4 });
    const x = randn(rng, [1, 4, 3, 8, 8]);
    const out = net.forward(x, { noiseLevel: tf.tensor1d([0.2]), returnReadMaps: true });
    expect(out.output.shape).toEqual([1, 4, 3, 8, 8]);
    expect(out.readMaps![0].shape).toEqual([1, 2, 4, 4]);
    expect(net.interface_pos.numParameters()).toBe(0);
    expect(() => net.forward(randn(rng, [1, 4, 3, 8, 6]), { noiseLevel: tf.tensor1d([0.2]) })).toThrow(
      /RinNetwork: argument 'x' expected shape \[\*, 4, 3, 8, 8\], got \[1, 4, 3, 8, 6\]/,
    );
    net.dispose();
  });

  it('gradients match finite differences (noise + class tokens, self-conditioning, conv): float32, eps 1e-2, atol 3e-3, rtol 3e-2', async () => {
    const rng = new Rng(10);
    const net = new RinNetwork(
      { ...tiny, inputSize: [4, 4], numLatents: 2, latentDim: 8, interfaceDim: 6, selfCondition: true, writeDepthwiseConv: true, computeLayers: 1 },
      { rng },
    );
    randomizeParameters(net, 12, 0.3);
    const x = randn(rng, [2, 3, 4, 4], 0.8);
    const gamma = tf.tensor1d([0.2, 0.7]);
    const labels = tf.tensor1d([1, 3], 'int32');
    const prev = randn(rng, [2, 4, 8], 0.8);
    const r = await gradCheckVariables(
      () => tf.tidy(() => {
        const o = net.forward(x, { noiseLevel: gamma, classLabels: labels, prevLatents: prev });
        return tf.add(projectionLoss(o.output, 1), projectionLoss(o.latents, 2)) as tf.Scalar;
      }),
      net.parameters(),
      { eps: 1e-2, atol: 3e-3, rtol: 3e-2, maxChecks: 4 },
    );
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    tf.dispose([x, gamma, labels, prev]);
    net.dispose();
  });

  it('config round-trips and names its parameters like the paper', async () => {
    const a = build<RinNetwork>({ type: 'RinNetwork', ...tiny, selfCondition: true }, { rng: new Rng(1) });
    const json = JSON.parse(JSON.stringify(a.toConfig()));
    const b = build<RinNetwork>(json, { rng: new Rng(1) });
    expect(b.toConfig()).toEqual(a.toConfig());
    expect(paramShapes(b)).toEqual(paramShapes(a));
    const names = a.namedParameters().map(([n]) => n);
    for (const n of ['stem.proj.weight', 'stem_ln.weight', 'interface_pos.weight', 'latents', 'noise_embed.fc1.weight', 'class_embed.weight',
      'blocks.0.read.attn.q.weight', 'blocks.0.compute.0.mlp.fc1.weight', 'blocks.0.write.attn.out.weight', 'output_ln.bias', 'readout.proj.weight',
      'latent_prev_norm.weight', 'latent_prev_mlp.fc1.weight', 'latent_prev_ln.weight']) {
      expect(names).toContain(n);
    }
    expect(names.some((n) => n.startsWith('blocks.1.write'))).toBe(false); // K = 0 in block 1: no write
    expect(() => build({ type: 'RinNetwork', ...tiny, computeLayers: [1, 1, 1] })).toThrow(/'computeLayers' has 3 entries, expected one per block \(numBlocks = 2\)/);
    expect(() => build({ type: 'RinNetwork', ...tiny, inputSize: [8, 7] })).toThrow(/'inputSize' \[8, 7\] must be divisible by patchSize 2×2/);
    const x = randn(new Rng(2), [1, 3, 8, 8]);
    const g = tf.tensor1d([0.5]);
    expect(await maxAbsDiff(a.forward(x, { noiseLevel: g }).output, b.forward(x, { noiseLevel: g }).output)).toBe(0);
    expect(() => a.forward(x, { noiseLevel: g, prevLatents: tf.zeros([1, 4, 12]) })).toThrow(
      ShapeError,
    );
    expect(() => a.forward(x, { noiseLevel: g, prevLatents: tf.zeros([1, 4, 12]) })).toThrow(/RinNetwork: argument 'prevLatents' expected shape \[1, 5, 12\], got \[1, 4, 12\]/);
    a.dispose();
    b.dispose();
  });

  it('does not leak tensors across training steps (self-conditioning two-pass step)', async () => {
    const net = new RinNetwork({ ...tiny, selfCondition: true }, { rng: new Rng(12) });
    const x = randn(new Rng(3), [2, 3, 8, 8]);
    const g = tf.tensor1d([0.4, 0.6]);
    const step = () => {
      const first = net.forward(x, { noiseLevel: g });
      const prev = tf.keep(first.latents); // stop-gradient: used as a constant below
      tf.dispose([first.output, first.interface]);
      const { value, grads } = tf.variableGrads(
        () => tf.tidy(() => tf.mean(tf.square(tf.sub(net.forward(x, { noiseLevel: g, prevLatents: prev }).output, x))) as tf.Scalar),
        net.parameters(),
      );
      tf.dispose([value, prev, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, g]);
    net.dispose();
  });
});
