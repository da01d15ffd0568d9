import { encodeGif, encodePng, type RgbaImage } from '@brickml/core';
import type { Env, Info } from '../envs/env.js';
import type { SpaceValue } from '../spaces/space.js';

/** A policy for recording: observation (and step index) → action. */
export type RecordPolicy<O extends SpaceValue, A extends SpaceValue> = (observation: O, step: number) => A | Promise<A>;

/** Options of {@link recordEpisode}. */
export interface RecordEpisodeOptions {
  /** Seed of the episode's reset. */
  seed?: number;
  /** Stop after this many steps even if the episode goes on (default: until it ends). */
  maxSteps?: number;
}

/** One recorded episode: a frame before the first step and after every step, with the rewards. */
export interface RecordedEpisode {
  frames: RgbaImage[];
  rewards: number[];
  terminated: boolean;
  truncated: boolean;
  infos: Info[];
}

/** Runs one episode of `env` under `policy` and keeps a rendered frame per state. The env must have `render()`. */
export async function recordEpisode<O extends SpaceValue, A extends SpaceValue>(
  env: Env<O, A>,
  policy: RecordPolicy<O, A>,
  options: RecordEpisodeOptions = {},
): Promise<RecordedEpisode> {
  if (typeof env.render !== 'function') throw new TypeError(`recordEpisode: env '${env.id}' cannot render (it has no render())`);
  const maxSteps = options.maxSteps ?? Infinity;
  let { observation } = env.reset(options.seed === undefined ? {} : { seed: options.seed });
  const frames = [env.render()];
  const rewards: number[] = [];
  const infos: Info[] = [];
  let terminated = false;
  let truncated = false;
  for (let t = 0; t < maxSteps && !terminated && !truncated; t++) {
    const r = env.step(await policy(observation, t));
    observation = r.observation;
    rewards.push(r.reward);
    infos.push(r.info);
    terminated = r.terminated;
    truncated = r.truncated;
    frames.push(env.render());
  }
  return { frames, rewards, terminated, truncated, infos };
}

/** Options of {@link framesStrip}. */
export interface StripOptions {
  /** Keep every k-th frame (default 1; the last frame is always kept). */
  every?: number;
  /** Frames per row (default: all in one row). */
  cols?: number;
  /** Pixels between frames (default 2). */
  pad?: number;
  /** Padding colour (default light grey). */
  padColor?: readonly [number, number, number];
}

/** Tiles frames (all the same size) into one RGBA picture, left to right then top to bottom. */
export function framesStrip(frames: RgbaImage[], options: StripOptions = {}): RgbaImage {
  if (!Array.isArray(frames) || frames.length === 0) throw new RangeError(`framesStrip: argument 'frames' expected a non-empty array, got ${frames?.length}`);
  const every = options.every ?? 1;
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`framesStrip: option 'every' expected a positive integer, got ${every}`);
  const picked = frames.filter((_, i) => i % every === 0);
  if ((frames.length - 1) % every !== 0) picked.push(frames[frames.length - 1]);
  const { width: w, height: h } = picked[0];
  for (const [i, f] of picked.entries()) {
    if (f.width !== w || f.height !== h) throw new RangeError(`framesStrip: frame ${i} is ${f.width}x${f.height}, expected ${w}x${h} like the first`);
  }
  const cols = Math.min(options.cols ?? picked.length, picked.length);
  const rows = Math.ceil(picked.length / cols);
  const pad = options.pad ?? 2;
  const [pr, pg, pb] = options.padColor ?? [200, 200, 200];
  const W = pad + cols * (w + pad);
  const H = pad + rows * (h + pad);
  const rgba = new Uint8Array(W * H * 4);
  for (let i = 0; i < W * H; i++) rgba.set([pr, pg, pb, 255], 4 * i);
  picked.forEach((f, k) => {
    const x0 = pad + (k % cols) * (w + pad);
    const y0 = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++) rgba.set(f.rgba.subarray(4 * y * w, 4 * (y + 1) * w), 4 * ((y0 + y) * W + x0));
  });
  return { width: W, height: H, rgba };
}

/** PNG bytes of a strip of frames (see {@link framesStrip}). */
export function episodeStripPng(frames: RgbaImage[], options: StripOptions = {}): Uint8Array {
  const s = framesStrip(frames, options);
  return encodePng(s.rgba, s.width, s.height);
}

/** Animated GIF bytes of the frames (core's `encodeGif`; default 50 ms per frame, CartPole's 50 fps is 20 ms). */
export function episodeGif(frames: RgbaImage[], options: { delayMs?: number; every?: number } = {}): Promise<Uint8Array> {
  const every = options.every ?? 1;
  return encodeGif(frames.filter((_, i) => i % every === 0), { delayMs: options.delayMs ?? 50 });
}
