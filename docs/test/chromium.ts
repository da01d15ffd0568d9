/** Debian's chromium (override with CHROMIUM_PATH), as the docs site's and the snippets' browser tests launch it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags that give headless chromium a WebGPU adapter (SwiftShader) on a machine without a GPU, with no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
