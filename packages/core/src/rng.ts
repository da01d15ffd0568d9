import * as tf from '@tensorflow/tfjs-core';

/** Serializable state of an {@link Rng}: four 32-bit words. */
export interface RngState {
  s: [number, number, number, number];
}

function splitmix32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x9e3779b9) >>> 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * The one seeded random generator of BrickML (xoshiro128**). It drives initializers, data order,
 * dropout and diffusion noise; numbers are generated on the host, so the same seed gives the same
 * values on every backend. Its state can be saved and restored (the trainer checkpoints it).
 */
export class Rng {
  private s: Uint32Array;

  constructor(seed = 0) {
    if (!Number.isFinite(seed)) throw new TypeError(`Rng: seed must be a finite number, got ${seed}`);
    const next = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
    this.s = new Uint32Array([next(), next(), next(), next()]);
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  getState(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]] };
  }

  setState(state: RngState): void {
    const s = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || s.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new TypeError(`Rng.setState: expected {s: [four uint32]}, got ${JSON.stringify(state)}`);
    }
    this.s = new Uint32Array(s);
  }

  /** Next 32-bit unsigned integer. */
  uint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [lo, hi). */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`Rng.int: expected hi > lo, got lo=${lo}, hi=${hi}`);
    return lo + Math.floor(this.float() * (hi - lo));
  }

  /** Standard normal sample (Box–Muller; one uniform pair per sample, so the state stays simple). */
  normal(): number {
    let u = this.float();
    while (u === 0) u = this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A new generator seeded from this one (for independent streams: data, init, noise). */
  fork(): Rng {
    return new Rng(this.uint32() * 4294967296 + this.uint32());
  }

  /** A 31-bit integer seed for APIs that take one. */
  seed(): number {
    return this.uint32() >>> 1;
  }

  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  uniformArray(n: number, lo = 0, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.float();
    return out;
  }

  /** Normal samples redrawn until they fall in [lo, hi] (PyTorch's `trunc_normal_` semantics). */
  truncatedNormalArray(n: number, std: number, lo = -2 * std, hi = 2 * std): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let v = std * this.normal();
      while (v < lo || v > hi) v = std * this.normal();
      out[i] = v;
    }
    return out;
  }

  normalTensor(shape: number[], mean = 0, std = 1): tf.Tensor {
    return tf.tensor(this.normalArray(sizeOf(shape), mean, std), shape, 'float32');
  }

  uniformTensor(shape: number[], lo = 0, hi = 1): tf.Tensor {
    return tf.tensor(this.uniformArray(sizeOf(shape), lo, hi), shape, 'float32');
  }

  truncatedNormalTensor(shape: number[], std: number, lo?: number, hi?: number): tf.Tensor {
    return tf.tensor(this.truncatedNormalArray(sizeOf(shape), std, lo, hi), shape, 'float32');
  }

  /** Float tensor of 1s with probability `keep` and 0s otherwise. */
  bernoulliTensor(shape: number[], keep: number): tf.Tensor {
    const n = sizeOf(shape);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.float() < keep ? 1 : 0;
    return tf.tensor(out, shape, 'float32');
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

let defaultRng = new Rng(0);

/** The generator bricks use when none is passed (like `torch.manual_seed`'s global generator). */
export function globalRng(): Rng {
  return defaultRng;
}

/** Re-seeds the global generator. */
export function manualSeed(seed: number): Rng {
  defaultRng = new Rng(seed);
  return defaultRng;
}
