import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, CheckpointError, FUSED_ADAMW_KERNEL, Module, NonFiniteError, Rng, ShapeError, fusedAdamWAvailable, parameter } from '../src/index.js';
import { AdamW, SGD } from '../src/optim/adamw.js';
import { noDecayForBiasAndNorm } from '../src/optim/optimizer.js';
import { allFinite, assertFinite, clipGradNorm, globalNorm, isFiniteAll } from '../src/optim/clip.js';
import { makeSchedule, type ScheduleConfig } from '../src/optim/schedules.js';
import { Ema } from '../src/optim/ema.js';

// ---------- helpers ----------

async function vals(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

function expectClose(got: number[], want: number[], tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i] - want[i]) > tol) throw new Error(`index ${i}: got ${got[i]}, want ${want[i]} (±${tol}); got [${got}], want [${want}]`);
  }
}

class Pair extends Module {
  a = parameter(tf.tensor1d([1, -2]));
  b = parameter(tf.tensor1d([0.5, 3]));
}

class Lin extends Module {
  weight = parameter(tf.tensor2d([[1, 2], [3, 4]]));
  bias = parameter(tf.tensor1d([0.5, -0.5]));
}

class Net extends Module {
  layer = new Lin();
  norm = new (class extends Module {
    weight = parameter(tf.ones([2]));
  })();
  extra = parameter(tf.tensor2d([[1, -1, 2]]));
}

function grads(obj: Record<string, number[] | number[][]>): Map<string, tf.Tensor> {
  return new Map(Object.entries(obj).map(([k, v]) => [k, tf.tensor(v)]));
}

function disposeMap(m: Map<string, tf.Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** Reference AdamW state for one parameter, plain JS doubles (PyTorch's formula). */
class RefAdamW {
  m: number[];
  v: number[];
  t = 0;
  constructor(public p: number[], private o: { lr: number; b1: number; b2: number; eps: number; wd: number }) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }
  step(g: number[], lr = this.o.lr): void {
    const { b1, b2, eps, wd } = this.o;
    this.t += 1;
    this.p = this.p.map((x) => x * (1 - lr * wd));
    this.m = this.m.map((m, i) => b1 * m + (1 - b1) * g[i]);
    this.v = this.v.map((v, i) => b2 * v + (1 - b2) * g[i] * g[i]);
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    this.p = this.p.map((x, i) => x - (lr * (this.m[i] / bc1)) / (Math.sqrt(this.v[i] / bc2) + eps));
  }
}

/** Gradients keyed by path: runs `f` under tf.variableGrads and renames tfjs's variable names to paths. */
function gradsByPath(model: Module, f: () => tf.Scalar): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const named = model.namedParameters();
  const { value, grads: g } = tf.variableGrads(f, named.map(([, p]) => p));
  return { loss: value, grads: new Map(named.map(([n, p]) => [n, g[p.name]])) };
}

// ---------- AdamW ----------

