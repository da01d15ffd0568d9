/** Errors raised by BrickML. Each names the brick (and its path), the argument, what was expected and what came. */

/** A brick config failed validation (raised before any tensor is made). */
export class BrickConfigError extends Error {
  override name = 'BrickConfigError';
}

/** A tensor reached a brick boundary with the wrong shape. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** A checkpoint or safetensors file is malformed, truncated, hostile or does not match the model. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Training produced a non-finite loss or gradient. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

/** Formats a shape for messages: `[8, 256, 64]`. */
export function formatShape(shape: readonly (number | string | null)[]): string {
  return `[${shape.map((d) => (d === null ? '*' : String(d))).join(', ')}]`;
}
