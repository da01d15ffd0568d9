import { existsSync } from 'node:fs';
import { DEFAULT_CHROMIUM_DIR } from '../src/index.js';

/** CI sets `CI`; there a backend that should be present and is not fails the run instead of skipping. */
export const inCI = !!process.env.CI && process.env.CI !== 'false';

/** Chromium's SwiftShader Vulkan driver (Debian's `chromium` package). */
export const hasSwiftShader = existsSync(`${DEFAULT_CHROMIUM_DIR}/vk_swiftshader_icd.json`);

export const CHROMIUM_MISSING =
  `Chromium's SwiftShader (${DEFAULT_CHROMIUM_DIR}/vk_swiftshader_icd.json) is missing, so WebGPU cannot run without a GPU: ` +
  'install it with `apt-get install chromium` (Debian/Ubuntu)';

/** Skip outside CI (with the message), run (and fail on the presence check) in CI. */
export function skipUnlessPresentOrCI(present: boolean, message: string): boolean {
  if (present) return false;
  if (inCI) return false;
  console.warn(`[skipped] ${message}`);
  return true;
}