describe('AdamW', () => {
  const gradSeq = [
    [0.5, -1.0],
    [0.1, 2.0],
    [-0.3, 0.7],
  ];

  for (const wd of [0, 0.1]) {
    it(`matches hand-computed PyTorch AdamW for 3 steps (weightDecay ${wd})`, async () => {
      const m = new Pair();
      const opt = new AdamW(m, { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: wd });
      const ref = new RefAdamW([1, -2], { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd });
      for (const g of gradSeq) {
        const gm = grads({ a: g });
        opt.step(gm);
        disposeMap(gm);
        ref.step(g);
        expectClose(await vals(m.a), ref.p);
        expectClose(await vals(opt.slot('a', 'exp_avg')!), ref.m);
        expectClose(await vals(opt.slot('a', 'exp_avg_sq')!), ref.v, 1e-9);
      }
      // b never got a gradient: untouched, no state.
      expect(await vals(m.b)).toEqual([0.5, 3]);
      expect(opt.slot('b', 'exp_avg')).toBeUndefined();
      expect(opt.paramStep('a')).toBe(3);
      expect(opt.globalStep).toBe(3);
      opt.dispose();
      m.dispose();
    });
  }

  it('skips a parameter without a gradient: its moments and step stay, the other updates exactly', async () => {
    const m = new Pair();
    const o = { lr: 0.05, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01 };
    const opt = new AdamW(m, { lr: o.lr, weightDecay: o.wd });
    const refA = new RefAdamW([1, -2], o);
    const refB = new RefAdamW([0.5, 3], o);

    let g = grads({ a: [0.5, -1], b: [2, -0.25] });
    opt.step(g);
    disposeMap(g);
    refA.step([0.5, -1]);
    refB.step([2, -0.25]);
    const bM = await vals(opt.slot('b', 'exp_avg')!);
    const bV = await vals(opt.slot('b', 'exp_avg_sq')!);
    const bP = await vals(m.b);

    // Step 2: only `a` (a record this time). With positional state (tfjs) `a` would pick up b's moments.
    const ga = tf.tensor1d([0.1, 2]);
    opt.step({ a: ga, b: null });
    ga.dispose();
    refA.step([0.1, 2]);
    expectClose(await vals(m.a), refA.p);
    expect(await vals(m.b)).toEqual(bP);
    expect(await vals(opt.slot('b', 'exp_avg')!)).toEqual(bM);
    expect(await vals(opt.slot('b', 'exp_avg_sq')!)).toEqual(bV);
    expect(opt.paramStep('a')).toBe(2);
    expect(opt.paramStep('b')).toBe(1);

    // Step 3: both; b's bias correction uses its own t = 2.
    g = grads({ b: [-1, 1], a: [-0.3, 0.7] });
    opt.step(g);
    disposeMap(g);
    refA.step([-0.3, 0.7]);
    refB.step([-1, 1]);
    expectClose(await vals(m.a), refA.p);
    expectClose(await vals(m.b), refB.p);
    expect(opt.stateJson().paramSteps).toEqual({ a: 3, b: 2 });
    expect(opt.globalStep).toBe(3);
    opt.dispose();
    m.dispose();
  });

  it('respects noDecay (noDecayForBiasAndNorm): decayed weights shrink by (1 - lr·wd), others stay', async () => {
    const net = new Net();
    const opt = new AdamW(net, { lr: 0.5, weightDecay: 0.2, noDecay: noDecayForBiasAndNorm });
    expect(net.namedParameters().map(([n]) => [n, opt.isDecayed(n)])).toEqual([
      ['layer.weight', true], ['layer.bias', false], ['norm.weight', false], ['extra', true],
    ]);
    // Zero gradients: the Adam part is exactly 0 / (0 + eps) = 0, so only decay moves parameters.
    const g = new Map(net.namedParameters().map(([n, p]) => [n, tf.zerosLike(p) as tf.Tensor]));
    opt.step(g);
    disposeMap(g);
    expectClose(await vals(net.layer.weight), [1, 2, 3, 4].map((x) => x * 0.9));
    expectClose(await vals(net.extra), [1, -1, 2].map((x) => x * 0.9));
    expect(await vals(net.layer.bias)).toEqual([0.5, -0.5]);
    expect(await vals(net.norm.weight)).toEqual([1, 1]);
    opt.dispose();
    net.dispose();
  });

  it('noDecayForBiasAndNorm recognises biases, norms, 1-D params and embeddings by path', () => {
    const w2 = tf.variable(tf.zeros([2, 2]));
    const w1 = tf.variable(tf.zeros([2]));
    expect(noDecayForBiasAndNorm('blocks.0.attn.q.weight', w2)).toBe(false);
    expect(noDecayForBiasAndNorm('blocks.0.mlp.fc1.weight', w2)).toBe(false);
    expect(noDecayForBiasAndNorm('blocks.0.mlp.fc1.bias', w1)).toBe(true);
    expect(noDecayForBiasAndNorm('blocks.0.norm1.weight', w2)).toBe(true);
    expect(noDecayForBiasAndNorm('ln_f.weight', w2)).toBe(true);
    expect(noDecayForBiasAndNorm('tokEmbed.weight', w2)).toBe(true);
    expect(noDecayForBiasAndNorm('posEmbedding', w2)).toBe(true);
    expect(noDecayForBiasAndNorm('time_emb.weight', w2)).toBe(true);
    expect(noDecayForBiasAndNorm('adaNorm.proj.weight', w2)).toBe(false);
    expect(noDecayForBiasAndNorm('member.weight', w2)).toBe(false);
    expect(noDecayForBiasAndNorm('scale', w1)).toBe(true);
    w1.dispose();
    w2.dispose();
  });

  it('rejects unknown gradient names and shape mismatches before changing anything', async () => {
    const m = new Pair();
    const opt = new AdamW(m, { lr: 0.1 });
    const ok = tf.tensor1d([1, 1]);
    const bad = tf.tensor1d([1, 1, 1]);
    expect(() => opt.step(new Map([['a', ok], ['c', ok]]))).toThrow(/unknown parameter 'c'/);
    expect(() => opt.step(new Map([['a', ok], ['b', bad]]))).toThrow(ShapeError);
    expect(() => opt.step({ a: ok, b: bad })).toThrow(/'b' has shape \[3\], parameter has \[2\]/);
    expect(await vals(m.a)).toEqual([1, -2]);
    expect(opt.paramStep('a')).toBe(0);
    expect(opt.globalStep).toBe(0);
    ok.dispose();
    bad.dispose();
    expect(() => new AdamW(m, { betas: [0.9, 1] })).toThrow(/betas\[1\]/);
    expect(() => new AdamW(m, { weightDecay: -1 })).toThrow(/weightDecay/);
    expect(() => new AdamW([['x', m.a], ['x', m.b]])).toThrow(/'x' is listed twice/);
    opt.dispose();
    m.dispose();
  });

  it('accepts [path, variable] pairs and a schedule; currentLr follows the global step', async () => {
    const m = new Pair();
    const sched: ScheduleConfig = { kind: 'linearWarmup', peakLr: 0.2, warmupSteps: 2 };
    const opt = new AdamW([['x', m.a]], { lr: sched, weightDecay: 0.5 });
    const ref = new RefAdamW([1, -2], { lr: 0, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.5 });
    const lrs: number[] = [];
    for (const g of [[1, 1], [-1, 2], [0.5, 0.5]]) {
      const lr = opt.currentLr();
      lrs.push(lr);
      const gm = grads({ x: g });
      opt.step(gm);
      disposeMap(gm);
      ref.step(g, lr);
    }
    expect(lrs).toEqual([0.1, 0.2, 0.2]);
    expectClose(await vals(m.a), ref.p);
    expect(opt.paramNames()).toEqual(['x']);
    opt.dispose();
    m.dispose();
  });

  it('save → new optimizer → load → next step is identical to uninterrupted training', async () => {
    const lr: ScheduleConfig = { kind: 'warmupCosine', peakLr: 0.1, warmupSteps: 2, totalSteps: 10, minLr: 0.01 };
    const seq: Array<Record<string, number[]>> = [
      { a: [0.5, -1], b: [1, 1] },
      { a: [0.1, 2] },
      { a: [-0.3, 0.7], b: [0.2, -3] },
      { a: [1, -1], b: [0.5, 0.5] },
    ];
    const m1 = new Pair();
    const opt1 = new AdamW(m1, { lr, noDecay: (n) => n === 'b' });
    for (const g of seq.slice(0, 3)) {
      const gm = grads(g);
      opt1.step(gm);
      disposeMap(gm);
    }
    // "Write" the checkpoint: copies of the tensors and a JSON round trip.
    const saved = new Map(opt1.stateEntries().map(([n, t]) => [n, t.clone()]));
    expect([...saved.keys()].sort()).toEqual(['exp_avg.a', 'exp_avg.b', 'exp_avg_sq.a', 'exp_avg_sq.b']);
    const json = JSON.parse(JSON.stringify(opt1.stateJson()));
    expect(json).toMatchObject({ kind: 'AdamW', step: 3, paramSteps: { a: 3, b: 2 } });

    const m2 = new Pair();
    m2.a.assign(m1.a);
    m2.b.assign(m1.b);
    const opt2 = new AdamW(m2, { lr, noDecay: (n) => n === 'b' });
    opt2.loadState(saved, json);
    disposeMap(saved);
    expect(opt2.globalStep).toBe(3);
    expect(opt2.currentLr()).toBe(opt1.currentLr());

    for (const opt of [opt1, opt2]) {
      const gm = grads(seq[3]);
      opt.step(gm);
      disposeMap(gm);
    }
    expect(await vals(m2.a)).toEqual(await vals(m1.a));
    expect(await vals(m2.b)).toEqual(await vals(m1.b));
    expect(await vals(opt2.slot('b', 'exp_avg_sq')!)).toEqual(await vals(opt1.slot('b', 'exp_avg_sq')!));
    expect(opt2.stateJson()).toEqual(opt1.stateJson());
    for (const x of [opt1, opt2, m1, m2]) x.dispose();
  });

  it('loadState validates everything before assigning', async () => {
    const m = new Pair();
    const opt = new AdamW(m, { lr: 0.1 });
    const gm = grads({ a: [1, 2] });
    opt.step(gm);
    disposeMap(gm);
    const before = await vals(opt.slot('a', 'exp_avg')!);
    const json = opt.stateJson();
    const z2 = tf.zeros([2]);
    const z3 = tf.zeros([3]);
    const load = (e: Record<string, tf.Tensor>, j: object = json) => () => opt.loadState(e, j as typeof json);
    expect(load({ 'exp_avg.a': z3, 'exp_avg_sq.a': z2 })).toThrow(/'exp_avg.a' has shape \[3\], parameter 'a' has \[2\]/);
    expect(load({ 'exp_avg.a': z2, 'exp_avg_sq.a': z2, 'exp_avg.zzz': z2 })).toThrow(/unknown parameter 'zzz'/);
    expect(load({ 'exp_avg.a': z2, 'exp_avg_sq.a': z2, 'momentum_buffer.a': z2 })).toThrow(/not a AdamW slot/);
    expect(load({ 'exp_avg.a': z2 })).toThrow(/missing tensor 'exp_avg_sq.a'/);
    expect(load({ 'exp_avg.a': z2, 'exp_avg_sq.a': z2 }, { ...json, paramSteps: { zzz: 1 } })).toThrow(/unknown parameter 'zzz'/);
    expect(load({ 'exp_avg.a': z2, 'exp_avg_sq.a': z2 }, { ...json, kind: 'SGD' })).toThrow(CheckpointError);
    expect(await vals(opt.slot('a', 'exp_avg')!)).toEqual(before);
    expect(opt.paramStep('a')).toBe(1);
    z2.dispose();
    z3.dispose();
    opt.dispose();
    m.dispose();
  });

  it('minimises a small quadratic', async () => {
    const m = new Pair();
    const target = tf.tensor1d([3, -1]);
    const opt = new AdamW(m, { lr: { kind: 'warmupCosine', peakLr: 0.1, warmupSteps: 10, totalSteps: 300 }, weightDecay: 0 });
    let first = 0;
    let last = 0;
    for (let i = 0; i < 300; i++) {
      const { loss, grads: g } = gradsByPath(m, () =>
        tf.add(tf.sum(tf.square(tf.sub(m.a, target))), tf.sum(tf.square(tf.sub(m.b, target)))) as tf.Scalar,
      );
      if (i === 0) first = (await loss.data())[0];
      if (i === 299) last = (await loss.data())[0];
      opt.step(g);
      loss.dispose();
      disposeMap(g);
    }
    expect(first).toBeCloseTo(2 ** 2 + 1 + 2.5 ** 2 + 4 ** 2, 5);
    expect(last).toBeLessThan(1e-4);
    expectClose(await vals(m.a), [3, -1], 1e-2);
    expectClose(await vals(m.b), [3, -1], 1e-2);
    target.dispose();
    opt.dispose();
    m.dispose();
  });
});

