// conv2d / convTranspose2d / upsampling and the Conv2d, ConvTranspose2d, Upsample bricks: PyTorch's
// numbers (forward and both gradients) for every implementation, implementations equal to each other,
// finite differences, initialisation, configs and errors, no tensor leaks.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  BrickConfigError, Conv2d, ConvTranspose2d, Rng, ShapeError, Upsample, build, conv2d, convTranspose2d, defaultConvImpl, gradCheck, gradCheckVariables,
  resolvePadding, upsampleNearest, type ConvImpl, type ConvPadding,
} from '../src/index.js';
import { maxErr, t, torchFixtures } from './conv-fixtures.js';

type Pair = [number, number];

describe('conv2d against PyTorch (F.conv2d, forward and gradients)', () => {
  it('auto on cpu: hybrid for plain convs (faster than tfjs-cpu\'s Conv2DBackpropFilter), native for depthwise', () => {
    expect(defaultConvImpl()).toBe('hybrid');
    expect(defaultConvImpl('depthwise')).toBe('native');
  });

  for (const [ci, e] of torchFixtures.conv.entries()) {
    const impls: ConvImpl[] = e.groups === 1 ? ['native', 'hybrid', 'im2col', 'conv3d'] : ['native', 'hybrid', 'im2col'];
    for (const impl of impls) {
      it(`case ${ci} (k ${e.wShape.slice(0, 2)}, stride ${e.stride}, padding ${e.padding}, dilation ${e.dilation}, groups ${e.groups}): ${impl}`, async () => {
        const [x, w, b, gy] = [t(e, 'x'), t(e, 'w'), t(e, 'b'), t(e, 'gy')];
        const opts = { stride: e.stride as Pair, padding: e.padding as Pair, dilation: e.dilation as Pair, groups: e.groups as number, impl };
        const y = conv2d(x, w, b, opts);
        expect(y.shape).toEqual(e.yShape);
        expect(await maxErr(y, e.y)).toBeLessThan(1e-4);
        const [dx, dw, db] = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(conv2d(a, c, d, opts), gy)))([x, w, b]);
        expect(await maxErr(dx, e.dx), 'dx').toBeLessThan(1e-4);
        expect(await maxErr(dw, e.dw), 'dw').toBeLessThan(2e-4);
        expect(await maxErr(db, e.db), 'db').toBeLessThan(1e-4);
        tf.dispose([x, w, b, gy, y, dx, dw, db]);
      });
    }
  }

  it("'same' padding at strides 1 and 2, and padding larger than the kernel: hybrid and im2col equal native (value, dx, dW)", async () => {
    const rng = new Rng(4);
    const cases: Array<{ hw: Pair; k: Pair; stride: Pair; padding: ConvPadding; groups: number; cin: number; cout: number }> = [
      { hw: [7, 8], k: [3, 3], stride: [2, 2], padding: 'same', groups: 1, cin: 3, cout: 4 },
      { hw: [6, 5], k: [4, 2], stride: [1, 1], padding: 'same', groups: 1, cin: 2, cout: 3 },
      { hw: [5, 5], k: [2, 2], stride: [2, 1], padding: [3, 1], groups: 1, cin: 2, cout: 2 },
      { hw: [6, 6], k: [3, 3], stride: [2, 2], padding: 'same', groups: 3, cin: 3, cout: 6 }, // depthwise, multiplier 2
      { hw: [6, 6], k: [1, 1], stride: [2, 2], padding: 0, groups: 1, cin: 4, cout: 5 },
    ];
    for (const c of cases) {
      const x = rng.normalTensor([2, c.hw[0], c.hw[1], c.cin]);
      const w = rng.normalTensor([c.k[0], c.k[1], c.cin / c.groups, c.cout], 0, 0.3);
      const run = (impl: ConvImpl) => {
        const f = (a: tf.Tensor, b: tf.Tensor) => conv2d(a, b, null, { stride: c.stride, padding: c.padding, groups: c.groups, impl });
        const y = f(x, w);
        const gy = new Rng(9).normalTensor(y.shape);
        return [y, ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), gy)))([x, w])];
      };
      const ref = run('native');
      for (const impl of ['hybrid', 'im2col'] as ConvImpl[]) {
        const got = run(impl);
        for (let i = 0; i < 3; i++) expect(await maxErr(got[i]!, ref[i]!), `${JSON.stringify(c)} ${impl} part ${i}`).toBeLessThan(1e-4);
        tf.dispose(got);
      }
      tf.dispose([...ref, x, w]);
    }
  });

  it("'same' follows TensorFlow/PyTorch: the odd padding pixel goes to the bottom/right", () => {
    expect(resolvePadding('same', [5, 5], [4, 4], [1, 1])).toEqual([[1, 2], [1, 2]]);
    expect(resolvePadding('same', [7, 8], [3, 3], [2, 2])).toEqual([[1, 1], [0, 1]]);
    expect(resolvePadding('valid', [7, 8], [3, 3], [2, 2])).toEqual([[0, 0], [0, 0]]);
    expect(resolvePadding([2, 0], [7, 8], [3, 3], [2, 2])).toEqual([[2, 2], [0, 0]]);
  });

  it('hybrid gradients match finite differences (stride 2, groups 2 and depthwise)', async () => {
    const rng = new Rng(5);
    for (const groups of [2, 4]) {
      const x = rng.normalTensor([1, 5, 5, 4]);
      const w = rng.normalTensor([3, 3, 4 / groups, 4], 0, 0.4);
      const gy = rng.normalTensor([1, 3, 3, 4]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2d(a, b, null, { stride: 2, padding: 1, groups, impl: 'hybrid' }), gy)) as tf.Scalar;
      const r = await gradCheck(f, [x, w], { eps: 1e-2, atol: 2e-3, rtol: 1e-2 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
      tf.dispose([x, w, gy]);
    }
  });

  it('rejects bad arguments, naming the function, the argument, what it expected and what came', () => {
    const x = tf.zeros([1, 4, 4, 4]);
    expect(() => conv2d(tf.zeros([4, 4, 4]), tf.zeros([3, 3, 4, 2]))).toThrow(/conv2d: expected x \[N, H, W, Cin\] and weight \[kh, kw, Cin\/groups, Cout\], got x \[4, 4, 4\]/);
    expect(() => conv2d(x, tf.zeros([3, 3, 3, 2]))).toThrow(/conv2d: weight expected \[kh, kw, 4, Cout\] \(Cin 4 \/ groups 1\) for x \[1, 4, 4, 4\], got \[3, 3, 3, 2\]/);
    expect(() => conv2d(x, tf.zeros([3, 3, 2, 3]), null, { groups: 2 })).toThrow(/conv2d: option 'groups' expected a positive integer dividing Cin 4 and Cout 3, got 2/);
    expect(() => conv2d(x, tf.zeros([3, 3, 4, 2]), tf.zeros([3]))).toThrow(/conv2d: bias expected \[2\], got \[3\]/);
    expect(() => conv2d(x, tf.zeros([5, 5, 4, 2]))).toThrow(/conv2d: input 4×4 padded by .* is smaller than the \(dilated\) kernel 5×5/);
    expect(() => conv2d(x, tf.zeros([3, 3, 4, 2]), null, { stride: 0 })).toThrow(/conv2d: option 'stride' expected an integer ≥ 1 or a pair \[h, w\] of them, got 0/);
    expect(() => conv2d(x, tf.zeros([3, 3, 1, 4]), null, { groups: 4, impl: 'conv3d' })).toThrow(/impl 'conv3d' supports groups 1 only/);
    x.dispose();
  });
});

