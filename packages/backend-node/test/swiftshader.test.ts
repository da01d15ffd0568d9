import { describe, expect, it } from 'vitest';
import { mkdtempSync, statSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasSystemVulkanLoader, swiftShaderEnv } from '../src/index.js';

// swiftShaderEnv only computes variables (and creates the runtime folder): it never loads Dawn.

describe('swiftShaderEnv', () => {
  it('returns null when there is no SwiftShader ICD in the Chromium folder', () => {
    expect(swiftShaderEnv({ chromiumDir: join(tmpdir(), 'no-chromium-here') })).toBeNull();
  });

  it('points VK_ICD_FILENAMES at the ICD, creates XDG_RUNTIME_DIR (0700), and adds LD_LIBRARY_PATH only without a system Vulkan loader', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-chromium-'));
    writeFileSync(join(dir, 'vk_swiftshader_icd.json'), '{}');
    const runtimeDir = join(dir, 'xdg', 'nested');
    const env = swiftShaderEnv({ chromiumDir: dir, runtimeDir })!;
    expect(env.VK_ICD_FILENAMES).toBe(join(dir, 'vk_swiftshader_icd.json'));
    expect(env.XDG_RUNTIME_DIR).toBe(runtimeDir);
    expect(statSync(runtimeDir).mode & 0o777).toBe(0o700);
    expect(env.LD_LIBRARY_PATH).toBeUndefined(); // no libvulkan.so.1 in the fake folder
    if (existsSync('/usr/lib/chromium/libvulkan.so.1')) {
      copyFileSync('/usr/lib/chromium/libvulkan.so.1', join(dir, 'libvulkan.so.1'));
      const again = swiftShaderEnv({ chromiumDir: dir, runtimeDir })!;
      if (hasSystemVulkanLoader()) expect(again.LD_LIBRARY_PATH).toBeUndefined();
      else expect(again.LD_LIBRARY_PATH!.split(':')[0]).toBe(dir);
    }
  });

  it('does not touch process.env', () => {
    const before = process.env.VK_ICD_FILENAMES;
    swiftShaderEnv();
    expect(process.env.VK_ICD_FILENAMES).toBe(before);
  });
});
