import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Rng } from '@brickml/core';
import { CarmlEncoder, discriminativeClusteringLoss, mixtureLogits, type CarmlEncoderConfig } from './encoder.js';
import { TrajectoryMixture } from './task-model.js';

/** Options of {@link VisualTaskModel}. */
export interface VisualTaskModelOptions {
  /** The encoder (its `imageShape` is the observations'). */
  encoder: CarmlEncoderConfig;
  /** Mixture components K (tasks z; default 4). */
  components?: number;
  /** Smallest variance of a component along any (standardised) embedding axis (default 0.01). */
  varianceFloor?: number;
  /** Adam learning rate of the encoder (default 1e-3). */
  lr?: number;
  /** Seed of the encoder's parameters and the fitting's sampling (default 0). */
  seed?: number;
}

/** Options of {@link VisualTaskModel.fit}. */
export interface VisualTaskFitOptions {
  /** Alternations of (EM on the embeddings, encoder steps); default 3. A last EM follows them. */
  rounds?: number;
  /** EM iterations per fit of the mixture (default 30). */
  emIterations?: number;
  /** Encoder steps per round (default 50). */
  encoderSteps?: number;
  /** States per encoder step (default 64). */
  batchSize?: number;
  /** Weight each state by 1/(K · share of its component) so small components count (DeepCluster's balancing; default true). */
  balance?: boolean;
  /** Warm-start EM from the present mixture (CARML's refits) instead of from random trajectories (default: warm after the first fit). */
  warmStart?: boolean;
  /**
   * A component whose prior p(z) falls below `minShare / K` after EM is re-seeded (DeepCluster's fix for
   * empty clusters): its mean moves to the mean embedding of a random trajectory of the largest
   * component, it takes that component's variances and half its prior, and EM runs again. Keeps the
   * task set from collapsing onto one component (default 0.25; 0 turns it off).
   */
  minShare?: number;
}

/** What one {@link VisualTaskModel.fit} did. */
export interface VisualTaskFitReport {
  /** Mean discriminative-clustering loss of each encoder step, over all rounds. */
  encoderLoss: number[];
  /** Mean log-likelihood per state after the last EM. */
  logLikelihood: number;
  /** Share of trajectories whose most likely component each component is `[K]`. */
  componentShares: number[];
  /** Components re-seeded because their prior fell below `minShare / K`. */
  reseeded: number;
}

/** log Σ exp(v), stable. */
function logSumExp(v: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) m = Math.max(m, v[i]);
  if (m === -Infinity) return m;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s);
}

/** A compact key of an observation (its values rounded to 1/255), for the reward memo. */
function observationKey(s: ArrayLike<number>): string {
  let k = '';
  for (let i = 0; i < s.length; i++) k += String.fromCharCode(Math.round(s[i] * 255) & 0xffff);
  return k;
}

/**
 * CARML's task model over images (Jabri et al. 2019, §3): a visual encoder e(s) ({@link CarmlEncoder})
 * and a K-component mixture q(e | z) ({@link TrajectoryMixture}, trajectory-level responsibilities),
 * fitted jointly on the meta-learner's trajectories by an EM-like alternation: embed every state
 * (standardised per axis with the statistics of the fit's data, frozen with the model), fit
 * the mixture by EM (E: q(z | τ) ∝ p(z) Π_t q(e(s_t) | z)), then train the encoder by discriminative
 * clustering, so that the mixture's per-state posterior q(z | s) predicts the trajectory's
 * responsibilities ({@link discriminativeClusteringLoss}), and repeat; a final EM fits the mixture to
 * the trained encoder. Between fits the model is frozen and gives the task rewards
 * r_z(s) = λ log q(s | z) − log q(s) (memoised per distinct observation, since the model is frozen).
 */
export class VisualTaskModel {
  readonly encoder: CarmlEncoder;
  readonly mixture: TrajectoryMixture;
  readonly optimizer: AdamW;
  /** Fits done. */
  fits = 0;
  private readonly rng: Rng;
  private readonly names: Map<string, string>;
  private memo = new Map<string, Float64Array>();
  /** Per-axis mean and standard deviation of the embeddings at the last fit; the mixture lives on (e − mean)/std. */
  embedMean: Float32Array;
  embedStd: Float32Array;

