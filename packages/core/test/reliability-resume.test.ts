// Trainer.resume validates everything before assigning anything, and recovers from every state an
// interrupted Trainer.save can leave on disk.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW, CheckpointError, Ema, Rng, SGD, Sequential, Trainer, build, type Optimizer } from '../src/index.js';

type Batch = tf.Tensor2D;

/** Linear 2 → 4 → 1 with a squared-output loss on a fixed batch. */
function setup(seed: number, opts: { sgd?: boolean; ema?: boolean; setState?: (s: unknown) => void } = {}) {
  const model = build<Sequential>(
    { type: 'Sequential', layers: [{ type: 'Linear', inFeatures: 2, outFeatures: 4 }, { type: 'Linear', inFeatures: 4, outFeatures: 1 }] },
    { rng: new Rng(seed) },
  );
  const optimizer: Optimizer = opts.sgd ? new SGD(model, { lr: 0.1, momentum: 0.9 }) : new AdamW(model, { lr: 0.01 });
  const ema = opts.ema ? new Ema(model, { decay: 0.9 }) : undefined;
  let position = 0;
  const data = {
    next: () => {
      position += 1;
      return tf.tensor2d([[1, 2], [3, -1]]);
    },
    getState: () => position,
    setState: opts.setState ?? ((s: unknown) => (position = s as number)),
  };
  const trainer = new Trainer<Batch>({
    model, optimizer, ema, data, steps: 100, seed, progress: 'none',
    loss: (x) => tf.mean(tf.square(model.forward(x))) as tf.Scalar,
  });
  return { model, optimizer, ema, trainer };
}

/** Every parameter's bits (NaN-safe, -0-safe), by path. */
async function bits(model: Sequential): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [name, v] of model.namedState()) out[name] = Array.from(new Uint32Array((await v.data() as Float32Array).slice().buffer));
  return out;
}

async function train(t: Trainer<Batch>, n: number, data = tf.tensor2d([[1, 2], [3, -1]])): Promise<void> {
  for (let i = 0; i < n; i++) await t.trainStep(data);
  data.dispose();
}

let root: string;
beforeEach(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), 'brickml-reliability-'));
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await fsp.rm(root, { recursive: true, force: true });
});

