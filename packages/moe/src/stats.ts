/**
 * MoE statistics for logging: per-expert load, fraction dropped, padding waste and aux-loss values,
 * read from a layer's output; and a history of expert load over training, written as a PNG plot
 * (through core's Vega-Lite helpers when @brickml/core exports them) or as JSON.
 */
import * as core from '@brickml/core';
import type { MoEKind, MoEOutput } from './moe.js';

/** Host-side statistics of one MoE call. */
export interface MoEStats {
  kind: MoEKind;
  numTokens: number;
  topK: number;
  numExperts: number;
  /** Token copies routed to each expert (Σ = T·k). */
  tokensPerExpert: number[];
  /** Copies each expert processed. */
  keptPerExpert: number[];
  /** Share of the T·k copies routed to each expert (Σ = 1). */
  load: number[];
  /** `E · max_e load_e`: 1 when perfectly balanced, E when one expert takes everything. */
  maxLoadRatio: number;
  /** Copies that got no expert output. */
  droppedCopies: number;
  /** `droppedCopies / (T·k)`. */
  fractionDropped: number;
  /** Rows the expert products computed. */
  computedRows: number;
  /** Computed rows that carried no kept copy (padding, empty capacity slots, masked dense experts). */
  paddingRows: number;
  /** Forward FLOPs spent on those rows: `2 · macsPerRow · paddingRows` (×3 for forward + backward). */
  paddingFlops: number;
  /** Forward FLOPs of all computed rows. */
  computedFlops: number;
  loadBalanceLoss: number;
  zLoss: number;
}

/** Reads an {@link MoEOutput}'s statistics to the host (`await data()`, never `dataSync`). */
export async function readMoEStats(out: MoEOutput): Promise<MoEStats> {
  const [routed, kept, dropped, rows, lbl, z] = await Promise.all([
    out.tokensPerExpert.data(),
    out.keptPerExpert.data(),
    out.droppedCopies.data(),
    out.computedRows.data(),
    out.loadBalanceLoss.data(),
    out.zLoss.data(),
  ]);
  const { kind, numTokens, topK, numExperts, macsPerRow } = out.info;
  const copies = numTokens * topK;
  const tokensPerExpert = Array.from(routed, Math.round);
  const keptPerExpert = Array.from(kept, Math.round);
  const load = tokensPerExpert.map((c) => c / copies);
  const keptCopies = keptPerExpert.reduce((a, b) => a + b, 0);
  const computedRows = Math.round(rows[0]);
  const paddingRows = computedRows - keptCopies;
  return {
    kind,
    numTokens,
    topK,
    numExperts,
    tokensPerExpert,
    keptPerExpert,
    load,
    maxLoadRatio: numExperts * Math.max(...load),
    droppedCopies: Math.round(dropped[0]),
    fractionDropped: dropped[0] / copies,
    computedRows,
    paddingRows,
    paddingFlops: 2 * macsPerRow * paddingRows,
    computedFlops: 2 * macsPerRow * computedRows,
    loadBalanceLoss: lbl[0],
    zLoss: z[0],
  };
}

/** JSON form of an {@link ExpertLoadHistory}. */
export interface ExpertLoadHistoryJson {
  numExperts: number;
  steps: number[];
  /** `loads[i][e]`: share of copies routed to expert e at `steps[i]`. */
  loads: number[][];
}

type LinePlotSpecFn = (options: {
  series: { name: string; x: number[]; y: number[] }[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
}) => Record<string, unknown>;
type RenderPngFn = (spec: Record<string, unknown>) => Promise<Uint8Array>;

/**
 * Expert load over training: record each step's {@link MoEStats} (or load vector), then write a
 * line plot with one line per expert.
 *
 * @example
 * const history = new ExpertLoadHistory(8);
 * history.record(step, await readMoEStats(out));
 * await history.write('out/expert-load.png'); // PNG, or .json when core has no plot helpers
 */
export class ExpertLoadHistory {
  readonly steps: number[] = [];
  readonly loads: number[][] = [];

  constructor(readonly numExperts: number) {
    if (!Number.isInteger(numExperts) || numExperts < 1) {
      throw new RangeError(
        `ExpertLoadHistory: numExperts must be an integer ≥ 1, got ${numExperts}`,
      );
    }
  }

  /** Adds the load of one step (a stats object or a vector of E shares). */
  record(step: number, stats: Pick<MoEStats, 'load'> | number[]): void {
    const load = Array.isArray(stats) ? stats : stats.load;
    if (load.length !== this.numExperts) {
      throw new RangeError(
        `ExpertLoadHistory.record: expected ${this.numExperts} expert loads, got ${load.length}`,
      );
    }
    this.steps.push(step);
    this.loads.push([...load]);
  }

  toJSON(): ExpertLoadHistoryJson {
    return {
      numExperts: this.numExperts,
      steps: [...this.steps],
      loads: this.loads.map((l) => [...l]),
    };
  }

  /** The Vega-Lite spec of the plot, or undefined when @brickml/core does not export `linePlotSpec`. */
  spec(title = 'Expert load'): Record<string, unknown> | undefined {
    const linePlotSpec = (core as unknown as Record<string, unknown>).linePlotSpec as
      LinePlotSpecFn | undefined;
    if (typeof linePlotSpec !== 'function') return undefined;
    const series = Array.from({ length: this.numExperts }, (_, e) => ({
      name: `expert ${e}`,
      x: this.steps,
      y: this.loads.map((l) => l[e]),
    }));
    return linePlotSpec({ series, title, xLabel: 'step', yLabel: 'share of token copies' });
  }

  /**
   * Writes the plot as a PNG at `path` when core exports `linePlotSpec` and `renderSpecToPng`;
   * otherwise (or when `path` ends in `.json`) writes the JSON history beside it (`path` with a
   * `.json` extension). Returns the path written. Node only.
   */
  async write(path: string): Promise<string> {
    const { dirname } = await import('node:path');
    await core.ensureDir(dirname(path));
    const render = (core as unknown as Record<string, unknown>).renderSpecToPng as
      RenderPngFn | undefined;
    const spec = path.endsWith('.json') ? undefined : this.spec();
    if (spec && typeof render === 'function') {
      await core.writeFileAtomic(path, await render(spec));
      return path;
    }
    const jsonPath = path.endsWith('.json') ? path : `${path.replace(/\.[^./]*$/, '')}.json`;
    await core.writeFileAtomic(jsonPath, `${JSON.stringify(this.toJSON())}\n`);
    return jsonPath;
  }
}
