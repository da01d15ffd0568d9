import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it, vi } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

it('the README quick start runs and prints J and F', async () => {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has a ```ts quick start').toBeTruthy();
  const dir = join(pkg, 'node_modules', '.cache', 'readme-test');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'quickstart.ts');
  writeFileSync(file, block!);
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { lines.push(a.join(' ')); });
  try {
    await import(pathToFileURL(file).href);
  } finally {
    spy.mockRestore();
  }
  const m = /^J (\d\.\d+), F (\d\.\d+)$/.exec(lines.at(-1) ?? '');
  expect(m, lines.join('\n')).toBeTruthy();
  expect(Number(m![1])).toBeGreaterThan(0.3);
});
