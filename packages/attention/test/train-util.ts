import * as tf from '@tensorflow/tfjs-core';
import { AdamW, type Module } from '@brickml/core';

/** One optimisation step of `model` on `lossFn` with core's AdamW (gradients keyed by parameter path). Returns the loss. */
export async function trainStep(model: Module, opt: AdamW, lossFn: () => tf.Scalar): Promise<number> {
  const named = model.namedParameters();
  const byVar = new Map(named.map(([path, v]) => [v.name, path]));
  const { value, grads } = tf.variableGrads(lossFn, named.map(([, v]) => v));
  const byPath = new Map<string, tf.Tensor>();
  for (const [varName, g] of Object.entries(grads)) byPath.set(byVar.get(varName)!, g);
  tf.tidy(() => opt.step(byPath));
  const loss = (await value.data())[0];
  value.dispose();
  tf.dispose(Object.values(grads));
  return loss;
}
