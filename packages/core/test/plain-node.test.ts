import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));

describe('plain node', () => {
  it('the built package trains without tsx or vitest (gradients and chained ops registered)', () => {
    expect(existsSync(`${pkg}/dist/index.js`), 'run `npm run build -w @brickml/core` first (npm test does)').toBe(true);
    const r = spawnSync(process.execPath, ['test/fixtures/plain-node-train.mjs'], { cwd: pkg, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.chained).toEqual([2]);
    expect(out.last).toBeLessThan(out.first / 10);
  });
});
