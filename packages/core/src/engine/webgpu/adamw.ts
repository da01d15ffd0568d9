/**
 * The fused AdamW update (`optim/fused-adamw.ts`) as a WGSL program for tfjs's `webgpu` backend.
 *
 * On WebGPU a training step is host-bound (docs/design.md, "Engine facts"): every kernel costs a
 * dispatch, a uniform buffer and a bind group, and the op-by-op update is ~11 kernels plus ~6 scalar
 * uploads per parameter. Here each of p′, m′, v′ is one elementwise dispatch that reads p, g, m, v
 * (a tfjs program has one output, so three programs that differ in what they store): 3 dispatches
 * per parameter. Same formula as the wasm/cpu kernel, in f32.
 *
 * The program follows tfjs-backend-webgpu's `WebGPUProgram` model (the backend prepends the input
 * bindings, the uniforms struct with `size` and the fields named in `uniforms`, and the `_start`
 * entry point that calls `main(index)` for a flat dispatch). This module never imports the webgpu
 * backend: the kernel is registered under its name, harmless where it is absent.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackendLike, WebGPUProgramLike } from './program.js';
import type { AdamWAttrs } from '../../optim/fused-adamw.js';

/** Which output a program stores. */
type Output = 'p' | 'm' | 'v';


const WORKGROUP = 256;

/** `[n]` elementwise: stores p′, m′ or v′ of one AdamW update. */
class AdamWProgram implements WebGPUProgramLike {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP, 1, 1];
  variableNames = ['P', 'G', 'M', 'V'];
  uniforms = 'keep : f32, beta1 : f32, beta2 : f32, stepSize : f32, invBc2 : f32, eps : f32,';
  size = true;

  constructor(shape: number[], private readonly output: Output) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    const n = shape.reduce((a, b) => a * b, 1);
    // The backend folds a first dimension over the per-dimension limit into y (and main's index with it).
    this.dispatch = [Math.ceil(n / WORKGROUP), 1, 1];
    this.shaderKey = `brickAdamW_${output}`;
  }

  getUserCode(): string {
    const store = {
      m: 'mi',
      v: 'vi',
      p: 'pi * uniforms.keep - uniforms.stepSize * mi / (sqrt(vi) * uniforms.invBc2 + uniforms.eps)',
    }[this.output];
    // Every program reads P, so that all three share one binding layout (an unused binding would be
    // dropped from the pipeline's automatic layout, while the backend always binds every input).
    return `
  fn main(index : i32) {
    if (index < uniforms.size) {
      let pi = P[index];
      let gi = G[index];
      let mi = uniforms.beta1 * M[index] + (1.0 - uniforms.beta1) * gi;
      let vi = uniforms.beta2 * V[index] + (1.0 - uniforms.beta2) * gi * gi;
      ${this.output === 'p' ? '' : '_ = pi;'}
      result[index] = ${store};
    }
  }
`;
  }
}

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}

/** Kernel function of `BrickAdamWUpdate` on `webgpu`: three dispatches, outputs `[p′, m′, v′]`. */
export function adamwWebGPU({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as WebGPUBackendLike;
  const { p, g, m, v } = inputs as Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>;
  const a = attrs as unknown as AdamWAttrs;
  const scalars = [1 - a.decay, a.beta1, a.beta2, a.stepSize, 1 / a.bc2Sqrt, a.eps].map((x) => ({ type: 'float32', data: [x] }));
  return (['p', 'm', 'v'] as const).map((o) => be.runWebGPUProgram(new AdamWProgram(p.shape, o), [p, g, m, v], 'float32', scalars));
}
