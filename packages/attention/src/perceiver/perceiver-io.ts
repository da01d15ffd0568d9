import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import {
  BrickConfigError,
  Linear,
  MLP,
  Module,
  build,
  globalRng,
  parseConfig,
  registerBrick,
  schemas,
  type BrickConfig,
  type BrickOptions,
  type Rng,
} from '@brickml/core';
import { FourierPositionEncoding } from '../position/fourier.js';
import { LearnedPositionEncoding } from '../position/learned.js';
import { SinCosPositionEncoding } from '../position/sincos.js';
import { PerceiverDecoder } from './decoder.js';
import { PerceiverEncoder } from './encoder.js';

const PerceiverIOSchema = z
  .object({
    /** A `PerceiverEncoder` config. */
    encoder: schemas.brick,
    /** A `PerceiverDecoder` config. */
    decoder: schemas.brick,
    /**
     * Position features of the inputs, applied before the encoder: a `FourierPositionEncoding`
     * (concatenated, as Perceiver), `LearnedPositionEncoding` or `SinCosPositionEncoding` (added),
     * or null for none.
     */
    inputPosition: schemas.brick.nullable().default(null),
    /**
     * Optional per-element brick applied after the position features and before the encoder
     * (e.g. an `MLP` or `Linear`: the role of deepmind's input preprocessors), or null.
     */
    inputAdapter: schemas.brick.nullable().default(null),
  })
  .strict();
/** JSON config of {@link PerceiverIO} (input form: defaults may be omitted). */
export type PerceiverIOConfig = z.input<typeof PerceiverIOSchema>;

type PositionModule = FourierPositionEncoding | LearnedPositionEncoding | SinCosPositionEncoding;

/** Options of a {@link PerceiverIO} call. */
export interface PerceiverIOCallOptions {
  /** [B, M], `true` = real input element. */
  inputMask?: tf.Tensor | null;
  /** Output queries (when the decoder has no learned queries), [B, O, E] or [O, E]. */
  queries?: tf.Tensor | null;
  /** Subset of the decoder's learned queries (row indices). */
  queryIndices?: tf.Tensor | readonly number[] | null;
  rng?: Rng;
}

/**
 * Perceiver IO = optional input position features (`input_position`) → optional per-element
 * `input_adapter` (MLP or Linear) → `encoder`
 * (`PerceiverEncoder`) → `decoder` (`PerceiverDecoder`), for arbitrary input and output sizes.
 * Inputs are element arrays [B, M, C] or images [B, C, H, W] (flattened to pixels [B, H·W, C],
 * row-major, as deepmind's image preprocessor without convs).
 */
export class PerceiverIO extends Module {
  static readonly type = 'PerceiverIO';
  static readonly schema = PerceiverIOSchema;
  readonly config: z.output<typeof PerceiverIOSchema>;
  readonly input_position: PositionModule | null;
  readonly input_adapter: (Module & { forward(x: tf.Tensor): tf.Tensor }) | null;
  readonly encoder: PerceiverEncoder;
  readonly decoder: PerceiverDecoder;

  constructor(config: PerceiverIOConfig, { rng = globalRng() }: BrickOptions = {}) {
    super();
    const c = (this.config = parseConfig(PerceiverIO, config));
    const expect = <T>(cfg: BrickConfig, field: string, classes: Array<new (...a: any[]) => T>): T => {
      const m = build(cfg, { rng });
      if (!classes.some((k) => m instanceof k)) {
        m.dispose();
        throw new BrickConfigError(
          `PerceiverIO: config field '${field}' must be a ${classes.map((k) => (k as any).type).join(' or ')} config, got type '${cfg.type}'`,
        );
      }
      return m as T;
    };
    this.input_position = c.inputPosition
      ? expect<PositionModule>(c.inputPosition as BrickConfig, 'inputPosition', [
          FourierPositionEncoding,
          LearnedPositionEncoding,
          SinCosPositionEncoding,
        ])
      : null;
    this.input_adapter = c.inputAdapter
      ? expect<Module & { forward(x: tf.Tensor): tf.Tensor }>(c.inputAdapter as BrickConfig, 'inputAdapter', [MLP, Linear])
      : null;
    this.encoder = expect<PerceiverEncoder>(c.encoder as BrickConfig, 'encoder', [PerceiverEncoder]);
    this.decoder = expect<PerceiverDecoder>(c.decoder as BrickConfig, 'decoder', [PerceiverDecoder]);
    if (this.decoder.config.latentDim !== this.encoder.outputDim) {
      throw new BrickConfigError(
        `PerceiverIO: config field 'decoder.latentDim' (${this.decoder.config.latentDim}) must equal the encoder's output latent width (${this.encoder.outputDim})`,
      );
    }
    this.namedModules();
  }

  /** Elements [B, M, C] (or images [B, C, H, W]) with position features: [B, M, inputDim]. */
  embedInputs(inputs: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let x = inputs;
      if (x.rank === 4) {
        const [b, ch, h, w] = x.shape;
        x = tf.transpose(tf.reshape(x, [b, ch, h * w]), [0, 2, 1]); // [B, H·W, C]
      }
      if (this.input_position) x = this.input_position.forward(x);
      return this.input_adapter ? this.input_adapter.forward(x) : x;
    });
  }

  /** Inputs → latents [B, N, D]. */
  encode(inputs: tf.Tensor, { inputMask = null, rng }: PerceiverIOCallOptions = {}): tf.Tensor {
    return tf.tidy(() => this.encoder.forward(this.embedInputs(inputs), { inputMask, rng }));
  }

  /** Inputs → outputs [B, O, outDim]. */
  forward(inputs: tf.Tensor, options: PerceiverIOCallOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const z = this.encode(inputs, options);
      return this.decoder.forward(z, { queries: options.queries, queryIndices: options.queryIndices, rng: options.rng });
    });
  }

  override toConfig() {
    return {
      type: PerceiverIO.type,
      encoder: this.encoder.toConfig(),
      decoder: this.decoder.toConfig(),
      inputPosition: this.input_position ? this.input_position.toConfig() : null,
      inputAdapter: this.input_adapter ? this.input_adapter.toConfig() : null,
    };
  }
}
registerBrick(PerceiverIO);