  constructor(options: VisualTaskModelOptions) {
    const root = new Rng(options.seed ?? 0);
    this.encoder = new CarmlEncoder(options.encoder, { rng: root.fork() });
    this.rng = root.fork();
    this.mixture = new TrajectoryMixture({ components: options.components ?? 4, dim: this.encoder.config.embedDim, varianceFloor: options.varianceFloor ?? 0.01 });
    this.optimizer = new AdamW(this.encoder, { lr: options.lr ?? 1e-3, weightDecay: 0 });
    this.names = new Map(this.encoder.namedParameters().map(([p, v]) => [v.name, p]));
    this.embedMean = new Float32Array(this.encoder.config.embedDim);
    this.embedStd = new Float32Array(this.encoder.config.embedDim).fill(1);
  }

  /** Standardises host embeddings in place with the frozen statistics. */
  private standardize(e: Float32Array[]): Float32Array[] {
    for (const v of e) for (let j = 0; j < v.length; j++) v[j] = (v[j] - this.embedMean[j]) / this.embedStd[j];
    return e;
  }

  /** Sets the standardisation from embeddings (per-axis mean and std, std at least 1e-6). */
  private setStatistics(e: readonly Float32Array[]): void {
    const D = this.embedMean.length;
    const m = new Float64Array(D);
    const sq = new Float64Array(D);
    for (const v of e) for (let j = 0; j < D; j++) {
      m[j] += v[j] / e.length;
      sq[j] += (v[j] * v[j]) / e.length;
    }
    for (let j = 0; j < D; j++) {
      this.embedMean[j] = m[j];
      this.embedStd[j] = Math.sqrt(Math.max(sq[j] - m[j] * m[j], 1e-12)) || 1e-6;
    }
  }