// ---------- SGD ----------

describe('AdamW fused update', () => {
  const run = async (fused: boolean) => {
    const rng = new Rng(3);
    const params: Array<[string, tf.Variable]> = [
      ['w', tf.variable(rng.normalTensor([7, 5]))],
      ['bias', tf.variable(rng.normalTensor([5]))],
    ];
    const opt = new AdamW(params, { lr: 0.01, weightDecay: 0.1, noDecay: noDecayForBiasAndNorm, fused });
    for (let s = 0; s < 4; s++) {
      const gm = new Map(params.map(([n, p]) => [n, rng.normalTensor(p.shape)] as [string, tf.Tensor]));
      opt.step(gm);
      disposeMap(gm);
    }
    const out = await Promise.all([...params.map(([, p]) => vals(p)), vals(opt.slot('w', 'exp_avg')!), vals(opt.slot('w', 'exp_avg_sq')!)]);
    opt.dispose();
    tf.dispose(params.map(([, p]) => p));
    return out;
  };

  it('equals the op-by-op update over several steps (decayed and not decayed parameters)', async () => {
    expect(fusedAdamWAvailable(tf.zeros([1]))).toBe(true); // tests run on cpu
    const [fused, plain] = [await run(true), await run(false)];
    fused.forEach((f, i) => expectClose(f, plain[i], 2e-6));
  });

  it('is one kernel per parameter', async () => {
    const p = tf.variable(tf.ones([4, 3]));
    const opt = new AdamW([['p', p]], { lr: 0.1 });
    const g = tf.ones([4, 3]);
    const kernelNames = (await tf.profile(() => opt.step({ p: g }))).kernels.map((k) => k.name); // every call (`kernelNames` is a set)
    expect(kernelNames.filter((k) => k === FUSED_ADAMW_KERNEL)).toHaveLength(1);
    expect(kernelNames.length).toBeLessThanOrEqual(3); // + the two slots' zeros on the first step
    opt.dispose();
    tf.dispose([p, g]);
  });
});

