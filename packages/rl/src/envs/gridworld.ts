import type { RgbaImage } from '@brickml/core';
import { Box, imageBox } from '../spaces/box.js';
import { Discrete } from '../spaces/discrete.js';
import { BaseEnv, type ResetResult, type StepResult } from './env.js';
import { canvas, fillCircle, fillRect } from './raster.js';

/** Options of {@link GridWorld}. */
export interface GridWorldOptions {
  /**
   * Rows of the map, all the same length: `#` wall, `.` floor, `A` agent start, `G` goal, `K` key,
   * `D` door (passable only while holding the key). Default {@link GRIDWORLD_LAYOUTS}.keyDoor.
   */
  layout?: readonly string[];
  /** `symbolic` (default): one-hot planes as a flat float32 vector; `pixels`: an RGB uint8 image. */
  observation?: 'symbolic' | 'pixels';
  /** Pixels per cell in `pixels` mode and in `render()` (default 8). */
  cellSize?: number;
  /** Time limit (default 4 × floor cells). */
  maxEpisodeSteps?: number;
}

/** Layouts to start from. */
export const GRIDWORLD_LAYOUTS = {
  /** Fetch the key, open the door, reach the goal (shortest path 7 steps). */
  keyDoor: ['#######', '#A.#..#', '#..D.G#', '#K.#..#', '#######'],
  /** An empty room. */
  empty: ['######', '#A...#', '#....#', '#....#', '#...G#', '######'],
  /** Two rooms joined by a gap in a wall. */
  twoRooms: ['#########', '#A..#...#', '#.......#', '#...#..G#', '#########'],
} as const;

/** Plane order of symbolic observations. */
const PLANES = ['wall', 'door', 'key', 'goal', 'agent'] as const;

const COLORS = {
  floor: [240, 240, 240],
  wall: [90, 90, 90],
  door: [160, 100, 40],
  key: [230, 190, 0],
  goal: [40, 170, 70],
  agent: [220, 40, 40],
} as const;

/**
 * A grid world with walls, a key, a locked door and a goal (MiniGrid's ingredients, on a fixed
 * layout). Actions 0 up, 1 right, 2 down, 3 left; moving into a wall (or the locked door) stays
 * put. Stepping on the key picks it up; holding it opens the door. Reaching the goal terminates
 * with reward 1 − 0.9·t/T (MiniGrid's), t the steps taken and T the time limit; every other step
 * pays 0.
 *
 * Observations: `symbolic` — planes [wall, door, key, goal, agent] of H × W one-hots, flattened
 * plane-major, plus one entry "holding the key" (size 5·H·W + 1); `pixels` — an H·c × W·c × 3 uint8
 * picture, the same as `render()` (the key is drawn in the top-left cell's corner while held).
 */
export class GridWorld extends BaseEnv<Float32Array | Uint8Array, number> {
  override readonly id = 'GridWorld';
  override readonly actionSpace = new Discrete(4);
  override readonly observationSpace: Box<'float32'> | Box<'uint8'>;
  readonly height: number;
  readonly width: number;
  readonly cellSize: number;
  readonly mode: 'symbolic' | 'pixels';
  private readonly walls: Uint8Array;
  private readonly start: [number, number];
  private readonly goal: [number, number];
  private readonly keyAt: [number, number] | null;
  private readonly doorAt: [number, number] | null;
  /** Agent row and column. */
  agent: [number, number] = [0, 0];
  hasKey = false;

  constructor(options: GridWorldOptions = {}) {
    const layout = options.layout ?? GRIDWORLD_LAYOUTS.keyDoor;
    const H = layout.length;
    const W = layout[0]?.length ?? 0;
    if (H < 1 || W < 1 || layout.some((r) => r.length !== W)) {
      throw new RangeError(`GridWorld: option 'layout' expected non-empty rows of equal length, got ${JSON.stringify(layout)}`);
    }
    const floor = layout.join('').split('').filter((c) => c !== '#').length;
    super(options.maxEpisodeSteps ?? 4 * floor);
    this.height = H;
    this.width = W;
    this.cellSize = options.cellSize ?? 8;
    this.mode = options.observation ?? 'symbolic';
    if (this.mode !== 'symbolic' && this.mode !== 'pixels') throw new RangeError(`GridWorld: option 'observation' expected 'symbolic' or 'pixels', got ${String(this.mode)}`);
    this.walls = new Uint8Array(H * W);
    const found: Record<string, [number, number][]> = { A: [], G: [], K: [], D: [] };
    layout.forEach((row, r) =>
      row.split('').forEach((ch, c) => {
        if (ch === '#') this.walls[r * W + c] = 1;
        else if (ch in found) found[ch].push([r, c]);
        else if (ch !== '.') throw new RangeError(`GridWorld: option 'layout' has an unknown cell '${ch}' at row ${r}, column ${c} (expected one of # . A G K D)`);
      }),
    );
    for (const k of ['A', 'G'] as const) {
      if (found[k].length !== 1) throw new RangeError(`GridWorld: option 'layout' expected exactly one '${k}', got ${found[k].length}`);
    }
    if (found.K.length > 1 || found.D.length > 1) throw new RangeError(`GridWorld: option 'layout' expected at most one 'K' and one 'D'`);
    this.start = found.A[0];
    this.goal = found.G[0];
    this.keyAt = found.K[0] ?? null;
    this.doorAt = found.D[0] ?? null;
    const pixelSpace: Box<'uint8'> = imageBox(H * this.cellSize, W * this.cellSize, 3);
    const symbolicSpace: Box<'float32'> = new Box(0, 1, [PLANES.length * H * W + 1]);
    this.observationSpace = this.mode === 'pixels' ? pixelSpace : symbolicSpace;
  }

