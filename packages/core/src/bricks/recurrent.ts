import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { ShapeError, formatShape } from '../errors.js';
import { Module, parameter, type Parameter } from '../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../module/registry.js';
import { globalRng, type Rng } from '../rng.js';
import { linear } from '../ops/linear.js';

/**
 * Gated recurrent units (Cho et al. 2014) with PyTorch's parameterisation (`nn.GRUCell`, `nn.GRU`):
 *
 * ```text
 * r  = σ(W_ir x + b_ir + W_hr h + b_hr)
 * z  = σ(W_iz x + b_iz + W_hz h + b_hz)
 * n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
 * h' = (1 − z) ⊙ n + z ⊙ h
 * ```
 * The gate weights are stacked in the order (r, z, n) along the first axis of `weight_ih` [3H, I]
 * and `weight_hh` [3H, H] (biases [3H] likewise), so a PyTorch state dict maps one-to-one.
 */

/** All four GRU parameters start U(±1/√hiddenSize), as PyTorch's `reset_parameters`. */
function gruUniform(shape: number[], hiddenSize: number, rng: Rng): tf.Tensor {
  const bound = 1 / Math.sqrt(hiddenSize);
  return rng.uniformTensor(shape, -bound, bound);
}

/**
 * One GRU step from the stacked parameters: x [batch, I], h [batch, H] → h' [batch, H].
 * Two `linear` products (core's owned matmul) then elementwise gates.
 */
function gruStep(
  x: tf.Tensor,
  h: tf.Tensor,
  weightIh: tf.Tensor,
  weightHh: tf.Tensor,
  biasIh: tf.Tensor | null,
  biasHh: tf.Tensor | null,
): tf.Tensor {
  return tf.tidy(() => {
    const gi = linear(x, weightIh, biasIh); // [batch, 3H]
    const gh = linear(h, weightHh, biasHh); // [batch, 3H]
    return gruGates(gi, gh, h);
  });
}

/** Gates from the input part gi [batch, 3H] and the hidden part gh [batch, 3H]: → h' [batch, H]. */
function gruGates(gi: tf.Tensor, gh: tf.Tensor, h: tf.Tensor): tf.Tensor {
  const [iR, iZ, iN] = tf.split(gi, 3, -1); // each [batch, H]
  const [hR, hZ, hN] = tf.split(gh, 3, -1); // each [batch, H]
  const r = tf.sigmoid(tf.add(iR, hR));
  const zg = tf.sigmoid(tf.add(iZ, hZ));
  const n = tf.tanh(tf.add(iN, tf.mul(r, hN)));
  // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
  return tf.add(n, tf.mul(zg, tf.sub(h, n)));
}

const GRUCellSchema = z
  .object({
    /** Features of the input x (I). */
    inputSize: schemas.positiveInt,
    /** Features of the hidden state h (H). */
    hiddenSize: schemas.positiveInt,
    /** Learn `bias_ih` and `bias_hh` (PyTorch `bias`, default true). */
    bias: z.boolean().default(true),
  })
  .strict();
/** JSON config of {@link GRUCell} (input form: defaults may be omitted). */
export type GRUCellConfig = z.input<typeof GRUCellSchema>;

/**
 * One GRU step, PyTorch's `nn.GRUCell`: parameters `weight_ih` [3H, I], `weight_hh` [3H, H],
 * `bias_ih` [3H], `bias_hh` [3H] (gate order r, z, n), all initialised U(±1/√H) and drawn in that
 * order. Use it for recurrent policies that step one observation at a time (RL²); for whole
 * sequences use {@link GRU}.
 */
export class GRUCell extends Module {
  static readonly type = 'GRUCell';
  static readonly schema = GRUCellSchema;
  readonly config: z.output<typeof GRUCellSchema>;
  readonly weight_ih: Parameter;
  readonly weight_hh: Parameter;
  readonly bias_ih: Parameter | null;
  readonly bias_hh: Parameter | null;

  constructor(config: GRUCellConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(GRUCell, config));
    const H = c.hiddenSize;
    this.weight_ih = parameter(gruUniform([3 * H, c.inputSize], H, rng));
    this.weight_hh = parameter(gruUniform([3 * H, H], H, rng));
    this.bias_ih = c.bias ? parameter(gruUniform([3 * H], H, rng)) : null;
    this.bias_hh = c.bias ? parameter(gruUniform([3 * H], H, rng)) : null;
  }

  /** A zero hidden state [batch, H]. */
  initialState(batch: number): tf.Tensor {
    return tf.zeros([batch, this.config.hiddenSize]);
  }

  /** x [batch, inputSize], h [batch, hiddenSize] (default zeros) → h' [batch, hiddenSize] */
  forward(x: tf.Tensor, h?: tf.Tensor): tf.Tensor {
    const { batch } = this.checkShape('x', x, ['batch', this.config.inputSize]);
    return tf.tidy(() => {
      const h0 = h ?? this.initialState(batch);
      this.checkShape('h', h0, [batch, this.config.hiddenSize]);
      return gruStep(x, h0, this.weight_ih, this.weight_hh, this.bias_ih, this.bias_hh);
    });
  }

  override toConfig() {
    return { type: GRUCell.type, ...this.config };
  }
}
registerBrick(GRUCell);

