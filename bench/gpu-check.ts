/**
 * The WebGPU conformance check for a GPU machine: selects the `webgpu` engine (Dawn), refusing a
 * software adapter unless `--swiftshader`, runs core's numerical conformance suite on it against the
 * cpu backend, prints the table, writes the report as JSON and exits non-zero when a case fails.
 * Bundled for a bare GPU machine by `bench/gpu/pack.sh` (see bench/README.md, "On a GPU machine").
 *
 *   node packages/diffusion/scripts/run.mjs bench/gpu-check.ts --swiftshader   # here, on SwiftShader
 *   bash .gpu/prelude.sh node .gpu/gpu-check.mjs --out $OUT/conformance.json    # there
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { formatConformance, runConformance } from '@brickml/core';
import { enableSwiftShader, formatBackendReport, useBackend } from '@brickml/backend-node';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { importEngineModule } from './engines.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'out/bench/conformance-webgpu.json' },
    swiftshader: { type: 'boolean', default: false },
  },
});
if (args.swiftshader) enableSwiftShader();
const backend = await useBackend('webgpu', { allowFallbackAdapter: args.swiftshader, importModule: importEngineModule });
console.log(formatBackendReport(backend));
const report = await runConformance();
console.log(formatConformance(report));
const outFile = resolve(args.out!);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify({ date: new Date().toISOString(), device: backend.device, tfjs: tf.version_core, report }, null, 2)}\n`);
const counts = report.results.reduce<Record<string, number>>((a, r) => ({ ...a, [r.status]: (a[r.status] ?? 0) + 1 }), {});
console.log(`${report.results.length} cases: ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}; wrote ${outFile}`);
if (!report.ok) process.exitCode = 1;
