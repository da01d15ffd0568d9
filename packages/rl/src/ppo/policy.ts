import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Linear, Module, Rng, globalRng, parameter, parseConfig, registerBrick, schemas, type BrickOptions, type Parameter } from '@brickml/core';
import { orthogonalTensor } from './orthogonal.js';

export const ActionSchema = z.discriminatedUnion('kind', [
  /** Categorical actions 0..n−1. */
  z.object({ kind: z.literal('discrete'), n: schemas.positiveInt }).strict(),
  /** Real actions of `dim` entries: a diagonal Gaussian with a state-independent learned log-std. */
  z.object({ kind: z.literal('continuous'), dim: schemas.positiveInt }).strict(),
]);

const ActorCriticSchema = z
  .object({
    /** Entries of one (flat) observation. */
    obsDim: schemas.positiveInt,
    /** The action distribution: `{ kind: 'discrete', n }` or `{ kind: 'continuous', dim }`. */
    action: ActionSchema,
    /** Hidden widths of both the actor and the critic MLP (CleanRL: [64, 64]). */
    hidden: z.array(schemas.positiveInt).default([64, 64]),
    /** Hidden activation (CleanRL: tanh). */
    activation: z.enum(['tanh', 'relu']).default('tanh'),
    /** Orthogonal gain of the actor's output layer (CleanRL: 0.01, so the initial policy is near uniform). */
    actorHeadGain: z.number().positive().default(0.01),
    /** Orthogonal gain of the critic's output layer (CleanRL: 1). */
    criticHeadGain: z.number().positive().default(1),
    /** Initial log standard deviation of continuous actions (CleanRL: 0). */
    initLogStd: z.number().default(0),
  })
  .strict();
export type ActorCriticConfig = z.input<typeof ActorCriticSchema>;

/** What {@link ActorCritic.evaluate} returns (each `[batch]`). */
export interface PolicyEvaluation {
  logProb: tf.Tensor1D;
  entropy: tf.Tensor1D;
  value: tf.Tensor1D;
}

/** Actions drawn by {@link ActorCritic.act}, on the host. */
export interface ActResult {
  /** `[batch]` integers (discrete) or `[batch × dim]` floats (continuous, unclipped). */
  actions: Float32Array;
  /** `[batch]` log-probabilities of the actions under the current policy. */
  logProbs: Float32Array;
  /** `[batch]` value estimates. */
  values: Float32Array;
}

const LOG_2PI = Math.log(2 * Math.PI);

/** The action distribution of a PPO policy. */
export type ActionSpec = z.output<typeof ActionSchema>;

/**
 * What PPO needs of a policy network: `actorOutput` (logits or Gaussian means) and `value` of a
 * batch of flat observations `[batch, obsDim]`; `evaluate` (log-probabilities, entropies, values)
 * and host-side sampling in `act` are shared. {@link ActorCritic} (MLPs) and `ConvActorCritic` (a
 * convolutional torso for images) implement it.
 */
export abstract class PolicyNet extends Module {
  /** Entries of one flat observation. */
  abstract get obsDim(): number;
  /** The action distribution. */
  abstract get actionSpec(): ActionSpec;
  /** Learned state-independent log-std `[1, dim]` of continuous actions (null for discrete ones). */
  abstract readonly actor_logstd: Parameter | null;
  /** obs [batch, obsDim] → value [batch] */
  abstract value(obs: tf.Tensor): tf.Tensor1D;
  /** obs [batch, obsDim] → logits [batch, n] (discrete) or action mean [batch, dim] (continuous) */
  abstract actorOutput(obs: tf.Tensor): tf.Tensor2D;

