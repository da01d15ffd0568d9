// Backend set-up shared by the scripts and examples of @brickml/diffusion (Node only).
import * as tf from '@tensorflow/tfjs-core';
import { formatBackendReport, useBackend } from '@brickml/backend-node';

/**
 * Activates the best (or the requested) Node backend and returns a one-line description.
 * The default order is the backend package's own, which skips software WebGPU.
 */
export async function setupBackend(preference?: string): Promise<{ engine: string; line: string }> {
  const report = await useBackend(preference);
  return { engine: tf.getBackend(), line: formatBackendReport(report) };
}
