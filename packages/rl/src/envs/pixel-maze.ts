import { Rng, type RgbaImage } from '@brickml/core';
import { imageBox, type Box } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { BaseEnv, type ResetResult, type StepResult } from './env.js';
import { canvas, fillCircle, fillRect } from './raster.js';

/** A maze on a grid: `walls[r · width + c]` is 1 for a wall cell. */
export interface MazeLayout {
  height: number;
  width: number;
  walls: Uint8Array;
}

/**
 * A perfect maze by randomized depth-first search (the "recursive backtracker"): `rows × cols`
 * maze cells on a `(2·rows + 1) × (2·cols + 1)` grid, cells at odd coordinates, walls between them
 * knocked down along the search tree. Every free cell is reachable from every other, by exactly one
 * path. `extraOpenings` removes that many further interior walls at random (loops).
 */
export function generateMaze(rows: number, cols: number, rng: Rng, extraOpenings = 0): MazeLayout {
  for (const [name, v] of [['rows', rows], ['cols', cols]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`generateMaze: argument '${name}' expected a positive integer, got ${v}`);
  }
  if (!Number.isInteger(extraOpenings) || extraOpenings < 0) {
    throw new RangeError(`generateMaze: argument 'extraOpenings' expected a non-negative integer, got ${extraOpenings}`);
  }
  const height = 2 * rows + 1;
  const width = 2 * cols + 1;
  const walls = new Uint8Array(height * width).fill(1);
  const visited = new Uint8Array(rows * cols);
  const stack: number[] = [rng.int(0, rows * cols)];
  visited[stack[0]] = 1;
  const open = (cell: number) => (walls[(2 * Math.floor(cell / cols) + 1) * width + 2 * (cell % cols) + 1] = 0);
  open(stack[0]);
  while (stack.length > 0) {
    const cell = stack[stack.length - 1];
    const r = Math.floor(cell / cols);
    const c = cell % cols;
    const next: number[] = [];
    if (r > 0 && !visited[cell - cols]) next.push(cell - cols);
    if (c < cols - 1 && !visited[cell + 1]) next.push(cell + 1);
    if (r < rows - 1 && !visited[cell + cols]) next.push(cell + cols);
    if (c > 0 && !visited[cell - 1]) next.push(cell - 1);
    if (next.length === 0) {
      stack.pop();
      continue;
    }
    const n = next[rng.int(0, next.length)];
    const nr = Math.floor(n / cols);
    const nc = n % cols;
    walls[(r + nr + 1) * width + (c + nc + 1)] = 0; // the wall between the two cells
    open(n);
    visited[n] = 1;
    stack.push(n);
  }
  // Interior walls between two cells (one odd and one even coordinate) that are still standing.
  const closed: number[] = [];
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) if ((r + c) % 2 === 1 && walls[r * width + c]) closed.push(r * width + c);
  }
  for (let k = 0; k < Math.min(extraOpenings, closed.length); k++) {
    const j = k + rng.int(0, closed.length - k);
    [closed[k], closed[j]] = [closed[j], closed[k]];
    walls[closed[k]] = 0;
  }
  return { height, width, walls };
}

/** Options of {@link PixelMaze}. */
export interface PixelMazeOptions {
  /** Maze cells down (grid height 2·rows + 1; default 3). */
  rows?: number;
  /** Maze cells across (grid width 2·cols + 1; default 3). */
  cols?: number;
  /**
   * Seed of a fixed layout (the same maze at every reset). Undefined (default): a new random layout
   * at every reset, drawn from the env's generator (so `reset({ seed })` fixes it).
   */
  layoutSeed?: number;
  /** Interior walls removed after the maze is carved, making loops (default 0: a perfect maze). */
  extraOpenings?: number;
  /** Start cell `[row, col]` on the grid; `'random'` (default) draws a free cell at each reset. */
  start?: readonly [number, number] | 'random';
  /**
   * The goal cell `[row, col]` (a hand-specified goal task: reward 1 and termination on reaching
   * it); `null` (default) for a reward-free maze. `reset({ options: { goal } })` overrides it for
   * one episode.
   */
  goal?: readonly [number, number] | null;
  /** Pixels per grid cell (default 4). */
  cellSize?: number;
  /** Add action 4, "stay" (so an agent can hold a goal cell at the end of a fixed-length episode; default false). */
  stayAction?: boolean;
  /** Time limit (default 4 × free cells). */
  maxEpisodeSteps?: number;
}

