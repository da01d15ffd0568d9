/**
 * Block-sparse matrix products for dropless mixture-of-experts (MegaBlocks' SDD and DSD).
 *
 * Token copies are sorted by expert and each expert's group is padded to a multiple of the block
 * size `b`, giving a row-sorted matrix `X` of `P` rows. The expert MLP's hidden activations then
 * form a block-sparse `[P, E·F]` matrix whose non-zero blocks are, for every block row of expert
 * `e`, the `F/b` blocks of columns `e·F … (e+1)·F − 1` — a block diagonal of expert groups. Storing
 * each block row's non-zero blocks side by side gives a dense `[P, F]` array (MegaBlocks' block data
 * in row-major block order), so both products reduce to one *grouped* product
 *
 * ```text
 * Y[r, :] = A[r, :] · W[expert(r)]        A [P, K], W [E, K, N] → Y [P, N]
 * ```
 *
 * - SDD (`X · W1` with sparse output): A = X [P, d], W = w1 [E, d, F] → the non-zero blocks [P, F];
 * - DSD (sparse `H · W2`, dense output): A = H [P, F], W = w2 [E, F, d] → [P, d];
 * - their gradients are the same product with `Wᵀ` (`transposeW`) and the per-expert weight
 *   gradient `dW[e] = A_eᵀ · dY_e` ({@link blockSparseWeightGrad}).
 *
 * Implementations behind {@link blockSparseMatmul}:
 * - `kernel`: a registered kernel for the current backend (a WGSL program for `webgpu`, see
 *   `webgpu/block-sparse-matmul.wgsl.ts`) that computes only the blocks of the topology and skips
 *   unused trailing block rows;
 * - `grouped`: pure tfjs, one 2-D product per expert over its contiguous rows (fast on wasm and
 *   cpu, where only plain 2-D products reach the fast kernels); needs the group sizes on the host;
 * - `batched`: pure tfjs with no host read: every block row gathers its expert's weight by a one-hot
 *   product and the block rows run as one batched product `[nb, b, K] · [nb, K, N]`.
 * All three have gradients and run on every backend that has the ops they use.
 */
import * as tf from '@tensorflow/tfjs-core';
import { matmul } from '@brickml/core';
import { withoutGradient } from './no-grad.js';
import { oneHotFloat } from './one-hot.js';
import { contiguousRows } from './rows.js';

/** Name of the grouped (SDD / DSD) product kernel: inputs `{x, w, blockExpert, expertOffsets}`. */
export const BLOCK_SPARSE_MATMUL_KERNEL = 'BrickBlockSparseMatMul';
/** Name of the per-expert weight-gradient kernel: inputs `{a, b, expertOffsets}`. */
export const BLOCK_SPARSE_WGRAD_KERNEL = 'BrickBlockSparseWeightGrad';

/** Attributes of {@link BLOCK_SPARSE_MATMUL_KERNEL}. */
export interface BlockSparseMatmulAttrs {
  blockSize: number;
  /** W is stored `[E, N, K]` and used transposed. */
  transposeW: boolean;
  numExperts: number;
}

/** Attributes of {@link BLOCK_SPARSE_WGRAD_KERNEL}. */
export interface BlockSparseWeightGradAttrs {
  blockSize: number;
  numExperts: number;
}

/** Whether `n` is a positive power of two. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Rounds `n` up to a multiple of `b`. */
export function roundUp(n: number, b: number): number {
  return Math.ceil(n / b) * b;
}

/**
 * Upper bound on the padded rows of `copies` token copies over `experts` groups, each padded to a
 * multiple of `blockSize`: `Σ_e roundUp(c_e, b) ≤ copies + E·(b − 1)`, and the sum is a multiple of
 * `b`. Used as the static row count when the group sizes stay on the device; the unused trailing
 * rows (fewer than `E` blocks' worth together with the padding) are skipped by the kernel.
 */
export function maxPaddedRows(copies: number, experts: number, blockSize: number): number {
  return Math.floor((copies + experts * (blockSize - 1)) / blockSize) * blockSize;
}

