/**
 * Runs a live example from a terminal on @brickml/backend-node, writing its figures as PNGs.
 *
 *   npm run example -- <name> [--quick] [--backend wasm] [--out out/examples]
 *   npm run example -- <name> --swiftshader        # WebGPU through Dawn on SwiftShader (no GPU needed; slow)
 *   npm run example -- --list
 *
 * Images go to `<out>/<name>/<figure>.png`; plots are rendered with vega + resvg to
 * `<out>/<name>/<figure>.png` (their Vega-Lite spec beside them as `<figure>.vl.json`). `--out`
 * defaults to `out/examples` in the repository root.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// backend-node first: from sources (tsx), importing core first lets the tfjs-core copy that core's
// gradient registration deep-imports create the engine, whose tensors then lack tfjs's op handler
// (`clone` of null in a Cast gradient, seen with PPO). Core's built bundle does not have this problem.
import { enableSwiftShader, formatBackendReport, useBackend } from '@brickml/backend-node';
import { encodePng, makeProgress, renderSpecToPng, type ProgressReporter } from '@brickml/core';
import type { ExampleContext, ExampleProgress } from './context.js';
import { exampleNames, examples, loadExample } from './index.js';
import { upscale } from './lib/pictures.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    backend: { type: 'string' },
    out: { type: 'string', default: join(repoRoot, 'out', 'examples') },
    list: { type: 'boolean', default: false },
    swiftshader: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  if (opts.list || positionals.length === 0) {
    console.log('examples:');
    for (const name of exampleNames) console.log(`  ${name.padEnd(26)} ${(await examples[name]()).meta.description}`);
    console.log('\nrun one with: npm run example -- <name> [--quick] [--backend wasm|webgpu|cpu] [--swiftshader]');
    if (positionals.length === 0 && !opts.list) process.exitCode = 1;
    return;
  }
  const name = positionals[0];
  const example = await loadExample(name);
  if (opts.swiftshader && !enableSwiftShader()) throw new Error('--swiftshader: SwiftShader is not installed (Debian: apt-get install chromium)');
  const report = await useBackend(opts.backend ?? (opts.swiftshader ? 'webgpu' : undefined));
  console.log(`${example.meta.title} — backend: ${formatBackendReport(report)}`);
  const dir = resolve(opts.out, name);
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const bars = new Map<string, ProgressReporter>();
  const started = new Map<string, number>();
  let current: string | undefined;
  const stopBar = () => {
    if (current !== undefined) bars.get(current)?.stop();
    current = undefined;
  };
  const aborter = new AbortController();
  process.once('SIGINT', () => aborter.abort());
  const save = async (file: string, bytes: Uint8Array | string) => {
    const path = join(dir, file);
    await writeFile(path, bytes);
    if (!written.includes(path)) written.push(path);
  };
  const ctx: ExampleContext = {
    backend: report.engine,
    quick: opts.quick,
    signal: aborter.signal,
    progress(info: ExampleProgress) {
      const label = info.label ?? 'run';
      if (label !== current) {
        stopBar();
        current = label;
      }
      if (!started.has(label)) started.set(label, performance.now());
      const elapsedSeconds = (performance.now() - started.get(label)!) / 1000;
      const bar = bars.get(label);
      const update = (b: ProgressReporter) =>
        b.update({
          step: info.step,
          totalSteps: info.totalSteps,
          values: info.values ?? {},
          stepsPerSecond: elapsedSeconds > 0 ? info.step / elapsedSeconds : 0,
          elapsedSeconds,
        });
      if (bar) update(bar);
      else {
        // makeProgress is async (it loads cli-progress); start the bar, then show this update.
        void makeProgress('auto', label, info.totalSteps).then((b) => {
          bars.set(label, b);
          update(b);
        });
      }
    },
    async image(figure, image, options) {
      // Small pictures are scaled up (nearest neighbour) to about the size the page shows them at.
      const factor = image instanceof Uint8Array ? 1 : Math.max(1, Math.floor((options?.displaySize ?? 0) / Math.max(image.width, image.height)));
      const big = image instanceof Uint8Array ? image : upscale(image, factor);
      const png = big instanceof Uint8Array ? big : encodePng(big.rgba, big.width, big.height);
      await save(`${figure}.png`, png);
    },
    async plot(figure, spec) {
      await save(`${figure}.vl.json`, `${JSON.stringify(spec, null, 2)}\n`);
      await save(`${figure}.png`, await renderSpecToPng(spec));
    },
    log(text) {
      stopBar();
      console.log(text);
    },
  };
  const t0 = performance.now();
  try {
    await example.run(ctx);
  } finally {
    stopBar();
  }
  console.log(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s; wrote:`);
  for (const p of written) console.log(`  ${p}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
