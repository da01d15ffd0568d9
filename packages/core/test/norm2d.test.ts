// GroupNorm and BatchNorm2d against PyTorch: values, gradients, running statistics (unbiased update,
// momentum and cumulative average), train/eval behaviour, buffers in checkpoints, errors, no leaks.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm1d, BatchNorm2d, BrickConfigError, GroupNorm, Rng, ShapeError, build, decodeToTensors, gradCheck, gradCheckVariables, loadWeights, saveWeights } from '../src/index.js';
import { maxErr, t, torchFixtures } from './conv-fixtures.js';

describe('GroupNorm', () => {
  it('equals nn.GroupNorm (channels last): value and gradients of x, weight and bias', async () => {
    const e = torchFixtures.groupNorm[0]!;
    const gn = new GroupNorm({ numGroups: e.numGroups, numChannels: 6 });
    gn.weight!.assign(t(e, 'weight'));
    gn.bias!.assign(t(e, 'bias'));
    const [x, gy] = [t(e, 'x'), t(e, 'gy')];
    const y = gn.forward(x);
    expect(await maxErr(y, e.y)).toBeLessThan(1e-5);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(gn.forward(x), gy)) as tf.Scalar, gn.parameters());
    expect(await maxErr(grads[gn.weight!.name]!, e.dw)).toBeLessThan(1e-4);
    expect(await maxErr(grads[gn.bias!.name]!, e.db)).toBeLessThan(1e-4);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(gn.forward(a), gy)))(x);
    expect(await maxErr(dx, e.dx)).toBeLessThan(1e-4);
    expect(gn.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    tf.dispose([x, gy, y, dx, ...Object.values(grads)]);
    gn.dispose();
  });

  it('takes any [N, ..., C] input, has no parameters without affine, and rejects bad configs and inputs', () => {
    const gn = new GroupNorm({ numGroups: 2, numChannels: 4, affine: false });
    expect(gn.parameters()).toEqual([]);
    expect(gn.forward(tf.zeros([2, 5, 4])).shape).toEqual([2, 5, 4]);
    expect(() => new GroupNorm({ numGroups: 3, numChannels: 4 })).toThrow(/GroupNorm: config field 'numChannels' 4 must be divisible by numGroups 3/);
    expect(() => new GroupNorm({ numGroups: 2 } as never)).toThrow(BrickConfigError);
    expect(() => gn.forward(tf.zeros([2, 4, 4, 3]))).toThrow(ShapeError);
    expect(build<GroupNorm>(gn.toConfig()).toConfig()).toEqual({ type: 'GroupNorm', numGroups: 2, numChannels: 4, eps: 1e-5, affine: false });
  });
});