/**
 * Host-side block topology of the dropless expert MLP, in MegaBlocks' hybrid blocked CSR-COO form
 * (`stk.Matrix` metadata: row/column block indices, row offsets, and the transpose indices the
 * backward pass uses). The sparse matrix is `[numRows, E·F]` with `b × b` blocks.
 */
export interface BlockTopology {
  blockSize: number;
  numExperts: number;
  /** Hidden width F of one expert (columns of one expert's blocks). */
  ffnHidden: number;
  /** Token copies per expert, `[E]`. */
  tokensPerExpert: Int32Array;
  /** Copies per expert rounded up to a multiple of the block size, `[E]`. */
  paddedTokensPerExpert: Int32Array;
  /** First padded row of each expert's group, `[E]` (exclusive cumulative sum). */
  paddedStarts: Int32Array;
  /** Inclusive cumulative sum of the padded counts (MegaBlocks' `padded_bins`), `[E]`. */
  paddedBins: Int32Array;
  /** Rows of the sorted, padded matrix (≥ the used rows; extra trailing rows belong to no expert). */
  numRows: number;
  /** Rows that belong to an expert group: `paddedBins[E − 1]`. */
  usedRows: number;
  /** Block rows, `numRows / blockSize`. */
  numBlockRows: number;
  /** Non-zero blocks per block row, `F / blockSize`. */
  blocksPerRow: number;
  /** Expert of each block row, −1 for unused trailing ones, `[numBlockRows]`. */
  blockExpert: Int32Array;
  /** First block row of each expert and the end, `[E + 1]`. */
  expertBlockOffsets: Int32Array;
  /** Block row of each non-zero block, in row-major block order, `[nnz]`. */
  rowIndices: Int32Array;
  /** Block column of each non-zero block, `[nnz]`. */
  columnIndices: Int32Array;
  /** Start of each used block row's blocks, `[usedBlockRows + 1]`. */
  offsets: Int32Array;
  /** Block rows of the non-zero blocks in column-major (transposed) order, `[nnz]`. */
  rowIndicesT: Int32Array;
  /** Start of each block column's blocks in the transposed order, `[E·F/b + 1]`. */
  offsetsT: Int32Array;
  /** Position in row-major block order of each block in transposed order, `[nnz]`. */
  blockOffsetsT: Int32Array;
}

/**
 * Builds the block topology on the host from the group sizes (MegaBlocks `dmoe.py` `topology` and
 * `sparse_transpose`, and `csrc/indices.h`).
 *
 * @param tokensPerExpert token copies routed to each expert, `[E]`
 * @param blockSize block edge `b` (a power of two)
 * @param ffnHidden hidden width F of one expert, a multiple of `b` (default `b`: one block column)
 * @param numRows rows of the padded matrix (default: the used rows); larger leaves trailing rows unused
 */
