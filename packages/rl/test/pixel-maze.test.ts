import { Rng } from '@brickml/core';
import { describe, expect, it } from 'vitest';
import { PixelMaze, PointMass, generateMaze, type MazeLayout } from '../src/index.js';

const UP = 0;
const RIGHT = 1;
const DOWN = 2;
const LEFT = 3;

/** Free cells reachable from the first free cell by breadth-first search. */
function reachable(m: MazeLayout): { free: number; reached: number } {
  const free: number[] = [];
  for (let i = 0; i < m.walls.length; i++) if (!m.walls[i]) free.push(i);
  const seen = new Set([free[0]]);
  const queue = [free[0]];
  while (queue.length) {
    const i = queue.shift() as number;
    const r = Math.floor(i / m.width);
    const c = i % m.width;
    for (const [dr, dc] of [[-1, 0], [1, 0], [0, -1], [0, 1]]) {
      const rr = r + dr;
      const cc = c + dc;
      const j = rr * m.width + cc;
      if (rr >= 0 && cc >= 0 && rr < m.height && cc < m.width && !m.walls[j] && !seen.has(j)) {
        seen.add(j);
        queue.push(j);
      }
    }
  }
  return { free: free.length, reached: seen.size };
}

describe('generateMaze', () => {
  it('is deterministic under a seed, differs across seeds, and every free cell is reachable', () => {
    const a = generateMaze(5, 6, new Rng(3));
    const b = generateMaze(5, 6, new Rng(3));
    const c = generateMaze(5, 6, new Rng(4));
    expect(Array.from(a.walls)).toEqual(Array.from(b.walls));
    expect(Array.from(a.walls)).not.toEqual(Array.from(c.walls));
    expect([a.height, a.width]).toEqual([11, 13]);
    for (let seed = 0; seed < 20; seed++) {
      const m = generateMaze(4, 5, new Rng(seed), seed % 3);
      const { free, reached } = reachable(m);
      expect(reached).toBe(free);
      // A perfect maze is a tree: 4·5 cells and 4·5 − 1 passages, plus the extra openings.
      expect(free).toBe(20 + 19 + (seed % 3));
      // The border is all wall.
      for (let x = 0; x < m.width; x++) expect(m.walls[x] + m.walls[(m.height - 1) * m.width + x]).toBe(2);
      for (let y = 0; y < m.height; y++) expect(m.walls[y * m.width] + m.walls[y * m.width + m.width - 1]).toBe(2);
    }
  });

  it('rejects bad sizes', () => {
    expect(() => generateMaze(0, 3, new Rng(0))).toThrow(/generateMaze: argument 'rows' expected a positive integer, got 0/);
  });
});

describe('PixelMaze', () => {
  it('random layouts per reset are fixed by the reset seed; layoutSeed fixes one layout', () => {
    const e1 = new PixelMaze({ rows: 4, cols: 4 });
    const e2 = new PixelMaze({ rows: 4, cols: 4 });
    const o1 = e1.reset({ seed: 7 }).observation;
    const o2 = e2.reset({ seed: 7 }).observation;
    expect(Array.from(o1)).toEqual(Array.from(o2));
    const layouts = new Set<string>();
    for (let k = 0; k < 5; k++) {
      e1.reset();
      layouts.add(e1.layout.walls.join(''));
    }
    expect(layouts.size).toBeGreaterThan(1);
    const fixed = new PixelMaze({ rows: 4, cols: 4, layoutSeed: 11 });
    const w = fixed.layout.walls.join('');
    for (let k = 0; k < 3; k++) {
      fixed.reset({ seed: k });
      expect(fixed.layout.walls.join('')).toBe(w);
    }
  });

  it('moves by hand: walls block, the goal pays 1 and terminates, the time limit truncates', () => {
    // layoutSeed 0 on 2 × 2 cells; find the layout and walk it by hand.
    const env = new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, start: [1, 1], goal: [3, 3], cellSize: 2 });
    env.reset({ seed: 0 });
    expect(env.agent).toEqual([1, 1]);
    const before = [...env.agent];
    const up = env.step(UP); // the border wall
    expect(env.agent).toEqual(before);
    expect(up.reward).toBe(0);
    // Walk to the goal along a shortest path found by BFS over the layout, checking each move by hand.
    const path = shortestPath(env, [1, 1], [3, 3]);
    let last;
    for (const a of path) {
      const [r, c] = env.agent;
      const [dr, dc] = [[-1, 0], [0, 1], [1, 0], [0, -1]][a];
      last = env.step(a);
      expect(env.agent).toEqual([r + dr, c + dc]);
      expect(last.info.agent).toEqual([r + dr, c + dc]);
    }
    expect(last?.reward).toBe(1);
    expect(last?.terminated).toBe(true);
    expect(() => env.step(LEFT)).toThrow(/call reset\(\)/);
    // Time limit.
    const short = new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, start: [1, 1], maxEpisodeSteps: 3 });
    short.reset({ seed: 0 });
    short.step(UP);
    short.step(UP);
    const t = short.step(UP);
    expect([t.terminated, t.truncated, t.reward]).toEqual([false, true, 0]);
  });

  it('observations are the uint8 picture of walls, goal and agent', () => {
    const env = new PixelMaze({ rows: 2, cols: 3, layoutSeed: 1, start: [1, 1], goal: [3, 5], cellSize: 1 });
    const o = env.reset({ seed: 0 }).observation;
    expect(env.observationSpace.shape).toEqual([5, 7, 3]);
    expect(env.observationSpace.contains(o)).toBe(true);
    const px = (r: number, c: number) => Array.from(o.subarray((r * 7 + c) * 3, (r * 7 + c) * 3 + 3));
    expect(px(1, 1)).toEqual([220, 40, 40]); // agent
    expect(px(3, 5)).toEqual([40, 170, 70]); // goal
    expect(px(0, 0)).toEqual([40, 40, 90]); // wall
  });

  it('rejects wrong actions and goals on walls with clear errors', () => {
    const env = new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0 });
    env.reset({ seed: 0 });
    expect(() => env.step(4)).toThrow(/PixelMaze\.step: argument 'action' expected an element of Discrete\(4\) \(an integer in \[0, 3\]\), got 4/);
    expect(() => env.step(1.5)).toThrow(/an integer/);
    expect(() => new PixelMaze({ rows: 2, cols: 2, layoutSeed: 0, goal: [0, 0] })).toThrow(/PixelMaze: option 'goal' expected a free cell of the layout, got the wall \[0, 0\]/);
    expect(() => new PixelMaze({ goal: [40, 1] })).toThrow(/option 'goal' expected a cell inside the 7 × 7 grid, got \[40, 1\]/);
  });
});