describe('SGD', () => {
  const seq = [[1, -2], [0.5, 0.5], [-1, 3]];

  for (const nesterov of [false, true]) {
    it(`momentum${nesterov ? ' (nesterov)' : ''} matches hand-computed PyTorch SGD with L2 decay`, async () => {
      const m = new Pair();
      const opt = new SGD(m, { lr: 0.1, momentum: 0.9, nesterov, weightDecay: 0.01 });
      let p = [1, -2];
      let buf: number[] | null = null;
      for (const g of seq) {
        const gm = grads({ a: g });
        opt.step(gm);
        disposeMap(gm);
        let d = g.map((x, i) => x + 0.01 * p[i]);
        const b: number[] = buf === null ? d : buf.map((x, i) => 0.9 * x + d[i]);
        buf = b;
        d = nesterov ? d.map((x, i) => x + 0.9 * b[i]) : b;
        p = p.map((x, i) => x - 0.1 * d[i]);
        expectClose(await vals(m.a), p);
        expectClose(await vals(opt.slot('a', 'momentum_buffer')!), b);
      }
      opt.dispose();
      m.dispose();
    });
  }

  it('plain SGD has no state; nesterov without momentum is rejected', async () => {
    const m = new Pair();
    const opt = new SGD(m, { lr: 0.5 });
    const gm = grads({ b: [1, -4] });
    opt.step(gm);
    disposeMap(gm);
    expectClose(await vals(m.b), [0, 5]);
    expect(opt.stateEntries()).toEqual([]);
    expect(opt.stateJson().paramSteps).toEqual({ b: 1 });
    expect(() => new SGD(m, { nesterov: true })).toThrow(BrickConfigError);
    opt.dispose();
    m.dispose();
  });
});