export function blockTopology(
  tokensPerExpert: ArrayLike<number>,
  blockSize: number,
  ffnHidden = blockSize,
  numRows?: number,
): BlockTopology {
  const fn = 'blockTopology';
  if (!isPowerOfTwo(blockSize))
    throw new RangeError(`${fn}: blockSize must be a power of two, got ${blockSize}`);
  if (!Number.isInteger(ffnHidden) || ffnHidden <= 0 || ffnHidden % blockSize !== 0) {
    throw new RangeError(
      `${fn}: ffnHidden must be a positive multiple of blockSize ${blockSize}, got ${ffnHidden}`,
    );
  }
  const E = tokensPerExpert.length;
  if (E === 0) throw new RangeError(`${fn}: tokensPerExpert must list at least one expert, got []`);
  const tokens = Int32Array.from(tokensPerExpert, (c, e) => {
    if (!Number.isInteger(c) || c < 0)
      throw new RangeError(`${fn}: tokensPerExpert[${e}] must be an integer ≥ 0, got ${c}`);
    return c;
  });
  const padded = tokens.map((c) => roundUp(c, blockSize));
  const starts = new Int32Array(E);
  const bins = new Int32Array(E);
  let acc = 0;
  for (let e = 0; e < E; e++) {
    starts[e] = acc;
    acc += padded[e];
    bins[e] = acc;
  }
  const usedRows = acc;
  const rows = numRows ?? usedRows;
  if (!Number.isInteger(rows) || rows < usedRows || rows % blockSize !== 0) {
    throw new RangeError(
      `${fn}: numRows must be a multiple of ${blockSize} and ≥ the ${usedRows} used rows, got ${numRows}`,
    );
  }
  const nb = rows / blockSize;
  const usedBlocks = usedRows / blockSize;
  const bpr = ffnHidden / blockSize;
  const blockExpert = new Int32Array(nb).fill(-1);
  const expertBlockOffsets = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) {
    expertBlockOffsets[e] = starts[e] / blockSize;
    for (let r = starts[e] / blockSize; r < bins[e] / blockSize; r++) blockExpert[r] = e;
  }
  expertBlockOffsets[E] = usedBlocks;
  const nnz = usedBlocks * bpr;
  const rowIndices = new Int32Array(nnz);
  const columnIndices = new Int32Array(nnz);
  const offsets = new Int32Array(usedBlocks + 1);
  for (let r = 0; r < usedBlocks; r++) {
    offsets[r] = r * bpr;
    for (let j = 0; j < bpr; j++) {
      rowIndices[r * bpr + j] = r;
      columnIndices[r * bpr + j] = blockExpert[r] * bpr + j;
    }
  }
  offsets[usedBlocks] = nnz;
  // Transpose: a stable sort of the blocks by column (within a column, ascending block row).
  const numCols = E * bpr;
  const offsetsT = new Int32Array(numCols + 1);
  const rowIndicesT = new Int32Array(nnz);
  const blockOffsetsT = new Int32Array(nnz);
  let k = 0;
  for (let c = 0; c < numCols; c++) {
    offsetsT[c] = k;
    const e = Math.floor(c / bpr);
    for (let r = expertBlockOffsets[e]; r < expertBlockOffsets[e] + padded[e] / blockSize; r++) {
      rowIndicesT[k] = r;
      blockOffsetsT[k] = r * bpr + (c % bpr);
      k++;
    }
  }
  offsetsT[numCols] = k;
  return {
    blockSize,
    numExperts: E,
    ffnHidden,
    tokensPerExpert: tokens,
    paddedTokensPerExpert: padded,
    paddedStarts: starts,
    paddedBins: bins,
    numRows: rows,
    usedRows,
    numBlockRows: nb,
    blocksPerRow: bpr,
    blockExpert,
    expertBlockOffsets,
    rowIndices,
    columnIndices,
    offsets,
    rowIndicesT,
    offsetsT,
    blockOffsetsT,
  };
}

/** Contiguous expert row groups on the host: expert e owns rows `[starts[e], starts[e] + rows[e])`. */
export interface HostGroups {
  starts: number[];
  rows: number[];
}

/**
 * The topology the block-sparse product runs on: the expert of every block row as device tensors
 * (what a kernel reads), and, when known, the groups on the host (what the `grouped` reference
 * needs). Expert `e` owns the contiguous rows `[offsets[e]·b, offsets[e+1]·b)`.
 */
export interface SparseTopology {
  blockSize: number;
  numExperts: number;
  /** Rows P of the sorted, padded matrix (static: it sets tensor shapes). */
  numRows: number;
  /** Expert of each block row, −1 for unused trailing block rows: int32 `[P / b]`. */
  blockExpert: tf.Tensor1D;
  /** First block row of each expert and the end: int32 `[E + 1]`. */
  expertOffsets: tf.Tensor1D;
  /** Rows that belong to an expert group (Σ padded counts): int32 scalar. */
  usedRows: tf.Scalar;
  /** The groups on the host, when known: first row and row count of each expert. */
  host?: HostGroups;
}

