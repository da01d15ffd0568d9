/**
 * @brickml/ssl: self-supervised objectives over BrickML bricks — the contrastive random walk
 * (CRW) with label propagation and its J/F evaluation on `movingSprites`, the masked autoencoder,
 * BYOL and SimCLR (NT-Xent) with BatchNorm projection heads, Transporter keypoints, I-JEPA, and a
 * small ViT encoder.
 *
 * Importing this package registers its bricks (`ContrastiveRandomWalk`, `ViTEncoder`,
 * `MaskedAutoencoder`, `BYOL`, `SimCLR`, `ProjectionHead`, `Transporter`, `IJEPA`).
 * @packageDocumentation
 */
import '@brickml/core';
import '@brickml/attention';

export * from './ops.js';
export * from './encoders/vit.js';
export * from './crw/walk.js';
export * from './crw/patches.js';
export * from './crw/crw.js';
export * from './crw/label-propagation.js';
export * from './crw/metrics.js';
export * from './crw/evaluate.js';
export * from './crw/viz.js';
export * from './objectives/nt-xent.js';
export * from './objectives/heads.js';
export * from './objectives/byol.js';
export * from './mae/mae.js';
export * from './objectives/simclr.js';
export * from './transporter/transporter.js';
export * from './transporter/evaluate.js';
export * from './transporter/viz.js';
export * from './ijepa/masks.js';
export * from './ijepa/ijepa.js';