function shortestPath(env: PixelMaze, from: [number, number], to: [number, number]): number[] {
  const key = (p: readonly number[]) => `${p[0]},${p[1]}`;
  const prev = new Map<string, [string, number]>([[key(from), ['', -1]]]);
  const queue = [from];
  while (queue.length) {
    const p = queue.shift() as [number, number];
    if (key(p) === key(to)) break;
    [[-1, 0], [0, 1], [1, 0], [0, -1]].forEach(([dr, dc], a) => {
      const q: [number, number] = [p[0] + dr, p[1] + dc];
      if (env.isFree(q[0], q[1]) && !prev.has(key(q))) {
        prev.set(key(q), [key(p), a]);
        queue.push(q);
      }
    });
  }
  const actions: number[] = [];
  for (let k = key(to); k !== key(from); ) {
    const [pk, a] = prev.get(k) as [string, number];
    actions.unshift(a);
    k = pk;
  }
  return actions;
}

describe('PointMass', () => {
  it('dynamics by hand: damped semi-implicit Euler, walls stop the point, the goal pays 1', () => {
    const env = new PointMass({ start: [0, 0], goal: [0.5, 0.9], dt: 0.1, damping: 0.1, goalRadius: 0.1 });
    const o = env.reset({ seed: 0 }).observation as Float32Array;
    expect(Array.from(o)).toEqual(Array.from(Float32Array.from([0, 0, 0, 0, 0.5, 0.9])));
    env.step(Float32Array.from([1, -0.5]));
    // v = 0.9·0 + 0.1·[1, −0.5] = [0.1, −0.05]; p = 0 + 0.1·v = [0.01, −0.005]
    expect(env.velocity[0]).toBeCloseTo(0.1, 12);
    expect(env.velocity[1]).toBeCloseTo(-0.05, 12);
    expect(env.position[0]).toBeCloseTo(0.01, 12);
    expect(env.position[1]).toBeCloseTo(-0.005, 12);
    env.step(Float32Array.from([0, 0]));
    // v = 0.9·[0.1, −0.05] = [0.09, −0.045]; p = [0.019, −0.0095]
    expect(env.position[0]).toBeCloseTo(0.019, 12);
    expect(env.position[1]).toBeCloseTo(-0.0095, 12);
    // Push up hard until the wall: y clips to 1 and vy is zeroed.
    const wall = new PointMass({ start: [0, 0.995], goal: [-0.9, -0.9] });
    wall.reset({ seed: 0 });
    wall.step(Float32Array.from([0, 1]));
    // v_y = 0.1, p_y = 0.995 + 0.01 = 1.005 → clipped to 1, v_y zeroed; x untouched.
    expect(wall.position).toEqual([0, 1]);
    expect(wall.velocity).toEqual([0, 0]);
  });

  it('reaching the goal terminates with reward 1; pixels draw the goal; wrong actions are rejected', () => {
    const env = new PointMass({ start: [0, 0], goal: [0.05, 0], goalRadius: 0.1 });
    env.reset({ seed: 0 });
    const r = env.step(Float32Array.from([0, 0]));
    expect([r.reward, r.terminated]).toEqual([1, true]);
    const pix = new PointMass({ observation: 'pixels', size: 16, goal: [0, 0], start: [-0.9, -0.9], goalRadius: 0.25 });
    const o = pix.reset({ seed: 1 }).observation as Uint8Array;
    expect(pix.observationSpace.shape).toEqual([16, 16, 3]);
    expect(Array.from(o.subarray((8 * 16 + 8) * 3, (8 * 16 + 8) * 3 + 3))).toEqual([40, 170, 70]);
    expect(() => pix.step(Float32Array.from([2, 0]))).toThrow(/PointMass\.step: argument 'action' expected an element of Box\(-1, 1, \[2\], float32\) \(value 0 within \[-1, 1\]\)/);
    expect(() => pix.step(Float32Array.from([0]))).toThrow(/2 values/);
    expect(() => new PointMass({ goal: [2, 0] })).toThrow(/PointMass: option 'goal' expected \[x, y\] within \[−1, 1\]², got \[2,0\]/);
  });

  it('random starts and goals are fixed by the seed', () => {
    const a = new PointMass();
    const b = new PointMass();
    expect(Array.from(a.reset({ seed: 5 }).observation)).toEqual(Array.from(b.reset({ seed: 5 }).observation));
    expect(Array.from(a.reset({ seed: 6 }).observation)).not.toEqual(Array.from(b.reset({ seed: 5 }).observation));
  });
});