/**
 * Device topology from per-expert copy counts (no host read): block rows of the groups padded to
 * `blockSize`, in expert order, then unused trailing block rows up to `numRows`.
 *
 * @param counts token copies per expert `[E]` (float or int; a constant of the tape)
 * @param numRows static row count (a multiple of `blockSize`, ≥ the padded total)
 * @param host the same groups on the host, if known (enables the `grouped` implementation)
 */
export function topologyFromCounts(
  counts: tf.Tensor1D,
  blockSize: number,
  numRows: number,
  host?: HostGroups,
): SparseTopology {
  if (!isPowerOfTwo(blockSize))
    throw new RangeError(`topologyFromCounts: blockSize must be a power of two, got ${blockSize}`);
  if (numRows % blockSize !== 0 || numRows <= 0) {
    throw new RangeError(
      `topologyFromCounts: numRows must be a positive multiple of ${blockSize}, got ${numRows}`,
    );
  }
  return tf.tidy(
    () => topologyInScope(counts, blockSize, numRows, host) as unknown as tf.TensorContainer,
  ) as unknown as SparseTopology;
}

function topologyInScope(
  counts: tf.Tensor1D,
  blockSize: number,
  numRows: number,
  host?: HostGroups,
): SparseTopology {
  const E = counts.shape[0];
  const nb = numRows / blockSize;
  const ends = withoutGradient(() =>
    tf.cumsum(tf.ceil(tf.div(tf.cast(counts, 'float32'), blockSize))),
  ); // [E] block-row ends
  const expertOffsets = withoutGradient(() =>
    tf.cast(tf.concat([tf.zeros([1]), ends]), 'int32'),
  ) as tf.Tensor1D; // [E + 1]
  const blockExpert = withoutGradient(() => {
    const r = tf.range(0, nb, 1, 'float32'); // [nb]
    // expert of block row r = number of groups that end at or before r (E when past the last).
    const e = tf.sum(
      tf.cast(tf.lessEqual(tf.reshape(ends, [1, E]), tf.reshape(r, [nb, 1])), 'int32'),
      1,
    ); // [nb]
    return tf.where(tf.equal(e, E), tf.fill([nb], -1, 'int32'), e);
  }) as tf.Tensor1D;
  const usedRows = withoutGradient(() =>
    tf.reshape(tf.cast(tf.mul(tf.slice(ends, [E - 1], [1]), blockSize), 'int32'), []),
  ) as tf.Scalar;
  return { blockSize, numExperts: E, numRows, blockExpert, expertOffsets, usedRows, host };
}

/** Device topology of a host {@link BlockTopology} (uploads its block experts and offsets). */
export function topologyFromHost(t: BlockTopology): SparseTopology {
  return {
    blockSize: t.blockSize,
    numExperts: t.numExperts,
    numRows: t.numRows,
    blockExpert: tf.tensor1d(t.blockExpert, 'int32'),
    expertOffsets: tf.tensor1d(t.expertBlockOffsets, 'int32'),
    usedRows: tf.scalar(t.usedRows, 'int32'),
    host: { starts: Array.from(t.paddedStarts), rows: Array.from(t.paddedTokensPerExpert) },
  };
}

/** How {@link blockSparseMatmul} computes: see the module comment. */
export type BlockSparseImpl = 'auto' | 'kernel' | 'grouped' | 'batched';

/** Whether a block-sparse kernel is registered for `backend` (default: the current one). */
export function hasBlockSparseKernel(backend: string = tf.getBackend()): boolean {
  return (
    tf.getKernel(BLOCK_SPARSE_MATMUL_KERNEL, backend) !== undefined &&
    tf.getKernel(BLOCK_SPARSE_WGRAD_KERNEL, backend) !== undefined
  );
}

/**
 * The implementation `impl` resolves to for `topo` on the current backend: `auto` picks the kernel
 * when one is registered, else `grouped` when the groups are on the host, else `batched`.
 * Throws when an explicit choice cannot run.
 */
