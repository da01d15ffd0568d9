/** The error every file reader and parser of `data/files` raises for a corrupt, truncated or unsupported file. */

/**
 * A data file (npy, npz, IDX, PNG, JPEG, an image folder) is corrupt, truncated or in a form the
 * reader does not support. The message names the reader, the file, what was expected and what was
 * found; `file` holds the file's name (or `'<bytes>'` for bytes without a name).
 */
export class DataFileError extends Error {
  override name = 'DataFileError';
  constructor(message: string, readonly file: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Throws a {@link DataFileError} `fn: 'file': what`. */
export function fileError(fn: string, file: string, what: string, cause?: unknown): never {
  throw new DataFileError(`${fn}: '${file}' ${what}`, file, cause === undefined ? undefined : { cause });
}

/** The message of a caught value. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
