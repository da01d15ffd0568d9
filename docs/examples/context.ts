/**
 * The contract between a live example and whatever runs it: the docs page (<LiveExample>, in the
 * browser on @brickml/backend-web) or the terminal (`npm run example -- <name>`, on
 * @brickml/backend-node). An example is one module exporting `meta` and `run(ctx)`; it sees the
 * world only through `ctx`, so the same code draws into the page or writes PNGs under out/.
 */
import type { RgbaImage, VegaLiteSpec } from '@brickml/core';

/** Progress of a long loop (training steps, sampling steps). */
export interface ExampleProgress {
  /** Steps done so far. */
  step: number;
  /** Steps in this phase. */
  totalSteps: number;
  /** Name of the phase (`train`, `sample`); a new label starts a new bar. */
  label?: string;
  /** Named scalars of the last step (loss, lr, …). */
  values?: Record<string, number>;
}

/** Options of an image figure. */
export interface ImageOptions {
  /** Caption under the figure. */
  caption?: string;
  /** Display size in CSS pixels of the longer side (the page scales small images up, pixelated). */
  displaySize?: number;
}

/** What an example receives. */
export interface ExampleContext {
  /** The engine the runner set up (`webgpu`, `wasm`, `webgl`, `cpu`, `tensorflow`, …). */
  backend: string;
  /** Few steps and small sizes: what the browser tests (and a first look) run. */
  quick: boolean;
  /** Reports progress; cheap to call every step. */
  progress(info: ExampleProgress): void;
  /** Shows (browser) or writes `<name>.png` (terminal): PNG bytes or an RGBA picture. Same name = replace. */
  image(name: string, image: Uint8Array | RgbaImage, options?: ImageOptions): Promise<void>;
  /** Shows (vega-embed) or writes `<name>.png` (terminal): a Vega-Lite spec. Same name = replace. */
  plot(name: string, spec: VegaLiteSpec, options?: { caption?: string }): Promise<void>;
  /** One line of text output (the page's log panel, or stdout). */
  log(text: string): void;
  /** Aborted when the user presses Stop (browser) or Ctrl-C (terminal). */
  signal?: AbortSignal;
}

/** Title and one-line description shown by the runners. */
export interface ExampleMeta {
  title: string;
  description: string;
}

/** What every module under docs/examples/ exports. */
export interface ExampleModule {
  meta: ExampleMeta;
  run(ctx: ExampleContext): Promise<void>;
}

/** Throws an `AbortError` if the run was stopped; call it once per step. */
export function throwIfAborted(ctx: ExampleContext): void {
  if (ctx.signal?.aborted) {
    const e = new Error('stopped');
    e.name = 'AbortError';
    throw e;
  }
}

/** Lets the page repaint (and the Stop button be pressed) between steps of a long loop. */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