const COLORS = {
  floor: [235, 235, 235],
  wall: [40, 40, 90],
  goal: [40, 170, 70],
  agent: [220, 40, 40],
} as const;

/**
 * A top-down maze seen in pixels (the stand-in for CARML's and DISCERN's first-person navigation):
 * random layouts from {@link generateMaze}, a uint8 RGB observation of shape
 * `[height·cellSize, width·cellSize, 3]`, actions 0 up, 1 right, 2 down, 3 left (a move into a wall
 * stays put) and, with `stayAction`, 4 stay. Cells at odd coordinates are free in every layout. With a goal, reaching it pays 1 and terminates; every other step pays 0; episodes are
 * truncated at `maxEpisodeSteps`. `info.agent` is the agent's `[row, col]` after each step.
 */
export class PixelMaze extends BaseEnv<Uint8Array, number> {
  override readonly id = 'PixelMaze';
  override readonly actionSpace: Discrete;
  override readonly observationSpace: Box<'uint8'>;
  readonly rows: number;
  readonly cols: number;
  readonly height: number;
  readonly width: number;
  readonly cellSize: number;
  private readonly options: PixelMazeOptions;
  /** The current layout. */
  layout: MazeLayout;
  /** Agent row and column on the grid. */
  agent: [number, number] = [1, 1];
  /** The current episode's goal (null: none). */
  goal: [number, number] | null = null;

  constructor(options: PixelMazeOptions = {}) {
    const rows = options.rows ?? 3;
    const cols = options.cols ?? 3;
    const first = generateMaze(rows, cols, new Rng(options.layoutSeed ?? 0), options.extraOpenings ?? 0);
    const free = first.walls.reduce((n, w) => n + (w ? 0 : 1), 0);
    super(options.maxEpisodeSteps ?? 4 * free);
    this.options = options;
    this.rows = rows;
    this.cols = cols;
    this.height = first.height;
    this.width = first.width;
    this.cellSize = options.cellSize ?? 4;
    if (!Number.isInteger(this.cellSize) || this.cellSize < 1) throw new RangeError(`PixelMaze: option 'cellSize' expected a positive integer, got ${this.cellSize}`);
    this.layout = first;
    this.actionSpace = new Discrete(options.stayAction ? 5 : 4);
    this.observationSpace = imageBox(this.height * this.cellSize, this.width * this.cellSize, 3);
    if (options.start !== undefined && options.start !== 'random') this.checkCell(options.start, 'start', options.layoutSeed !== undefined);
    if (options.goal) this.checkCell(options.goal, 'goal', options.layoutSeed !== undefined);
  }

  /** True when `[row, col]` is inside the grid and not a wall. */
  isFree(row: number, col: number): boolean {
    return row >= 0 && col >= 0 && row < this.height && col < this.width && this.layout.walls[row * this.width + col] === 0;
  }

