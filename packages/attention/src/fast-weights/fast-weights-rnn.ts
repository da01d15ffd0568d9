import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  LayerNorm,
  Linear,
  Module,
  activation,
  globalRng,
  matmul,
  parseConfig,
  registerBrick,
  schemas,
  type BrickOptions,
} from '@brickml/core';

const FastWeightsSchema = z
  .object({
    /** Features of each input step x(t). */
    inputSize: schemas.positiveInt,
    /** Hidden units H (the fast memory A is H × H per sequence). */
    hiddenSize: schemas.positiveInt,
    /** Decay rate λ of the fast memory (paper: 0.95). */
    decay: z.number().min(0).max(1).default(0.95),
    /** Fast learning rate η (paper: 0.5). 0 turns the memory off: a layer-normalised RNN. */
    fastLr: z.number().min(0).default(0.5),
    /** Inner-loop steps S that settle h(t+1) towards the memory (paper: 1). */
    innerSteps: schemas.nonNegativeInt.default(1),
    /** Non-linearity f (paper: ReLU). */
    activation: z.enum(['relu', 'tanh']).default('relu'),
    /** Layer-normalise the inner-loop pre-activation (paper: yes). */
    layerNorm: z.boolean().default(true),
    /** LayerNorm epsilon. */
    eps: schemas.positive.default(1e-5),
    /** The slow recurrent weight W starts as `recurrentInitScale` · I (paper: 0.05, after the IRNN). */
    recurrentInitScale: z.number().default(0.05),
  })
  .strict();
/** JSON config of {@link FastWeightsRNN} (input form: defaults may be omitted). */
export type FastWeightsRNNConfig = z.input<typeof FastWeightsSchema>;
type Parsed = z.output<typeof FastWeightsSchema>;

/** Recurrent state of a {@link FastWeightsRNN}: slow state h and fast memory A. */
export interface FastWeightsState {
  /** [batch, hidden] */
  h: tf.Tensor;
  /** [batch, hidden, hidden] */
  A: tf.Tensor;
}

/** Output of {@link FastWeightsRNN.forward}. */
export interface FastWeightsOutput {
  /** h(1) … h(T): [batch, time, hidden] */
  output: tf.Tensor;
  /** The state after the last step (pass it as `state` to continue the sequence). */
  state: FastWeightsState;
}

/**
 * A recurrent network with a fast associative memory (Ba, Hinton, Mnih, Leibo, Ionescu 2016,
 * "Using Fast Weights to Attend to the Recent Past"). Per step t, for every sequence of the batch:
 *
 * ```text
 * A(t)      = λ·A(t−1) + η·h(t) h(t)ᵀ                      fast memory, [H, H], A(0) = 0
 * h₀(t+1)   = f(W h(t) + C x(t))                           preliminary state
 * hₛ₊₁(t+1) = f(LN[W h(t) + C x(t) + A(t) hₛ(t+1)])        inner loop, s = 0 … S−1
 * h(t+1)    = h_S(t+1)
 * ```
 * W is `recurrent` (no bias), C is `input` (with the bias), LN is `norm`. The memory term is
 * attention over the past: A(t) h = η Σ_τ λ^(t−τ) h(τ) ⟨h(τ), h⟩, i.e. unnormalised linear attention
 * with exponentially decaying weights, keys = values = past hidden states and the query the state
 * being settled. Named relatives: with η = 0 (`fastLr: 0`) the memory stays zero and the brick is a
 * layer-normalised Elman RNN, h(t+1) = f(LN[W h(t) + C x(t)]) (the baseline of the paper's
 * associative-retrieval table); with S = 0 it is the plain Elman RNN h(t+1) = f(W h(t) + C x(t)).
 *
 * Costs O(T · S · H²) per sequence and keeps A [batch, H, H] per step for the backward pass.
 */
export class FastWeightsRNN extends Module {
  static readonly type = 'FastWeightsRNN';
  static readonly schema = FastWeightsSchema;
  readonly config: Parsed;
  /** W: slow recurrent weights, [H, H]. */
  readonly recurrent: Linear;
  /** C: slow input weights and the bias, [H, inputSize]. */
  readonly input: Linear;
  /** LN of the inner loop (null with `layerNorm: false`). */
  readonly norm: LayerNorm | null;