// ---------- schedules ----------

describe('schedules', () => {
  it('warmupCosine: warm-up from (step+1)/warmup, cosine to minLr, then constant', () => {
    const s = makeSchedule({ kind: 'warmupCosine', peakLr: 1, warmupSteps: 4, totalSteps: 12, minLr: 0.1 });
    expect(s(0)).toBe(0.25); // first step: nonzero
    expect(s(1)).toBe(0.5);
    expect(s(3)).toBe(1); // last warm-up step
    expect(s(4)).toBe(1); // cosine start
    expect(s(6)).toBeCloseTo(0.1 + 0.45 * (1 + Math.SQRT1_2), 12); // progress 1/4
    expect(s(6)).toBeCloseTo(0.868198052, 8);
    expect(s(8)).toBeCloseTo(0.55, 12); // progress 1/2
    expect(s(12)).toBe(0.1); // end
    expect(s(1000)).toBe(0.1); // after the end
  });

  it('warmupCosine without warm-up and minLr defaults', () => {
    const s = makeSchedule({ kind: 'warmupCosine', peakLr: 2, warmupSteps: 0, totalSteps: 4 });
    expect(s(0)).toBe(2);
    expect(s(2)).toBeCloseTo(1, 12);
    expect(s(3)).toBeCloseTo(1 + Math.cos((3 * Math.PI) / 4), 12);
    expect(s(4)).toBe(0);
  });

  it('linearWarmup, warmupLinearDecay and constant', () => {
    const w = makeSchedule({ kind: 'linearWarmup', peakLr: 0.3, warmupSteps: 3 });
    expectClose([0, 1, 2, 3, 50].map(w), [0.1, 0.2, 0.3, 0.3, 0.3], 1e-12);
    const d = makeSchedule({ kind: 'warmupLinearDecay', peakLr: 1, warmupSteps: 2, totalSteps: 6, minLr: 0.2 });
    expectClose([0, 1, 2, 3, 4, 5, 6, 7].map(d), [0.5, 1, 1, 0.8, 0.6, 0.4, 0.2, 0.2], 1e-12);
    const c = makeSchedule({ kind: 'constant', lr: 0.01 });
    expect([0, 10, 1e6].map(c)).toEqual([0.01, 0.01, 0.01]);
  });

  it('validates configs with errors naming the field', () => {
    const bad = (c: unknown) => () => makeSchedule(c as ScheduleConfig);
    expect(bad({ kind: 'warmupCosine', peakLr: 1, warmupSteps: 20, totalSteps: 10 })).toThrow(/'warmupSteps' \(20\) must be ≤ 'totalSteps' \(10\)/);
    expect(bad({ kind: 'warmupCosine', peakLr: 1, warmupSteps: -1, totalSteps: 10 })).toThrow(/'warmupSteps'/);
    expect(bad({ kind: 'warmupLinearDecay', peakLr: 1, warmupSteps: 1, totalSteps: 2.5 })).toThrow(/'totalSteps'/);
    expect(bad({ kind: 'warmupCosine', peakLr: 1, warmupSteps: 1, totalSteps: 5, minLr: 2 })).toThrow(/'minLr'/);
    expect(bad({ kind: 'linearWarmup', peakLr: -1, warmupSteps: 1 })).toThrow(/'peakLr'/);
    expect(bad({ kind: 'constant', lr: NaN })).toThrow(/'lr'/);
    expect(bad({ kind: 'exponential' })).toThrow(/unknown 'kind' "exponential"/);
    expect(bad({ kind: 'constant', lr: 1 })).not.toThrow();
    expect(() => makeSchedule({ kind: 'constant', lr: 1 })(-1)).toThrow(RangeError);
  });
});

