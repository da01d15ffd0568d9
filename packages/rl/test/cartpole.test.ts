import { describe, expect, it } from 'vitest';
import { CartPole, SyncVectorEnv, episodeGif, episodeStripPng, framesStrip, recordEpisode } from '../src/index.js';

describe('CartPole-v1', () => {
  it('one push from rest matches the equations solved by hand', () => {
    // From x = ẋ = θ = θ̇ = 0 with force +10: temp = 10/1.1, θ̈ = −temp / (0.5·(4/3 − 0.1/1.1)) = −600/41,
    // ẍ = temp − 0.05·θ̈/1.1 = 400/41; Euler: x' = 0, ẋ' = 0.02·400/41 = 8/41, θ' = 0, θ̇' = −12/41.
    const env = new CartPole();
    env.reset({ seed: 0 });
    env.state.set([0, 0, 0, 0]);
    const r = env.step(1);
    expect(env.state[0]).toBe(0);
    expect(env.state[1]).toBeCloseTo(8 / 41, 14);
    expect(env.state[2]).toBe(0);
    expect(env.state[3]).toBeCloseTo(-12 / 41, 14);
    expect(r.observation).toEqual(new Float32Array([0, 8 / 41, 0, -12 / 41]));
    expect(r.reward).toBe(1);
    expect(r.terminated).toBe(false);
    expect(r.truncated).toBe(false);
  });

  it('a fixed action sequence follows the Euler equations (values computed from the equations in float64)', () => {
    const env = new CartPole();
    env.reset({ seed: 0 });
    env.state.set([0.01, -0.02, 0.03, 0.04]);
    const expected = [
      [0.009600000000000001, 0.17467919574755525, 0.030799999999999998, -0.24306871796000815],
      [0.013093583914951107, 0.3693479760579556, 0.025938625640799833, -0.5258796280501484],
      [0.02048054343611022, 0.17387081260481596, 0.015421033079796864, -0.22513741609237475],
      [0.02395795968820654, 0.3687690101747617, 0.01091828475794937, -0.5129163478026588],
      [0.03133333989170178, 0.17349499275068458, 0.0006599578018961928, -0.21681286835696206],
      [0.03480323974671547, -0.021636386741578473, -0.0036762995652430486, 0.07607816471983764],
    ];
    [1, 1, 0, 1, 0, 0].forEach((a, t) => {
      const r = env.step(a);
      for (let k = 0; k < 4; k++) expect(env.state[k]).toBeCloseTo(expected[t][k], 13);
      expect(r.observation).toEqual(Float32Array.from(expected[t]));
      expect(r.observation).toBeInstanceOf(Float32Array);
    });
  });

  it('terminates when the pole passes 12° (reward 1 on that step too) and truncates at 500 steps', () => {
    const env = new CartPole();
    env.reset({ seed: 0 });
    env.state.set([0, 0, 0, 0]);
    let r;
    let n = 0;
    do {
      r = env.step(1);
      n++;
      expect(r.reward).toBe(1);
    } while (!r.terminated);
    // From rest, always pushing right: θ falls below −12° at the 9th step (θ ≈ −0.2152 rad).
    expect(n).toBe(9);
    expect(env.state[2]).toBeCloseTo(-0.21518604988500967, 12);
    expect(r.truncated).toBe(false);
    expect(() => env.step(0)).toThrow(/CartPole-v1.step: the episode has ended.*call reset\(\)/);

    const short = new CartPole({ maxEpisodeSteps: 3 });
    short.reset({ seed: 1 });
    expect(short.step(0).truncated).toBe(false);
    short.step(1);
    const last = short.step(0);
    expect(last.truncated).toBe(true);
    expect(last.terminated).toBe(false);
    expect(new CartPole().maxEpisodeSteps).toBe(500);
  });

  it('initial state is U(±0.05), float32, and reproducible under a seed', () => {
    const env = new CartPole();
    const a = env.reset({ seed: 42 }).observation;
    const b = new CartPole().reset({ seed: 42 }).observation;
    expect(a).toEqual(b);
    expect(a).toBeInstanceOf(Float32Array);
    const c = env.reset({ seed: 43 }).observation;
    expect(c).not.toEqual(a);
    for (let s = 0; s < 50; s++) {
      for (const v of env.reset({ seed: s }).observation) expect(Math.abs(v)).toBeLessThanOrEqual(0.05);
    }
    expect(env.observationSpace.contains(a)).toBe(true);
  });

  it('a wrong action gets an error naming env, argument, expected and got', () => {
    const env = new CartPole();
    env.reset({ seed: 0 });
    expect(() => env.step(2)).toThrow("CartPole-v1.step: argument 'action' expected an element of Discrete(2) (an integer in [0, 1]), got 2");
    expect(() => env.step(0.5)).toThrow(/expected an element of Discrete\(2\) \(an integer\), got 0.5/);
    expect(() => env.step(new Float32Array([1]) as never)).toThrow(/got Float32Array\(1\) \[1\]/);
    expect(() => new CartPole().step(0)).toThrow(/call reset\(\) before step\(\)/);
  });

  it('renders frames, a PNG strip and a GIF of an episode', async () => {
    const env = new CartPole({ renderWidth: 60 });
    const ep = await recordEpisode(env, (_o, t) => t % 2, { seed: 3, maxSteps: 12 });
    expect(ep.frames.length).toBe(13);
    expect(ep.frames[0].width).toBe(60);
    expect(ep.frames[0].height).toBe(40);
    // The cart is drawn: black pixels exist, and the frame changes as the pole moves.
    const black = (f: { rgba: Uint8Array }) => f.rgba.filter((v, i) => i % 4 === 0 && v === 0).length;
    expect(black(ep.frames[0])).toBeGreaterThan(20);
    const strip = framesStrip(ep.frames, { every: 4, pad: 2 });
    expect(strip.width).toBe(2 + 4 * 62);
    const png = episodeStripPng(ep.frames, { every: 4 });
    expect(Array.from(png.slice(1, 4))).toEqual([80, 78, 71]); // "PNG"
    const gif = await episodeGif(ep.frames);
    expect(new TextDecoder().decode(gif.slice(0, 6))).toBe('GIF89a');
  });
});

