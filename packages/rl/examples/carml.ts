// CARML on a pixel maze: an RL² meta-learner trained on the tasks its own task model proposes (a conv
// encoder trained by discriminative clustering jointly with a trajectory-level mixture, refit every
// phase), and a picture of how the task model's components partition the maze.
//
//   npm run example -w @brickml/rl -- carml [--rows 3] [--cols 3] [--components 4] [--phases 5] [--iterations-per-phase 20]
//     [--episode-length 8] [--episodes-per-trial 2] [--lambda 0.5] [--seed 1] [--out out/carml] [--backend wasm|cpu]
//
// Writes <out>/partition.png (each free maze cell coloured by argmax_z q(z | s) of the observation with
// the agent on that cell; one panel per phase), <out>/task-return.png (mean task return of a trial over
// training) and <out>/results.json.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { encodePng, linePlotSpec, renderSpecToPng, type RgbaImage } from '@brickml/core';
import { CarmlTrainer, PixelMaze, type VisualTaskModel } from '../src/index.js';

/** Distinct colours for components (Tableau 10). */
export const COMPONENT_COLOURS: Array<[number, number, number]> = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

/** The most likely component of the observation with the agent on each free cell (row-major over the grid; −1 for walls). */
export async function mazePartition(maze: PixelMaze, model: VisualTaskModel): Promise<number[]> {
  const cells = maze.freeCells();
  const z = await model.assign(cells.map(([r, c]) => Float32Array.from(maze.observationAt(r, c), (v) => v / 255)));
  const out = new Array<number>(maze.height * maze.width).fill(-1);
  cells.forEach(([r, c], i) => (out[r * maze.width + c] = z[i]));
  return out;
}

/** Panels of maze partitions side by side, `px` pixels per grid cell, walls dark. */
export function partitionImage(panels: number[][], height: number, width: number, px = 24): RgbaImage {
  const gap = px;
  const W = panels.length * width * px + (panels.length - 1) * gap;
  const H = height * px;
  const rgba = new Uint8Array(W * H * 4).fill(255);
  panels.forEach((p, k) => {
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const z = p[r * width + c];
        const col = z < 0 ? [40, 40, 60] : COMPONENT_COLOURS[z % COMPONENT_COLOURS.length];
        for (let y = r * px; y < (r + 1) * px; y++) {
          for (let x = c * px; x < (c + 1) * px; x++) {
            const border = z >= 0 && (y === r * px || x === c * px);
            const i = (y * W + k * (width * px + gap) + x) * 4;
            rgba[i] = border ? col[0] * 0.8 : col[0];
            rgba[i + 1] = border ? col[1] * 0.8 : col[1];
            rgba[i + 2] = border ? col[2] * 0.8 : col[2];
          }
        }
      }
    }
  });
  return { rgba, width: W, height: H };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '3' },
      cols: { type: 'string', default: '3' },
      components: { type: 'string', default: '4' },
      phases: { type: 'string', default: '5' },
      'iterations-per-phase': { type: 'string', default: '20' },
      'episode-length': { type: 'string', default: '8' },
      'episodes-per-trial': { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
      lambda: { type: 'string', default: '0.5' },
      out: { type: 'string', default: 'out/carml' },
      backend: { type: 'string', default: 'wasm' },
      progress: { type: 'string', default: 'auto' },
    },
  });
  await tf.setBackend(values.backend);
  mkdirSync(values.out, { recursive: true });
  const rows = Number(values.rows);
  const cols = Number(values.cols);
  const T = Number(values['episode-length']);
  const makeMaze = () => new PixelMaze({ rows, cols, layoutSeed: 0, cellSize: 1, stayAction: true, maxEpisodeSteps: 1000 });
  const maze = makeMaze();
  maze.reset({ seed: 0 });
  const carml = new CarmlTrainer(() => makeMaze(), {
    components: Number(values.components), phases: Number(values.phases), iterationsPerPhase: Number(values['iterations-per-phase']),
    episodeLength: T, episodesPerTrial: Number(values['episodes-per-trial']), lambda: Number(values.lambda), seed: Number(values.seed),
  });
  const cpu0 = process.cpuUsage();
  const panels: number[][] = [];
  await carml.train({
    progress: values.progress as 'auto',
    onPhase: async () => void panels.push(await mazePartition(maze, carml.taskModel)),
  });
  const cpu = process.cpuUsage(cpu0);
  const img = partitionImage(panels, maze.height, maze.width);
  writeFileSync(join(values.out, 'partition.png'), encodePng(img.rgba, img.width, img.height));
  const its = carml.history.flatMap((p) => p.rl2);
  writeFileSync(
    join(values.out, 'task-return.png'),
    await renderSpecToPng(linePlotSpec({ series: [{ name: 'task return (r_z)', x: its.map((m) => m.iteration), y: its.map((m) => m.trialReturn) }], title: 'CARML: RL² return on self-proposed tasks (refit every phase)', xLabel: 'RL² iteration', yLabel: 'trial return' })),
  );
  const sizes = (p: number[]) => Array.from({ length: carml.taskModel.components }, (_, z) => p.filter((v) => v === z).length);
  const results = {
    maze: { rows, cols, grid: [maze.height, maze.width], freeCells: maze.freeCells().length, walls: Array.from(maze.layout.walls) },
    config: carml.config,
    phases: carml.history.map((p, k) => ({
      phase: p.phase, encoderLossFirst: p.fit.encoderLoss[0], encoderLossLast: p.fit.encoderLoss.at(-1), logLikelihood: p.fit.logLikelihood, componentShares: p.fit.componentShares,
      reseeded: p.fit.reseeded, taskReturnFirst: p.rl2[0]?.trialReturn, taskReturnLast: p.rl2.at(-1)?.trialReturn, partition: panels[k], cellsPerComponent: sizes(panels[k]),
    })),
    cpuMinutes: (cpu.user + cpu.system) / 60e6,
    backend: tf.getBackend(),
  };
  writeFileSync(join(values.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`cells per component after each phase: ${results.phases.map((p) => p.cellsPerComponent.join('/')).join(', ')}; ${results.cpuMinutes.toFixed(2)} CPU minutes`);
  carml.dispose();
}
