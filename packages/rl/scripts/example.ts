// Runs one of the package's examples: `npm run example -w @brickml/rl -- <name> [options]`.
// A progress bar on a terminal, plain lines in a pipe; PNG curves and a JSON summary go to out/<name>/.
const examples: Record<string, { about: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  'deep-sea': { about: 'K-learning vs Thompson sampling vs soft-Q on DeepSea: regret curves over sizes and seeds', load: () => import('../examples/deep-sea.js') },
  'rl2-bandit': { about: 'RL² on bandits: return rises across the episodes of one trial', load: () => import('../examples/rl2-bandit.js') },
  discern: { about: 'DISCERN vs a pixel-distance reward, same goal-conditioned PPO agent, on a pixel maze: goal cells reached', load: () => import('../examples/discern.js') },
  carml: { about: 'CARML on a pixel maze: RL² on self-proposed tasks, a maze-partition PNG of the task model', load: () => import('../examples/carml.js') },
  'carml-transfer': { about: 'CARML pre-training vs random init when meta-training RL² on hidden-goal maze tasks: both return curves', load: () => import('../examples/carml-transfer.js') },
  cartpole: { about: 'PPO on CartPole-v1: return curve, evaluation, a GIF and a PNG strip of an episode', load: () => import('../examples/cartpole.js') },
};

const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in examples)) {
  console.error(`usage: npm run example -w @brickml/rl -- <name> [options]\n\nexamples:\n${Object.entries(examples).map(([k, v]) => `  ${k.padEnd(10)} ${v.about}`).join('\n')}`);
  process.exit(name ? 1 : 0);
}
const mod = await examples[name].load();
await mod.main(rest);
