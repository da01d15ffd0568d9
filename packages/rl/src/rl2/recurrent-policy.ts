import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { GRUCell, Linear, Module, globalRng, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';
import { orthogonalTensor } from '../ppo/orthogonal.js';

const RecurrentActorCriticSchema = z
  .object({
    /** Entries of one (flat) observation. */
    obsDim: schemas.positiveInt,
    /** Discrete actions 0..numActions−1. */
    numActions: schemas.positiveInt,
    /** GRU hidden width (default 64). */
    hiddenSize: schemas.positiveInt.default(64),
  })
  .strict();
export type RecurrentActorCriticConfig = z.input<typeof RecurrentActorCriticSchema>;

/** One step of {@link RecurrentActorCritic}: logits [batch, A], value [batch], next hidden state [batch, H]. */
export interface RecurrentStep {
  logits: tf.Tensor2D;
  value: tf.Tensor1D;
  h: tf.Tensor2D;
}

/**
 * RL²'s recurrent policy (Duan et al. 2016, "RL²: Fast RL via slow RL"; Wang et al. 2016): a GRU
 * (core's `GRUCell`, `gru.*`) reads [observation, one-hot previous action, previous reward, done
 * flag] each step; a linear actor head (`actor`, logits) and critic head (`critic`) read its state.
 * The heads are orthogonally initialised (gains 0.01 and 1, as CleanRL's).
 */
export class RecurrentActorCritic extends Module {
  static readonly type = 'RecurrentActorCritic';
  static readonly schema = RecurrentActorCriticSchema;
  readonly config: z.output<typeof RecurrentActorCriticSchema>;
  readonly gru: GRUCell;
  readonly actor: Linear;
  readonly critic: Linear;

  constructor(config: RecurrentActorCriticConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(RecurrentActorCritic, config));
    this.gru = new GRUCell({ inputSize: this.inputSize, hiddenSize: c.hiddenSize }, { rng });
    const head = (out: number, gain: number) => {
      const l = new Linear({ inFeatures: c.hiddenSize, outFeatures: out, init: 'zeros', biasInit: 'zeros' }, { rng });
      const w = orthogonalTensor(out, c.hiddenSize, gain, rng);
      l.weight.assign(w);
      w.dispose();
      return l;
    };
    this.actor = head(c.numActions, 0.01);
    this.critic = head(1, 1);
  }

  /** Entries of one input step: obsDim + numActions + 2. */
  get inputSize(): number {
    return this.config.obsDim + this.config.numActions + 2;
  }

  /** Writes one input step [obs, onehot(prevAction), prevReward, done] into `out` at `offset` (prevAction −1: none). */
  writeInput(out: Float32Array, offset: number, obs: ArrayLike<number>, prevAction: number, prevReward: number, done: boolean): void {
    const { obsDim, numActions } = this.config;
    for (let i = 0; i < obsDim; i++) out[offset + i] = obs[i];
    for (let a = 0; a < numActions; a++) out[offset + obsDim + a] = a === prevAction ? 1 : 0;
    out[offset + obsDim + numActions] = prevReward;
    out[offset + obsDim + numActions + 1] = done ? 1 : 0;
  }

  /** x [batch, inputSize], h [batch, hiddenSize] → logits, value and the next state. */
  step(x: tf.Tensor, h: tf.Tensor): RecurrentStep {
    this.checkShape('x', x, [null, this.inputSize]);
    const h1 = this.gru.forward(x, h) as tf.Tensor2D; // [batch, H]
    return { logits: this.actor.forward(h1) as tf.Tensor2D, value: tf.reshape(this.critic.forward(h1), [-1]) as tf.Tensor1D, h: h1 };
  }

  /** A zero state [batch, hiddenSize] (the start of every trial). */
  initialState(batch: number): tf.Tensor2D {
    return tf.zeros([batch, this.config.hiddenSize]);
  }

  override toConfig() {
    return { type: RecurrentActorCritic.type, ...this.config };
  }
}
registerBrick(RecurrentActorCritic);
