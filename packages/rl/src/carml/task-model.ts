import { Rng } from '@brickml/core';

/** Options of {@link TrajectoryMixture}. */
export interface TrajectoryMixtureOptions {
  /** Components K (tasks z). */
  components: number;
  /** Entries of one state embedding. */
  dim: number;
  /** Smallest variance of any component along any axis (default 1e-3). */
  varianceFloor?: number;
}

/** log Σ exp(v), stable. */
function logSumExp(v: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) m = Math.max(m, v[i]);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s);
}

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * CARML's task model (Jabri et al. 2019): a K-component mixture of diagonal Gaussians q(s | z) over
 * state embeddings with a categorical prior p(z), fitted by EM with **trajectory-level**
 * responsibilities: all states of a trajectory τ share one z, with posterior
 * q(z | τ) ∝ p(z) Π_t q(s_t | z). Task rewards are r_z(s) = λ log q(s | z) − log q(s), with
 * q(s) = Σ_z p(z) q(s | z). Host-side float64 arithmetic; embeddings come from the caller (this
 * module does not train CARML's visual encoder).
 */
export class TrajectoryMixture {
  readonly components: number;
  readonly dim: number;
  readonly varianceFloor: number;
  /** log p(z) `[K]`. */
  logPrior: Float64Array;
  /** Means `[K × dim]`. */
  means: Float64Array;
  /** Variances `[K × dim]`. */
  variances: Float64Array;

  constructor(options: TrajectoryMixtureOptions) {
    const { components, dim } = options;
    if (!Number.isInteger(components) || components < 1) throw new RangeError(`TrajectoryMixture: option 'components' expected a positive integer, got ${components}`);
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`TrajectoryMixture: option 'dim' expected a positive integer, got ${dim}`);
    this.components = components;
    this.dim = dim;
    this.varianceFloor = options.varianceFloor ?? 1e-3;
    if (!(this.varianceFloor > 0)) throw new RangeError(`TrajectoryMixture: option 'varianceFloor' expected a positive number, got ${this.varianceFloor}`);
    this.logPrior = new Float64Array(components).fill(-Math.log(components));
    this.means = new Float64Array(components * dim);
    this.variances = new Float64Array(components * dim).fill(1);
  }

  private check(traj: readonly Float32Array[], who: string): void {
    if (traj.length === 0) throw new RangeError(`TrajectoryMixture.${who}: a trajectory expected at least one state, got none`);
    for (const s of traj) if (s.length !== this.dim) throw new RangeError(`TrajectoryMixture.${who}: states expected ${this.dim} entries, got ${s.length}`);
  }

  /** log q(s | z) for every z `[K]`. */
  logLikelihoods(s: Float32Array): Float64Array {
    if (s.length !== this.dim) throw new RangeError(`TrajectoryMixture.logLikelihoods: argument 's' expected ${this.dim} entries, got ${s.length}`);
    const out = new Float64Array(this.components);
    for (let z = 0; z < this.components; z++) {
      let l = -0.5 * this.dim * LOG_2PI;
      for (let j = 0; j < this.dim; j++) {
        const v = this.variances[z * this.dim + j];
        const d = s[j] - this.means[z * this.dim + j];
        l -= 0.5 * (Math.log(v) + (d * d) / v);
      }
      out[z] = l;
    }
    return out;
  }

  /** log q(s) = log Σ_z p(z) q(s | z). */
  logMarginal(s: Float32Array): number {
    const ll = this.logLikelihoods(s);
    return logSumExp(ll.map((l, z) => l + this.logPrior[z]));
  }

  /** Trajectory-level posterior q(z | τ) ∝ p(z) Π_t q(s_t | z) `[K]` (sums to 1). */
  responsibilities(traj: readonly Float32Array[]): Float64Array {
    this.check(traj, 'responsibilities');
    const logp = Float64Array.from(this.logPrior);
    for (const s of traj) this.logLikelihoods(s).forEach((l, z) => (logp[z] += l));
    const lse = logSumExp(logp);
    return logp.map((l) => Math.exp(l - lse));
  }

  /** Per-state responsibilities of a trajectory `[T][K]`: every state gets its trajectory's posterior. */
  stateResponsibilities(traj: readonly Float32Array[]): Float64Array[] {
    const r = this.responsibilities(traj);
    return traj.map(() => Float64Array.from(r));
  }

  /**
   * Fits the mixture by EM on trajectories of embeddings: means start at K states chosen by k-means++
   * seeding (seeded), variances at the data's, then `iterations` rounds of E (trajectory
   * posteriors) and M (prior, means, variances weighted by each trajectory's responsibility on all
   * its states). Returns the mean log-likelihood per state, log q(τ) / T, after each round.
   * `init: 'current'` starts EM from the mixture's present parameters instead (a warm start, as
   * CARML's alternation refits the task model on new data).
   */
  fit(trajectories: readonly Float32Array[][], options: { iterations?: number; rng?: Rng; init?: 'data' | 'current' } = {}): number[] {
    const K = this.components;
    const D = this.dim;
    if (trajectories.length < K) throw new RangeError(`TrajectoryMixture.fit: argument 'trajectories' expected at least ${K} (one per component), got ${trajectories.length}`);
    trajectories.forEach((t) => this.check(t, 'fit'));
    const rng = options.rng ?? new Rng(0);
    const iterations = options.iterations ?? 50;
    // Init.
    let n = 0;
    const mean = new Float64Array(D);
    const sq = new Float64Array(D);
    for (const t of trajectories) {
      for (const s of t) {
        n++;
        for (let j = 0; j < D; j++) {
          mean[j] += s[j];
          sq[j] += s[j] * s[j];
        }
      }
    }
    if (options.init !== 'current') {
      // k-means++ seeding over the states: the first mean at a random state, each next one at a state
      // drawn with probability ∝ its squared (variance-scaled) distance to the nearest chosen mean, so
      // repeated states (a fixed start cell, a revisited corridor) do not seed duplicate components.
      const variance = new Float64Array(D);
      for (let j = 0; j < D; j++) variance[j] = Math.max(this.varianceFloor, sq[j] / n - (mean[j] / n) ** 2);
      const states = trajectories.flat();
      const nearest = new Float64Array(states.length).fill(Infinity);
      let pick = rng.int(0, states.length);
      for (let z = 0; z < K; z++) {
        for (let j = 0; j < D; j++) {
          this.means[z * D + j] = states[pick][j];
          this.variances[z * D + j] = variance[j];
        }
        let total = 0;
        states.forEach((s, i) => {
          let d = 0;
          for (let j = 0; j < D; j++) d += (s[j] - this.means[z * D + j]) ** 2 / variance[j];
          nearest[i] = Math.min(nearest[i], d);
          total += nearest[i];
        });
        if (total <= 0) {
          pick = rng.int(0, states.length); // every state coincides with a mean: nothing better to choose
          continue;
        }
        let u = rng.float() * total;
        for (pick = 0; pick < states.length - 1; pick++) {
          u -= nearest[pick];
          if (u < 0) break;
        }
      }
    }
    if (options.init !== 'current') this.logPrior.fill(-Math.log(K));
    const history: number[] = [];
    for (let it = 0; it < iterations; it++) {
      // E-step.
      let total = 0;
      const resp = trajectories.map((t) => {
        const logp = Float64Array.from(this.logPrior);
        for (const s of t) this.logLikelihoods(s).forEach((l, z) => (logp[z] += l));
        const lse = logSumExp(logp);
        total += lse;
        return logp.map((l) => Math.exp(l - lse));
      });
      history.push(total / n);
      // M-step.
      const w = new Float64Array(K); // Σ_i r_iz T_i
      const m1 = new Float64Array(K * D);
      const m2 = new Float64Array(K * D);
      const nz = new Float64Array(K);
      trajectories.forEach((t, i) => {
        for (let z = 0; z < K; z++) {
          const r = resp[i][z];
          nz[z] += r;
          w[z] += r * t.length;
          for (const s of t) {
            for (let j = 0; j < D; j++) {
              m1[z * D + j] += r * s[j];
              m2[z * D + j] += r * s[j] * s[j];
            }
          }
        }
      });
      for (let z = 0; z < K; z++) {
        this.logPrior[z] = Math.log(Math.max(nz[z], 1e-12) / trajectories.length);
        if (w[z] < 1e-12) continue; // an empty component keeps its parameters
        for (let j = 0; j < D; j++) {
          const mu = m1[z * D + j] / w[z];
          this.means[z * D + j] = mu;
          this.variances[z * D + j] = Math.max(this.varianceFloor, m2[z * D + j] / w[z] - mu * mu);
        }
      }
      const lse = logSumExp(this.logPrior);
      this.logPrior = this.logPrior.map((l) => l - lse);
    }
    return history;
  }

  /** CARML's task reward r_z(s) = λ log q(s | z) − log q(s) (λ = 1: log q(z | s) − log p(z)). */
  reward(s: Float32Array, z: number, lambda = 1): number {
    if (!Number.isInteger(z) || z < 0 || z >= this.components) throw new RangeError(`TrajectoryMixture.reward: argument 'z' expected an integer in [0, ${this.components - 1}], got ${z}`);
    const ll = this.logLikelihoods(s);
    return lambda * ll[z] - logSumExp(ll.map((l, k) => l + this.logPrior[k]));
  }
}
