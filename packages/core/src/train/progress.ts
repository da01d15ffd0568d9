import { importAtRuntime } from '../io/fs.js';

/**
 * Progress reporting for long work: a bar in a terminal (cli-progress), a callback elsewhere
 * (browsers, notebooks, docs examples), and periodic plain lines when stdout is not a TTY (a pipe,
 * a CI log, `npm start | cat`): one at the first step, then one every 10 s and at every 10 % of
 * the run, and the last one — `train: step 120/500 (24%) · loss 0.1234 · 3.1 steps/s · eta 2m10s`,
 * with no terminal escape codes.
 */

/** What a progress callback receives after every step. */
export interface ProgressInfo {
  step: number;
  totalSteps: number;
  /** Named scalar values of the last step (loss, lr, ...). */
  values: Record<string, number>;
  /** Steps per second over the run so far. */
  stepsPerSecond: number;
  /** Seconds since the run (or resume) started. */
  elapsedSeconds: number;
}

/**
 * `'auto'`: a bar in a TTY, plain lines otherwise; `'bar'`: a bar (plain lines when the stream is
 * not a TTY, where a bar would print nothing); `'lines'`: plain lines; `'none'`: silent; or a callback.
 */
export type ProgressOption = 'auto' | 'bar' | 'lines' | 'none' | ((info: ProgressInfo) => void);

export interface ProgressReporter {
  update(info: ProgressInfo): void;
  stop(): void;
}

/** Where plain lines go: `process.stdout` or anything with `write` (and `isTTY`). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Options of {@link makeProgress} (the defaults suit a real run; tests inject a stream and a clock). */
export interface MakeProgressOptions {
  /** Stream whose `isTTY` picks bar or lines, and which plain lines go to (default `process.stdout`). */
  stream?: ProgressStream;
  /** Clock in milliseconds that paces plain lines (default `performance.now`). */
  now?: () => number;
  /** Seconds between plain lines, at the latest (default 10). */
  intervalSeconds?: number;
}

function fmt(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(2)}`)
    .join(' · ');
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/**
 * Makes the reporter for an option; `label` prefixes bars and lines. `totalSteps` is kept for
 * callers' symmetry (each update carries its own `totalSteps`).
 */
export async function makeProgress(
  option: ProgressOption,
  label: string,
  totalSteps: number,
  options: MakeProgressOptions = {},
): Promise<ProgressReporter> {
  if (typeof option === 'function') return { update: option, stop: () => {} };
  if (option === 'none' || (!isNode && !options.stream)) return { update: () => {}, stop: () => {} };
  const stream = options.stream ?? process.stdout;
  const tty = !!stream.isTTY;
  if ((option === 'bar' || option === 'auto') && tty) return makeBar(label, options.stream);
  const every = (options.intervalSeconds ?? 10) * 1000;
  return lineReporter(label, stream, options.now ?? (() => performance.now()), every);
}

async function makeBar(label: string, stream: ProgressStream | undefined): Promise<ProgressReporter> {
  const { default: cliProgress } = await importAtRuntime<{ default: typeof import('cli-progress') }>('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} · {values} · {speed} it/s · eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      ...(stream ? { stream: stream as NodeJS.WritableStream } : {}),
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(info) {
      const payload = { values: fmt(info.values), speed: info.stepsPerSecond.toFixed(2) };
      if (!started) {
        bar.start(info.totalSteps, info.step, payload);
        started = true;
      } else {
        if (bar.getTotal() !== info.totalSteps) bar.setTotal(info.totalSteps); // a time-budgeted run's projection moves
        bar.update(info.step, payload);
      }
    },
    stop: () => started && bar.stop(),
  };
}

/**
 * Plain lines for logs: the first update, then whenever `everyMs` passed since the last line or the
 * run crossed another 10 %, and the last step; `stop()` prints the latest update if it was not
 * printed (a run that ends early still shows where it stopped).
 */
function lineReporter(label: string, stream: ProgressStream, now: () => number, everyMs: number): ProgressReporter {
  let lastAt: number | undefined;
  let lastTenth = -1;
  let pending: ProgressInfo | undefined;
  const tenth = (info: ProgressInfo) => (info.totalSteps > 0 ? Math.floor((10 * info.step) / info.totalSteps) : 10);
  const print = (info: ProgressInfo) => {
    stream.write(`${formatProgressLine(label, info)}\n`);
    lastAt = now();
    lastTenth = tenth(info);
    pending = undefined;
  };
  return {
    update(info) {
      const due = lastAt === undefined || now() - lastAt >= everyMs || tenth(info) > lastTenth || info.step >= info.totalSteps;
      if (due) print(info);
      else pending = info;
    },
    stop() {
      if (pending) print(pending);
    },
  };
}

/** One plain progress line: `label: step 120/500 (24%) · loss 0.1234 · 3.1 steps/s · eta 2m10s`. */
export function formatProgressLine(label: string, info: ProgressInfo): string {
  const { step, totalSteps, stepsPerSecond: sps } = info;
  const pct = totalSteps > 0 ? Math.floor((100 * step) / totalSteps) : 100;
  const parts = [`${label}: step ${step}/${totalSteps} (${pct}%)`];
  if (Object.keys(info.values).length > 0) parts.push(fmt(info.values));
  if (Number.isFinite(sps) && sps > 0) parts.push(`${sps >= 10 ? sps.toFixed(0) : sps >= 1 ? sps.toFixed(1) : sps.toPrecision(2)} steps/s`);
  if (step >= totalSteps) parts.push(`done in ${formatDuration(info.elapsedSeconds)}`);
  else parts.push(`eta ${Number.isFinite(sps) && sps > 0 ? formatDuration((totalSteps - step) / sps) : '?'}`);
  return parts.join(' · ');
}

/** `45s`, `2m10s`, `1h05m`. */
function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