describe('BatchNorm2d', () => {
  for (const e of torchFixtures.batchNorm) {
    it(`equals nn.BatchNorm2d over three training batches and in eval mode (momentum ${e.momentum})`, async () => {
      const bn = new BatchNorm2d({ numFeatures: 3, momentum: e.momentum });
      bn.weight!.assign(tf.tensor1d(e.weight));
      bn.bias!.assign(tf.tensor1d(e.bias));
      for (const [i, s] of (e.steps as Array<Record<string, any>>).entries()) {
        const x = t(s, 'x');
        const y = bn.forward(x);
        expect(await maxErr(y, s.y), `step ${i} output`).toBeLessThan(1e-4);
        expect(await maxErr(bn.running_mean!, s.runningMean), `step ${i} running_mean`).toBeLessThan(1e-5);
        expect(await maxErr(bn.running_var!, s.runningVar), `step ${i} running_var (unbiased)`).toBeLessThan(1e-5);
        expect((await bn.num_batches_tracked!.data())[0]).toBe(s.numBatchesTracked);
        tf.dispose([x, y]);
      }
      bn.eval();
      const xe = tf.tensor(e.evalX, e.evalShape);
      const before = await bn.running_mean!.data();
      expect(await maxErr(bn.forward(xe), e.evalY), 'eval output uses the running statistics').toBeLessThan(1e-4);
      expect(Array.from(await bn.running_mean!.data())).toEqual(Array.from(before)); // eval does not update
      expect((await bn.num_batches_tracked!.data())[0]).toBe(3);
      bn.dispose();
    });
  }

  it('training-mode gradients equal PyTorch (through the batch statistics) and finite differences', async () => {
    const e = torchFixtures.batchNorm[0]!;
    const bn = new BatchNorm2d({ numFeatures: 3 });
    bn.weight!.assign(tf.tensor1d(e.weight));
    bn.bias!.assign(tf.tensor1d(e.bias));
    const x = tf.tensor(e.gradX, e.gradShape);
    const gy = tf.tensor(e.gradGy, e.gradShape);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(bn.forward(a), gy)))(x);
    expect(await maxErr(dx, e.gradDx)).toBeLessThan(1e-4);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.forward(x), gy)) as tf.Scalar, bn.parameters());
    expect(await maxErr(grads[bn.weight!.name]!, e.gradDw)).toBeLessThan(1e-4);
    expect(await maxErr(grads[bn.bias!.name]!, e.gradDb)).toBeLessThan(1e-4);
    const r = await gradCheckVariables(() => tf.sum(tf.mul(bn.forward(x), gy)) as tf.Scalar, bn.parameters(), { eps: 1e-2, atol: 2e-3 });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    tf.dispose([x, gy, dx, ...Object.values(grads)]);
    bn.dispose();
  });

  it('keeps running_mean, running_var and num_batches_tracked as buffers: saved and loaded, never trained', async () => {
    const bn = new BatchNorm2d({ numFeatures: 2 });
    expect(bn.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(bn.namedBuffers().map(([n]) => n)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const x = new Rng(1).normalTensor([4, 2, 2, 2], 3, 2);
    bn.forward(x).dispose();
    const bytes = await saveWeights(bn);
    const names = [...decodeToTensors(bytes).keys()].sort();
    expect(names).toEqual(['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']);
    const fresh = new BatchNorm2d({ numFeatures: 2 });
    loadWeights(fresh, bytes);
    expect(await maxErr(fresh.running_mean!, bn.running_mean!)).toBe(0);
    expect(await maxErr(fresh.running_var!, bn.running_var!)).toBe(0);
    expect((await fresh.num_batches_tracked!.data())[0]).toBe(1);
    fresh.eval();
    bn.eval();
    expect(await maxErr(fresh.forward(x), bn.forward(x))).toBe(0);
    x.dispose();
    bn.dispose();
    fresh.dispose();
  });

  it('without trackRunningStats it has no buffers and uses batch statistics in eval mode too', async () => {
    const bn = new BatchNorm2d({ numFeatures: 2, trackRunningStats: false, affine: false });
    expect(bn.namedState()).toEqual([]);
    bn.eval();
    const x = new Rng(2).normalTensor([3, 2, 2, 2], 5, 3);
    const y = bn.forward(x);
    const m = tf.mean(y, [0, 1, 2]);
    expect(Math.max(...Array.from(await m.data()).map(Math.abs))).toBeLessThan(1e-5);
    tf.dispose([x, y, m]);
  });

  it('rejects one value per channel in training mode (as PyTorch) and bad shapes', () => {
    const bn = new BatchNorm2d({ numFeatures: 3 });
    expect(() => bn.forward(tf.zeros([1, 1, 1, 3]))).toThrow(/BatchNorm2d: expected more than 1 value per channel in training mode, got x \[1, 1, 1, 3\]/);
    expect(() => bn.forward(tf.zeros([2, 3]))).toThrow(/BatchNorm2d: argument 'x' expected shape \[\*, \*, \*, 3\], got \[2, 3\]/);
    expect(() => new BatchNorm2d({ numFeatures: 3, momentum: 2 })).toThrow(/BatchNorm2d: config field 'momentum'/);
    bn.eval();
    expect(bn.forward(tf.zeros([1, 1, 1, 3])).shape).toEqual([1, 1, 1, 3]);
    bn.dispose();
  });

  it('leaves no tensors behind across training steps (statistics updates included)', () => {
    const bn = new BatchNorm2d({ numFeatures: 4, momentum: null });
    const x = new Rng(3).normalTensor([2, 3, 3, 4]);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(tf.square(bn.forward(x))) as tf.Scalar), bn.parameters());
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    bn.dispose();
  });
});

describe('BatchNorm1d', () => {
  it('normalises [N, C] per feature like nn.BatchNorm1d: hand values, running statistics, eval mode, gradients', async () => {
    const bn = new BatchNorm1d({ numFeatures: 2 });
    const x = tf.tensor2d([[1, 2], [3, 6]]); // mean [2, 4], biased var [1, 4], unbiased [2, 8]
    const y = bn.forward(x);
    const s = (v: number) => Math.sqrt(v + 1e-5);
    const expected = [-1 / s(1), -2 / s(4), 1 / s(1), 2 / s(4)];
    Array.from(await y.data()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    Array.from(await bn.running_mean!.data()).forEach((v, i) => expect(v).toBeCloseTo([0.2, 0.4][i]!, 6));
    Array.from(await bn.running_var!.data()).forEach((v, i) => expect(v).toBeCloseTo([0.9 + 0.2, 0.9 + 0.8][i]!, 6));
    expect((await bn.num_batches_tracked!.data())[0]).toBe(1);
    bn.eval();
    const ye = await bn.forward(tf.tensor2d([[2, 4]])).data();
    expect(ye[0]).toBeCloseTo(1.8 / s(1.1), 5);
    expect(ye[1]).toBeCloseTo(3.6 / s(1.7), 5);
    expect((await bn.num_batches_tracked!.data())[0]).toBe(1);
    bn.train();
    expect(bn.namedState().map(([n]) => n)).toEqual(['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
    bn.weight!.assign(tf.tensor1d([1.5, -0.5]));
    bn.bias!.assign(tf.tensor1d([0.1, 0.2]));
    const xs = new Rng(3).normalTensor([5, 2]);
    const g = new Rng(4).normalTensor([5, 2]);
    const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.square(bn.forward(a)), g)) as tf.Scalar;
    const r = await gradCheckVariables(() => f(xs), bn.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    const rx = await gradCheck(f, [xs], { eps: 1e-2, atol: 5e-3, rtol: 3e-2 });
    expect(rx.ok, JSON.stringify(rx.worst)).toBe(true);
    expect(() => bn.forward(tf.zeros([1, 2]))).toThrow(/BatchNorm1d: expected more than 1 value per channel in training mode, got x \[1, 2\]/);
    expect(() => bn.forward(tf.zeros([4, 3]))).toThrow(ShapeError);
    expect(build<BatchNorm1d>(bn.toConfig()).toConfig()).toEqual({ type: 'BatchNorm1d', numFeatures: 2, eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true });
    tf.dispose([x, y, xs, g]);
    bn.dispose();
  });
});
