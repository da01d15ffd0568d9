/**
 * The contract between the harness (`harness.ts`) and one benchmark case.
 *
 * A case is one computation measured twice: in BrickML (TypeScript, on every backend present) and
 * in a PyTorch reference (`bench/torch/<module>.py`) that is loaded with BrickML's weights and
 * inputs, so the table also proves both compute the same thing.
 *
 * Per backend the harness calls `setup()` (build under the active backend — the same seed gives
 * the same weights everywhere, since `Rng` is host-side), then `outputs()` once on the fresh state
 * (the parity outputs), then `step()` for warm-up and timing, then `dispose()`.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface BenchCase {
  /** Stable id, e.g. `rin-train-step`; also the artifact file names. */
  id: string;
  /** One line for the table, e.g. `RIN train step (B8, 256 tok, 128×512 latents)`. */
  title: string;
  /** FLOPs of one `step()` (multiply-add = 2), for GFLOP/s and the fraction of sgemm peak. */
  flops: number;
  /**
   * The PyTorch side: `module` is `bench/torch/<module>.py` (it gets `meta` and the tensors);
   * `sameAs` reuses the PyTorch row of another case (e.g. MoE capacity vs the dense-loop
   * reference timed for the dropless case) — then no parity is computed for this case.
   */
  reference: { module: string } | { sameAs: string; why: string };
  /** JSON-serialisable facts the reference needs (shapes, hyper-parameters, variant). */
  meta: Record<string, unknown>;
  /** Absolute tolerance for the parity outputs (max abs error vs PyTorch), default 1e-3. */
  tolerance?: number;
  /** Builds the case on the active backend. */
  setup(): Promise<CaseInstance>;
}

export interface CaseInstance {
  /**
   * Everything the reference needs, by name: weights under their BrickML/PyTorch dotted names
   * prefixed `param.`, inputs prefixed `in.`. Read once (on the first backend) and written to
   * `out/bench/artifacts/<id>.safetensors`. Not disposed by the harness.
   */
  tensors(): Record<string, tf.Tensor>;
  /**
   * Runs the computation once on the fresh state and returns the parity outputs by name (e.g.
   * `loss`, `grad.<param>`, `updated.<param>`, `y`). The PyTorch module returns the same names.
   * The harness disposes the returned tensors.
   */
  outputs(): Promise<Record<string, tf.Tensor>>;
  /** One timed iteration; must finish its work (read a result) before resolving. */
  step(): Promise<void>;
  /** Extra facts for the table/JSON (e.g. `droppedFraction`), read after timing. */
  facts?(): Record<string, number | string>;
  dispose(): void;
}

/** What {@link trainStepInstance} needs: the parameters, their optimizer, the loss and the case's inputs. */
export interface TrainStepParts {
  /** The model's parameters by path (`namedParameters()`). */
  named: Array<[string, tf.Variable]>;
  /** The optimizer over `named` (core's AdamW). */
  opt: { step(grads: Map<string, tf.Tensor>): void; dispose(): void };
  /** Forward + loss, called inside `tf.variableGrads`. */
  lossFn: () => tf.Scalar;
  /** Tensors the reference needs besides the parameters (`in.*`, `buffer.*`). */
  inputs: Record<string, tf.Tensor>;
  /** Extra parity outputs from each gradient (e.g. a rescaled copy); the harness disposes them. */
  extraGradOutputs?: (path: string, grad: tf.Tensor) => Record<string, tf.Tensor>;
  facts?: () => Record<string, number | string>;
  /** Disposes the model and the inputs (the optimizer is disposed here). */
  dispose: () => void;
  /** Case id for errors. */
  id: string;
}

/**
 * The case instance of one training step (forward, loss, backward, optimizer step): parity outputs
 * are the loss, every gradient (`grad.<path>`) and every updated weight (`updated.<path>`); `step()`
 * runs one training step and reads the loss.
 */
export function trainStepInstance(p: TrainStepParts): CaseInstance {
  const vars = p.named.map(([, v]) => v);
  const pathOf = new Map(p.named.map(([path, v]) => [v.name, path]));
  /** Returns the loss and the gradients by parameter path (caller disposes). */
  const trainStep = () => {
    const { value, grads } = tf.variableGrads(p.lossFn, vars);
    const byPath = new Map(Object.entries(grads).map(([name, g]) => [pathOf.get(name)!, g]));
    if (byPath.size !== p.named.length) throw new Error(`bench ${p.id}: ${p.named.length - byPath.size} parameter(s) got no gradient`);
    p.opt.step(byPath);
    return { loss: value, grads: byPath };
  };
  return {
    tensors: () => ({ ...Object.fromEntries(p.named.map(([path, v]) => [`param.${path}`, v as tf.Tensor])), ...p.inputs }),
    outputs: async () => {
      const { loss, grads } = trainStep();
      const out: Record<string, tf.Tensor> = { loss };
      for (const [path, g] of grads) Object.assign(out, { [`grad.${path}`]: g }, p.extraGradOutputs?.(path, g));
      for (const [path, v] of p.named) out[`updated.${path}`] = tf.clone(v);
      return out;
    },
    step: async () => {
      const { loss, grads } = trainStep();
      await loss.data();
      tf.dispose([loss, ...grads.values()]);
    },
    ...(p.facts ? { facts: p.facts } : {}),
    dispose: () => {
      p.opt.dispose();
      p.dispose();
    },
  };
}
