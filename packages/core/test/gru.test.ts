import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { BrickConfigError, GRU, GRUCell, Rng, ShapeError, build, gradCheck, gradCheckVariables, type Module } from '../src/index.js';

// Reference numbers from PyTorch (scripts/make_linalg_fixtures.py, float64 from float32 inputs).
interface Entry { shape: number[]; data: number[] }
const fixture = JSON.parse(readFileSync(new URL('./fixtures/linalg/gru.json', import.meta.url), 'utf8')) as {
  cell: { params: Record<string, Entry>; x: Entry; h: Entry; r: Entry; y: Entry; grads: Record<string, Entry> };
  gru: {
    params: Record<string, Entry>; x: Entry; h0: Entry; r1: Entry; r2: Entry; output: Entry; hidden: Entry;
    outputZeroH0: Entry; hiddenZeroH0: Entry; grads: Record<string, Entry>;
  };
};
const T = (e: Entry) => tf.tensor(e.data, e.shape, 'float32');

/** Copies the fixture's PyTorch state dict into the module, checking that every name exists with its shape. */
function loadParams(m: Module, params: Record<string, Entry>): void {
  const named = new Map(m.namedParameters());
  expect([...named.keys()].sort()).toEqual(Object.keys(params).sort());
  for (const [name, e] of Object.entries(params)) {
    const p = named.get(name)!;
    expect(p.shape).toEqual(e.shape);
    tf.tidy(() => p.assign(T(e)));
  }
}

function expectClose(actual: tf.Tensor, expected: Entry, tol: number): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - expected.data[i]));
  expect(worst).toBeLessThan(tol);
}

