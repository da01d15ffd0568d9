// ResNet / BasicBlock: torchvision's names and parameter count for ResNet-18, output shapes and
// strides, train/eval behaviour of the batch norms, determinism under a seed, checkpoints with
// buffers. (Learning `shapes` runs on wasm, in conv-wasm.test.ts: tfjs-cpu's conv kernels make
// 40 steps take minutes there.)
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicBlock, BrickConfigError, ResNet, Rng, ShapeError, load, resnet18Config, resnetTinyConfig, save } from '../src/index.js';
import { maxErr } from './conv-fixtures.js';

describe('ResNet', () => {
  it("resnet18Config(): torchvision's resnet18 without fc — 11,176,512 parameters and its state names", () => {
    const net = new ResNet(resnet18Config(), { rng: new Rng(0) });
    expect(net.numParameters()).toBe(11_689_512 - 513_000); // torchvision resnet18 minus fc (512·1000 + 1000)
    const names = net.namedState().map(([n]) => n);
    expect(names.length).toBe(120); // torchvision's state_dict has 122 keys, 2 of them fc
    expect(names.slice(0, 6)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    for (const n of ['layer1.0.conv1.weight', 'layer1.1.bn2.running_var', 'layer2.0.downsample.0.weight', 'layer2.0.downsample.1.num_batches_tracked', 'layer4.1.conv2.weight']) {
      expect(names, n).toContain(n);
    }
    expect(names.some((n) => n.startsWith('layer1.0.downsample'))).toBe(false);
    const shapes_ = new Map(net.namedState().map(([n, v]) => [n, v.shape]));
    expect(shapes_.get('conv1.weight')).toEqual([7, 7, 3, 64]); // PyTorch [64, 3, 7, 7]
    expect(shapes_.get('layer3.0.downsample.0.weight')).toEqual([1, 1, 128, 256]);
    expect(net.outputStride).toBe(32);
    net.dispose();
  });

  it('returns the final feature map or pooled features; strides set the output stride (CRW: 8)', () => {
    const tiny = new ResNet(resnetTinyConfig({ width: 8 }), { rng: new Rng(0) });
    const x = tf.zeros([2, 32, 32, 3]);
    expect(tiny.forward(x, { output: 'featureMap' }).shape).toEqual([2, 8, 8, 32]);
    expect(tiny.forward(x).shape).toEqual([2, 32]);
    expect(tiny.outChannels).toBe(32);
    const crw = new ResNet(resnet18Config({ width: 8, strides: [1, 2, 1, 1], output: 'featureMap' }), { rng: new Rng(0) });
    expect(crw.outputStride).toBe(8);
    expect(crw.forward(tf.zeros([1, 64, 48, 3])).shape).toEqual([1, 8, 6, 64]);
    tf.dispose(x);
    tiny.dispose();
    crw.dispose();
  });

  it('is deterministic under a seed; eval mode uses running statistics (a sample does not depend on its batch)', async () => {
    const cfg = resnetTinyConfig({ width: 4 });
    const [a, b] = [new ResNet(cfg, { rng: new Rng(3) }), new ResNet(cfg, { rng: new Rng(3) })];
    const x = new Rng(4).normalTensor([4, 16, 16, 3]);
    expect(await maxErr(a.forward(x), b.forward(x))).toBe(0);
    // Training mode: batch statistics, so sample 0's features change with the rest of the batch.
    const alone = a.forward(tf.slice(x, [0, 0, 0, 0], [2, 16, 16, 3]));
    expect(await maxErr(tf.slice(a.forward(x), [0, 0], [2, 16]), alone)).toBeGreaterThan(1e-3);
    a.eval();
    const evalAlone = a.forward(tf.slice(x, [0, 0, 0, 0], [1, 16, 16, 3]));
    expect(await maxErr(tf.slice(a.forward(x), [0, 0], [1, 16]), evalAlone)).toBeLessThan(1e-5);
    expect((await a.bn1.namedBuffers()[2]![1].data())[0]).toBe(3); // three training forwards counted
    tf.dispose([x, alone, evalAlone]);
    a.dispose();
    b.dispose();
  });

  it('saves and loads with its buffers (running statistics) and gives the same eval outputs', async () => {
    const net = new ResNet(resnetTinyConfig({ width: 4 }), { rng: new Rng(5) });
    const x = new Rng(6).normalTensor([3, 16, 16, 3], 0.5, 2);
    net.forward(x).dispose(); // moves the running statistics away from 0 / 1
    net.eval();
    const dir = mkdtempSync(join(tmpdir(), 'brickml-resnet-'));
    try {
      await save(net, dir);
      const back = await load<ResNet>(dir);
      back.eval();
      expect(back.namedState().map(([n]) => n)).toEqual(net.namedState().map(([n]) => n));
      expect(await maxErr(back.forward(x), net.forward(x))).toBeLessThan(1e-6);
      back.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    x.dispose();
    net.dispose();
  });

  it('GroupNorm variant: no buffers; configs are checked', () => {
    const gn = new ResNet(resnetTinyConfig({ width: 8, norm: 'group', normGroups: 4 }), { rng: new Rng(0) });
    expect(gn.namedBuffers()).toEqual([]);
    gn.dispose();
    expect(() => new ResNet({ widths: [8, 16], blocksPerStage: [1], strides: [1, 2] })).toThrow(
      /ResNet: config fields 'widths', 'blocksPerStage' and 'strides' must have the same length, got 2, 1 and 2/,
    );
    expect(() => new ResNet(resnetTinyConfig({ width: 6, norm: 'group', normGroups: 4 }))).toThrow(/'normGroups' 4 must divide every width, got 6/);
    expect(() => new BasicBlock({ inChannels: 4, outChannels: 8, stride: 0 })).toThrow(BrickConfigError);
    const net = new ResNet(resnetTinyConfig({ width: 4 }), { rng: new Rng(0) });
    expect(() => net.forward(tf.zeros([1, 3, 16, 16]))).toThrow(ShapeError);
    expect(() => net.forward(tf.zeros([2, 16, 16, 3]), { output: 'map' as never })).toThrow(/ResNet: option 'output' expected 'pooled' or 'featureMap', got "map"/);
    net.dispose();
  });
});