// ---------- clipping ----------

describe('clipGradNorm', () => {
  it('matches the hand-computed global norm and scale', async () => {
    const g = grads({ a: [3, 4], b: [[12]] }); // ‖·‖ = √(9 + 16 + 144) = 13
    const { grads: c, totalNorm } = clipGradNorm(g, 6.5);
    expect((await totalNorm.data())[0]).toBeCloseTo(13, 5);
    const scale = 6.5 / (13 + 1e-6);
    expectClose(await vals(c.get('a')!), [3 * scale, 4 * scale]);
    expectClose(await vals(c.get('b')!), [12 * scale]);
    expect([...c.keys()]).toEqual(['a', 'b']);
    expect(c.get('b')!.shape).toEqual([1, 1]);
    disposeMap(g);
    disposeMap(c);
    totalNorm.dispose();
  });

  it('leaves gradients within maxNorm unchanged', async () => {
    const g = grads({ a: [3, 4], b: [-0.5, 0.25] });
    const { grads: c, totalNorm } = clipGradNorm(g, 100);
    expect(await vals(c.get('a')!)).toEqual([3, 4]);
    expect(await vals(c.get('b')!)).toEqual([-0.5, 0.25]);
    disposeMap(g);
    disposeMap(c);
    totalNorm.dispose();
  });

  it('globalNorm over many tensors (no addN), other orders', async () => {
    const many = Array.from({ length: 20 }, (_, i) => tf.tensor1d([i + 1]));
    const n2 = globalNorm(many);
    expect((await n2.data())[0]).toBeCloseTo(Math.sqrt((20 * 21 * 41) / 6), 3); // √Σ i², i=1..20 = √2870
    const nInf = globalNorm(many, Infinity);
    expect((await nInf.data())[0]).toBe(20);
    const n1 = globalNorm(many, 1);
    expect((await n1.data())[0]).toBe(210);
    const n3 = globalNorm([tf.tensor1d([1, -2])], 3);
    expect((await n3.data())[0]).toBeCloseTo(Math.cbrt(9), 5);
    const empty = globalNorm(new Map());
    expect((await empty.data())[0]).toBe(0);
    for (const t of [...many, n2, nInf, n1, n3, empty]) t.dispose();
    expect(() => globalNorm([], 0)).toThrow(/normType/);
  });

  it('detects NaN and Inf', async () => {
    const good = grads({ a: [1, 2], b: [3] });
    const bad = grads({ a: [1, 2], b: [NaN], c: [Infinity, 0] });
    const f1 = isFiniteAll(good);
    const f2 = isFiniteAll(bad);
    expect(f1.dtype).toBe('bool');
    expect(await vals(f1)).toEqual([1]);
    expect(await vals(f2)).toEqual([0]);
    expect(await allFinite(good)).toBe(true);
    expect(await allFinite(bad)).toBe(false);
    await expect(assertFinite(good)).resolves.toBeUndefined();
    await expect(assertFinite(bad, 'gradients')).rejects.toThrow(NonFiniteError);
    await expect(assertFinite(bad, 'gradients')).rejects.toThrow(/gradients: 'b', 'c'$/);
    for (const t of [f1, f2]) t.dispose();
    disposeMap(good);
    disposeMap(bad);
  });
});