  private same(a: readonly [number, number] | null, b: readonly [number, number]): boolean {
    return !!a && a[0] === b[0] && a[1] === b[1];
  }

  private observe(): Float32Array | Uint8Array {
    if (this.mode === 'pixels') {
      const img = this.render();
      const out = new Uint8Array(this.height * this.cellSize * this.width * this.cellSize * 3);
      for (let i = 0, j = 0; i < img.rgba.length; i += 4) {
        out[j++] = img.rgba[i];
        out[j++] = img.rgba[i + 1];
        out[j++] = img.rgba[i + 2];
      }
      return out;
    }
    const HW = this.height * this.width;
    const o = new Float32Array(PLANES.length * HW + 1);
    const set = (plane: number, p: readonly [number, number]) => (o[plane * HW + p[0] * this.width + p[1]] = 1);
    for (let i = 0; i < HW; i++) o[i] = this.walls[i];
    if (this.doorAt && !this.hasKey) set(1, this.doorAt);
    if (this.keyAt && !this.hasKey) set(2, this.keyAt);
    set(3, this.goal);
    set(4, this.agent);
    o[PLANES.length * HW] = this.hasKey ? 1 : 0;
    return o;
  }

  protected resetState(): ResetResult<Float32Array | Uint8Array> {
    this.agent = [this.start[0], this.start[1]];
    this.hasKey = false;
    return { observation: this.observe(), info: {} };
  }

  protected stepState(action: number): Omit<StepResult<Float32Array | Uint8Array>, 'truncated'> {
    const [dr, dc] = [[-1, 0], [0, 1], [1, 0], [0, -1]][action];
    const r = this.agent[0] + dr;
    const c = this.agent[1] + dc;
    const inside = r >= 0 && c >= 0 && r < this.height && c < this.width;
    const blocked = !inside || this.walls[r * this.width + c] === 1 || (this.same(this.doorAt, [r, c]) && !this.hasKey);
    if (!blocked) this.agent = [r, c];
    if (this.same(this.keyAt, this.agent)) this.hasKey = true;
    const atGoal = this.same(this.goal, this.agent);
    const T = this.maxEpisodeSteps as number;
    const reward = atGoal ? 1 - (0.9 * (this.elapsedSteps + 1)) / T : 0;
    return { observation: this.observe(), reward, terminated: atGoal, info: { hasKey: this.hasKey } };
  }

  /** The grid as an RGBA picture (`cellSize` pixels per cell). */
  render(): RgbaImage {
    const s = this.cellSize;
    const img = canvas(this.width * s, this.height * s, COLORS.floor);
    for (let r = 0; r < this.height; r++) {
      for (let c = 0; c < this.width; c++) if (this.walls[r * this.width + c]) fillRect(img, c * s, r * s, (c + 1) * s, (r + 1) * s, COLORS.wall);
    }
    const cell = (p: readonly [number, number], color: readonly [number, number, number], inset = 0) =>
      fillRect(img, p[1] * s + inset, p[0] * s + inset, (p[1] + 1) * s - inset, (p[0] + 1) * s - inset, color);
    cell(this.goal, COLORS.goal);
    if (this.doorAt && !this.hasKey) cell(this.doorAt, COLORS.door);
    if (this.keyAt && !this.hasKey) cell(this.keyAt, COLORS.key, Math.floor(s / 4));
    if (this.hasKey) fillRect(img, 0, 0, Math.max(1, Math.floor(s / 2)), Math.max(1, Math.floor(s / 2)), COLORS.key);
    fillCircle(img, (this.agent[1] + 0.5) * s, (this.agent[0] + 0.5) * s, s * 0.4, COLORS.agent);
    return img;
  }
}
