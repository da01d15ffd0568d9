import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import { SHAPE_NAMES, shapes, writePng } from '@brickml/core';
import {
  FONT_CELL, annotateRgba, blankRgba, cellCenters, classGridPng, drawText, readMapsPng, textHeight, textWidth, trajectoryPng,
  type ReadMapTrace, type Trajectory,
} from '../src/index.js';

/** Set BRICKML_VIZ_OUT=/some/dir to keep the pictures for a look. */
const keep = process.env.BRICKML_VIZ_OUT;
async function maybeWrite(name: string, png: Uint8Array): Promise<void> {
  if (keep) await writePng(`${keep}/${name}`, png);
}

/** Count of dark (ink) pixels in a rectangle of a decoded RGBA PNG. */
function ink(img: { width: number; data: ArrayLike<number> }, x0: number, y0: number, x1: number, y1: number): number {
  let k = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (img.data[(y * img.width + x) * 4] < 64) k++;
  return k;
}

describe('text and labelled pictures', () => {
  it('drawText inks whole font pixels inside the measured box; unknown characters draw as "?"', () => {
    const im = blankRgba(100, 30);
    drawText(im, 'Ab9%', 3, 4, { scale: 2 });
    expect(textWidth('Ab9%', 2)).toBe((4 * FONT_CELL.width - 1) * 2);
    expect(textHeight(2)).toBe(16);
    let inside = 0, outside = 0;
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 100; x++) {
        const dark = im.rgba[(y * 100 + x) * 4] === 0;
        const inBox = x >= 3 && x < 3 + textWidth('Ab9%', 2) && y >= 4 && y < 4 + textHeight(2);
        if (dark && inBox) inside++;
        if (dark && !inBox) outside++;
      }
    }
    expect(inside).toBeGreaterThan(40);
    expect(outside).toBe(0);
    const q = blankRgba(20, 20), u = blankRgba(20, 20);
    drawText(q, '?', 0, 0, { scale: 1 });
    drawText(u, '\u2603', 0, 0, { scale: 1 });
    expect(Array.from(u.rgba)).toEqual(Array.from(q.rgba));
  });

  it('annotateRgba adds a left band for row labels and a top band for the title', () => {
    const im = blankRgba(40, 40, [200, 0, 0]);
    const out = annotateRgba(im, { title: 'T', rowLabels: [{ text: 'circle', center: 20 }], margin: 4 });
    expect(out.width).toBe(40 + textWidth('circle', 2) + 8);
    expect(out.height).toBe(40 + textHeight(2) + 8);
    expect(cellCenters(3, 48, 2)).toEqual([26, 76, 126]);
  });

  it('classGridPng: 64 px cells by default, class names at the left of each row', async () => {
    const s = shapes({ size: 16, batchSize: 1, seed: 0 }).fixedSplit(12, 5);
    const images = { data: s.images, shape: s.shape };
    const plain = decode(await classGridPng(images, 4));
    expect([plain.width, plain.height]).toEqual([4 * 64 + 5 * 2, 3 * 64 + 4 * 2]);
    const png = await classGridPng(images, 4, { labels: SHAPE_NAMES });
    await maybeWrite('class-grid.png', png);
    const lab = decode(png);
    const left = lab.width - plain.width;
    expect(left).toBe(textWidth('triangle', 2) + 12);
    expect(lab.height).toBe(plain.height);
    // each row's label band holds ink, near the row's centre
    for (const c of cellCenters(3, 64, 2)) expect(ink(lab, 0, Math.round(c) - 8, left, Math.round(c) + 8)).toBeGreaterThan(20);
  });

  it('trajectory and read maps can be labelled; unlabelled layouts stay as they were', async () => {
    const n = 3, per = 3 * 8 * 8;
    const frame = (v: number) => new Float32Array(n * per).fill(v);
    const trajectory: Trajectory = { t: [1, 0.5, 0.25], x0: [frame(-1), frame(0), frame(1)], xt: [frame(1), frame(0.5), frame(-0.5)], shape: [n, 3, 8, 8] };
    const plain = decode(trajectoryPng(trajectory, { scale: 2 }));
    expect([plain.width, plain.height]).toEqual([3 * 16 + 4 * 2, 2 * 16 + 3 * 2]);
    const lab = trajectoryPng(trajectory, { scale: 8, labels: true, title: 'denoising' });
    await maybeWrite('trajectory.png', lab);
    expect(decode(lab).width).toBeGreaterThan(3 * 64 + 8);
    const maps = Array.from({ length: 2 }, (_, b) => Float32Array.from({ length: n * 16 }, (_, i) => ((i + 5 * b) % 16 === 0 ? 1 : 0)));
    const trace: ReadMapTrace = { t: [1, 0.5, 0.25], maps: [maps, maps, maps], shape: [n, 4, 4] };
    const imgs = { data: Float32Array.from({ length: n * per }, (_, i) => Math.sin(i)), shape: [n, 3, 8, 8] };
    const plainMaps = decode(await readMapsPng(trace, imgs, { indices: [0, 2], scale: 4 }));
    expect([plainMaps.width, plainMaps.height]).toEqual([3 * 32 + 4 * 2, 2 * 32 + 3 * 2]);
    const labMaps = await readMapsPng(trace, imgs, { indices: [0, 2], rowLabels: ['circle', 'triangle'], scale: 16 });
    await maybeWrite('read-maps.png', labMaps);
    const d = decode(labMaps);
    expect(d.width).toBeGreaterThanOrEqual(3 * 128 + 4 * 2 + textWidth('triangle', 2) + 12);
    expect(d.height).toBeGreaterThan(2 * 128 + 3 * 2 + 2 * textHeight(2));
    // video: maps [n, frames, gh, gw], one column per frame and block
    const vmaps = [Float32Array.from({ length: 2 * 3 * 16 }, (_, i) => (i % 7 === 0 ? 1 : 0))];
    const vtrace: ReadMapTrace = { t: [1], maps: [vmaps], shape: [2, 3, 4, 4] };
    const clips = { data: Float32Array.from({ length: 2 * 3 * 3 * 64 }, (_, i) => Math.cos(i / 7)), shape: [2, 3, 3, 8, 8] };
    const vpng = await readMapsPng(vtrace, clips, { indices: [0, 1], rowLabels: ['clip 1', 'clip 2'], scale: 8 });
    await maybeWrite('read-maps-video.png', vpng);
    expect(decode(vpng).width).toBeGreaterThanOrEqual(6 * 64 + 7 * 2);
  });
});