const GRUSchema = z
  .object({
    /** Features of each input step (I). */
    inputSize: schemas.positiveInt,
    /** Features of the hidden state of every layer (H). */
    hiddenSize: schemas.positiveInt,
    /** Stacked GRU layers; layer k > 0 reads layer k − 1's outputs (PyTorch `num_layers`). */
    numLayers: schemas.positiveInt.default(1),
    /** Learn `bias_ih_l{k}` and `bias_hh_l{k}` (PyTorch `bias`, default true). */
    bias: z.boolean().default(true),
  })
  .strict();
/** JSON config of {@link GRU} (input form: defaults may be omitted). */
export type GRUConfig = z.input<typeof GRUSchema>;

/** Output of {@link GRU.forward}. */
export interface GRUOutput {
  /** The last layer's hidden state at every step [batch, time, hiddenSize]. */
  output: tf.Tensor;
  /** Every layer's hidden state after the last step [numLayers, batch, hiddenSize]. */
  hidden: tf.Tensor;
}

interface GRULayerParams {
  weightIh: Parameter;
  weightHh: Parameter;
  biasIh: Parameter | null;
  biasHh: Parameter | null;
}

/**
 * A multi-layer GRU over sequences, PyTorch's `nn.GRU(batch_first=True)` (unidirectional, no
 * inter-layer dropout): parameters `weight_ih_l{k}` [3H, I or H], `weight_hh_l{k}` [3H, H],
 * `bias_ih_l{k}`, `bias_hh_l{k}` [3H] per layer k, drawn U(±1/√H) in that order, layer by layer.
 *
 * Each layer projects the whole input sequence at once (one `linear` over [batch·time, ·]) and
 * then runs the recurrence step by step, one hidden-to-hidden product per step.
 */
export class GRU extends Module {
  static readonly type = 'GRU';
  static readonly schema = GRUSchema;
  readonly config: z.output<typeof GRUSchema>;
  /** The per-layer parameters, also held in the `weight_ih_l{k}` … fields (not walked: `_`). */
  private readonly _layers: GRULayerParams[];

  constructor(config: GRUConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(GRU, config));
    const H = c.hiddenSize;
    this._layers = [];
    const self = this as unknown as Record<string, Parameter | null>;
    for (let k = 0; k < c.numLayers; k++) {
      const inF = k === 0 ? c.inputSize : H;
      const p: GRULayerParams = {
        weightIh: parameter(gruUniform([3 * H, inF], H, rng)),
        weightHh: parameter(gruUniform([3 * H, H], H, rng)),
        biasIh: c.bias ? parameter(gruUniform([3 * H], H, rng)) : null,
        biasHh: c.bias ? parameter(gruUniform([3 * H], H, rng)) : null,
      };
      // PyTorch's names, as plain fields so the module tree and checkpoints use them.
      self[`weight_ih_l${k}`] = p.weightIh;
      self[`weight_hh_l${k}`] = p.weightHh;
      self[`bias_ih_l${k}`] = p.biasIh;
      self[`bias_hh_l${k}`] = p.biasHh;
      this._layers.push(p);
    }
  }

  /** A zero hidden state [numLayers, batch, H]. */
  initialState(batch: number): tf.Tensor {
    return tf.zeros([this.config.numLayers, batch, this.config.hiddenSize]);
  }

  /**
   * x [batch, time, inputSize], h0 [numLayers, batch, hiddenSize] (default zeros) →
   * { output [batch, time, hiddenSize], hidden [numLayers, batch, hiddenSize] }
   */
  forward(x: tf.Tensor, h0?: tf.Tensor): GRUOutput {
    const c = this.config;
    const { batch, time } = this.checkShape('x', x, ['batch', 'time', c.inputSize]);
    if (time < 1) {
      throw new ShapeError(`GRU${this.path ? ` '${this.path}'` : ''}: argument 'x' needs at least one time step, got shape ${formatShape(x.shape)}`);
    }
    if (h0) this.checkShape('h0', h0, [c.numLayers, batch, c.hiddenSize]);
    const result = tf.tidy(() => {
      const hInit = h0 ? tf.unstack(h0, 0) : this._layers.map(() => tf.zeros([batch, c.hiddenSize]));
      let seq = x; // [batch, time, in]
      const finals: tf.Tensor[] = [];
      for (let k = 0; k < this._layers.length; k++) {
        const p = this._layers[k];
        const gi = linear(seq, p.weightIh, p.biasIh); // [batch, time, 3H]
        const steps = tf.unstack(tf.transpose(gi, [1, 0, 2]), 0); // time × [batch, 3H]
        let h = hInit[k]; // [batch, H]
        const outs: tf.Tensor[] = [];
        for (let t = 0; t < time; t++) {
          const gh = linear(h, p.weightHh, p.biasHh); // [batch, 3H]
          h = gruGates(steps[t], gh, h);
          outs.push(h);
        }
        finals.push(h);
        seq = tf.stack(outs, 1); // [batch, time, H]
      }
      return { output: seq, hidden: tf.stack(finals, 0) };
    });
    return result;
  }

  override toConfig() {
    return { type: GRU.type, ...this.config };
  }
}
registerBrick(GRU);
