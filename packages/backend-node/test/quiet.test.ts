import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { condenseDawnMessages } from '../src/dawn-probe.js';

// What a user sees on stderr around backend selection, checked in child processes (each gets a
// fresh tfjs, Dawn and set of process listeners):
// - after useBackend() loads tfjs-backend-wasm, an uncaught error prints just the error (the wasm
//   glue's process listeners used to rethrow it, printing its whole minified source first, exit 7);
// - probing WebGPU on a machine without a Vulkan driver prints nothing (Dawn's "Couldn't load
//   Vulkan" goes into the report instead).

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const indexUrl = pathToFileURL(join(pkgDir, 'src', 'index.ts')).href;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `body` (an ES module importing `useBackend` etc. from this package) in a child node with tsx. */
function runChild(body: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'brickml-quiet-'));
  const file = join(dir, 'main.mts');
  writeFileSync(file, `import { useBackend, formatBackendReport } from ${JSON.stringify(indexUrl)};\n${body}\n`);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, BRICKML_BACKEND: '', ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', file], { cwd: pkgDir, env: childEnv, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Things of the wasm glue's source that must not reach the user's terminal. */
const GLUE = /WasmBackendModule|var Module=|ExitStatus|readyPromiseResolve/;

describe('an uncaught error after the wasm backend loaded', () => {
  it('prints just the error and its stack, and exits with code 1', async () => {
    const r = await runChild(`
const report = await useBackend('wasm');
console.log('engine', report.engine, process.listeners('uncaughtException').length, process.listeners('unhandledRejection').length);
throw new Error('boom after wasm loaded');
`);
    expect(r.stdout).toContain('engine wasm 0 0'); // wasm did load; its glue listeners are gone
    expect(r.stderr).toContain('Error: boom after wasm loaded');
    expect(r.stderr).not.toMatch(GLUE);
    expect(r.stderr.length, r.stderr.slice(0, 2000)).toBeLessThan(2000);
    expect(r.code).toBe(1);
  });

  it('an unhandled rejection too', async () => {
    const r = await runChild(`
const report = await useBackend('wasm');
console.log('engine', report.engine);
Promise.reject(new Error('rejected after wasm loaded'));
`);
    expect(r.stdout).toContain('engine wasm');
    expect(r.stderr).toContain('rejected after wasm loaded');
    expect(r.stderr).not.toMatch(GLUE);
    expect(r.stderr.length, r.stderr.slice(0, 2000)).toBeLessThan(2000);
    expect(r.code).toBe(1);
  });

  it("leaves the program's own listeners in place", async () => {
    const r = await runChild(`
process.on('uncaughtException', (e) => { console.log('own handler:', e.message); process.exitCode = 3; });
await useBackend('wasm');
console.log('listeners', process.listeners('uncaughtException').length);
throw new Error('handled by the program');
`);
    expect(r.stdout).toContain('listeners 1');
    expect(r.stdout).toContain('own handler: handled by the program');
    expect(r.stderr).not.toMatch(GLUE);
    expect(r.code).toBe(3);
  });
});

describe('probing webgpu', () => {
  const noVulkan = { VK_ICD_FILENAMES: undefined, VK_DRIVER_FILES: undefined, XDG_RUNTIME_DIR: undefined };

  it('prints nothing from Dawn; the report says why webgpu was not chosen', async () => {
    const r = await runChild(
      `
const report = await useBackend();
console.log(JSON.stringify(report.attempts.find((a) => a.engine === 'webgpu')));
`,
      noVulkan,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Vulkan|vkCreateInstance|Dawn|BackendVk|Warning/);
    const webgpu = JSON.parse(r.stdout.trim().split('\n').pop()!);
    if (webgpu.status !== 'chosen') {
      // No GPU here: the reason is the package's explanation plus what Dawn said, in one line.
      expect(webgpu.status).toBe('no-adapter');
      expect(webgpu.reason).toMatch(/^Dawn found no WebGPU adapter/);
      if (process.platform === 'linux') expect(webgpu.reason).toMatch(/\(Dawn: .*(Vulkan|vkCreateInstance|driver)/i);
      expect(webgpu.reason).not.toMatch(/\n|\bat operator\(\)/);
    }
  });

  it.runIf(process.platform === 'linux' && existsSync('/usr/lib/chromium/libvulkan.so.1'))(
    "with a Vulkan loader but no driver, the loader's messages go to the report too",
    async () => {
      const r = await runChild(
        `
const report = await useBackend(['webgpu', 'cpu']);
console.log(JSON.stringify(report.attempts.find((a) => a.engine === 'webgpu')));
`,
        { ...noVulkan, LD_LIBRARY_PATH: '/usr/lib/chromium', VK_ICD_FILENAMES: join(tmpdir(), 'no-such-icd.json') },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/Vulkan|vkCreateInstance|loader_get_json|Warning/);
      const webgpu = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(webgpu.status).toBe('no-adapter');
      expect(webgpu.reason).toMatch(/VK_ICD_FILENAMES=.*no-such-icd\.json/);
      expect(webgpu.reason).toMatch(/\(Dawn: .*(no-such-icd\.json|Found no drivers)/);
    },
  );

  it('condenses Dawn stderr to one line without stack lines', () => {
    const stderr =
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n" +
      '    at operator() (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)\n\n' +
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n";
    expect(condenseDawnMessages(stderr)).toBe("Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory");
    expect(condenseDawnMessages('')).toBe('');
    expect(condenseDawnMessages('x'.repeat(1000), 50)).toHaveLength(50);
  });
});
