import type * as tf from '@tensorflow/tfjs-core';
import type { Module } from '../module/module.js';

/** A module with a single-tensor forward (what `Sequential` chains). */
export interface Layer extends Module {
  forward(x: tf.Tensor): tf.Tensor;
}

export function isLayer(m: Module): m is Layer {
  return typeof (m as any).forward === 'function' && (m as any).forward.length <= 1;
}
