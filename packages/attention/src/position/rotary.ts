import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, matmul, parseConfig, registerBrick, schemas, type BrickOptions } from '@brickml/core';

const RotarySchema = z
  .object({
    /** Number of rotated features per head (even, ≤ the head width); the rest pass through. */
    dim: schemas.positiveInt.refine((d) => d % 2 === 0, 'must be even'),
    /** Frequency base θ (RoFormer: 10000). */
    base: schemas.positive.default(10000),
  })
  .strict();
/** JSON config of {@link RotaryEmbedding} (input form: defaults may be omitted). */
export type RotaryEmbeddingConfig = z.input<typeof RotarySchema>;

/**
 * The rotary table: cos and sin [T, dh] for positions `offset … offset + T − 1`, in the
 * "rotate-half" layout (GPT-NeoX / HF LLaMA): feature i < dim/2 pairs with i + dim/2, both at
 * frequency θ^(−2i/dim). Features ≥ `dim` get cos 1, sin 0 (pass through).
 */
export function rotaryTables(length: number, headDim: number, dim: number, base = 10000, offset = 0): { cos: Float32Array; sin: Float32Array } {
  const half = dim / 2;
  const cos = new Float32Array(length * headDim).fill(1);
  const sin = new Float32Array(length * headDim);
  for (let t = 0; t < length; t++) {
    for (let i = 0; i < half; i++) {
      const angle = (t + offset) * Math.pow(base, (-2 * i) / dim);
      const c = Math.cos(angle), s = Math.sin(angle);
      cos[t * headDim + i] = c;
      cos[t * headDim + i + half] = c;
      sin[t * headDim + i] = s;
      sin[t * headDim + i + half] = s;
    }
  }
  return { cos, sin };
}

/**
 * The signed permutation R [dh, dh] with x·R = rotate_half(x) = [−x₂, x₁] on the first `dim`
 * features (zero on the pass-through ones), so the rotation is one small matmul instead of slices.
 */
function rotateHalfMatrix(headDim: number, dim: number): Float32Array {
  const half = dim / 2;
  const r = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    // out[i] = −x[i + half]; out[i + half] = x[i]   (row = input feature, column = output feature)
    r[(i + half) * headDim + i] = -1;
    r[i * headDim + (i + half)] = 1;
  }
  return r;
}

/**
 * Rotary position embedding (RoFormer, Su et al. 2021) for queries and keys in the head-batched
 * layout [B, H, T, dh]: `x·cos + rotate_half(x)·sin`. No parameters. Used by
 * `MultiHeadAttention` (config `rotaryDim`) on q and k after qk-norm.
 */
export class RotaryEmbedding extends Module {
  static readonly type = 'RotaryEmbedding';
  static readonly schema = RotarySchema;
  readonly config: z.output<typeof RotarySchema>;

  constructor(config: RotaryEmbeddingConfig, _options: BrickOptions = {}) {
    super();
    this.config = parseConfig(RotaryEmbedding, config);
  }

  /** x [B, H, T, dh] → rotated [B, H, T, dh] at positions offset … offset+T−1. */
  forward(x: tf.Tensor, offset = 0): tf.Tensor {
    this.checkShape('x', x, [null, null, null, null]);
    const [, , t, dh] = x.shape;
    if (dh < this.config.dim) {
      this.checkShape('x', x, [null, null, null, this.config.dim]);
    }
    return tf.tidy(() => {
      const { cos, sin } = rotaryTables(t, dh, this.config.dim, this.config.base, offset);
      const r = tf.tensor2d(rotateHalfMatrix(dh, this.config.dim), [dh, dh]);
      const rotated = matmul(x, r); // rotate_half(x)  [B, H, T, dh]
      return tf.add(tf.mul(x, tf.tensor2d(cos, [t, dh])), tf.mul(rotated, tf.tensor2d(sin, [t, dh])));
    });
  }

  override toConfig() {
    return { type: RotaryEmbedding.type, ...this.config };
  }
}
registerBrick(RotaryEmbedding);