describe('convTranspose2d against PyTorch (F.conv_transpose2d)', () => {
  for (const [ci, e] of torchFixtures.convTranspose.entries()) {
    for (const impl of ['native', 'hybrid', 'im2col'] as ConvImpl[]) {
      it(`case ${ci} (k ${e.wShape.slice(0, 2)}, stride ${e.stride}, padding ${e.padding}, outputPadding ${e.outputPadding}, dilation ${e.dilation}, groups ${e.groups}): ${impl}`, async () => {
        const [x, w, b, gy] = [t(e, 'x'), t(e, 'w'), t(e, 'b'), t(e, 'gy')];
        const opts = { stride: e.stride as Pair, padding: e.padding as Pair, outputPadding: e.outputPadding as Pair, dilation: e.dilation as Pair, groups: e.groups as number, impl };
        const y = convTranspose2d(x, w, b, opts);
        expect(y.shape).toEqual(e.yShape);
        expect(await maxErr(y, e.y)).toBeLessThan(1e-4);
        const [dx, dw, db] = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(convTranspose2d(a, c, d, opts), gy)))([x, w, b]);
        expect(await maxErr(dx, e.dx), 'dx').toBeLessThan(1e-4);
        expect(await maxErr(dw, e.dw), 'dw').toBeLessThan(2e-4);
        expect(await maxErr(db, e.db), 'db').toBeLessThan(1e-4);
        tf.dispose([x, w, b, gy, y, dx, dw, db]);
      });
    }
  }

  it('equals tfjs conv2dTranspose (same filter layout)', async () => {
    const rng = new Rng(8);
    const x = rng.normalTensor([2, 4, 5, 3]);
    const w = rng.normalTensor([3, 3, 6, 3]);
    const ours = convTranspose2d(x, w, null, { stride: 2 });
    const theirs = tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 9, 11, 6], 2, 'valid');
    expect(ours.shape).toEqual([2, 9, 11, 6]);
    expect(await maxErr(ours, theirs)).toBeLessThan(1e-4);
    tf.dispose([x, w, ours, theirs]);
  });
});