export function resolveBlockSparseImpl(
  impl: BlockSparseImpl,
  topo: Pick<SparseTopology, 'host'>,
): Exclude<BlockSparseImpl, 'auto'> {
  const backend = tf.getBackend();
  if (impl === 'auto')
    return hasBlockSparseKernel(backend) ? 'kernel' : topo.host ? 'grouped' : 'batched';
  if (impl === 'kernel' && !hasBlockSparseKernel(backend)) {
    throw new Error(
      `blockSparseMatmul: impl 'kernel' needs a block-sparse kernel for backend '${backend}', and none is registered ` +
        `(kernels exist for: webgpu); use 'auto', 'grouped' or 'batched'`,
    );
  }
  if (impl === 'grouped' && !topo.host) {
    throw new Error(
      `blockSparseMatmul: impl 'grouped' needs the expert groups on the host (topology.host), got a device-only topology`,
    );
  }
  return impl;
}

/** Options of {@link blockSparseMatmul}. */
export interface BlockSparseMatmulOptions {
  /** W is stored `[E, N, K]` and used transposed (default false: `[E, K, N]`). */
  transposeW?: boolean;
  /** Implementation (default `auto`). */
  impl?: BlockSparseImpl;
}

/**
 * Block-sparse grouped product `Y[r] = A[r] · W[expert(r)]` (or `· W[expert(r)]ᵀ`), zero for rows
 * of no expert, with gradients for `a` and `w`.
 *
 * @param a [P, K] rows sorted and padded by expert (P = topology.numRows)
 * @param w [E, K, N] stacked expert weights (`[E, N, K]` with `transposeW`)
 * @returns [P, N]
 */
export function blockSparseMatmul(
  a: tf.Tensor,
  w: tf.Tensor,
  topo: SparseTopology,
  options: BlockSparseMatmulOptions = {},
): tf.Tensor2D {
  const transposeW = options.transposeW ?? false;
  const fn = 'blockSparseMatmul';
  if (a.rank !== 2 || a.shape[0] !== topo.numRows) {
    throw new Error(`${fn}: a must be [P=${topo.numRows}, K], got [${a.shape}]`);
  }
  const K = a.shape[1] as number;
  if (w.rank !== 3 || w.shape[0] !== topo.numExperts || w.shape[transposeW ? 2 : 1] !== K) {
    throw new Error(
      `${fn}: w must be ${transposeW ? `[E=${topo.numExperts}, N, K=${K}]` : `[E=${topo.numExperts}, K=${K}, N]`}, got [${w.shape}]`,
    );
  }
  const impl = resolveBlockSparseImpl(options.impl ?? 'auto', topo);
  switch (impl) {
    case 'kernel': {
      const attrs: BlockSparseMatmulAttrs = {
        blockSize: topo.blockSize,
        transposeW,
        numExperts: topo.numExperts,
      };
      return tf
        .engine()
        .runKernel(
          BLOCK_SPARSE_MATMUL_KERNEL,
          { x: a, w, blockExpert: topo.blockExpert, expertOffsets: topo.expertOffsets },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor2D;
    }
    case 'grouped':
      return groupedReference(a, w, topo.host!, topo.numRows, transposeW);
    case 'batched':
      return batchedReference(a, w, topo, transposeW);
  }
}

/** SDD: the non-zero blocks `[P, F]` of `X · W1` over the block-diagonal topology (X [P, d], w1 [E, d, F]). */
export function sdd(
  x: tf.Tensor,
  w1: tf.Tensor,
  topo: SparseTopology,
  options: BlockSparseMatmulOptions = {},
): tf.Tensor2D {
  return blockSparseMatmul(x, w1, topo, options);
}

/** DSD: dense `[P, d]` product of the block-sparse H (its blocks as [P, F]) with w2 [E, F, d]. */
export function dsd(
  h: tf.Tensor,
  w2: tf.Tensor,
  topo: SparseTopology,
  options: BlockSparseMatmulOptions = {},
): tf.Tensor2D {
  return blockSparseMatmul(h, w2, topo, options);
}

/**
 * Per-expert weight gradient `G[e] = A_eᵀ · B_e` summed over the rows of expert `e` (no gradient of
 * its own). Runs the kernel when one is registered, else the `batched` reference.
 *
 * @param a [P, Ka]
 * @param b [P, Nb]
 * @returns [E, Ka, Nb]
 */
export function blockSparseWeightGrad(
  a: tf.Tensor,
  b: tf.Tensor,
  topo: SparseTopology,
  options: { impl?: BlockSparseImpl } = {},
): tf.Tensor3D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[0] !== topo.numRows || b.shape[0] !== topo.numRows) {
    throw new Error(
      `blockSparseWeightGrad: a and b must be [P=${topo.numRows}, *], got [${a.shape}] and [${b.shape}]`,
    );
  }
  const impl = resolveBlockSparseImpl(options.impl ?? 'auto', topo);
  if (impl === 'kernel') {
    const attrs: BlockSparseWeightGradAttrs = {
      blockSize: topo.blockSize,
      numExperts: topo.numExperts,
    };
    return tf
      .engine()
      .runKernel(
        BLOCK_SPARSE_WGRAD_KERNEL,
        { a, b, expertOffsets: topo.expertOffsets },
        attrs as unknown as tf.NamedAttrMap,
      ) as tf.Tensor3D;
  }
  return tf.tidy(() => {
    const E = topo.numExperts;
    const bs = topo.blockSize;
    const nb = topo.numRows / bs;
    const [Ka, Nb] = [a.shape[1] as number, b.shape[1] as number];
    const g = tf.matMul(
      tf.transpose(tf.reshape(a, [nb, bs, Ka]), [0, 2, 1]),
      tf.reshape(b, [nb, bs, Nb]),
    ); // [nb, Ka, Nb]
    const sel = oneHotFloat(topo.blockExpert, E); // [nb, E]; −1 → zeros
    return tf.reshape(tf.matMul(tf.transpose(sel), tf.reshape(g, [nb, Ka * Nb])), [
      E,
      Ka,
      Nb,
    ]) as tf.Tensor3D;
  });
}

