// Errors name what the user got wrong: the function or option, what was expected, what came.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdamW, BrickConfigError, CheckpointError, Ema, Linear, SGD, load, save } from '../src/index.js';

const model = new Linear({ inFeatures: 2, outFeatures: 1 });

describe('optimizer options', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['AdamW lr as a string', () => new AdamW(model, { lr: '0.001' as unknown as number }),
      /^AdamW: option 'lr' expected a number or a schedule \(.*\), got string "0\.001"$/],
    ['AdamW lr as an array', () => new AdamW(model, { lr: [1e-3] as unknown as number }), /^AdamW: option 'lr' expected a number or a schedule .*got array \[0\.001\]$/],
    ['AdamW lr as a bad schedule config', () => new AdamW(model, { lr: { kind: 'warmupCosine', peakLr: -1, warmupSteps: 1, totalSteps: 2 } }),
      /^AdamW: option 'lr': makeSchedule\(warmupCosine\): 'peakLr' must be a finite number ≥ 0, got -1$/],
    ['AdamW betas as a string', () => new AdamW(model, { betas: '0.9' as unknown as [number, number] }),
      /^AdamW: option 'betas' expected an array \[β1, β2\] of two numbers in \[0, 1\), got string "0\.9"$/],
    ['AdamW betas[1] as a string', () => new AdamW(model, { betas: [0.9, '0.999' as unknown as number] }),
      /^AdamW: option 'betas\[1\]' expected a number in \[0, 1\), got string "0\.999"$/],
    ['AdamW eps as a string', () => new AdamW(model, { eps: '1e-8' as unknown as number }), /^AdamW: option 'eps' expected a finite number ≥ 0, got string "1e-8"$/],
    ['AdamW weightDecay as a string', () => new AdamW(model, { weightDecay: '0.01' as unknown as number }),
      /^AdamW: option 'weightDecay' expected a finite number ≥ 0, got string "0\.01"$/],
    ['AdamW fused as a string', () => new AdamW(model, { fused: 'yes' as unknown as boolean }), /^AdamW: option 'fused' expected true or false, got string "yes"$/],
    ['AdamW noDecay not a function', () => new AdamW(model, { noDecay: true as unknown as () => boolean }),
      /^AdamW: option 'noDecay' expected a function \(name, param\) → boolean, got boolean true$/],
    ['AdamW with a misspelt option', () => new AdamW(model, { learningRate: 1e-3 } as never),
      /^AdamW: unknown option 'learningRate' \(expected 'lr', 'weightDecay', 'noDecay', 'betas', 'eps', 'fused'\)$/],
    ['AdamW with a number for options', () => new AdamW(model, 1e-3 as never), /^AdamW: options must be an object such as \{lr: 1e-3\}, got number 0\.001$/],
    ['AdamW with a path for params', () => new AdamW('model' as never), /^AdamW: 'params' must be a Module or an array of \[path, tf\.Variable\], got string "model"$/],
    ['SGD lr as a string', () => new SGD(model, { lr: '0.1' as unknown as number }), /^SGD: option 'lr' expected a number or a schedule .*got string "0\.1"$/],
    ['SGD momentum as a string', () => new SGD(model, { momentum: '0.9' as unknown as number }), /^SGD: option 'momentum' expected a finite number ≥ 0, got string "0\.9"$/],
    ['SGD nesterov as a string', () => new SGD(model, { momentum: 0.9, nesterov: 'true' as unknown as boolean }),
      /^SGD: option 'nesterov' expected true or false, got string "true"$/],
    ['SGD weightDecay negative', () => new SGD(model, { weightDecay: -1 }), /^SGD: option 'weightDecay' expected a finite number ≥ 0, got number -1$/],
    ['SGD with an AdamW option', () => new SGD(model, { betas: [0.9, 0.99] } as never), /^SGD: unknown option 'betas' \(expected .*'momentum', 'nesterov'\)$/],
    ['Ema decay as a string', () => new Ema(model, { decay: '0.99' as unknown as number }), /^Ema: option 'decay' expected a number in \[0, 1\], got string "0\.99"$/],
    ['Ema with a misspelt option', () => new Ema(model, { decay: 0.9, warmUp: true } as never), /^Ema: unknown option 'warmUp'/],
    ['setLr with a string', () => new AdamW(model).setLr('0.1' as unknown as number), /^AdamW\.setLr: argument 'lr' expected a number or a schedule .*got string "0\.1"$/],
  ];
  for (const [name, make, pattern] of cases) {
    it(name, () => {
      const error = (() => {
        try {
          make();
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(BrickConfigError);
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).not.toMatch(/^makeSchedule/);
    });
  }

  it('accepts every valid spelling', () => {
    expect(() => new AdamW(model, { lr: 1e-3, betas: [0.9, 0.99], eps: 1e-6, weightDecay: 0, fused: false, noDecay: () => false })).not.toThrow();
    expect(() => new AdamW(model, { lr: (s) => 1 / (s + 1) })).not.toThrow();
    expect(() => new SGD(model, { lr: { kind: 'constant', lr: 0.1 }, momentum: 0.9, nesterov: true, weightDecay: 1e-4 })).not.toThrow();
    expect(() => new Ema(model, { decay: 1, warmup: true, includeBuffers: false })).not.toThrow();
  });
});

describe('save / load arguments', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(join(tmpdir(), 'brickml-reliability-errors-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('save to a path that is an existing file names the path and says it is a file', async () => {
    const file = join(dir, 'model.bin');
    await fsp.writeFile(file, 'keep');
    const error = await save(model, file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^save: '.*model\.bin' is a file, not a directory; save writes a checkpoint directory \(config\.json \+ model\.safetensors\)/);
    expect(await fsp.readFile(file, 'utf8')).toBe('keep');
    await expect(save(model, join(file, 'sub'))).rejects.toThrow(/^save: cannot create directory '.*model\.bin[/\\]sub': a part of the path '.*' is a file, not a directory$/);
  });

  it('save with its arguments swapped or missing says what it expected', async () => {
    await expect(save(dir as never, model as never)).rejects.toThrow(TypeError);
    await expect(save(dir as never, model as never)).rejects.toThrow(/^save: argument 'module' expected a Module \(save\(module, dir\)\), got string ".*"$/);
    await expect(save(model, undefined as never)).rejects.toThrow(/^save: argument 'dir' expected a directory path string, got undefined$/);
  });

  it('load given a module instead of a path says it expects a directory path string, and what it got', async () => {
    const error = await load(model as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe("load: argument 'dir' expected a checkpoint directory path string (load(dir)), got a Linear module");
    await expect(load({ dir } as never)).rejects.toThrow(/got object \{"dir":".*"\}$/);
  });

  it('load of a file or of a missing directory names the path', async () => {
    const ck = join(dir, 'ck');
    await save(model, ck);
    await expect(load(join(ck, 'model.safetensors'))).rejects.toThrow(
      /^load: '.*ck[/\\]model\.safetensors' is a file, not a checkpoint directory \(config\.json \+ model\.safetensors\); pass the directory that holds it$/,
    );
    await expect(load(join(dir, 'nope'))).rejects.toThrow(/^load: checkpoint directory '.*nope' does not exist$/);
    const loaded = await load(ck);
    expect(Array.from(await (loaded as Linear).weight.data())).toEqual(Array.from(await model.weight.data()));
    loaded.dispose();
  });
});