  constructor(config: FastWeightsRNNConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(FastWeightsRNN, config));
    this.recurrent = new Linear({ inFeatures: c.hiddenSize, outFeatures: c.hiddenSize, bias: false, init: 'zeros' }, { rng });
    this.recurrent.weight.assign(tf.tidy(() => tf.mul(tf.eye(c.hiddenSize), c.recurrentInitScale)));
    this.input = new Linear({ inFeatures: c.inputSize, outFeatures: c.hiddenSize }, { rng });
    this.norm = c.layerNorm ? new LayerNorm({ dim: c.hiddenSize, eps: c.eps }) : null;
  }

  /** The zero state for a batch: h = 0 [batch, H], A = 0 [batch, H, H]. */
  initialState(batch: number): FastWeightsState {
    const H = this.config.hiddenSize;
    return { h: tf.zeros([batch, H]), A: tf.zeros([batch, H, H]) };
  }

  /** One step: x [batch, inputSize] and the state before it → the state after it. */
  step(x: tf.Tensor, state: FastWeightsState): FastWeightsState {
    const c = this.config;
    const bound = this.checkShape('x', x, ['batch', c.inputSize]);
    this.checkShape('state.h', state.h, ['batch', c.hiddenSize], bound);
    this.checkShape('state.A', state.A, ['batch', c.hiddenSize, c.hiddenSize], bound);
    return tf.tidy(() => {
      const f = (t: tf.Tensor) => activation(c.activation, t);
      const { h } = state;
      // A(t) = λ A(t−1) + η h hᵀ                                      // [batch, H, H]
      const A = c.fastLr === 0 ? state.A.clone() : tf.add(tf.mul(state.A, c.decay), tf.mul(tf.mul(tf.expandDims(h, 2), tf.expandDims(h, 1)), c.fastLr));
      const slow = tf.add(this.recurrent.forward(h), this.input.forward(x)); // W h + C x + b  [batch, H]
      let hs = f(slow);
      for (let s = 0; s < c.innerSteps; s++) {
        // A hₛ [batch, H] (identically zero when η = 0, so skipped)
        const pre = c.fastLr === 0 ? slow : tf.add(slow, tf.squeeze(matmul(A, tf.expandDims(hs, 2)), [2]));
        hs = f(this.norm ? this.norm.forward(pre) : pre);
      }
      return { h: hs, A } as unknown as tf.TensorContainer;
    }) as unknown as FastWeightsState;
  }

  /** x [batch, time, inputSize] (and an optional starting state) → h(1…T) [batch, time, H] and the last state. */
  forward(x: tf.Tensor, state?: FastWeightsState): FastWeightsOutput {
    const c = this.config;
    const { batch, time } = this.checkShape('x', x, ['batch', 'time', c.inputSize]);
    return tf.tidy(() => {
      let st = state ?? this.initialState(batch);
      const hs: tf.Tensor[] = [];
      for (let t = 0; t < time; t++) {
        const xt = tf.reshape(tf.slice(x, [0, t, 0], [batch, 1, c.inputSize]), [batch, c.inputSize]);
        st = this.step(xt, st);
        hs.push(st.h);
      }
      return { output: tf.stack(hs, 1), state: st } as unknown as tf.TensorContainer;
    }) as unknown as FastWeightsOutput;
  }

  override toConfig() {
    return { type: FastWeightsRNN.type, ...this.config };
  }
}
registerBrick(FastWeightsRNN);

/** The paper's associative-retrieval configuration: λ 0.95, η 0.5, S 1, ReLU, LayerNorm, W = 0.05·I. */
export function fastWeightsConfig(inputSize: number, hiddenSize: number): FastWeightsRNNConfig {
  return { inputSize, hiddenSize, decay: 0.95, fastLr: 0.5, innerSteps: 1, activation: 'relu', layerNorm: true, recurrentInitScale: 0.05 };
}

/** The same-size baseline of the paper's table: the fast memory off (η = 0), i.e. a layer-normalised RNN. */
export function layerNormRnnConfig(inputSize: number, hiddenSize: number): FastWeightsRNNConfig {
  return { ...fastWeightsConfig(inputSize, hiddenSize), fastLr: 0 };
}