/** Expert `e`'s weight as a [K, N] matrix for `A · W_e`, transposes materialised (wasm's fast path). */
function expertMatrix(w: tf.Tensor, e: number, transposeW: boolean): tf.Tensor2D {
  const [, r, c] = w.shape as [number, number, number];
  const we = tf.reshape(contiguousRows(w, e, 1), [r, c]);
  return (transposeW ? tf.transpose(we) : we) as tf.Tensor2D;
}

/**
 * Grouped product over host-known contiguous groups, `Y[r] = A[r] · W[e]` for the rows of group e
 * and zero elsewhere — the `grouped` reference, usable without a block topology (the capacity
 * layer's equal groups of C rows).
 *
 * @param a [P, K]
 * @param w [E, K, N] (`[E, N, K]` with `transposeW`)
 * @returns [P, N]
 */
export function groupedMatmul(
  a: tf.Tensor,
  w: tf.Tensor,
  groups: HostGroups,
  options: { transposeW?: boolean } = {},
): tf.Tensor2D {
  const transposeW = options.transposeW ?? false;
  if (
    a.rank !== 2 ||
    w.rank !== 3 ||
    w.shape[transposeW ? 2 : 1] !== a.shape[1] ||
    groups.rows.length !== w.shape[0]
  ) {
    throw new Error(
      `groupedMatmul: expected a [P, K], w ${transposeW ? '[E, N, K]' : '[E, K, N]'} and E groups, got a [${a.shape}], w [${w.shape}], ${groups.rows.length} groups`,
    );
  }
  return groupedReference(a, w, groups, a.shape[0], transposeW);
}

/**
 * `grouped` reference: one plain 2-D product per expert over its contiguous rows, with a gradient
 * of its own (`dA_e = dY_e · W_eᵀ`, `dW_e = A_eᵀ · dY_e`, zeros for experts without rows), every
 * transpose materialised so each product stays on wasm's fast path.
 */
