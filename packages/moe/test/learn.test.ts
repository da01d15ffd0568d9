// It learns: a small network with a dropless MoE feed-forward layer, trained with core's Trainer on
// a mixture of four 2-D Gaussians where each component has its own affine target map, so experts
// can specialise by component. Checks: the error falls far below the baseline, the load stays
// balanced within a stated bound, experts specialise, and the expert-load history is written.
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdamW, Linear, Module, Rng, Trainer, toy2d, type Toy2dBatch } from '@brickml/core';
import { ExpertLoadHistory, MoE, readMoEStats, tidyObject, type MoEOutput } from '../src/index.js';

const E = 4;

class Net extends Module {
  readonly inp: Linear;
  readonly moe: MoE;
  readonly out: Linear;
  constructor(rng: Rng) {
    super();
    this.inp = new Linear({ inFeatures: 2, outFeatures: 32 }, { rng });
    this.moe = new MoE(
      {
        kind: 'dropless',
        dim: 32,
        ffnHidden: 64,
        numExperts: E,
        topK: 1,
        blockSize: 16,
        initStd: 0.1,
        routerInitStd: 0.1,
      },
      { rng },
    );
    this.out = new Linear({ inFeatures: 32, outFeatures: 2 }, { rng });
  }
  forward(x: tf.Tensor, rng?: Rng): { y: tf.Tensor; moe: MoEOutput } {
    const h = this.inp.forward(x); // [B, 32]
    const moe = this.moe.forward(h, { rng });
    return { y: this.out.forward(tf.add(h, moe.y)), moe };
  }
}

// Component c maps x to A_c·x + b_c: four different affine maps.
const rngMaps = new Rng(99);
const A = tf.tensor3d(rngMaps.normalArray(E * 4), [E, 2, 2]);
const bias = tf.tensor2d(rngMaps.normalArray(E * 2), [E, 2]);
function target(batch: Toy2dBatch): tf.Tensor {
  const a = tf.gather(A, batch.label); // [B, 2, 2]
  return tf.add(
    tf.squeeze(tf.matMul(a, tf.expandDims(batch.x, 2)), [2]),
    tf.gather(bias, batch.label),
  ); // [B, 2]
}

describe('MoE learns a task where experts can specialise', () => {
  it('trains: error ≪ baseline, load balanced within 1.5× uniform, components routed to one expert each', async () => {
    const net = new Net(new Rng(0));
    const data = toy2d({ kind: 'gaussianMixture', k: E, batchSize: 128, seed: 1, noise: 0.3 });
    const testSet = data.toBatch(data.fixedSplit(512, 7));
    const testTarget = target(testSet);
    const baseline = (
      await tf.mean(tf.square(tf.sub(testTarget, tf.mean(testTarget, 0)))).data()
    )[0];
    const evalMse = async () => {
      const y = tf.tidy(() => net.forward(testSet.x).y);
      const m = (await tf.mean(tf.square(tf.sub(y, testTarget))).data())[0];
      y.dispose();
      return m;
    };
    const history = new ExpertLoadHistory(E);
    net.train();
    const trainer = new Trainer<Toy2dBatch>({
      model: net,
      optimizer: new AdamW(net, { lr: 1e-2, weightDecay: 0 }),
      data,
      steps: 300,
      seed: 3,
      progress: 'none',
      loss: (batch, ctx) => {
        const { y, moe } = net.forward(batch.x, ctx.rng);
        const mse = tf.mean(tf.square(tf.sub(y, target(batch)))) as tf.Scalar;
        return {
          loss: tf.add(mse, moe.auxLoss) as tf.Scalar,
          metrics: { mse, lbl: moe.loadBalanceLoss },
        };
      },
      onStep: async (rec) => {
        if (rec.step % 50 === 0) {
          const out = tidyObject(() => net.forward(testSet.x).moe);
          history.record(rec.step, await readMoEStats(out));
          tf.dispose(out as unknown as tf.TensorContainer);
        }
      },
    });
    const before = await evalMse();
    const numTensors = tf.memory().numTensors;
    await trainer.fit();
    expect(tf.memory().numTensors).toBe(numTensors + 2 * net.parameters().length); // only AdamW's two moments per parameter
    net.eval();
    const after = await evalMse();
    expect(before).toBeGreaterThan(0.5 * baseline);
    expect(after).toBeLessThan(0.05 * baseline);

    // Load balance on the held-out set: no expert above 1.5× its uniform share (37.5% of tokens).
    const out = tidyObject(() => net.forward(testSet.x).moe);
    const stats = await readMoEStats(out);
    expect(stats.maxLoadRatio).toBeLessThanOrEqual(1.5);
    expect(stats.droppedCopies).toBe(0);
    expect(stats.paddingRows).toBeLessThan(E * 16);
    // Specialisation: most of each component's points go to that component's majority expert.
    const idx = await out.routing.indices.data();
    const lab = await testSet.label.data();
    let agree = 0;
    for (let c = 0; c < E; c++) {
      const hist = new Array(E).fill(0);
      lab.forEach((l, i) => l === c && hist[idx[i]]++);
      agree += Math.max(...hist);
    }
    expect(agree / lab.length).toBeGreaterThan(0.8);

    // The expert-load history is written: a PNG when core exports its plot helpers, else JSON.
    expect(history.steps).toEqual([50, 100, 150, 200, 250, 300]);
    const dir = mkdtempSync(join(tmpdir(), 'brickml-moe-'));
    const written = await history.write(join(dir, 'expert-load.png'));
    expect(existsSync(written)).toBe(true);
    if (written.endsWith('.png'))
      expect(Array.from(readFileSync(written).subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]);
    else expect(JSON.parse(readFileSync(written, 'utf8')).loads).toHaveLength(6);
    console.log(
      `learn: baseline ${baseline.toFixed(3)}, mse ${before.toFixed(3)} → ${after.toFixed(4)}, load ${stats.load.map((l) => l.toFixed(2)).join(' ')}, ` +
        `specialisation ${(agree / lab.length).toFixed(3)}, history → ${written}`,
    );
  });
});