describe('Trainer.resume validates everything before assigning', () => {
  it('an AdamW checkpoint into an SGD trainer: CheckpointError, model bitwise unchanged, no tensor leaked', async () => {
    const src = setup(1);
    await train(src.trainer, 3);
    await src.trainer.save(join(root, 'ck'));

    const dst = setup(2, { sgd: true });
    await train(dst.trainer, 1); // SGD momentum state exists too
    const before = await bits(dst.model);
    const momentum = Array.from(await dst.optimizer.slot('layers.0.weight', 'momentum_buffer')!.data());
    const tensors = tf.memory().numTensors;
    const error = await dst.trainer.resume(join(root, 'ck')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/SGD\.loadState: checkpoint is for optimizer 'AdamW', not 'SGD'/);
    expect(await bits(dst.model)).toEqual(before);
    expect(Array.from(await dst.optimizer.slot('layers.0.weight', 'momentum_buffer')!.data())).toEqual(momentum);
    expect(dst.optimizer.globalStep).toBe(1);
    expect(dst.trainer.step).toBe(1);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('a bad EMA file, a bad generator state or a data stream that refuses its state change nothing', async () => {
    const src = setup(3, { ema: true });
    await train(src.trainer, 2);
    const ck = join(root, 'ck');
    await src.trainer.save(ck);

    const check = async (prepare: () => Promise<void>, pattern: RegExp, opts: { setState?: (s: unknown) => void } = {}) => {
      await src.trainer.save(ck);
      await prepare();
      const dst = setup(4, { ema: true, ...opts });
      await train(dst.trainer, 1);
      const before = await bits(dst.model);
      const shadow = Array.from(await dst.ema!.shadow('layers.1.weight')!.data());
      const moment = Array.from(await dst.optimizer.slot('layers.1.weight', 'exp_avg')!.data());
      const tensors = tf.memory().numTensors;
      await expect(dst.trainer.resume(ck)).rejects.toThrow(pattern);
      expect(await bits(dst.model)).toEqual(before);
      expect(Array.from(await dst.ema!.shadow('layers.1.weight')!.data())).toEqual(shadow);
      expect(Array.from(await dst.optimizer.slot('layers.1.weight', 'exp_avg')!.data())).toEqual(moment);
      expect(dst.optimizer.globalStep).toBe(1);
      expect(dst.trainer.step).toBe(1);
      expect(dst.trainer.history).toHaveLength(1);
      expect(tf.memory().numTensors).toBe(tensors);
    };
    // EMA file of another model (a tensor missing)
    const other = setup(5);
    const otherEma = new Ema(other.model.layers[0]);
    const { encodeTensorMap } = await import('../src/io/weights.js');
    await check(async () => fsp.writeFile(join(ck, 'ema.safetensors'), await encodeTensorMap(otherEma.stateEntries())), /Ema\.loadState: tensor '(weight|bias)' is not a tracked parameter/);
    // generator state that is not one
    await check(async () => {
      const state = JSON.parse(await fsp.readFile(join(ck, 'trainer.json'), 'utf8'));
      await fsp.writeFile(join(ck, 'trainer.json'), JSON.stringify({ ...state, globalRng: { s: [1, 2] } }));
    }, /trainer\.json: 'globalRng' is not a generator state/);
    // the data stream throws on setState
    await check(async () => undefined, /data position refused/, { setState: () => { throw new Error('data position refused'); } });
  });
});

describe('Trainer.save / resume survive a kill at any instant', () => {
  /** A checkpoint at step 2 in `ck`, and a complete one at step 4 in `spare` (to place as a leftover). */
  async function twoCheckpoints() {
    const t = setup(7);
    await train(t.trainer, 2);
    const ck = join(root, 'ck');
    await t.trainer.save(ck);
    const at2 = await bits(t.model);
    await train(t.trainer, 2);
    const spare = join(root, 'spare');
    await t.trainer.save(spare);
    const at4 = await bits(t.model);
    return { ck, spare, at2, at4 };
  }
  const stamp = (n: number) => `${process.pid}-${Date.now() + n}`;

  async function expectResumesAt(ck: string, step: number, want: Record<string, number[]>) {
    const r = setup(8);
    await r.trainer.resume(ck);
    expect(r.trainer.step).toBe(step);
    expect(await bits(r.model)).toEqual(want);
  }

  it('killed while writing the new folder: resumes from dir', async () => {
    const { ck, spare, at2 } = await twoCheckpoints();
    const tmp = `${ck}.tmp-${stamp(1)}`;
    await fsp.mkdir(tmp);
    await fsp.copyFile(join(spare, 'model.safetensors'), join(tmp, 'model.safetensors')); // no trainer.json yet
    await expectResumesAt(ck, 2, at2);
    expect(console.warn).not.toHaveBeenCalled();
  });

  it('killed after the new folder is complete, before any rename: resumes from the newer folder', async () => {
    const { ck, spare, at4 } = await twoCheckpoints();
    await fsp.rename(spare, `${ck}.tmp-${stamp(1)}`);
    await expectResumesAt(ck, 4, at4);
    expect(console.warn).toHaveBeenCalledWith(expect.stringMatching(/Trainer\.resume: resuming from '.*ck\.tmp-\d+-\d+', the newest complete checkpoint/));
  });

  it('killed between the two renames (only ck.old-* and ck.tmp-* left): resumes from the newer folder', async () => {
    const { ck, spare, at4 } = await twoCheckpoints();
    await fsp.rename(ck, `${ck}.old-${stamp(2)}`);
    await fsp.rename(spare, `${ck}.tmp-${stamp(1)}`);
    await expectResumesAt(ck, 4, at4);
    expect(await Trainer.latestCheckpoint(ck)).toMatch(/ck\.tmp-\d+-\d+$/);
  });

  it('killed after the second rename, before the old folder is removed: resumes from dir', async () => {
    const { ck, spare, at4 } = await twoCheckpoints();
    await fsp.rename(ck, `${ck}.old-${stamp(2)}`);
    await fsp.rename(spare, ck);
    await expectResumesAt(ck, 4, at4);
    expect(console.warn).not.toHaveBeenCalled();
  });

  it('only an old folder left (the new one never completed): resumes from it', async () => {
    const { ck, spare, at2 } = await twoCheckpoints();
    await fsp.rename(ck, `${ck}.old-${stamp(2)}`);
    const tmp = `${ck}.tmp-${stamp(1)}`;
    await fsp.mkdir(tmp);
    await fsp.copyFile(join(spare, 'optimizer.safetensors'), join(tmp, 'optimizer.safetensors'));
    await expectResumesAt(ck, 2, at2);
  });

  it('the next save after a recovery puts the checkpoint in place and removes every leftover', async () => {
    const { ck, spare } = await twoCheckpoints();
    await fsp.rename(ck, `${ck}.old-${stamp(2)}`);
    await fsp.rename(spare, `${ck}.tmp-${stamp(1)}`);
    const r = setup(9);
    await r.trainer.resume(ck);
    await train(r.trainer, 1);
    await r.trainer.save(ck);
    expect(await fsp.readdir(root)).toEqual(['ck']);
    const again = setup(10);
    await again.trainer.resume(ck);
    expect(again.trainer.step).toBe(5);
    expect(await bits(again.model)).toEqual(await bits(r.model));
  });

  it('no checkpoint at all: a CheckpointError naming the directory; latestCheckpoint is undefined', async () => {
    const t = setup(11);
    await expect(t.trainer.resume(join(root, 'nothing'))).rejects.toThrow(/^Trainer\.resume: no checkpoint at '.*nothing' \(the directory does not exist\)$/);
    expect(await Trainer.latestCheckpoint(join(root, 'nothing'))).toBeUndefined();
    await fsp.mkdir(join(root, 'empty'));
    await expect(t.trainer.resume(join(root, 'empty'))).rejects.toThrow(/^Trainer\.resume: no checkpoint at '.*empty' \(it has no trainer\.json\)$/);
    expect(await Trainer.latestCheckpoint(join(root, 'empty'))).toBeUndefined();
    await fsp.writeFile(join(root, 'empty', 'trainer.json'), '{"version": 1,');
    await expect(t.trainer.resume(join(root, 'empty'))).rejects.toThrow(/^Trainer\.resume: .*empty[/\\]trainer\.json is not valid JSON/);
  });

  it('save refuses a file or a directory that is not a checkpoint, and leaves it alone', async () => {
    const t = setup(12);
    const file = join(root, 'notes.txt');
    await fsp.writeFile(file, 'keep me');
    await expect(t.trainer.save(file)).rejects.toThrow(/^Trainer\.save: '.*notes\.txt' is a file, not a directory/);
    expect(await fsp.readFile(file, 'utf8')).toBe('keep me');
    const project = join(root, 'project');
    await fsp.mkdir(project);
    await fsp.writeFile(join(project, 'main.ts'), 'keep me too');
    await expect(t.trainer.save(project)).rejects.toThrow(/is a directory that is not a training checkpoint \(it has no trainer\.json\)/);
    expect(await fsp.readdir(project)).toEqual(['main.ts']);
    expect((await fsp.readdir(root)).sort()).toEqual(['notes.txt', 'project']);
    await expect(t.trainer.resume(file)).rejects.toThrow(/^Trainer\.resume: '.*notes\.txt' is a file, not a checkpoint directory$/);
    await expect(t.trainer.resume(42 as unknown as string)).rejects.toThrow(/^Trainer\.resume: argument 'dir' expected a checkpoint directory path string, got number 42$/);
  });
});
