/**
 * `npm run example -w @brickml/ssl -- <name> [flags]`: runs examples/<name>.ts.
 * Examples: crw (contrastive random walk + mask propagation on movingSprites), mae (masked
 * autoencoder on shapes + linear probe), simclr and byol (contrastive/EMA objectives on shapes +
 * linear probe and k-NN; `supervised` trains the same encoder on the shape label, `contrastive
 * --objective all` trains all three and writes one table), transporter (keypoints on
 * movingSprites + tracking error vs random keypoints and an untrained network), ijepa (I-JEPA on
 * shapes + linear probe and k-NN vs a random encoder).
 */
const examples: Record<string, () => Promise<unknown>> = {
  crw: () => import('../examples/crw.js'),
  mae: () => import('../examples/mae.js'),
  simclr: () => import('../examples/contrastive.js'),
  byol: () => import('../examples/contrastive.js'),
  supervised: () => import('../examples/contrastive.js'),
  contrastive: () => import('../examples/contrastive.js'),
  transporter: () => import('../examples/transporter.js'),
  ijepa: () => import('../examples/ijepa.js'),
};
const [name, ...rest] = process.argv.slice(2);
if (!name || !(name in examples)) {
  console.error(`example: expected one of ${Object.keys(examples).join(', ')}, got ${JSON.stringify(name ?? '')}`);
  process.exit(2);
}
const objective = name === 'simclr' || name === 'byol' || name === 'supervised' ? ['--objective', name] : [];
process.argv = [process.argv[0], `examples/${name}.ts`, ...objective, ...rest];
await examples[name]();
