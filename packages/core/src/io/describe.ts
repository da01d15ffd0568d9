/**
 * Describes a value for error messages ("got string \"0.001\"", "got a Linear module"), so an error
 * says what came, not only what was expected. Internal (not exported from the package).
 */

/**
 * A short description of `v`: its kind and, for primitives and arrays, its JSON (cut to 80
 * characters). Objects are named by their class (`a Linear`), modules as `a Linear module`.
 */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`;
  if (Array.isArray(v)) return `array ${preview(v)}`;
  if (typeof v === 'object') {
    const name = (v as object).constructor?.name;
    const isModule = typeof (v as { namedParameters?: unknown }).namedParameters === 'function';
    if (isModule) return `a ${name ?? 'Module'} module`;
    return name && name !== 'Object' ? `a ${name}` : `object ${preview(v)}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return `number ${String(v)}`;
  return `${typeof v} ${preview(v)}`;
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
