/**
 * The live examples, by name. Each entry loads its module lazily, so a page (or the terminal
 * runner) pulls in only the packages its example needs. Add an example here and put
 * `<LiveExample name="…" />` on its page.
 */
import type { ExampleModule } from './context.js';

export const examples: Record<string, () => Promise<ExampleModule>> = {
  moons: () => import('./moons.js'),
  'rin-read-attention': () => import('./rin-read-attention.js'),
  'moe-dropless-vs-capacity': () => import('./moe-dropless-vs-capacity.js'),
  'rin-diffusion-shapes': () => import('./rin-diffusion-shapes.js'),
  'rl-cartpole-ppo': () => import('./rl-cartpole-ppo.js'),
  'rl-deep-sea': () => import('./rl-deep-sea.js'),
  'ssl-crw-propagation': () => import('./ssl-crw-propagation.js'),
};

/** Names of all examples, in registry order. */
export const exampleNames = Object.keys(examples);

/** Loads an example by name; the error lists the names there are. */
export async function loadExample(name: string): Promise<ExampleModule> {
  const load = examples[name];
  if (!load) throw new Error(`unknown example '${name}'; examples: ${exampleNames.join(', ')}`);
  return load();
}
