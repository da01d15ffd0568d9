/**
 * `npm run example -w @brickml/ssl -- <name> [flags]`: runs examples/<name>.ts.
 * Examples: crw (contrastive random walk + mask propagation on movingSprites), mae (masked
 * autoencoder on shapes + linear probe), simclr and byol (contrastive/EMA objectives on shapes +
 * linear probe and k-NN).
 */
const examples: Record<string, () => Promise<unknown>> = {
  crw: () => import('../examples/crw.js'),
  mae: () => import('../examples/mae.js'),
  simclr: () => import('../examples/contrastive.js'),
  byol: () => import('../examples/contrastive.js'),
};
const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in examples)) {
  console.error(`example: expected one of ${Object.keys(examples).join(', ')}, got ${JSON.stringify(name ?? '')}`);
  process.exit(2);
}
const objective = name === 'simclr' || name === 'byol' ? ['--objective', name] : [];
process.argv = [process.argv[0], `examples/${name}.ts`, ...objective, ...rest];
await examples[name]();
