import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Module, parameter, buffer } from '../src/index.js';

class Leaf extends Module {
  weight = parameter(tf.ones([2, 3]));
  bias = parameter(tf.zeros([3]));
  stat = buffer(tf.zeros([1]));
}
class Tree extends Module {
  blocks = [new Leaf(), new Leaf()];
  head = new Leaf();
  _scratch = new Leaf();
}

describe('Module', () => {
  it('names parameters from fields, PyTorch style', () => {
    const m = new Tree();
    expect(m.namedParameters().map(([n]) => n)).toEqual([
      'blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'head.weight', 'head.bias',
    ]);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['blocks.0.stat', 'blocks.1.stat', 'head.stat']);
    expect(m.numParameters()).toBe(27);
    expect(m.namedModules().map(([n]) => n)).toEqual(['blocks.0', 'blocks.1', 'head']);
    expect(m.head.path).toBe('head');
  });
  it('train/eval reach every submodule', () => {
    const m = new Tree().eval();
    expect(m.blocks[1].training).toBe(false);
    m.train();
    expect(m.head.training).toBe(true);
  });
});
