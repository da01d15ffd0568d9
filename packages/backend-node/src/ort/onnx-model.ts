/**
 * Tiny ONNX models built in code: the protobuf bytes of a one-op graph (a matrix product), so the
 * ORT engine needs no model files. Only the handful of ONNX fields these graphs use are encoded
 * (field numbers from onnx.proto: ModelProto, GraphProto, NodeProto, AttributeProto,
 * ValueInfoProto, TypeProto, TensorShapeProto).
 */

/** Protobuf writer for the few wire types ONNX needs (varint and length-delimited). */
class Writer {
  private readonly bytes: number[] = [];

  private varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`onnx-model: cannot encode ${v} as a varint`);
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  /** An integer field (int32/int64/enum, non-negative). */
  int(field: number, v: number): this {
    this.varint((field << 3) | 0);
    this.varint(v);
    return this;
  }

  /** A length-delimited field: a string or an embedded message. */
  bytesField(field: number, payload: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(payload.length);
    for (const b of payload) this.bytes.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: Writer) => void): this {
    const w = new Writer();
    build(w);
    return this.bytesField(field, w.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** ONNX TensorProto.DataType FLOAT. */
const FLOAT = 1;
/** ONNX AttributeProto.AttributeType INT and INTS. */
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attr = { name: string; int: number } | { name: string; ints: number[] };

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Attr[];
}

function valueInfo(w: Writer, name: string, shape: readonly number[]): void {
  w.string(1, name); // ValueInfoProto.name
  w.message(2, (type) =>
    // TypeProto.tensor_type
    type.message(1, (tt) => {
      tt.int(1, FLOAT); // elem_type
      tt.message(2, (s) => {
        for (const d of shape) s.message(1, (dim) => dim.int(1, d)); // dim { dim_value }
      });
    }),
  );
}

function node(w: Writer, n: Node, i: number): void {
  for (const x of n.inputs) w.string(1, x);
  for (const y of n.outputs) w.string(2, y);
  w.string(3, `${n.op.toLowerCase()}_${i}`);
  w.string(4, n.op);
  for (const a of n.attrs ?? []) {
    w.message(5, (aw) => {
      aw.string(1, a.name);
      if ('int' in a) {
        aw.int(3, a.int); // i
        aw.int(20, ATTR_INT);
      } else {
        for (const v of a.ints) aw.int(8, v); // ints (unpacked)
        aw.int(20, ATTR_INTS);
      }
    });
  }
}

/** A graph's bytes: inputs and outputs with static float32 shapes, opset 17 unless given. */
function model(
  name: string,
  inputs: ReadonlyArray<[string, readonly number[]]>,
  outputs: ReadonlyArray<[string, readonly number[]]>,
  nodes: Node[],
  opset = 17,
): Uint8Array {
  const w = new Writer();
  w.int(1, 8); // ir_version 8
  w.string(2, 'brickml'); // producer_name
  w.message(8, (o) => o.string(1, '').int(2, opset)); // opset_import { domain "", version }
  w.message(7, (g) => {
    nodes.forEach((n, i) => g.message(1, (nw) => node(nw, n, i)));
    g.string(2, name);
    for (const [n, s] of inputs) g.message(11, (v) => valueInfo(v, n, s));
    for (const [n, s] of outputs) g.message(12, (v) => valueInfo(v, n, s));
  });
  return w.finish();
}

/** What {@link matmulModel} builds: `y = op(a) · op(b)` with op a swap of the last two axes where asked. */
export interface MatmulModelSpec {
  /** a's shape as stored (before the optional transpose), rank ≥ 2. */
  aShape: readonly number[];
  /** b's shape as stored, rank ≥ 2. */
  bShape: readonly number[];
  transposeA: boolean;
  transposeB: boolean;
  /** The output's shape (batch dims broadcast as numpy/ONNX MatMul do). */
  outShape: readonly number[];
}

const swapLast = (rank: number) => {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
};

/**
 * The ONNX bytes of a matrix product with inputs `a`, `b` and output `y`: a `Gemm` (transA/transB
 * attributes, MLAS reads the operands transposed in place) for rank-2 operands, `MatMul` with
 * `Transpose` nodes otherwise (ORT fuses them into one `FusedMatMul` when it optimises the graph).
 */
export function matmulModel(spec: MatmulModelSpec): Uint8Array {
  const { aShape, bShape, transposeA, transposeB, outShape } = spec;
  const io = {
    inputs: [
      ['a', aShape],
      ['b', bShape],
    ] as Array<[string, readonly number[]]>,
    outputs: [['y', outShape]] as Array<[string, readonly number[]]>,
  };
  if (aShape.length === 2 && bShape.length === 2) {
    const attrs: Attr[] = [];
    if (transposeA) attrs.push({ name: 'transA', int: 1 });
    if (transposeB) attrs.push({ name: 'transB', int: 1 });
    return model('brickml_gemm', io.inputs, io.outputs, [{ op: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attrs }]);
  }
  const nodes: Node[] = [];
  let a = 'a';
  let b = 'b';
  if (transposeA) {
    nodes.push({ op: 'Transpose', inputs: ['a'], outputs: ['at'], attrs: [{ name: 'perm', ints: swapLast(aShape.length) }] });
    a = 'at';
  }
  if (transposeB) {
    nodes.push({ op: 'Transpose', inputs: ['b'], outputs: ['bt'], attrs: [{ name: 'perm', ints: swapLast(bShape.length) }] });
    b = 'bt';
  }
  nodes.push({ op: 'MatMul', inputs: [a, b], outputs: ['y'] });
  return model('brickml_matmul', io.inputs, io.outputs, nodes);
}

/** What {@link reduceSumModel} builds: `y = sum(x, axes)`. */
export interface ReduceSumModelSpec {
  xShape: readonly number[];
  /** Non-negative, distinct axes of x to sum over (at least one). */
  axes: readonly number[];
  keepDims: boolean;
  outShape: readonly number[];
}

/**
 * The ONNX bytes of `y = ReduceSum(x)` over `axes` (opset 11, where the axes are an attribute rather
 * than an int64 input tensor): any axes in one pass, without the transpose tfjs-wasm's `Sum` makes
 * first to bring them innermost.
 */
export function reduceSumModel(spec: ReduceSumModelSpec): Uint8Array {
  const attrs: Attr[] = [
    { name: 'axes', ints: [...spec.axes] },
    { name: 'keepdims', int: spec.keepDims ? 1 : 0 },
  ];
  return model('brickml_reduce_sum', [['x', spec.xShape]], [['y', spec.outShape]], [{ op: 'ReduceSum', inputs: ['x'], outputs: ['y'], attrs }], 11);
}

/** What {@link transposeModel} builds: `y = transpose(x, perm)`. */
export interface TransposeModelSpec {
  xShape: readonly number[];
  perm: readonly number[];
}

/** The ONNX bytes of `y = Transpose(x, perm)`. */
export function transposeModel(spec: TransposeModelSpec): Uint8Array {
  const outShape = spec.perm.map((p) => spec.xShape[p]);
  return model('brickml_transpose', [['x', spec.xShape]], [['y', outShape]], [
    { op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: [{ name: 'perm', ints: [...spec.perm] }] },
  ]);
}
