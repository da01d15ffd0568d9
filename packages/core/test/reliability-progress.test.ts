// Progress when stdout is not a terminal: periodic plain lines (time and percent), no escape codes.
import { describe, expect, it, vi } from 'vitest';
import { formatProgressLine, makeProgress, type ProgressInfo } from '../src/index.js';

/** A stream that records what is written, and a clock the test moves. */
function fakes(isTTY = false) {
  const lines: string[] = [];
  let t = 0;
  return {
    lines,
    stream: { isTTY, write: (s: string) => void lines.push(...s.split('\n').filter(Boolean)) },
    now: () => t,
    advance: (ms: number) => void (t += ms),
  };
}

/** Steps 1..`upto` of a `total`-step run, one every `secondsPerStep`, loss 1/step. */
function run(report: { update(i: ProgressInfo): void }, f: ReturnType<typeof fakes>, total: number, upto: number, secondsPerStep: number) {
  for (let step = 1; step <= upto; step++) {
    f.advance(secondsPerStep * 1000);
    const elapsed = f.now() / 1000;
    report.update({ step, totalSteps: total, values: { loss: 1 / step }, stepsPerSecond: step / elapsed, elapsedSeconds: elapsed });
  }
}

describe('progress without a terminal', () => {
  it("'auto' on a non-TTY stream prints the first step at once, then every 10 s, without ANSI codes", async () => {
    const f = fakes(false);
    const p = await makeProgress('auto', 'train', 500, { stream: f.stream, now: f.now });
    run(p, f, 500, 40, 2); // 2 s per step: a slow run, 8% after 80 s
    p.stop();
    expect(f.lines.map((l) => Number(/step (\d+)\//.exec(l)![1]))).toEqual([1, 6, 11, 16, 21, 26, 31, 36, 40]);
    expect(f.lines[0]).toBe('train: step 1/500 (0%) · loss 1.0000 · 0.50 steps/s · eta 16m38s');
    expect(f.lines[1]).toBe('train: step 6/500 (1%) · loss 0.1667 · 0.50 steps/s · eta 16m28s');
    for (const line of f.lines) expect(line.includes("\u001b") || line.includes("\r")).toBe(false);
  });

  it('on the real stdout when it is a pipe: a line at the first step, not after 1/20 of the run', async () => {
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      written.push(String(s));
      return true;
    });
    try {
      const p = await makeProgress('auto', 'train', 500);
      for (let step = 1; step <= 3; step++) p.update({ step, totalSteps: 500, values: { loss: 0.5 }, stepsPerSecond: 0.1, elapsedSeconds: step * 10 });
      expect(written).toEqual(['train: step 1/500 (0%) · loss 0.5000 · 0.10 steps/s · eta 1h23m\n']);
    } finally {
      write.mockRestore();
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
  });

  it('a fast run prints every 10 % and the last step (with its duration)', async () => {
    const f = fakes(false);
    const p = await makeProgress('lines', 'fit', 200, { stream: f.stream, now: f.now });
    run(p, f, 200, 200, 0.01);
    p.stop();
    expect(f.lines.map((l) => /\((\d+)%\)/.exec(l)![1])).toEqual(['0', '10', '20', '30', '40', '50', '60', '70', '80', '90', '100']);
    expect(f.lines.at(-1)).toBe('fit: step 200/200 (100%) · loss 0.0050 · 100 steps/s · done in 2s');
  });

  it('stop() prints the last update when a run ends between lines', async () => {
    const f = fakes(false);
    const q = await makeProgress('auto', 'train', 1000, { stream: f.stream, now: f.now });
    q.update({ step: 1, totalSteps: 1000, values: {}, stepsPerSecond: 2, elapsedSeconds: 0.5 });
    q.update({ step: 2, totalSteps: 1000, values: {}, stepsPerSecond: 2, elapsedSeconds: 1 });
    expect(f.lines).toEqual(['train: step 1/1000 (0%) · 2.0 steps/s · eta 8m20s']);
    q.stop();
    expect(f.lines).toEqual(['train: step 1/1000 (0%) · 2.0 steps/s · eta 8m20s', 'train: step 2/1000 (0%) · 2.0 steps/s · eta 8m19s']);
  });

  it("'bar' on a non-TTY stream falls back to lines; 'lines' prints lines even on a TTY; 'none' prints nothing", async () => {
    for (const [option, isTTY, printed] of [['bar', false, true], ['lines', true, true], ['none', false, false]] as const) {
      const f = fakes(isTTY);
      const p = await makeProgress(option, 'x', 10, { stream: f.stream, now: f.now });
      run(p, f, 10, 10, 1);
      p.stop();
      expect(f.lines.length > 0).toBe(printed);
    }
  });

  it('formats long runs and unknown speeds', () => {
    const info = { step: 120, totalSteps: 500, values: { loss: 0.1234 }, elapsedSeconds: 38 };
    expect(formatProgressLine('label', { ...info, stepsPerSecond: 3.1 })).toBe('label: step 120/500 (24%) · loss 0.1234 · 3.1 steps/s · eta 2m03s');
    expect(formatProgressLine('label', { ...info, stepsPerSecond: 0.02 })).toBe('label: step 120/500 (24%) · loss 0.1234 · 0.020 steps/s · eta 5h16m');
    expect(formatProgressLine('label', { ...info, stepsPerSecond: Number.NaN })).toBe('label: step 120/500 (24%) · loss 0.1234 · eta ?');
  });
});
