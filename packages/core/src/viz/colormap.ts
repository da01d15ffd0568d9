/**
 * Perceptual colour maps for heat maps (attention maps, losses over a grid): matplotlib's viridis,
 * magma and inferno (25 evenly spaced stops each, as Vega ships them, linearly interpolated) and gray.
 */

/** Names of the colour maps {@link colormapRgb} knows. */
export type ColormapName = 'viridis' | 'magma' | 'inferno' | 'gray';

const STOPS: Record<Exclude<ColormapName, 'gray'>, string> = {
  viridis: '440154470e61481a6c482575472f7d443a834144873d4e8a39568c35608d31688e2d708e2a788e27818e23888e21918d1f988b1fa08822a8842ab07f35b77943bf7154c56866cc5d7ad1518fd744a5db36bcdf27d2e21be9e51afde725',
  magma: '0000040404130b0924150e3720114b2c11603b0f704a107957157e651a80721f817f24828c29819a2e80a8327db6377ac43c75d1426fde4968e95462f1605df76f5cfa7f5efc8f65fe9f6dfeaf78febf84fece91fddea0fcedaffcfdbf',
  inferno: '0000040403130c0826170c3b240c4f330a5f420a68500d6c5d126e6b176e781c6d86216b932667a12b62ae305cbb3755c73e4cd24644dd513ae65c30ed6925f3771af8850ffb9506fca50afcb519fac62df6d645f2e661f3f484fcffa4',
};

const tables = new Map<ColormapName, Uint8Array>();

/** A 256-entry RGB lookup table (`[256, 3]` bytes) for a colour map. */
export function colormapTable(name: ColormapName): Uint8Array {
  let lut = tables.get(name);
  if (lut) return lut;
  lut = new Uint8Array(256 * 3);
  if (name === 'gray') {
    for (let i = 0; i < 256; i++) lut[3 * i] = lut[3 * i + 1] = lut[3 * i + 2] = i;
  } else {
    const hex = STOPS[name];
    if (hex === undefined) {
      throw new RangeError(`colormapTable: colormap must be one of viridis, magma, inferno, gray, got ${JSON.stringify(name)}`);
    }
    const m = hex.length / 6;
    const stop = (k: number, c: number) => parseInt(hex.slice(6 * k + 2 * c, 6 * k + 2 * c + 2), 16);
    for (let i = 0; i < 256; i++) {
      const pos = (i / 255) * (m - 1);
      const k = Math.min(m - 2, Math.floor(pos));
      const f = pos - k;
      for (let c = 0; c < 3; c++) lut[3 * i + c] = Math.round(stop(k, c) * (1 - f) + stop(k + 1, c) * f);
    }
  }
  tables.set(name, lut);
  return lut;
}

/** The colour of `t ∈ [0, 1]` (clipped) in a colour map, as `[r, g, b]` bytes. */
export function colormapRgb(name: ColormapName, t: number): [number, number, number] {
  const lut = colormapTable(name);
  const i = Math.round(255 * Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)));
  return [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2]];
}