// ---------- EMA ----------

describe('Ema', () => {
  async function setA(m: Pair, v: number[]): Promise<void> {
    const t = tf.tensor1d(v);
    m.a.assign(t);
    t.dispose();
  }

  it('matches hand-computed averages (fixed decay and warm-up)', async () => {
    const m = new Pair();
    const ema = new Ema(m, { decay: 0.9 });
    const emaW = new Ema(m, { decay: 0.999, warmup: true });
    let s = [1, -2];
    let sw = [1, -2];
    for (const [t, p] of [[3, 4], [5, 0], [-1, 1]].entries()) {
      await setA(m, p);
      ema.update();
      emaW.update();
      s = s.map((x, i) => 0.9 * x + 0.1 * p[i]);
      const d = Math.min(0.999, (1 + t) / (10 + t));
      sw = sw.map((x, i) => d * x + (1 - d) * p[i]);
      expectClose(await vals(ema.shadow('a')!), s);
      expectClose(await vals(emaW.shadow('a')!), sw);
    }
    // By hand: [1.2, -1.4] → [1.58, -1.26] → [1.322, -1.034].
    expectClose(await vals(ema.shadow('a')!), [1.322, -1.034]);
    expect(emaW.currentDecay()).toBeCloseTo(4 / 13, 15);
    expectClose(await vals(ema.shadow('b')!), [0.5, 3]); // b never moved
    expect(ema.numUpdates).toBe(3);
    ema.dispose();
    emaW.dispose();
    m.dispose();
  });

  it('swap and withAveraged restore the original weights exactly; copyTo copies', async () => {
    const m = new Pair();
    const ema = new Ema(m, { decay: 0.7 });
    await setA(m, [0.1234567, -7.654321]);
    ema.update();
    await setA(m, [1 / 3, 2 / 7]);
    const orig = await vals(m.a);
    const avg = await vals(ema.shadow('a')!);
    ema.swap(m);
    expect(await vals(m.a)).toEqual(avg);
    expect(() => ema.update()).toThrow(/swapped/);
    ema.swap(m);
    expect(await vals(m.a)).toEqual(orig);
    expect(await vals(ema.shadow('a')!)).toEqual(avg);

    const seen = await ema.withAveraged(m, async () => vals(m.a));
    expect(seen).toEqual(avg);
    expect(await vals(m.a)).toEqual(orig);
    await expect(ema.withAveraged(m, () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await vals(m.a)).toEqual(orig);

    const other = new Pair();
    ema.copyTo(other);
    expect(await vals(other.a)).toEqual(avg);
    expect(await vals(m.a)).toEqual(orig);
    for (const x of [ema, m, other]) x.dispose();
  });

  it('stateEntries / loadState round trip by path, with validation', async () => {
    const m = new Pair();
    const ema = new Ema(m, { decay: 0.5 });
    await setA(m, [3, 3]);
    ema.update();
    const saved = new Map(ema.stateEntries().map(([n, t]) => [n, t.clone()]));
    expect([...saved.keys()]).toEqual(['a', 'b']);
    const json = JSON.parse(JSON.stringify(ema.stateJson()));
    const ema2 = new Ema(m, { decay: 0.5 });
    ema2.loadState(saved, json);
    expect(ema2.numUpdates).toBe(1);
    expect(await vals(ema2.shadow('a')!)).toEqual([2, 0.5]);
    disposeMap(saved);
    expect(await vals(ema2.shadow('a')!)).toEqual([2, 0.5]); // copied, not borrowed

    const z = tf.zeros([3]);
    const z2 = tf.zeros([2]);
    expect(() => ema2.loadState({ a: z, b: z2 })).toThrow(/'a' has shape \[3\], expected \[2\]/);
    expect(() => ema2.loadState({ a: z2, b: z2, c: z2 })).toThrow(/'c' is not a tracked parameter/);
    expect(() => ema2.loadState({ a: z2 })).toThrow(/missing 'b'/);
    expect(await vals(ema2.shadow('a')!)).toEqual([2, 0.5]);
    z.dispose();
    z2.dispose();
    expect(() => ema2.copyTo(new Lin())).toThrow(/'weight'/);
    for (const x of [ema, ema2, m]) x.dispose();
  });
});

// ---------- memory ----------

describe('memory', () => {
  it('no tensor growth over 50 steps of grads → clip → AdamW/SGD → EMA', async () => {
    const m = new Net();
    const x = tf.tensor2d([[1, 2], [-1, 0.5]]);
    const adam = new AdamW(m, { lr: { kind: 'warmupCosine', peakLr: 1e-2, warmupSteps: 5, totalSteps: 50 }, noDecay: noDecayForBiasAndNorm });
    const sgd = new SGD(m, { lr: 1e-3, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
    const ema = new Ema(m, { decay: 0.99, warmup: true });
    const counts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const { loss, grads: g } = gradsByPath(m, () => {
        const h = tf.add(tf.matMul(x, m.layer.weight), m.layer.bias);
        return tf.add(tf.mean(tf.square(tf.mul(h, m.norm.weight))), tf.sum(tf.square(m.extra))) as tf.Scalar;
      });
      const { grads: c, totalNorm } = clipGradNorm(g, 1);
      (i % 2 === 0 ? adam : sgd).step(c);
      ema.update();
      await assertFinite(c, 'gradients');
      for (const t of [loss, totalNorm]) t.dispose();
      disposeMap(g);
      disposeMap(c);
      counts.push(tf.memory().numTensors);
    }
    expect(counts[49]).toBe(counts[4]);
    const before = tf.memory().numTensors;
    for (const o of [adam, sgd, ema]) o.dispose();
    // AdamW: 2 slots × 4 params, SGD: 1 slot × 4 params, EMA: 4 shadows.
    expect(before - tf.memory().numTensors).toBe(16);
    x.dispose();
    m.dispose();
  });
});