describe('upsampling against PyTorch (F.interpolate)', () => {
  for (const e of torchFixtures.upsample) {
    it(`${e.mode} ×${e.scaleFactor}: value and gradient`, async () => {
      const up = new Upsample({ mode: e.mode, scaleFactor: e.scaleFactor });
      const [x, gy] = [t(e, 'x'), t(e, 'gy')];
      const y = up.forward(x);
      expect(y.shape).toEqual(e.yShape);
      expect(await maxErr(y, e.y)).toBeLessThan(1e-5);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(up.forward(a), gy)))(x);
      expect(await maxErr(dx, e.dx)).toBeLessThan(1e-5);
      tf.dispose([x, gy, y, dx]);
    });
  }
  it('upsampleNearest takes a factor per axis', async () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = upsampleNearest(x, [1, 2]);
    expect(y.shape).toEqual([1, 2, 4, 1]);
    expect(Array.from(await y.data())).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    tf.dispose([x, y]);
  });
});

describe('Conv2d / ConvTranspose2d bricks', () => {
  it('Conv2d: PyTorch default init U(±1/√fanIn) for weight and bias, HWIO shapes, config round trip', async () => {
    const conv = new Conv2d({ inChannels: 16, outChannels: 32, kernelSize: [3, 5], groups: 2 }, { rng: new Rng(0) });
    expect(conv.weight.shape).toEqual([3, 5, 8, 32]);
    expect(conv.bias!.shape).toEqual([32]);
    const bound = 1 / Math.sqrt(8 * 15);
    const w = Array.from(await conv.weight.data());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeCloseTo(bound / Math.sqrt(3), 2); // U(−a, a) has std a/√3
    const b = Array.from(await conv.bias!.data());
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...b.map(Math.abs))).toBeGreaterThan(0.5 * bound);
    const again = build<Conv2d>(conv.toConfig(), { rng: new Rng(0) });
    expect(again.toConfig()).toEqual(conv.toConfig());
    expect(Array.from(await again.weight.data())).toEqual(w); // same seed, same parameters
    expect(conv.toConfig()).toMatchObject({ type: 'Conv2d', stride: 1, padding: 0, dilation: 1, bias: true, biasInit: 'uniform', impl: 'auto' });
    const t1 = new ConvTranspose2d({ inChannels: 4, outChannels: 6, kernelSize: 4, stride: 2, padding: 1, groups: 2 }, { rng: new Rng(0) });
    expect(t1.weight.shape).toEqual([4, 4, 3, 4]);
    const tb = 1 / Math.sqrt(3 * 16); // PyTorch: fan-in from weight.size(1) = Cout/groups
    expect(Math.max(...Array.from(await t1.weight.data()).map(Math.abs))).toBeLessThanOrEqual(tb);
    expect(Math.max(...Array.from(await t1.weight.data()).map(Math.abs))).toBeGreaterThan(0.9 * tb);
    tf.dispose([conv, again, t1].flatMap((m) => m.parameters()));
  });

  it('Conv2d forward maps [N, H, W, Cin] to [N, Ho, Wo, Cout] and its parameter gradients match finite differences', async () => {
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 1, impl: 'hybrid' }, { rng: new Rng(1) });
    const x = new Rng(2).normalTensor([2, 7, 6, 3]);
    const y = conv.forward(x);
    expect(y.shape).toEqual([2, 4, 3, 4]);
    const proj = new Rng(3).normalTensor(y.shape);
    const r = await gradCheckVariables(() => tf.sum(tf.mul(conv.forward(x), proj)) as tf.Scalar, conv.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 1e-2 });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    tf.dispose([x, y, proj]);
    conv.dispose();
  });

  it('ConvTranspose2d inverts the shape of the matching Conv2d (×2 upsampling with k 4, s 2, p 1)', () => {
    const up = new ConvTranspose2d({ inChannels: 8, outChannels: 3, kernelSize: 4, stride: 2, padding: 1 }, { rng: new Rng(0) });
    const y = up.forward(tf.zeros([2, 5, 6, 8]));
    expect(y.shape).toEqual([2, 10, 12, 3]);
    y.dispose();
    up.dispose();
  });

  it('rejects bad configs and inputs with the brick, the field and what came', () => {
    expect(() => new Conv2d({ inChannels: 6, outChannels: 4, kernelSize: 3, groups: 4 })).toThrow(/Conv2d: config field 'groups' 4 must divide inChannels 6 and outChannels 4/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 0 })).toThrow(BrickConfigError);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 'full' } as never)).toThrow(/Conv2d: config field 'padding'/);
    expect(() => new ConvTranspose2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, outputPadding: 2 })).toThrow(/ConvTranspose2d: config field 'outputPadding' 2 must be smaller than the stride 2/);
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3 });
    expect(() => conv.forward(tf.zeros([1, 3, 8, 8]))).toThrow(ShapeError);
    expect(() => conv.forward(tf.zeros([1, 3, 8, 8]))).toThrow(/Conv2d: argument 'x' expected shape \[\*, \*, \*, 3\], got \[1, 3, 8, 8\]/);
    conv.dispose();
  });

  it('leaves no tensors behind across training steps (hybrid, native, im2col)', async () => {
    for (const impl of ['hybrid', 'native', 'im2col'] as const) {
      const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 'same', impl }, { rng: new Rng(1) });
      const x = new Rng(2).normalTensor([2, 6, 6, 3]);
      const step = () => {
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.sum(tf.square(conv.forward(x))) as tf.Scalar), conv.parameters());
        tf.dispose([value, ...Object.values(grads)]);
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step();
      expect(tf.memory().numTensors, impl).toBe(before);
      x.dispose();
      conv.dispose();
    }
  });
});