describe('GRUCell', () => {
  it('has PyTorch nn.GRUCell names, shapes and U(±1/√H) init', () => {
    const cell = new GRUCell({ inputSize: 5, hiddenSize: 16 }, { rng: new Rng(3) });
    expect(cell.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['weight_ih', [48, 5]], ['weight_hh', [48, 16]], ['bias_ih', [48]], ['bias_hh', [48]],
    ]);
    for (const p of cell.parameters()) {
      const max = Array.from(p.dataSync()).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(max).toBeLessThanOrEqual(0.25);
      expect(max).toBeGreaterThan(0.2); // the bound 1/√16 is reached, not a narrower range
    }
    const noBias = new GRUCell({ inputSize: 5, hiddenSize: 16, bias: false });
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight_ih', 'weight_hh']);
    cell.dispose();
    noBias.dispose();
  });

  it('matches PyTorch nn.GRUCell: output and gradients', () => {
    const f = fixture.cell;
    const cell = new GRUCell({ inputSize: 3, hiddenSize: 4 });
    loadParams(cell, f.params);
    const x = T(f.x), h = T(f.h), r = T(f.r);
    const y = cell.forward(x, h);
    expectClose(y, f.y, 1e-5);
    const vars = cell.namedParameters();
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(cell.forward(x, h), r)) as tf.Scalar, vars.map(([, p]) => p));
    for (const [name, p] of vars) expectClose(grads[p.name], f.grads[name], 1e-5);
    const [dx, dh] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(cell.forward(a, b), r)))([x, h]);
    expectClose(dx, f.grads.x, 1e-5);
    expectClose(dh, f.grads.h, 1e-5);
    tf.dispose([x, h, r, y, dx, dh, ...Object.values(grads)]);
    cell.dispose();
  });

  it('gradients agree with finite differences', async () => {
    const cell = new GRUCell({ inputSize: 3, hiddenSize: 5 }, { rng: new Rng(7) });
    const rng = new Rng(8);
    const x = rng.normalTensor([4, 3], 0, 1);
    const h = rng.normalTensor([4, 5], 0, 1);
    const w = rng.normalTensor([4, 5], 0, 1);
    const res = await gradCheck((a, b) => tf.sum(tf.mul(cell.forward(a, b), w)) as tf.Scalar, [x, h], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(res.ok, JSON.stringify(res)).toBe(true);
    const resP = await gradCheckVariables(() => tf.sum(tf.mul(cell.forward(x, h), w)) as tf.Scalar, cell.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(resP.ok, JSON.stringify(resP)).toBe(true);
    tf.dispose([x, h, w]);
    cell.dispose();
  });

  it('zero default state, same seed → same parameters, and no leaked tensors', () => {
    const a = new GRUCell({ inputSize: 3, hiddenSize: 4 }, { rng: new Rng(11) });
    const b = new GRUCell({ inputSize: 3, hiddenSize: 4 }, { rng: new Rng(11) });
    for (const [[, p], [, q]] of a.namedParameters().map((e, i) => [e, b.namedParameters()[i]] as const)) {
      expect(Array.from(p.dataSync())).toEqual(Array.from(q.dataSync()));
    }
    const x = tf.ones([2, 3]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        const y0 = a.forward(x);
        const y1 = a.forward(x, tf.zeros([2, 4]));
        expect(Array.from(y0.dataSync())).toEqual(Array.from(y1.dataSync()));
        tf.variableGrads(() => tf.sum(a.forward(x)) as tf.Scalar, a.parameters());
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    a.dispose();
    b.dispose();
  });

  it('rejects bad shapes and configs with messages naming the argument', () => {
    const cell = new GRUCell({ inputSize: 3, hiddenSize: 4 });
    expect(() => cell.forward(tf.zeros([2, 5]))).toThrow(ShapeError);
    expect(() => cell.forward(tf.zeros([2, 5]))).toThrow(/GRUCell.*'x' expected shape \[batch, 3\], got \[2, 5\]/);
    expect(() => cell.forward(tf.zeros([2, 3]), tf.zeros([3, 4]))).toThrow(/GRUCell.*'h' expected shape \[2, 4\], got \[3, 4\]/);
    expect(() => build({ type: 'GRUCell', inputSize: 3 })).toThrow(BrickConfigError);
    expect(() => build({ type: 'GRUCell', inputSize: 3, hiddenSize: 0 })).toThrow(/hiddenSize/);
    cell.dispose();
  });
});

describe('GRU', () => {
  it('has PyTorch nn.GRU names per layer and round-trips its config', () => {
    const m = build({ type: 'GRU', inputSize: 3, hiddenSize: 4, numLayers: 2 }, { rng: new Rng(1) }) as GRU;
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['weight_ih_l0', [12, 3]], ['weight_hh_l0', [12, 4]], ['bias_ih_l0', [12]], ['bias_hh_l0', [12]],
      ['weight_ih_l1', [12, 4]], ['weight_hh_l1', [12, 4]], ['bias_ih_l1', [12]], ['bias_hh_l1', [12]],
    ]);
    expect(m.toConfig()).toEqual({ type: 'GRU', inputSize: 3, hiddenSize: 4, numLayers: 2, bias: true });
    const again = build(JSON.parse(JSON.stringify(m.toConfig())), { rng: new Rng(1) });
    expect(again.namedParameters().map(([n]) => n)).toEqual(m.namedParameters().map(([n]) => n));
    m.dispose();
    again.dispose();
  });

  it('matches PyTorch nn.GRU(batch_first=True, num_layers=2): outputs, final states and gradients', () => {
    const f = fixture.gru;
    const m = new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    loadParams(m, f.params);
    const x = T(f.x), h0 = T(f.h0), r1 = T(f.r1), r2 = T(f.r2);
    const { output, hidden } = m.forward(x, h0);
    expectClose(output, f.output, 1e-5);
    expectClose(hidden, f.hidden, 1e-5);
    const zero = m.forward(x);
    expectClose(zero.output, f.outputZeroH0, 1e-5);
    expectClose(zero.hidden, f.hiddenZeroH0, 1e-5);
    const loss = (a: tf.Tensor, b: tf.Tensor) => {
      const o = m.forward(a, b);
      return tf.add(tf.sum(tf.mul(o.output, r1)), tf.sum(tf.mul(o.hidden, r2))) as tf.Scalar;
    };
    const vars = m.namedParameters();
    const { grads } = tf.variableGrads(() => loss(x, h0), vars.map(([, p]) => p));
    for (const [name, p] of vars) expectClose(grads[p.name], f.grads[name], 1e-5);
    const [dx, dh0] = tf.grads(loss)([x, h0]);
    expectClose(dx, f.grads.x, 1e-5);
    expectClose(dh0, f.grads.h0, 1e-5);
    tf.dispose([x, h0, r1, r2, output, hidden, zero.output, zero.hidden, dx, dh0, ...Object.values(grads)]);
    m.dispose();
  });

  it('one layer equals a GRUCell stepped over time with the same parameters', () => {
    const m = new GRU({ inputSize: 3, hiddenSize: 6, bias: false }, { rng: new Rng(4) });
    const cell = new GRUCell({ inputSize: 3, hiddenSize: 6, bias: false }, { rng: new Rng(4) });
    const x = new Rng(5).normalTensor([2, 7, 3], 0, 1);
    tf.tidy(() => {
      const { output, hidden } = m.forward(x);
      let h = cell.initialState(2);
      const steps = tf.unstack(x, 1);
      const outs = steps.map((s) => (h = cell.forward(s, h)));
      const ref = tf.stack(outs, 1);
      expect(tf.max(tf.abs(tf.sub(output, ref))).dataSync()[0]).toBe(0);
      expect(tf.max(tf.abs(tf.sub(hidden, tf.expandDims(h, 0)))).dataSync()[0]).toBe(0);
    });
    x.dispose();
    m.dispose();
    cell.dispose();
  });

  it('gradients agree with finite differences; no tensors leak across steps', async () => {
    const m = new GRU({ inputSize: 2, hiddenSize: 3, numLayers: 2 }, { rng: new Rng(9) });
    const rng = new Rng(10);
    const x = rng.normalTensor([2, 4, 2], 0, 1);
    const w = rng.normalTensor([2, 4, 3], 0, 1);
    const loss = () => tf.sum(tf.mul(m.forward(x).output, w)) as tf.Scalar;
    const res = await gradCheckVariables(loss, m.parameters(), { eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxChecks: 6 });
    expect(res.ok, JSON.stringify(res)).toBe(true);
    const resX = await gradCheck((a) => tf.sum(tf.mul(m.forward(a).output, w)) as tf.Scalar, [x], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
    expect(resX.ok, JSON.stringify(resX)).toBe(true);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.tidy(() => {
      tf.variableGrads(loss, m.parameters());
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
    m.dispose();
  });

  it('rejects a wrong h0 or x with the brick, argument and shapes', () => {
    const m = new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2 });
    expect(() => m.forward(tf.zeros([2, 5, 4]))).toThrow(/GRU.*'x' expected shape \[batch, time, 3\], got \[2, 5, 4\]/);
    expect(() => m.forward(tf.zeros([2, 5]))).toThrow(ShapeError);
    expect(() => m.forward(tf.zeros([2, 0, 3]))).toThrow(/GRU: argument 'x' needs at least one time step, got shape \[2, 0, 3\]/);
    expect(() => m.forward(tf.zeros([2, 5, 3]), tf.zeros([1, 2, 4]))).toThrow(/GRU.*'h0' expected shape \[2, 2, 4\], got \[1, 2, 4\]/);
    m.dispose();
  });
});
