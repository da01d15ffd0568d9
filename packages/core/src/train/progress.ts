import { importAtRuntime } from '../io/fs.js';

/**
 * Progress reporting for long work: a bar in a terminal (cli-progress), a callback elsewhere
 * (browsers, notebooks, docs examples), and occasional plain lines when stdout is not a TTY.
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

/** `'auto'`: a bar in a TTY, plain lines otherwise; `'none'`: silent; or a callback. */
export type ProgressOption = 'auto' | 'bar' | 'lines' | 'none' | ((info: ProgressInfo) => void);

export interface ProgressReporter {
  update(info: ProgressInfo): void;
  stop(): void;
}

function fmt(values: Record<string, number>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toFixed(4) : v.toExponential(2)}`)
    .join(' · ');
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Makes the reporter for an option; `label` prefixes bars and lines. */
export async function makeProgress(option: ProgressOption, label: string, totalSteps: number): Promise<ProgressReporter> {
  if (typeof option === 'function') return { update: option, stop: () => {} };
  if (option === 'none' || !isNode) return { update: () => {}, stop: () => {} };
  const tty = !!process.stdout.isTTY;
  if (option === 'bar' || (option === 'auto' && tty)) {
    const { default: cliProgress } = await importAtRuntime<{ default: typeof import('cli-progress') }>('cli-progress');
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} · {values} · {speed} it/s · eta {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
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
        } else bar.update(info.step, payload);
      },
      stop: () => started && bar.stop(),
    };
  }
  // Plain lines (CI logs): about 20 per run.
  const every = Math.max(1, Math.round(totalSteps / 20));
  return {
    update(info) {
      if (info.step % every === 0 || info.step === info.totalSteps) {
        process.stdout.write(
          `${label} ${info.step}/${info.totalSteps} · ${fmt(info.values)} · ${info.stepsPerSecond.toFixed(2)} it/s\n`,
        );
      }
    },
    stop: () => {},
  };
}
