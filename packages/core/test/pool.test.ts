// MaxPool2d, AvgPool2d (count_include_pad on and off) and AdaptiveAvgPool2d against PyTorch: values
// and input gradients; configs and errors.
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d, ShapeError, adaptiveAvgPool2d, build, maxPool2d, type Module } from '../src/index.js';
import { maxErr, t, torchFixtures } from './conv-fixtures.js';

function brickFor(e: Record<string, any>, impl: 'native' | 'taps'): Module & { forward(x: tf.Tensor): tf.Tensor } {
  if (e.kind === 'max') return new MaxPool2d({ kernelSize: e.k, stride: e.stride, padding: e.padding, impl });
  if (e.kind === 'avg') return new AvgPool2d({ kernelSize: e.k, stride: e.stride, padding: e.padding, countIncludePad: e.count_include_pad });
  return new AdaptiveAvgPool2d({ outputSize: e.out });
}

describe('pooling against PyTorch', () => {
  for (const e of torchFixtures.pool) {
    const name = e.kind === 'adaptive' ? `adaptive ${e.xShape.slice(1, 3)} → ${e.out}` : `${e.kind} k ${e.k} s ${e.stride} p ${e.padding}${e.kind === 'avg' ? ` countIncludePad ${e.count_include_pad}` : ''}`;
    for (const impl of e.kind === 'max' ? (['native', 'taps'] as const) : (['native'] as const)) {
      it(`${name}${e.kind === 'max' ? ` (${impl})` : ''}: value and input gradient`, async () => {
        const pool = brickFor(e, impl);
        const [x, gy] = [t(e, 'x'), t(e, 'gy')];
        const y = pool.forward(x);
        expect(y.shape).toEqual(e.yShape);
        expect(await maxErr(y, e.y)).toBeLessThan(1e-5);
        const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool.forward(a), gy)))(x);
        expect(await maxErr(dx, e.dx)).toBeLessThan(1e-5);
        expect(build(pool.toConfig()).toConfig()).toEqual(pool.toConfig());
        tf.dispose([x, gy, y, dx]);
      });
    }
  }

  it('the stride defaults to the kernel size; a 1×1 adaptive pool is the spatial mean', async () => {
    const x = tf.range(0, 2 * 4 * 6 * 3).reshape([2, 4, 6, 3]);
    expect(new MaxPool2d({ kernelSize: 2 }).forward(x).shape).toEqual([2, 2, 3, 3]);
    const g = adaptiveAvgPool2d(x, 1);
    expect(g.shape).toEqual([2, 1, 1, 3]);
    expect(await maxErr(g, tf.mean(x, [1, 2], true))).toBeLessThan(1e-5);
    tf.dispose([x, g]);
  });

  it('rejects bad arguments naming the function and what came', () => {
    const x = tf.zeros([1, 4, 4, 2]);
    expect(() => maxPool2d(x, 3, { padding: 2 })).toThrow(/maxPool2d: option 'padding' \[2, 2\] must be at most half the kernel 3×3/);
    expect(() => maxPool2d(tf.zeros([4, 4, 2]), 2)).toThrow(/maxPool2d: expected x \[N, H, W, C\], got \[4, 4, 2\]/);
    expect(() => maxPool2d(x, 5)).toThrow(/maxPool2d: input \[1, 4, 4, 2\] is smaller than the kernel 5×5/);
    expect(() => new AvgPool2d({ kernelSize: 2, stride: 0 })).toThrow(/AvgPool2d: config field 'stride'/);
    expect(() => new MaxPool2d({ kernelSize: 2 }).forward(tf.zeros([4, 4, 2]))).toThrow(ShapeError);
    x.dispose();
  });
});