  /** The free cells of the current layout, row-major. */
  freeCells(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let r = 0; r < this.height; r++) for (let c = 0; c < this.width; c++) if (this.isFree(r, c)) out.push([r, c]);
    return out;
  }

  private checkCell(p: unknown, name: string, checkFree: boolean): [number, number] {
    const ok = Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v));
    if (!ok) throw new RangeError(`PixelMaze: option '${name}' expected [row, col] integers, got ${JSON.stringify(p)}`);
    const [r, c] = p as [number, number];
    if (r < 0 || c < 0 || r >= this.height || c >= this.width) {
      throw new RangeError(`PixelMaze: option '${name}' expected a cell inside the ${this.height} × ${this.width} grid, got [${r}, ${c}]`);
    }
    if (checkFree && !this.isFree(r, c)) throw new RangeError(`PixelMaze: option '${name}' expected a free cell of the layout, got the wall [${r}, ${c}]`);
    return [r, c];
  }

  private observe(): Uint8Array {
    const img = this.render();
    const out = new Uint8Array(img.width * img.height * 3);
    for (let i = 0, j = 0; i < img.rgba.length; i += 4) {
      out[j++] = img.rgba[i];
      out[j++] = img.rgba[i + 1];
      out[j++] = img.rgba[i + 2];
    }
    return out;
  }

  protected resetState(options: Record<string, unknown> | undefined): ResetResult<Uint8Array> {
    const o = this.options;
    if (o.layoutSeed === undefined) this.layout = generateMaze(this.rows, this.cols, this.rng, o.extraOpenings ?? 0);
    const free = this.freeCells();
    const goalOpt = options?.goal !== undefined ? options.goal : o.goal;
    this.goal = goalOpt ? this.checkCell(goalOpt, 'goal', true) : null;
    if (o.start === undefined || o.start === 'random') {
      const candidates = free.filter((p) => !this.goal || p[0] !== this.goal[0] || p[1] !== this.goal[1]);
      this.agent = candidates[this.rng.int(0, candidates.length)];
    } else {
      this.agent = this.checkCell(o.start, 'start', true);
    }
    return { observation: this.observe(), info: { agent: [...this.agent] } };
  }

  protected stepState(action: number): Omit<StepResult<Uint8Array>, 'truncated'> {
    const [dr, dc] = [[-1, 0], [0, 1], [1, 0], [0, -1], [0, 0]][action];
    const r = this.agent[0] + dr;
    const c = this.agent[1] + dc;
    if (this.isFree(r, c)) this.agent = [r, c];
    const atGoal = !!this.goal && this.agent[0] === this.goal[0] && this.agent[1] === this.goal[1];
    return { observation: this.observe(), reward: atGoal ? 1 : 0, terminated: atGoal, info: { agent: [...this.agent] } };
  }

  /**
   * The observation the maze would show with the agent at `[row, col]` (a free cell) and the current
   * goal: a goal image for goal-conditioned agents. The state is left as it was.
   */
  observationAt(row: number, col: number): Uint8Array {
    if (!this.isFree(row, col)) throw new RangeError(`PixelMaze.observationAt: arguments 'row', 'col' expected a free cell, got [${row}, ${col}]`);
    const saved = this.agent;
    this.agent = [row, col];
    const o = this.observe();
    this.agent = saved;
    return o;
  }

  /** The maze as an RGBA picture (`cellSize` pixels per cell): walls, the goal, the agent. */
  render(): RgbaImage {
    const s = this.cellSize;
    const img = canvas(this.width * s, this.height * s, COLORS.floor);
    for (let r = 0; r < this.height; r++) {
      for (let c = 0; c < this.width; c++) if (this.layout.walls[r * this.width + c]) fillRect(img, c * s, r * s, (c + 1) * s, (r + 1) * s, COLORS.wall);
    }
    if (this.goal) fillRect(img, this.goal[1] * s, this.goal[0] * s, (this.goal[1] + 1) * s, (this.goal[0] + 1) * s, COLORS.goal);
    if (s < 3) fillRect(img, this.agent[1] * s, this.agent[0] * s, (this.agent[1] + 1) * s, (this.agent[0] + 1) * s, COLORS.agent);
    else fillCircle(img, (this.agent[1] + 0.5) * s, (this.agent[0] + 0.5) * s, s * 0.4, COLORS.agent);
    return img;
  }
}
