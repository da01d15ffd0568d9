import type * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Module, parameter, type Parameter } from '../module/module.js';
import { parseConfig, registerBrick, schemas, type BrickOptions } from '../module/registry.js';
import { globalRng } from '../rng.js';
import { embeddingLookup } from '../ops/embedding.js';

const EmbeddingSchema = z
  .object({
    /** Number of rows (vocabulary / classes). */
    numEmbeddings: schemas.positiveInt,
    /** Width of each row. */
    dim: schemas.positiveInt,
    /**
     * Std of the N(0, std²) initialisation. Default 1, PyTorch's `nn.Embedding`; transformer-style
     * token / class embeddings (ViT, RIN, GPT-2) pin 0.02.
     */
    initStd: schemas.positive.default(1),
  })
  .strict();
export type EmbeddingConfig = z.input<typeof EmbeddingSchema>;

/** Lookup table `weight` [numEmbeddings, dim] (PyTorch `nn.Embedding`, initialised N(0, initStd²) as there). */
export class Embedding extends Module {
  static readonly type = 'Embedding';
  static readonly schema = EmbeddingSchema;
  readonly config: z.output<typeof EmbeddingSchema>;
  readonly weight: Parameter;

  constructor(config: EmbeddingConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(Embedding, config));
    this.weight = parameter(rng.normalTensor([c.numEmbeddings, c.dim], 0, c.initStd));
  }

  /** ids [...] int32 in [0, numEmbeddings) → [..., dim]. Out-of-range ids are the caller's bug (tfjs gathers zeros). */
  forward(ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== 'int32') {
      throw new Error(`${this.typeName}${this.path ? ` '${this.path}'` : ''}: argument 'ids' must be int32, got ${ids.dtype}`);
    }
    return embeddingLookup(ids, this.weight);
  }

  override toConfig() {
    return { type: Embedding.type, ...this.config };
  }
}
registerBrick(Embedding);