describe('SyncVectorEnv', () => {
  const make = () => new SyncVectorEnv(Array.from({ length: 3 }, () => () => new CartPole({ maxEpisodeSteps: 20 })));

  it('is deterministic under a seed and seeds copy i with seed + i', () => {
    const run = () => {
      const v = make();
      const obs: number[] = Array.from(v.reset({ seed: 5 }).observations);
      for (let t = 0; t < 60; t++) obs.push(...v.step([t % 2, (t >> 1) % 2, 1]).observations);
      return obs;
    };
    expect(run()).toEqual(run());
    const v = make();
    const first = v.reset({ seed: 5 }).observations;
    expect(first.subarray(4, 8)).toEqual(new CartPole().reset({ seed: 6 }).observation);
  });

  it('auto-resets in the same step and keeps the final observation and episode stats in info', () => {
    const v = make();
    v.reset({ seed: 0 });
    const single = new CartPole({ maxEpisodeSteps: 20 });
    single.reset({ seed: 2 });
    let ended = false;
    for (let t = 0; t < 40 && !ended; t++) {
      const s = single.step(1);
      const r = v.step([0, 0, 1]);
      expect(r.terminated[2]).toBe(s.terminated);
      if (s.terminated) {
        ended = true;
        expect(r.info.finalObservation[2]).toEqual(s.observation);
        expect(r.info.episode[2]).toEqual({ r: t + 1, l: t + 1 });
        // The returned observation is the first of the next episode (|state| ≤ 0.05).
        for (const x of r.observations.subarray(8, 12)) expect(Math.abs(x)).toBeLessThanOrEqual(0.05);
      } else {
        expect(r.info.finalObservation[2]).toBeNull();
        expect(r.observations.subarray(8, 12)).toEqual(s.observation);
      }
    }
    expect(ended).toBe(true);
  });

  it('rejects a wrong action batch clearly', () => {
    const v = make();
    expect(() => v.step([0, 1, 0])).toThrow(/call reset\(\) before step\(\)/);
    v.reset({ seed: 0 });
    expect(() => v.step([0, 1])).toThrow(/SyncVectorEnv.step: argument 'actions' expected an array of 3 numbers \(3 envs × 1\), got array\(2\)/);
    expect(() => v.step([0, 1, 7])).toThrow(/SyncVectorEnv.step \(env 2\): CartPole-v1.step: argument 'action' expected an element of Discrete\(2\)/);
  });
});
