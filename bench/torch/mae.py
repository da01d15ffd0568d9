"""Reference for cases/mae.ts: one masked-autoencoder training step (He et al. 2022, `models_mae.py`).

brickml_torch has no MaskedAutoencoder / ViTEncoder mirror yet, so `Mae` below is a minimal one
for @brickml/ssl's `MaskedAutoencoder` (packages/ssl/src/mae/mae.ts, encoders/vit.ts), assembled
from brickml_torch's PatchEmbed, TransformerBlock, LayerNorm and Linear mirrors, with BrickML's
parameter names (`encoder.blocks.0.attn.q.weight`, `decoder_pred.bias`, ...):

    x       = encoder.patch_embed(images) + encoder.pos_embed          [B, L, dim]
    visible = x at ids_keep                                             [B, K, dim]
    latent  = encoder.norm(encoder.blocks(visible))
    y       = decoder_embed(latent), mask_token appended, unshuffled by ids_restore, + decoder_pos_embed
    pred    = decoder_pred(decoder_norm(decoder_blocks(y)))            [B, L, p²·C]
    loss    = Σ mean_p (pred − patchify(images))² · mask / Σ mask      (mask: 1 = removed)

The masking is MAE's `random_masking` on BrickML's noise (`in.noise` [B, L]): ids_shuffle is its
stable ascending argsort, the first K = ⌊L(1 − ratio)⌋ are kept. Gathers here are torch.gather, not
BrickML's one-hot products: the same values, an independent implementation. Patches are in
BrickML's (C, ph, pw) order. The sin-cos position tables come from the artifact (`buffer.*`).

One step: forward, loss, backward, torch.optim.AdamW with MAE's groups (no decay for 1-D tensors
and `*.bias`, as timm's `add_weight_decay`).
"""
import math

import torch
from torch import nn

import brickml_torch


class ViTEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        g = c["imageSize"] // c["patchSize"]
        self.patch_embed = brickml_torch.build({"type": "PatchEmbed", "channels": c["channels"], "patchSize": c["patchSize"], "dim": c["dim"]})
        self.register_buffer("pos_embed", torch.zeros(1, g * g, c["dim"]))
        self.blocks = nn.ModuleList(
            brickml_torch.build({"type": "TransformerBlock", "kind": "self", "dim": c["dim"], "heads": c["heads"], "mlpRatio": c["mlpRatio"], "eps": c["eps"]})
            for _ in range(c["depth"])
        )
        self.norm = brickml_torch.build({"type": "LayerNorm", "dim": c["dim"], "eps": c["eps"]})


class Mae(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        g = c["imageSize"] // c["patchSize"]
        dd, p = c["decoderDim"], c["patchSize"]
        self.num_patches = g * g
        self.keep = int(math.floor(g * g * (1 - c["maskRatio"])))
        self.encoder = ViTEncoder(c)
        self.decoder_embed = brickml_torch.build({"type": "Linear", "inFeatures": c["dim"], "outFeatures": dd})
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.register_buffer("decoder_pos_embed", torch.zeros(1, g * g, dd))
        self.decoder_blocks = nn.ModuleList(
            brickml_torch.build({"type": "TransformerBlock", "kind": "self", "dim": dd, "heads": c["decoderHeads"], "mlpRatio": c["mlpRatio"], "eps": c["eps"]})
            for _ in range(c["decoderDepth"])
        )
        self.decoder_norm = brickml_torch.build({"type": "LayerNorm", "dim": dd, "eps": c["eps"]})
        self.decoder_pred = brickml_torch.build({"type": "Linear", "inFeatures": dd, "outFeatures": p * p * c["channels"]})

    def patchify(self, images):  # [B, C, H, W] → [B, L, C·p·p], features in (C, ph, pw) order
        b, ch, h, w = images.shape
        p = self.c["patchSize"]
        x = images.reshape(b, ch, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)  # [B, gh, gw, C, ph, pw]
        return x.reshape(b, (h // p) * (w // p), ch * p * p)

    def masking(self, noise):
        """MAE `random_masking`: (ids_keep [B, K], ids_restore [B, L], mask [B, L] with 1 = removed)."""
        b, n = noise.shape
        ids_shuffle = torch.sort(noise, dim=1, stable=True).indices  # ascending: small noise is kept
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        mask = torch.ones(b, n)
        mask[:, : self.keep] = 0
        return ids_shuffle[:, : self.keep], ids_restore, torch.gather(mask, 1, ids_restore)

    def forward(self, images, noise):
        e = self.encoder
        ids_keep, ids_restore, mask = self.masking(noise)
        x = e.patch_embed(images) + e.pos_embed  # [B, L, dim]
        d = x.shape[-1]
        x = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))  # [B, K, dim]
        for blk in e.blocks:
            x = blk(x)
        latent = e.norm(x)  # [B, K, dim]
        y = self.decoder_embed(latent)  # [B, K, dd]
        b, k, dd = y.shape
        y = torch.cat([y, self.mask_token.expand(b, self.num_patches - k, dd)], dim=1)  # [B, L, dd] in shuffled order
        y = torch.gather(y, 1, ids_restore.unsqueeze(-1).expand(-1, -1, dd)) + self.decoder_pos_embed  # [B, L, dd]
        for blk in self.decoder_blocks:
            y = blk(y)
        pred = self.decoder_pred(self.decoder_norm(y))  # [B, L, p²·C]
        per_patch = torch.mean(torch.square(pred - self.patchify(images)), dim=-1)  # [B, L]
        return torch.sum(per_patch * mask) / torch.sum(mask)


def no_decay(name, p):
    """timm `add_weight_decay` as MAE's main_pretrain.py uses it (and cases/mae.ts `maeNoDecay`)."""
    return p.dim() <= 1 or name.endswith(".bias")


def build(meta, t):
    c = meta["config"]
    net = Mae(c)
    if net.keep != meta["visible"]:
        raise ValueError(f"bench mae: the mirror keeps {net.keep} patches, BrickML {meta['visible']}")
    arrays = {}
    for k, v in t.items():
        for prefix in ("param.", "buffer."):
            if k.startswith(prefix):
                arrays[k[len(prefix):]] = v.detach().cpu().numpy()
    device = t["in.images"].device
    net = brickml_torch.state_from_brickml(net, arrays, where="bench mae").to(device)
    net.train()
    images, noise = t["in.images"], t["in.noise"]
    o = meta["adamw"]
    assert meta["noDecay"] == "rank<=1 or .bias", meta["noDecay"]
    named = list(net.named_parameters())
    decay = [p for n, p in named if not no_decay(n, p)]
    plain = [p for n, p in named if no_decay(n, p)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weightDecay"]}, {"params": plain, "weight_decay": 0.0}],
        lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"],
    )

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = net(images, noise)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in named}
        opt.step()
        return loss, grads

    def outputs():
        loss, grads = train_step()
        res = {"loss": loss.detach()}
        res.update({f"grad.{n}": g for n, g in grads.items()})
        res.update({f"gradScaled.{n}": g / g.abs().max() for n, g in grads.items()})  # as cases/mae.ts
        res.update({f"updated.{n}": p.detach().clone() for n, p in named})
        return res

    def step():
        loss, _ = train_step()
        loss.item()

    return outputs, step
