/**
 * Line plots (loss curves, metrics) as Vega-Lite specs — plain JSON that renders in a browser with
 * vega-embed — and their headless rendering to SVG (vega) and PNG (resvg) in Node.
 *
 * vega, vega-lite and @resvg/resvg-js are imported on first use (`await import(...)`), so loading
 * @brickml/core does not load them.
 */

import { importAtRuntime } from '../io/fs.js';

/** A Vega-Lite (or, without a vega-lite `$schema`, a Vega) specification as plain JSON. */
export type VegaLiteSpec = Record<string, unknown>;

/** One named line. */
export interface LineSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** Options of {@link linePlotSpec}. */
export interface LinePlotOptions {
  series: LineSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (points with y ≤ 0 are dropped). */
  logY?: boolean;
  /** Plot area width in CSS pixels (default 480). */
  width?: number;
  /** Plot area height in CSS pixels (default 300). */
  height?: number;
}

/** Font options passed to resvg (see @resvg/resvg-js); system fonts are loaded by default. */
export interface PngFontOptions {
  loadSystemFonts?: boolean;
  fontFiles?: string[];
  fontDirs?: string[];
  defaultFontFamily?: string;
  defaultFontSize?: number;
  sansSerifFamily?: string;
  serifFamily?: string;
  monospaceFamily?: string;
}

/** Options of {@link renderSpecToPng}. */
export interface RenderPngOptions {
  /** Pixel density: 2 renders at twice the spec's size (default 2). */
  scale?: number;
  /** Background colour (CSS), default white. */
  background?: string;
  /** Font options for resvg; default `{loadSystemFonts: true}`. Text may not show where no font is installed. */
  font?: PngFontOptions;
}

const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * A Vega-Lite line chart of one or more series (coloured by name, with a legend when there are
 * several). Non-finite points are dropped.
 */
export function linePlotSpec(options: LinePlotOptions): VegaLiteSpec {
  const fn = 'linePlotSpec';
  if (!options || !Array.isArray(options.series)) {
    throw new TypeError(`${fn}: series must be an array of {name, x, y}, got ${JSON.stringify(options?.series)}`);
  }
  const values: { series: string; x: number; y: number }[] = [];
  for (const s of options.series) {
    if (!s || typeof s.name !== 'string' || s.x?.length !== s.y?.length) {
      throw new TypeError(`${fn}: each series needs a name and x, y of equal length, got ${JSON.stringify({ name: s?.name, x: s?.x?.length, y: s?.y?.length })}`);
    }
    for (let i = 0; i < s.x.length; i++) {
      const x = Number(s.x[i]);
      const y = Number(s.y[i]);
      if (!Number.isFinite(x) || !Number.isFinite(y) || (options.logY && y <= 0)) continue;
      values.push({ series: s.name, x, y });
    }
  }
  const multi = options.series.length > 1;
  const spec: VegaLiteSpec = {
    $schema: VEGA_LITE_SCHEMA,
    width: options.width ?? 480,
    height: options.height ?? 300,
    background: 'white',
    data: { values },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xLabel ?? 'x' },
      y: {
        field: 'y',
        type: 'quantitative',
        title: options.yLabel ?? 'y',
        scale: options.logY ? { type: 'log' } : { zero: false },
      },
      color: multi
        ? { field: 'series', type: 'nominal', title: null }
        : { value: '#1f77b4' },
    },
  };
  if (options.title !== undefined) spec.title = options.title;
  return spec;
}

function isVegaLite(spec: VegaLiteSpec): boolean {
  const schema = spec.$schema;
  if (typeof schema === 'string') return schema.includes('vega-lite');
  // Vega specs have marks/signals/scales at the top; Vega-Lite ones have mark/layer/concat/etc.
  return ['mark', 'layer', 'facet', 'repeat', 'concat', 'hconcat', 'vconcat', 'spec'].some((k) => k in spec);
}

/**
 * Renders a Vega-Lite (or Vega) spec to an SVG string headlessly (vega `View` with no renderer).
 * Works in Node and browsers.
 */
export async function renderSpecToSvg(spec: VegaLiteSpec): Promise<string> {
  let vegaSpec: unknown = spec;
  if (isVegaLite(spec)) {
    const vl = await import('vega-lite');
    vegaSpec = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  }
  const vega = await import('vega');
  const view = new vega.View(vega.parse(vegaSpec as Parameters<typeof vega.parse>[0]), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Renders a Vega-Lite (or Vega) spec to PNG bytes: vega → SVG → resvg. Node only (resvg-js is a
 * native module; in a browser use vega-embed or a vega View's `toCanvas`).
 */
export async function renderSpecToPng(spec: VegaLiteSpec, options: RenderPngOptions = {}): Promise<Uint8Array> {
  const scale = options.scale ?? 2;
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`renderSpecToPng: scale must be a positive number, got ${scale}`);
  const svg = await renderSpecToSvg(spec);
  const { Resvg } = await importAtRuntime<typeof import('@resvg/resvg-js')>('@resvg/resvg-js');
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: options.background ?? 'white',
    font: { loadSystemFonts: true, ...options.font },
  });
  const png = r.render().asPng();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** One logged training step. */
export interface LossPoint {
  step: number;
  loss: number;
}

/** Options of {@link lossCurveSpec} and {@link lossCurvePng}. */
export interface LossCurveOptions {
  title?: string;
  /** Logarithmic loss axis (default false). */
  logY?: boolean;
  /**
   * Adds an exponential moving average of each series with this weight on the past (e.g. 0.9);
   * default 0 (none).
   */
  smoothing?: number;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

function emaSeries(s: LineSeries, beta: number): LineSeries {
  const y = new Float64Array(s.y.length);
  let m = NaN;
  for (let i = 0; i < s.y.length; i++) {
    const v = s.y[i];
    if (Number.isFinite(v)) m = Number.isFinite(m) ? beta * m + (1 - beta) * v : v;
    y[i] = m;
  }
  return { name: `${s.name} (EMA ${beta})`, x: s.x, y };
}

/** A Vega-Lite spec of a loss curve from `{step, loss}` records or named series. */
export function lossCurveSpec(history: LossPoint[] | LineSeries[], options: LossCurveOptions = {}): VegaLiteSpec {
  const series: LineSeries[] = history.length > 0 && 'name' in history[0]
    ? (history as LineSeries[])
    : [{ name: 'loss', x: (history as LossPoint[]).map((h) => h.step), y: (history as LossPoint[]).map((h) => h.loss) }];
  const beta = options.smoothing ?? 0;
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`lossCurveSpec: smoothing must be in [0, 1), got ${beta}`);
  const all = beta > 0 ? [...series, ...series.map((s) => emaSeries(s, beta))] : series;
  return linePlotSpec({
    series: all,
    title: options.title ?? 'Training loss',
    xLabel: options.xLabel ?? 'step',
    yLabel: options.yLabel ?? 'loss',
    logY: options.logY,
    width: options.width,
    height: options.height,
  });
}

/** A loss curve rendered to PNG bytes (Node only; see {@link renderSpecToPng}). */
export async function lossCurvePng(
  history: LossPoint[] | LineSeries[],
  options: LossCurveOptions & RenderPngOptions = {},
): Promise<Uint8Array> {
  return renderSpecToPng(lossCurveSpec(history, options), options);
}
