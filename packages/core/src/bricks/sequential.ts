import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module } from '../module/module.js';
import { build, parseConfig, registerBrick, schemas, type BrickConfig, type BrickOptions } from '../module/registry.js';
import { BrickConfigError } from '../errors.js';
import { isLayer, type Layer } from './layer.js';

const SequentialSchema = z.object({ /** Brick configs, applied in order. */ layers: z.array(schemas.brick) }).strict();
export type SequentialConfig = { layers: BrickConfig[] };

/** Applies single-input bricks in order; parameters are named `layers.<i>.<name>`. */
export class Sequential extends Module {
  static readonly type = 'Sequential';
  static readonly schema = SequentialSchema;
  readonly layers: Layer[];

  constructor(config: SequentialConfig, options: BrickOptions = {}) {
    super();
    const c = parseConfig(Sequential, config);
    this.layers = c.layers.map((lc, i) => {
      const m = build(lc as BrickConfig, options);
      if (!isLayer(m)) {
        throw new BrickConfigError(`Sequential: config field 'layers.${i}' (${lc.type}) has no single-input forward`);
      }
      return m;
    });
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.layers.reduce((h, layer) => layer.forward(h), x);
  }

  override toConfig() {
    return { type: Sequential.type, layers: this.layers.map((l) => l.toConfig()) };
  }
}
registerBrick(Sequential);