function groupedReference(
  a: tf.Tensor,
  w: tf.Tensor,
  groups: HostGroups,
  numRows: number,
  transposeW: boolean,
): tf.Tensor2D {
  const E = w.shape[0];
  const K = a.shape[1] as number;
  const N = w.shape[transposeW ? 1 : 2] as number;
  const { starts, rows } = groups;
  // Row segments in order: [start, count, expert or −1 for a gap of zeros].
  const segments: Array<[number, number, number]> = [];
  let cursor = 0;
  for (let e = 0; e < E; e++) {
    if (rows[e] === 0) continue;
    if (starts[e] < cursor)
      throw new Error(
        `blockSparseMatmul: expert groups must be in order and disjoint, got starts ${starts}`,
      );
    if (starts[e] > cursor) segments.push([cursor, starts[e] - cursor, -1]);
    segments.push([starts[e], rows[e], e]);
    cursor = starts[e] + rows[e];
  }
  if (cursor > numRows)
    throw new Error(`blockSparseMatmul: expert groups end at row ${cursor}, beyond P = ${numRows}`);
  if (cursor < numRows) segments.push([cursor, numRows - cursor, -1]);
  const join = (parts: tf.Tensor[]) => (parts.length === 1 ? parts[0] : tf.concat(parts, 0));

  const op = tf.customGrad(((A: tf.Tensor, W: tf.Tensor, save: tf.GradSaveFunc) => {
    save([A, W]);
    const parts = segments.map(([s, n, e]) =>
      e < 0 ? tf.zeros([n, N]) : tf.matMul(contiguousRows(A, s, n), expertMatrix(W, e, transposeW)),
    );
    return {
      value: join(parts), // [P, N]
      gradFunc: (dy: tf.Tensor, [sA, sW]: tf.Tensor[]) => {
        const dA = join(
          segments.map(([s, n, e]) =>
            e < 0
              ? tf.zeros([n, K])
              : tf.matMul(contiguousRows(dy, s, n), tf.transpose(expertMatrix(sW, e, transposeW))),
          ),
        ); // [P, K]
        const dWs: tf.Tensor[] = [];
        for (let e = 0; e < E; e++) {
          if (rows[e] === 0) {
            dWs.push(tf.zeros(sW.shape.slice(1)));
            continue;
          }
          const ae = contiguousRows(sA, starts[e], rows[e]); // [n, K]
          const de = contiguousRows(dy, starts[e], rows[e]); // [n, N]
          dWs.push(transposeW ? tf.matMul(tf.transpose(de), ae) : tf.matMul(tf.transpose(ae), de)); // [N, K] | [K, N]
        }
        return [dA, tf.stack(dWs)];
      },
    };
  }) as any) as (A: tf.Tensor, W: tf.Tensor) => tf.Tensor;
  return op(a, w) as tf.Tensor2D;
}

/**
 * `batched` reference: every block row gathers its expert's weight with a one-hot product (so the
 * weight gradient is a product too, with no scatter), and the block rows run as one batched
 * product. Trailing block rows (expert −1) get a zero weight and a zero output.
 */
function batchedReference(
  a: tf.Tensor,
  w: tf.Tensor,
  topo: SparseTopology,
  transposeW: boolean,
): tf.Tensor2D {
  return tf.tidy(() => {
    const E = topo.numExperts;
    const bs = topo.blockSize;
    const nb = topo.numRows / bs;
    const K = a.shape[1] as number;
    const [, r, c] = w.shape as [number, number, number];
    const sel = withoutGradient(() => oneHotFloat(topo.blockExpert, E)); // [nb, E]
    // A fresh buffer as the right operand, not a reshape of w: tfjs-wasm caches its XNNPACK matmul
    // operator by the right operand's data id alone, so one buffer used as the right operand in
    // two shapes (this reshape, and e.g. the dense layer's [E·F, d] view) returns stale results.
    const wFlat = tf.add(tf.reshape(w, [E, r * c]), tf.scalar(0));
    const wb = tf.reshape(matmul(sel, wFlat), [nb, r, c]); // per-block-row weights
    const y = matmul(tf.reshape(a, [nb, bs, K]), wb, false, transposeW); // [nb, b, N]
    return tf.reshape(y, [topo.numRows, transposeW ? r : c]) as tf.Tensor2D;
  });
}
