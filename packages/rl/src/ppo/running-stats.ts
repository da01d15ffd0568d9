/** Serialisable state of {@link RunningMeanStd}. */
export interface RunningMeanStdState {
  mean: number[];
  var: number[];
  count: number;
}

/**
 * Running mean and variance of vectors (Chan et al.'s parallel update, as Gymnasium's
 * `RunningMeanStd`, starting from mean 0, var 1, count 1e-4), and the normalisation
 * `clip((x − mean) / √(var + 1e-8), ±clip)` of `NormalizeObservation`.
 */
export class RunningMeanStd {
  mean: Float64Array;
  var: Float64Array;
  count = 1e-4;

  constructor(readonly size: number) {
    this.mean = new Float64Array(size);
    this.var = new Float64Array(size).fill(1);
  }

  /** Adds a batch of `n` vectors (`[n × size]`, row-major). */
  update(batch: ArrayLike<number>, n: number): void {
    const d = this.size;
    if (batch.length !== n * d) throw new RangeError(`RunningMeanStd.update: argument 'batch' expected ${n} × ${d} = ${n * d} values, got ${batch.length}`);
    for (let j = 0; j < d; j++) {
      let m = 0;
      for (let i = 0; i < n; i++) m += batch[i * d + j];
      m /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (batch[i * d + j] - m) ** 2;
      v /= n;
      const delta = m - this.mean[j];
      const tot = this.count + n;
      const m2 = this.var[j] * this.count + v * n + (delta * delta * this.count * n) / tot;
      this.mean[j] += (delta * n) / tot;
      this.var[j] = m2 / tot;
    }
    this.count += n;
  }

  /** Normalised copy of a batch of vectors. */
  normalize(batch: ArrayLike<number>, clip = 10): Float32Array {
    const d = this.size;
    const out = new Float32Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const j = i % d;
      const z = (batch[i] - this.mean[j]) / Math.sqrt(this.var[j] + 1e-8);
      out[i] = Math.max(-clip, Math.min(clip, z));
    }
    return out;
  }

  getState(): RunningMeanStdState {
    return { mean: Array.from(this.mean), var: Array.from(this.var), count: this.count };
  }

  setState(s: RunningMeanStdState): void {
    if (!s || s.mean?.length !== this.size || s.var?.length !== this.size || !(s.count > 0)) {
      throw new RangeError(`RunningMeanStd.setState: expected {mean, var} of ${this.size} values and count > 0, got ${JSON.stringify(s)?.slice(0, 80)}`);
    }
    this.mean = Float64Array.from(s.mean);
    this.var = Float64Array.from(s.var);
    this.count = s.count;
  }
}
