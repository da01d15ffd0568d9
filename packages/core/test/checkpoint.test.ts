import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BrickConfigError,
  CheckpointError,
  Module,
  Rng,
  buffer,
  build,
  parameter,
  parseConfig,
  registerBrick,
  type BrickOptions,
} from '../src/index.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
import { decodeToTensors, encodeTensorMap, loadWeights, saveWeights } from '../src/io/weights.js';
import { assertNode, ensureDir, readFileBytes, writeFileAtomic } from '../src/io/fs.js';
import { CONFIG_FILE, WEIGHTS_FILE, load, save } from '../src/io/checkpoint.js';

// Lets a test make rename fail, as if the process died after writing the temp file.
const hooks = vi.hoisted(() => ({ failRename: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const rename: typeof real.rename = async (from, to) => {
    if (hooks.failRename) throw Object.assign(new Error('EIO: simulated crash during rename'), { code: 'EIO' });
    return real.rename(from, to);
  };
  return { ...real, rename, default: { ...real, rename } };
});

// ---- a tiny registered brick tree: a nested child, an array of children and int/bool buffers ----

class TinyLeaf extends Module {
  static type = 'TestTinyLeaf';
  static schema = z.object({ n: z.number().int().positive() });
  private _config: { n: number };
  weight: tf.Variable; // [n, n]
  bias: tf.Variable; // [n]
  constructor(config: unknown, options: BrickOptions = {}) {
    super();
    this._config = parseConfig(TinyLeaf, config);
    const rng = options.rng ?? new Rng(0);
    this.weight = parameter(rng.normalTensor([this._config.n, this._config.n]));
    this.bias = parameter(rng.normalTensor([this._config.n]));
  }
  override toConfig() {
    return { type: TinyLeaf.type, ...this._config };
  }
}

class TinyBrick extends Module {
  static type = 'TestTiny';
  static schema = z.object({ n: z.number().int().positive(), depth: z.number().int().nonnegative() });
  private _config: { n: number; depth: number };
  child: TinyLeaf;
  layers: TinyLeaf[];
  steps: tf.Variable; // int32 scalar
  mask: tf.Variable; // bool [n]
  constructor(config: unknown, options: BrickOptions = {}) {
    super();
    this._config = parseConfig(TinyBrick, config);
    const { n, depth } = this._config;
    const rng = options.rng ?? new Rng(0);
    this.child = build<TinyLeaf>({ type: TinyLeaf.type, n }, { rng });
    this.layers = Array.from({ length: depth }, () => new TinyLeaf({ n }, { rng }));
    this.steps = buffer(tf.scalar(rng.int(0, 1_000_000), 'int32'));
    this.mask = buffer(tf.tensor1d(Array.from({ length: n }, () => rng.float() < 0.5), 'bool'));
  }
  override toConfig() {
    return { type: TinyBrick.type, ...this._config };
  }
}
registerBrick(TinyLeaf);
registerBrick(TinyBrick);

const make = (seed: number, n = 2, depth = 2) => build<TinyBrick>({ type: 'TestTiny', n, depth }, { rng: new Rng(seed) });

/** Every variable's dtype, shape and raw bits. */
async function snapshot(m: Module): Promise<Record<string, { dtype: string; shape: number[]; bits: number[] }>> {
  const out: Record<string, { dtype: string; shape: number[]; bits: number[] }> = {};
  for (const [name, v] of m.namedState()) {
    const data = (await v.data()) as Float32Array | Int32Array | Uint8Array;
    const bits = data instanceof Float32Array ? [...new Uint32Array(data.buffer, data.byteOffset, data.length)] : [...data];
    out[name] = { dtype: v.dtype, shape: v.shape, bits };
  }
  return out;
}

const STATE_NAMES = [
  'child.weight', 'child.bias', 'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'steps', 'mask',
];

let tmp: string;
beforeAll(async () => {
  tmp = await fsp.mkdtemp(join(tmpdir(), 'brickml-ckpt-'));
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});
let dirCount = 0;
const freshDir = async () => {
  const d = join(tmp, `d${dirCount++}`);
  await fsp.mkdir(d);
  return d;
};

describe('saveWeights / loadWeights', () => {
  it('saves every parameter and buffer by dotted name with F32/I32/BOOL data', async () => {
    const m = make(1);
    expect(m.namedState().map(([n]) => n)).toEqual(STATE_NAMES);
    const { metadata, tensors } = decodeSafetensors(await saveWeights(m, { note: 'x' }));
    expect(metadata).toEqual({ note: 'x' });
    // reference order: F32 by name, then I32, then BOOL
    expect([...tensors.keys()]).toEqual([
      'child.bias', 'child.weight', 'layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight', 'steps', 'mask',
    ]);
    const snap = await snapshot(m);
    expect(tensors.get('child.weight')).toEqual({ dtype: 'F32', shape: [2, 2], data: new Float32Array(await m.child.weight.data()) });
    expect(tensors.get('steps')).toEqual({ dtype: 'I32', shape: [], data: new Int32Array(snap.steps.bits) });
    expect(tensors.get('mask')).toEqual({ dtype: 'BOOL', shape: [2], data: new Uint8Array(snap.mask.bits) });
    m.dispose();
  });

  it('round-trips values bit-exactly into a differently initialised model, without leaking', async () => {
    const a = make(1);
    const b = make(2);
    const snapA = await snapshot(a);
    expect(await snapshot(b)).not.toEqual(snapA);
    const bytes = await saveWeights(a);
    const before = tf.memory().numTensors;
    const result = loadWeights(b, bytes);
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toEqual({ loaded: STATE_NAMES, missing: [], unexpected: [], metadata: {} });
    expect(await snapshot(b)).toEqual(snapA);
    a.dispose();
    b.dispose();
  });

  it('keeps NaN, -0 and subnormals exactly through a module', async () => {
    const m = make(3, 2, 0);
    const special = new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0xff800000]).buffer);
    const t = tf.tensor(special, [2, 2]);
    m.child.weight.assign(t);
    t.dispose();
    const n = make(4, 2, 0);
    loadWeights(n, await saveWeights(m));
    expect((await snapshot(n))['child.weight'].bits).toEqual([0x7fc00001, 0x80000000, 0x00000001, 0xff800000]);
    m.dispose();
    n.dispose();
  });

  it('names every missing, unexpected and mismatched tensor in one error and loads nothing', async () => {
    const target = make(5, 2, 2);
    const original = await snapshot(target);
    const deeper = make(6, 2, 3);
    const fewer = make(7, 2, 1);
    const wider = make(8, 3, 2);
    const before = tf.memory().numTensors;
    const attempt = async (source: Module) => {
      const bytes = await saveWeights(source);
      try {
        loadWeights(target, bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        return (e as Error).message;
      }
      throw new Error('loadWeights accepted a mismatched checkpoint');
    };

    const unexpected = await attempt(deeper);
    expect(unexpected).toMatch(/^loadWeights: checkpoint does not match TestTiny; nothing was loaded/);
    expect(unexpected).toContain("unexpected in the checkpoint (2): 'layers.2.bias', 'layers.2.weight'");
    expect(unexpected).not.toContain('missing');

    const missing = await attempt(fewer);
    expect(missing).toContain("missing from the checkpoint (2): 'layers.1.weight', 'layers.1.bias'");

    const shapes = await attempt(wider);
    expect(shapes).toContain("'child.weight': model float32 [2, 2], checkpoint F32 [3, 3]");
    expect(shapes).toContain("'layers.1.bias': model float32 [2], checkpoint F32 [3]");
    expect(shapes).toContain("'mask': model bool [2], checkpoint BOOL [3]");
    expect(shapes).toContain('shape/dtype mismatch (7)');

    // all three kinds at once, plus a dtype mismatch
    const mixed = decodeSafetensors(await saveWeights(fewer));
    const tensors = Object.fromEntries([...mixed.tensors].map(([k, v]) => [k, v])) as Record<string, any>;
    tensors['child.weight'] = { dtype: 'F32', shape: [4], data: new Float32Array(4) };
    tensors.steps = { dtype: 'F32', shape: [], data: new Float32Array([1]) };
    tensors.extra = { dtype: 'U8', shape: [1], data: new Uint8Array([1]) };
    let message = '';
    try {
      loadWeights(target, encodeSafetensors(tensors));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'loadWeights: checkpoint does not match TestTiny; nothing was loaded:',
      "  missing from the checkpoint (2): 'layers.1.weight', 'layers.1.bias'",
      "  unexpected in the checkpoint (1): 'extra'",
      "  shape/dtype mismatch (2): 'child.weight': model float32 [2, 2], checkpoint F32 [4]; 'steps': model int32 [], checkpoint F32 []",
    ]);

    expect(tf.memory().numTensors).toBe(before);
    expect(await snapshot(target)).toEqual(original);
    for (const m of [target, deeper, fewer, wider]) m.dispose();
  });

  it('strict: false ignores extra tensors; allowMissing keeps unlisted variables', async () => {
    const source = make(9, 2, 3);
    const target = make(10, 2, 2);
    const result = loadWeights(target, await saveWeights(source), { strict: false });
    expect(result.unexpected).toEqual(['layers.2.bias', 'layers.2.weight']);
    expect(await snapshot(target)).toEqual(Object.fromEntries(Object.entries(await snapshot(source)).filter(([k]) => !k.startsWith('layers.2'))));

    const small = make(11, 2, 0);
    const big = make(12, 2, 2);
    const bigBefore = await snapshot(big);
    const r2 = loadWeights(big, await saveWeights(small), { allowMissing: true });
    expect(r2.missing).toEqual(['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']);
    const after = await snapshot(big);
    expect(after['layers.1.weight']).toEqual(bigBefore['layers.1.weight']);
    expect(after['child.weight']).toEqual((await snapshot(small))['child.weight']);
    for (const m of [source, target, small, big]) m.dispose();
  });

  it('loads a PyTorch-style F16 + I64 checkpoint into float32/int32 variables', async () => {
    const m = make(13, 1, 0);
    const tensors = [
      ['child.weight', 'F16', [1, 1], [0x00, 0x3c]], // 1.0
      ['child.bias', 'F16', [1], [0x00, 0xc0]], // -2.0
      ['steps', 'I64', [], [0x39, 0x30, 0, 0, 0, 0, 0, 0]], // 12345
      ['mask', 'BOOL', [1], [1]],
    ] as const;
    let offset = 0;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    for (const [name, dtype, shape, data] of tensors) {
      header[name] = { dtype, shape, data_offsets: [offset, offset + data.length] };
      offset += data.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + offset);
    new DataView(bytes.buffer).setUint32(0, json.length, true);
    bytes.set(json, 8);
    bytes.set(tensors.flatMap(([, , , d]) => [...d]), 8 + json.length);
    const result = loadWeights(m, bytes);
    expect(result.metadata).toEqual({ format: 'pt' });
    expect([...(await m.child.weight.data())]).toEqual([1]);
    expect([...(await m.child.bias.data())]).toEqual([-2]);
    expect([...(await m.steps.data())]).toEqual([12345]);
    expect([...(await m.mask.data())]).toEqual([1]);
    m.dispose();
  });

  it('leaves the module untouched when the file itself is malformed', async () => {
    const m = make(14);
    const original = await snapshot(m);
    const good = await saveWeights(make(15));
    const before = tf.memory().numTensors;
    const bad: Array<[Uint8Array, RegExp]> = [
      [good.subarray(0, good.length - 1), /end past the data section/],
      [good.subarray(0, 5), /shorter than the 8-byte/],
      [Uint8Array.of(...good.subarray(0, 8), 0xff, ...good.subarray(9)), /not valid UTF-8/],
      [Uint8Array.of(...good, 0), /1 trailing bytes/],
    ];
    for (const [bytes, message] of bad) {
      expect(() => loadWeights(m, bytes)).toThrow(CheckpointError);
      expect(() => loadWeights(m, bytes)).toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(await snapshot(m)).toEqual(original);
    m.dispose();
  });

  it('encodeTensorMap / decodeToTensors round-trip tfjs tensors (optimizer state)', async () => {
    const a = tf.tensor([[1.5, -0], [NaN, 3]]);
    const s = tf.scalar(7, 'int32');
    const b = tf.tensor([true, false], [2], 'bool');
    const bytes = await encodeTensorMap([['m.0', a], ['step', s], ['flag', b]], { step: '7' });
    expect(decodeSafetensors(bytes).metadata).toEqual({ step: '7' });
    const before = tf.memory().numTensors;
    const out = decodeToTensors(bytes);
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(out.get('m.0')!.dtype).toBe('float32');
    expect(out.get('m.0')!.shape).toEqual([2, 2]);
    expect([...new Uint32Array((await out.get('m.0')!.data() as Float32Array).buffer)]).toEqual(
      [...new Uint32Array((await a.data() as Float32Array).buffer)],
    );
    expect(out.get('step')!.dtype).toBe('int32');
    expect([...(await out.get('step')!.data())]).toEqual([7]);
    expect(out.get('flag')!.dtype).toBe('bool');
    expect([...(await out.get('flag')!.data())]).toEqual([1, 0]);
    for (const t of out.values()) t.dispose();
    await expect(encodeTensorMap([['c', tf.complex([1], [2])]])).rejects.toThrow(/encodeTensorMap: tensor 'c': dtype complex64 cannot be saved/);
    tf.dispose([a, s, b]);
    expect(() => decodeToTensors(Uint8Array.of(1, 2))).toThrow(CheckpointError);
  });
});