  /** The mixture's logits log p(z) + log q(e | z) of images `x` `[batch, H·W·C]` (differentiable in the encoder). */
  posteriorLogits(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      const e = this.encoder.forward(x); // [batch, D]
      const standardized = tf.div(tf.sub(e, tf.tensor1d(this.embedMean)), tf.tensor1d(this.embedStd)); // [batch, D]
      return mixtureLogits(standardized, this.mixture); // [batch, K]
    });
  }

  /** Components K. */
  get components(): number {
    return this.mixture.components;
  }

  /** Embeds flat states `[n][H·W·C]` (in batches of 256) → raw encoder outputs `[n][embedDim]` on the host. */
  async embed(states: readonly ArrayLike<number>[]): Promise<Float32Array[]> {
    const I = this.encoder.inputSize;
    const D = this.encoder.config.embedDim;
    const out: Float32Array[] = [];
    for (let start = 0; start < states.length; start += 256) {
      const chunk = states.slice(start, start + 256);
      const x = new Float32Array(chunk.length * I);
      chunk.forEach((s, i) => {
        if (s.length !== I) throw new RangeError(`VisualTaskModel.embed: states expected ${I} entries (the encoder's image), got ${s.length}`);
        x.set(s, i * I);
      });
      const e = tf.tidy(() => this.encoder.forward(tf.tensor2d(x, [chunk.length, I])));
      const v = (await e.data()) as Float32Array;
      e.dispose();
      for (let i = 0; i < chunk.length; i++) out.push(v.slice(i * D, (i + 1) * D));
    }
    return out;
  }

  /**
   * Fits encoder and mixture on `trajectories` (each a list of flat states, all states of a trajectory
   * sharing its z) and freezes the result for {@link rewards}. See the class comment.
   */
  async fit(trajectories: readonly ArrayLike<number>[][], options: VisualTaskFitOptions = {}): Promise<VisualTaskFitReport> {
    const K = this.components;
    if (trajectories.length < K) throw new RangeError(`VisualTaskModel.fit: argument 'trajectories' expected at least ${K} (one per component), got ${trajectories.length}`);
    const rounds = options.rounds ?? 3;
    const emIterations = options.emIterations ?? 30;
    const encoderSteps = options.encoderSteps ?? 50;
    const batchSize = options.batchSize ?? 64;
    const balance = options.balance ?? true;
    let warm = options.warmStart ?? this.fits > 0;
    const minShare = options.minShare ?? 0.25;
    let reseeded = 0;
    const states = trajectories.flat();
    const owner = new Int32Array(states.length); // trajectory of each state
    let k = 0;
    trajectories.forEach((t, i) => t.forEach(() => (owner[k++] = i)));
    const I = this.encoder.inputSize;
    const params = this.encoder.parameters();
    const encoderLoss: number[] = [];
    const fitMixture = async () => {
      const raw = await this.embed(states);
      this.setStatistics(raw);
      const emb = this.standardize(raw);
      let j = 0;
      const trajEmb = trajectories.map((t) => t.map(() => emb[j++]));
      let hist = this.mixture.fit(trajEmb, { iterations: emIterations, rng: this.rng.fork(), init: warm ? 'current' : 'data' });
      warm = true;
      for (let tries = 0; tries < K && minShare > 0; tries++) {
        if (!this.reseedSmallest(trajEmb, minShare)) break;
        reseeded++;
        hist = this.mixture.fit(trajEmb, { iterations: emIterations, rng: this.rng.fork(), init: 'current' });
      }
      return { trajEmb, logLikelihood: hist[hist.length - 1] };
    };
    for (let round = 0; round < rounds; round++) {
      const { trajEmb } = await fitMixture();
      // Targets: each state gets its trajectory's q(z | τ) under the just-fitted mixture.
      const resp = trajEmb.map((t) => this.mixture.responsibilities(t));
      const share = new Float64Array(K);
      for (let i = 0; i < states.length; i++) for (let z = 0; z < K; z++) share[z] += resp[owner[i]][z] / states.length;
      for (let step = 0; step < encoderSteps; step++) {
        const n = Math.min(batchSize, states.length);
        const x = new Float32Array(n * I);
        const y = new Float32Array(n * K);
        const w = new Float32Array(n);
        let wSum = 0;
        for (let b = 0; b < n; b++) {
          const i = this.rng.int(0, states.length);
          x.set(states[i], b * I);
          const r = resp[owner[i]];
          let wb = 0;
          for (let z = 0; z < K; z++) {
            y[b * K + z] = r[z];
            wb += r[z] / (K * Math.max(share[z], 1e-6));
          }
          w[b] = balance ? wb : 1;
          wSum += w[b];
        }
        for (let b = 0; b < n; b++) w[b] *= n / wSum; // mean weight 1
        const { value, grads } = tf.variableGrads(
          () => discriminativeClusteringLoss(this.posteriorLogits(tf.tensor2d(x, [n, I])), tf.tensor2d(y, [n, K]), tf.tensor1d(w)),
          params,
        );
        const byPath = new Map<string, tf.Tensor>(Object.entries(grads).map(([name, g]) => [this.names.get(name) ?? name, g]));
        this.optimizer.step(byPath);
        encoderLoss.push(((await value.data()) as Float32Array)[0]);
        tf.dispose([value, ...Object.values(grads)]);
      }
    }
    const { trajEmb, logLikelihood } = await fitMixture();
    const componentShares = new Array<number>(K).fill(0);
    for (const t of trajEmb) {
      const r = this.mixture.responsibilities(t);
      let best = 0;
      for (let z = 1; z < K; z++) if (r[z] > r[best]) best = z;
      componentShares[best] += 1 / trajEmb.length;
    }
    this.memo.clear();
    this.fits++;
    return { encoderLoss, logLikelihood, componentShares, reseeded };
  }

  /** Re-seeds the smallest component if its prior is below minShare / K (see {@link VisualTaskFitOptions.minShare}); true if it did. */
  private reseedSmallest(trajEmb: Float32Array[][], minShare: number): boolean {
    const m = this.mixture;
    const K = m.components;
    const D = m.dim;
    let small = 0;
    let big = 0;
    for (let z = 1; z < K; z++) {
      if (m.logPrior[z] < m.logPrior[small]) small = z;
      if (m.logPrior[z] > m.logPrior[big]) big = z;
    }
    if (Math.exp(m.logPrior[small]) >= minShare / K || small === big) return false;
    const members = trajEmb.filter((t) => {
      const r = m.responsibilities(t);
      return r.every((v) => v <= r[big]);
    });
    if (members.length === 0) return false;
    const t = members[this.rng.int(0, members.length)];
    for (let j = 0; j < D; j++) {
      let mu = 0;
      for (const e of t) mu += e[j] / t.length;
      m.means[small * D + j] = mu;
      m.variances[small * D + j] = m.variances[big * D + j];
    }
    const half = m.logPrior[big] - Math.log(2);
    m.logPrior[big] = half;
    m.logPrior[small] = half;
    let sum = 0;
    for (let z = 0; z < K; z++) sum += Math.exp(m.logPrior[z]);
    for (let z = 0; z < K; z++) m.logPrior[z] -= Math.log(sum);
    return true;
  }

  /** log q(s | z) for every z, `[n][K]`, for flat states (memoised per distinct observation until the next fit). */
  async logLikelihoods(states: readonly ArrayLike<number>[]): Promise<Float64Array[]> {
    const keys = states.map(observationKey);
    const missing: number[] = [];
    const seen = new Set<string>();
    keys.forEach((key, i) => {
      if (!this.memo.has(key) && !seen.has(key)) {
        seen.add(key);
        missing.push(i);
      }
    });
    if (missing.length > 0) {
      if (this.memo.size > 100_000) this.memo.clear();
      const emb = this.standardize(await this.embed(missing.map((i) => states[i])));
      missing.forEach((i, j) => this.memo.set(keys[i], this.mixture.logLikelihoods(emb[j])));
    }
    return keys.map((key) => this.memo.get(key) as Float64Array);
  }

  /**
   * CARML's task rewards r_z(s) = λ log q(s | z) − log q(s) of flat states `states[i]` under tasks
   * `tasks[i]`, each clipped below at `floor` (default −∞: no clipping; with λ = 1 the reward is
   * log q(z | s) − log p(z) ≤ −log p(z), but unbounded below).
   */
  async rewards(states: readonly ArrayLike<number>[], tasks: ArrayLike<number>, { lambda = 1, floor = -Infinity } = {}): Promise<Float32Array> {
    if (tasks.length !== states.length) throw new RangeError(`VisualTaskModel.rewards: argument 'tasks' expected ${states.length} entries (one per state), got ${tasks.length}`);
    const ll = await this.logLikelihoods(states);
    const lp = this.mixture.logPrior;
    return Float32Array.from(ll, (l, i) => {
      const z = tasks[i];
      if (!Number.isInteger(z) || z < 0 || z >= this.components) throw new RangeError(`VisualTaskModel.rewards: task ${i} expected an integer in [0, ${this.components - 1}], got ${z}`);
      return Math.max(floor, lambda * l[z] - logSumExp(l.map((v, k) => v + lp[k])));
    });
  }

  /** The most likely component argmax_z q(z | s) of each flat state (per state, not per trajectory). */
  async assign(states: readonly ArrayLike<number>[]): Promise<number[]> {
    const ll = await this.logLikelihoods(states);
    return ll.map((l) => {
      let best = 0;
      for (let z = 1; z < l.length; z++) if (l[z] + this.mixture.logPrior[z] > l[best] + this.mixture.logPrior[best]) best = z;
      return best;
    });
  }

  /** Draws a task z ~ p(z). */
  sampleTask(rng: Rng): number {
    let u = rng.float();
    for (let z = 0; z < this.components - 1; z++) {
      u -= Math.exp(this.mixture.logPrior[z]);
      if (u < 0) return z;
    }
    return this.components - 1;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.encoder.dispose();
  }
}