  /**
   * Log-probability and entropy of `actions` under the policy at `obs`, and the value:
   * obs [batch, obsDim], actions [batch] (discrete, float or int indices) or [batch, dim] (continuous).
   * Categorical log-probabilities are a one-hot product (no `gather`, whose gradient wasm lacks).
   */
  evaluate(obs: tf.Tensor, actions: tf.Tensor): PolicyEvaluation {
    const a = this.actionSpec;
    const batch = obs.shape[0];
    const out = this.actorOutput(obs); // [batch, n | dim]
    let logProb: tf.Tensor1D;
    let entropy: tf.Tensor1D;
    if (a.kind === 'discrete') {
      this.checkShape('actions', actions, [batch]);
      const logp = tf.logSoftmax(out); // [batch, n]
      const onehot = tf.oneHot(tf.cast(actions, 'int32'), a.n); // [batch, n]
      logProb = tf.sum(tf.mul(logp, onehot), -1) as tf.Tensor1D;
      entropy = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), -1)) as tf.Tensor1D;
    } else {
      this.checkShape('actions', actions, [batch, a.dim]);
      const logstd = this.actor_logstd as Parameter; // [1, dim]
      const z = tf.div(tf.sub(actions, out), tf.exp(logstd)); // [batch, dim]
      logProb = tf.sum(tf.sub(tf.mul(-0.5, tf.square(z)), tf.add(logstd, 0.5 * LOG_2PI)), -1);
      entropy = tf.mul(tf.ones([batch]), tf.sum(tf.add(logstd, 0.5 + 0.5 * LOG_2PI))) as tf.Tensor1D;
    }
    return { logProb, entropy, value: this.value(obs) };
  }

  /**
   * Draws actions for a batch of observations with `rng` (on the host), or takes the most likely
   * action (`deterministic`: argmax / the mean). Reads results with `await data()`.
   */
  async act(obs: Float32Array, batch: number, rng: Rng, { deterministic = false } = {}): Promise<ActResult> {
    const a = this.actionSpec;
    const [outT, valueT, logstdT] = tf.tidy(() => {
      const x = tf.tensor2d(obs, [batch, this.obsDim]);
      return [this.actorOutput(x), this.value(x), this.actor_logstd ? tf.clone(this.actor_logstd) : tf.zeros([1])];
    });
    const [out, values, logstd] = (await Promise.all([outT.data(), valueT.data(), logstdT.data()])) as Float32Array[];
    tf.dispose([outT, valueT, logstdT]);
    const actions = new Float32Array(batch * (a.kind === 'discrete' ? 1 : a.dim));
    const logProbs = new Float32Array(batch);
    if (a.kind === 'discrete') {
      for (let b = 0; b < batch; b++) {
        const row = out.subarray(b * a.n, (b + 1) * a.n);
        const max = Math.max(...row);
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        const lse = max + Math.log(sum);
        let k = 0;
        if (deterministic) {
          for (let j = 1; j < a.n; j++) if (row[j] > row[k]) k = j;
        } else {
          let u = rng.float() * sum;
          for (k = 0; k < a.n - 1; k++) {
            u -= Math.exp(row[k] - max);
            if (u < 0) break;
          }
        }
        actions[b] = k;
        logProbs[b] = row[k] - lse;
      }
    } else {
      for (let b = 0; b < batch; b++) {
        let lp = 0;
        for (let j = 0; j < a.dim; j++) {
          const z = deterministic ? 0 : rng.normal();
          actions[b * a.dim + j] = out[b * a.dim + j] + Math.exp(logstd[j]) * z;
          lp += -0.5 * z * z - logstd[j] - 0.5 * LOG_2PI;
        }
        logProbs[b] = lp;
      }
    }
    return { actions, logProbs, values: Float32Array.from(values) };
  }
}

/**
 * PPO's actor-critic as CleanRL's `Agent`: separate actor and critic MLPs (`actor.0..k`,
 * `critic.0..k`) with orthogonal initialisation (gain √2 on hidden layers, `actorHeadGain` and
 * `criticHeadGain` on the heads, zero biases); a categorical policy over logits, or a diagonal
 * Gaussian with a learned state-independent `actor_logstd` `[1, dim]`.
 */
export class ActorCritic extends PolicyNet {
  static readonly type = 'ActorCritic';
  static readonly schema = ActorCriticSchema;
  readonly config: z.output<typeof ActorCriticSchema>;
  readonly actor: Linear[];
  readonly critic: Linear[];
  readonly actor_logstd: Parameter | null;

  constructor(config: ActorCriticConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(ActorCritic, config));
    const outDim = c.action.kind === 'discrete' ? c.action.n : c.action.dim;
    const mlp = (out: number, headGain: number) => {
      const widths = [c.obsDim, ...c.hidden, out];
      return widths.slice(1).map((w, i) => {
        const layer = new Linear({ inFeatures: widths[i], outFeatures: w, init: 'zeros', biasInit: 'zeros' }, { rng });
        const gain = i === widths.length - 2 ? headGain : Math.SQRT2;
        const init = orthogonalTensor(w, widths[i], gain, rng);
        layer.weight.assign(init);
        init.dispose();
        return layer;
      });
    };
    this.critic = mlp(1, c.criticHeadGain);
    this.actor = mlp(outDim, c.actorHeadGain);
    this.actor_logstd = c.action.kind === 'continuous' ? parameter(tf.fill([1, c.action.dim], c.initLogStd)) : null;
  }

  get obsDim(): number {
    return this.config.obsDim;
  }

  get actionSpec(): ActionSpec {
    return this.config.action;
  }

  private run(layers: Linear[], x: tf.Tensor): tf.Tensor {
    let h = x;
    layers.forEach((l, i) => {
      h = l.forward(h);
      if (i < layers.length - 1) h = this.config.activation === 'tanh' ? tf.tanh(h) : tf.relu(h);
    });
    return h;
  }

  /** obs [batch, obsDim] → value [batch] */
  value(obs: tf.Tensor): tf.Tensor1D {
    this.checkShape('obs', obs, [null, this.config.obsDim]);
    return tf.reshape(this.run(this.critic, obs), [-1]) as tf.Tensor1D;
  }

  /** obs [batch, obsDim] → logits [batch, n] (discrete) or action mean [batch, dim] (continuous) */
  actorOutput(obs: tf.Tensor): tf.Tensor2D {
    this.checkShape('obs', obs, [null, this.config.obsDim]);
    return this.run(this.actor, obs) as tf.Tensor2D;
  }

  override toConfig() {
    return { type: ActorCritic.type, ...this.config };
  }
}
registerBrick(ActorCritic);