describe('file helpers', () => {
  it('writeFileAtomic writes, replaces and leaves no temp files', async () => {
    const dir = await freshDir();
    const path = join(dir, 'f.bin');
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect([...(await readFileBytes(path))]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, 'text ✓');
    expect(new TextDecoder().decode(await readFileBytes(path))).toBe('text ✓');
    expect(await fsp.readdir(dir)).toEqual(['f.bin']);
  });

  it('a crash before the rename keeps the previous file and removes the temp file', async () => {
    const dir = await freshDir();
    const path = join(dir, 'f.bin');
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    hooks.failRename = true;
    try {
      await expect(writeFileAtomic(path, Uint8Array.of(9, 9, 9, 9))).rejects.toThrow(
        /^writeFileAtomic: cannot write '.*f\.bin': EIO: simulated crash during rename$/,
      );
      await writeFileAtomic(path, 'x').catch((e) => expect((e as { code?: string }).code).toBe('EIO'));
    } finally {
      hooks.failRename = false;
    }
    expect([...(await readFileBytes(path))]).toEqual([1, 2, 3]);
    expect(await fsp.readdir(dir)).toEqual(['f.bin']);
  });

  it('fails cleanly when the target cannot be replaced or the directory is missing', async () => {
    const dir = await freshDir();
    await fsp.mkdir(join(dir, 'sub'));
    await fsp.writeFile(join(dir, 'sub', 'keep'), 'k');
    await expect(writeFileAtomic(join(dir, 'sub'), 'x')).rejects.toThrow(/^writeFileAtomic: cannot write '.*sub'/);
    expect((await fsp.readdir(dir)).sort()).toEqual(['sub']);
    expect(await fsp.readFile(join(dir, 'sub', 'keep'), 'utf8')).toBe('k');
    await expect(writeFileAtomic(join(dir, 'nope', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fsp.readdir(dir)).sort()).toEqual(['sub']);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only directory keeps the previous file (non-root only)', async () => {
    const dir = await freshDir();
    const path = join(dir, 'f.bin');
    await writeFileAtomic(path, 'old');
    await fsp.chmod(dir, 0o555);
    try {
      await expect(writeFileAtomic(path, 'new')).rejects.toThrow(/writeFileAtomic: cannot write/);
    } finally {
      await fsp.chmod(dir, 0o755);
    }
    expect(await fsp.readFile(path, 'utf8')).toBe('old');
    expect(await fsp.readdir(dir)).toEqual(['f.bin']);
  });

  it('ensureDir creates nested directories and tolerates existing ones', async () => {
    const dir = join(await freshDir(), 'a', 'b');
    await ensureDir(dir);
    await ensureDir(dir);
    expect((await fsp.stat(dir)).isDirectory()).toBe(true);
  });

  it('names the function when not running in Node', () => {
    vi.stubGlobal('process', undefined);
    try {
      expect(() => assertNode('writeFileAtomic')).toThrow(/^writeFileAtomic: needs Node\.js/);
    } finally {
      vi.unstubAllGlobals();
    }
    expect(() => assertNode('writeFileAtomic')).not.toThrow();
  });
});

describe('save / load', () => {
  it('round-trips config and values exactly, without leaking', async () => {
    const dir = join(await freshDir(), 'ckpt'); // created by save
    const before = tf.memory().numTensors;
    const m = make(21, 3, 2);
    const paths = await save(m, dir, { metadata: { step: '100', format: 'ignored' } });
    expect(paths).toEqual({ configPath: join(dir, CONFIG_FILE), weightsPath: join(dir, WEIGHTS_FILE) });
    expect((await fsp.readdir(dir)).sort()).toEqual([CONFIG_FILE, WEIGHTS_FILE]);
    expect(await fsp.readFile(join(dir, CONFIG_FILE), 'utf8')).toBe('{\n  "type": "TestTiny",\n  "n": 3,\n  "depth": 2\n}\n');
    const { metadata } = decodeSafetensors(await readFileBytes(join(dir, WEIGHTS_FILE)));
    expect(metadata).toEqual({ step: '100', format: 'brickml', brickml_type: 'TestTiny' });

    const loaded = await load<TinyBrick>(dir);
    expect(loaded).toBeInstanceOf(TinyBrick);
    expect(loaded.toConfig()).toEqual(m.toConfig());
    expect(await snapshot(loaded)).toEqual(await snapshot(m));
    m.dispose();
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a failed save keeps the previous checkpoint loadable', async () => {
    const dir = await freshDir();
    const first = make(22);
    await save(first, dir);
    const second = make(23);
    hooks.failRename = true;
    try {
      await expect(save(second, dir)).rejects.toThrow(/writeFileAtomic: cannot write '.*model\.safetensors'/);
    } finally {
      hooks.failRename = false;
    }
    expect((await fsp.readdir(dir)).sort()).toEqual([CONFIG_FILE, WEIGHTS_FILE]);
    const loaded = await load(dir);
    expect(await snapshot(loaded)).toEqual(await snapshot(first));
    for (const m of [first, second, loaded]) m.dispose();
  });

  it('reports a missing, invalid or foreign config.json by path', async () => {
    const dir = await freshDir();
    await expect(load(dir)).rejects.toThrow(new RegExp(`^load: cannot read '${escape(join(dir, CONFIG_FILE))}': file not found$`));
    await fsp.writeFile(join(dir, CONFIG_FILE), '{"type": "TestTiny", ');
    await expect(load(dir)).rejects.toThrow(/^load: '.*config\.json' is not valid UTF-8 JSON/);
    await fsp.writeFile(join(dir, CONFIG_FILE), '[1, 2]');
    await expect(load(dir)).rejects.toThrow(/config\.json' must hold a brick config object with a string "type"/);
    await fsp.writeFile(join(dir, CONFIG_FILE), '{"type": "TestTiny", "n": 2, "depth": 1}');
    await expect(load(dir)).rejects.toThrow(/^load: cannot read '.*model\.safetensors': file not found$/);
    await fsp.writeFile(join(dir, WEIGHTS_FILE), Uint8Array.of(1, 2, 3));
    await expect(load(dir)).rejects.toThrow(/^load: '.*model\.safetensors': decodeSafetensors: file is 3 bytes/);
    await fsp.writeFile(join(dir, WEIGHTS_FILE), encodeSafetensors({}));
    await fsp.writeFile(join(dir, CONFIG_FILE), '{"type": "NoSuchBrick"}');
    await expect(load(dir)).rejects.toThrow(BrickConfigError);
    await expect(load(dir)).rejects.toThrow(/unknown brick type 'NoSuchBrick'/);
    await fsp.writeFile(join(dir, CONFIG_FILE), '{"type": "TestTiny", "n": 0, "depth": 1}');
    await expect(load(dir)).rejects.toThrow(/config\.json': TestTiny: config field 'n'/);
  });

  it('disposes the built module when its weights do not match', async () => {
    const dir = await freshDir();
    const m = make(24, 2, 2);
    await save(m, dir);
    await fsp.writeFile(join(dir, CONFIG_FILE), JSON.stringify({ type: 'TestTiny', n: 2, depth: 3 }));
    const before = tf.memory().numTensors;
    const error = await load(dir).catch((e: Error) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^load: '.*model\.safetensors': loadWeights: checkpoint does not match TestTiny/);
    expect((error as Error).message).toContain("missing from the checkpoint (2): 'layers.2.weight', 'layers.2.bias'");
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('refuses weights saved from another brick type', async () => {
    const dir = await freshDir();
    const leaf = build<TinyLeaf>({ type: 'TestTinyLeaf', n: 2 });
    await save(leaf, dir);
    await fsp.writeFile(join(dir, CONFIG_FILE), JSON.stringify({ type: 'TestTiny', n: 2, depth: 0 }));
    await expect(load(dir)).rejects.toThrow(/config\.json' describes a TestTiny but '.*model\.safetensors' was saved from a TestTinyLeaf/);
    leaf.dispose();
  });

  it('refuses to save a module that is not a registered brick', async () => {
    class Loose extends Module {
      w = parameter(tf.zeros([1]));
    }
    const loose = new Loose();
    const dir = join(await freshDir(), 'never');
    await expect(save(loose, dir)).rejects.toThrow(/Loose\.toConfig: this module is not a registered brick/);
    await expect(fsp.stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    loose.dispose();
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
