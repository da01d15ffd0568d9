/**
 * Draws an example's figures into the page: images on <canvas> (PNG bytes decoded by the
 * browser, RGBA drawn with putImageData, small pictures scaled up without smoothing) and
 * Vega-Lite plots with vega-embed (canvas renderer). A figure with a name already shown is
 * replaced in place, so an example can redraw its loss curve or samples as it trains.
 */
import type { RgbaImage, VegaLiteSpec } from '@brickml/core';

interface Figure {
  root: HTMLElement;
  body: HTMLElement;
  caption: HTMLElement;
  finalize?: () => void;
}

export class FigureBoard {
  private readonly figures = new Map<string, Figure>();

  constructor(private readonly container: HTMLElement) {}

  /** Removes every figure (and frees vega views). */
  clear(): void {
    for (const f of this.figures.values()) f.finalize?.();
    this.figures.clear();
    this.container.replaceChildren();
  }

  private figure(name: string, kind: 'image' | 'plot', caption?: string): Figure {
    let f = this.figures.get(name);
    if (!f) {
      const root = document.createElement('figure');
      root.className = `le-figure le-${kind}`;
      root.dataset.figure = name;
      const body = document.createElement('div');
      body.className = 'le-figure-body';
      const cap = document.createElement('figcaption');
      root.append(body, cap);
      this.container.append(root);
      f = { root, body, caption: cap };
      this.figures.set(name, f);
    }
    f.caption.textContent = caption ?? name;
    return f;
  }

  /** Shows PNG bytes or an RGBA picture under `name`. */
  async image(name: string, image: Uint8Array | RgbaImage, options: { caption?: string; displaySize?: number } = {}): Promise<void> {
    const f = this.figure(name, 'image', options.caption);
    const canvas = document.createElement('canvas');
    const g = canvas.getContext('2d');
    if (!g) throw new Error(`LiveExample: no 2d canvas context for figure '${name}'`);
    let width: number;
    let height: number;
    if (image instanceof Uint8Array) {
      const bitmap = await createImageBitmap(new Blob([image as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
      width = canvas.width = bitmap.width;
      height = canvas.height = bitmap.height;
      g.drawImage(bitmap, 0, 0);
      bitmap.close();
    } else {
      width = canvas.width = image.width;
      height = canvas.height = image.height;
      const data = new ImageData(new Uint8ClampedArray(image.rgba.buffer as ArrayBuffer, image.rgba.byteOffset, image.rgba.byteLength), width, height);
      g.putImageData(data, 0, 0);
    }
    const longest = Math.max(width, height);
    const target = options.displaySize ?? Math.max(longest, Math.min(320, longest * 4));
    canvas.style.width = `${Math.round((width / longest) * target)}px`;
    canvas.style.height = `${Math.round((height / longest) * target)}px`;
    if (target > longest) canvas.style.imageRendering = 'pixelated';
    f.body.replaceChildren(canvas);
  }

  /** Shows a Vega-Lite spec under `name` (vega-embed, canvas renderer). */
  async plot(name: string, spec: VegaLiteSpec, options: { caption?: string } = {}): Promise<void> {
    const f = this.figure(name, 'plot', options.caption ?? '');
    const { default: embed } = await import('vega-embed');
    const host = document.createElement('div');
    const result = await embed(host, spec as Parameters<typeof embed>[1], { renderer: 'canvas', actions: false });
    f.finalize?.();
    f.finalize = () => result.finalize();
    f.body.replaceChildren(host);
  }
}
