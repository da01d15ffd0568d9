"""Mirrors of @brickml/ssl's model bricks (packages/ssl/src/): `ProjectionHead`, `ViTEncoder`, `SimCLR`,
`BYOL`, `MaskedAutoencoder`, `IJEPA`, `ContrastiveRandomWalk` and `Transporter`, with BrickML's names.

What is mirrored is the forward computation of each brick and the losses that are a formula of it
(NT-Xent, BYOL's regression, MAE's masked MSE, I-JEPA's smooth L1, the palindrome-walk loss, the
Transporter's reconstruction MSE). Randomness that BrickML draws on the host (MAE's masking, I-JEPA's
blocks) is passed in, so both engines can run the same draw; the walk's edge dropout in training mode
draws from torch's generator. Not mirrored: the contrastive random walk's training-mode window jitter (a
clear error), BYOL's τ and I-JEPA's momentum schedules (the EMA update itself is `update_target`),
augmentations.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .attention import _block, sincos_table
from .core import Brick, check_shape, layer_norm, linear
from .registry import (
    OPTIONAL,
    BrickConfigError,
    Field,
    boolean,
    brick,
    build,
    enum,
    list_of,
    non_negative_int,
    number,
    pair,
    positive,
    positive_int,
    register,
)


def _rate_below_one(v):
    return None if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1 else "expected a number in [0, 1)"


def l2_normalize(x, eps=1e-12):
    """x / max(‖x‖, eps) over the last axis (BrickML's `l2Normalize`, `F.normalize`)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


def nt_xent_loss(z1, z2, temperature=0.5):
    """SimCLR's NT-Xent over the 2N views (BrickML's `ntXentLoss`): z1, z2 [N, D] → scalar."""
    if z1.dim() != 2 or z1.shape != z2.shape:
        raise ValueError(f"nt_xent_loss: arguments 'z1' and 'z2' expected equal shapes [N, D], got {list(z1.shape)} and {list(z2.shape)}")
    n = z1.shape[0]
    z = l2_normalize(torch.cat([z1, z2], 0))  # [2N, D]
    sim = z @ z.t() / temperature - 1e9 * torch.eye(2 * n, dtype=z.dtype, device=z.device)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    positive_ = sim.gather(1, partner.unsqueeze(1)).squeeze(1)  # [2N]
    return (torch.logsumexp(sim, -1) - positive_).mean()


def byol_regression(p, z_target):
    """mean over rows of 2 − 2·cos(p, z'), z' detached (BrickML's `byolRegression`)."""
    return (2 - 2 * (l2_normalize(p) * l2_normalize(z_target.detach())).sum(-1)).mean()


def byol_loss(p1, z2_target, p2, z1_target):
    return byol_regression(p1, z2_target) + byol_regression(p2, z1_target)


@torch.no_grad()
def ema_update(target, online, tau):
    """target ← τ·target + (1 − τ)·online for every parameter and buffer, by name (BrickML's `emaUpdate`)."""
    src = dict(online.state_dict(keep_vars=True))
    dst = target.state_dict(keep_vars=True)
    if set(src) != set(dst):
        raise ValueError(f"ema_update: target and online differ in variables: {sorted(set(src) ^ set(dst))[:5]}")
    for name, t in dst.items():
        o = src[name]
        if not t.is_floating_point():
            t.copy_(o)
        else:
            t.mul_(tau).add_(o * (1 - tau))


def patchify(images, patch):
    """images [B, C, H, W] → patches [B, L, C·p·p], row-major over the grid, features (C, ph, pw) (core's `patchifyImage`)."""
    b, c, h, w = images.shape
    gh, gw = h // patch, w // patch
    return images.reshape(b, c, gh, patch, gw, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c * patch * patch)


@register
class ProjectionHead(Brick):
    """fc2(relu(bn(fc1(x)))), x [N, dim] → [N, outDim]; `bn` a BatchNorm1d (absent with `batchNorm` false)."""

    brick_type = "ProjectionHead"
    fields = {"dim": Field(positive_int), "hidden": Field(positive_int), "outDim": Field(positive_int), "batchNorm": Field(boolean, True)}

    def __init__(self, c):
        super().__init__(c)
        self.fc1 = linear(c["dim"], c["hidden"])
        self.bn = build({"type": "BatchNorm1d", "numFeatures": c["hidden"]}) if c["batchNorm"] else None
        self.fc2 = linear(c["hidden"], c["outDim"])

    def forward(self, x):
        check_shape("ProjectionHead", "x", x, [None, self.config["dim"]])
        h = self.fc1(x)
        if self.bn is not None:
            h = self.bn(h)
        return self.fc2(F.relu(h))


def _head(dim, hidden, out_dim, batch_norm):
    return ProjectionHead({"type": "ProjectionHead", "dim": dim, "hidden": hidden, "outDim": out_dim, "batchNorm": batch_norm})


@register
class ViTEncoder(Brick):
    """images [B, C, H, W] → norm(blocks(patch_embed(images) + pos_embed)) [B, N, dim]; `pos_embed` [1, N, dim]
    is BrickML's fixed 2-D sin-cos table, a buffer saved with the weights."""

    brick_type = "ViTEncoder"
    fields = {
        "channels": Field(positive_int, 3),
        "imageSize": Field(positive_int),
        "patchSize": Field(positive_int),
        "dim": Field(positive_int),
        "depth": Field(non_negative_int, 2),
        "heads": Field(positive_int, 4),
        "mlpRatio": Field(positive, 4),
        "eps": Field(positive, 1e-6),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["imageSize"] % c["patchSize"]:
            raise BrickConfigError(f"ViTEncoder: config field 'imageSize' ({c['imageSize']}) must be divisible by 'patchSize' ({c['patchSize']})")
        if c["dim"] % c["heads"]:
            raise BrickConfigError(f"ViTEncoder: config field 'dim' ({c['dim']}) must be divisible by 'heads' ({c['heads']})")
        g = c["imageSize"] // c["patchSize"]
        self.patch_embed = build({"type": "PatchEmbed", "channels": c["channels"], "patchSize": c["patchSize"], "dim": c["dim"]})
        self.register_buffer("pos_embed", torch.from_numpy(sincos_table([g, g], c["dim"])).reshape(1, g * g, c["dim"]))
        self.blocks = nn.ModuleList(_block("self", c["dim"], c["heads"], c["mlpRatio"], c["eps"], 0.0) for _ in range(c["depth"]))
        self.norm = layer_norm(c["dim"], c["eps"])

    @property
    def num_tokens(self):
        g = self.config["imageSize"] // self.config["patchSize"]
        return g * g

    def embed(self, images):
        """images [B, C, H, W] → position-embedded patch tokens [B, N, dim]."""
        c = self.config
        check_shape("ViTEncoder", "images", images, [None, c["channels"], c["imageSize"], c["imageSize"]])
        return self.patch_embed(images) + self.pos_embed

    def encode_tokens(self, tokens):
        """tokens [B, n, dim] → blocks → norm → [B, n, dim]."""
        check_shape("ViTEncoder", "tokens", tokens, [None, None, self.config["dim"]])
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward(self, images):
        return self.encode_tokens(self.embed(images))


def _pool(y, dim, who):
    pooled = y.mean(1) if y.dim() == 3 else y
    if pooled.dim() != 2 or pooled.shape[1] != dim:
        raise ValueError(f"{who}: the encoder returned {list(y.shape)}; expected [B, {dim}] or [B, n, {dim}] (config 'encoderDim')")
    return pooled


@register
class SimCLR(Brick):
    """h = pool(encoder(x)) (`represent`), z = projector(h); `loss(view1, view2)` is NT-Xent over the 2N views."""

    brick_type = "SimCLR"
    fields = {
        "encoder": Field(brick),
        "encoderDim": Field(positive_int),
        "hidden": Field(positive_int, 256),
        "projectionDim": Field(positive_int, 64),
        "headBatchNorm": Field(boolean, True),
        "temperature": Field(positive, 0.5),
    }

    def __init__(self, c):
        super().__init__(c)
        self.encoder = build(c["encoder"])
        self.projector = _head(c["encoderDim"], c["hidden"], c["projectionDim"], c["headBatchNorm"])

    def represent(self, images):
        return _pool(self.encoder(images), self.config["encoderDim"], "SimCLR")

    def forward(self, images):
        """images → representation h [B, encoderDim]."""
        return self.represent(images)

    def loss(self, view1, view2):
        if view1.shape != view2.shape:
            raise ValueError(f"SimCLR.loss: views must have equal shapes, got {list(view1.shape)} and {list(view2.shape)}")
        return nt_xent_loss(self.projector(self.represent(view1)), self.projector(self.represent(view2)), self.config["temperature"])


@register
class BYOL(Brick):
    """Online encoder → projector → predictor regresses the target (EMA) encoder → projector of the other view.
    The target's parameters have `requires_grad` False (BrickML: non-trainable); `update_target(tau)` is the EMA."""

    brick_type = "BYOL"
    fields = {
        "encoder": Field(brick),
        "encoderDim": Field(positive_int),
        "hidden": Field(positive_int, 256),
        "projectionDim": Field(positive_int, 64),
        "headBatchNorm": Field(boolean, True),
        "predictorHidden": Field(non_negative_int, OPTIONAL),
    }

    def __init__(self, c):
        super().__init__(c)
        bn = c["headBatchNorm"]
        self.online_encoder = build(c["encoder"])
        self.online_projector = _head(c["encoderDim"], c["hidden"], c["projectionDim"], bn)
        ph = c["predictorHidden"] if c.get("predictorHidden") is not None else c["hidden"]
        self.predictor = None if ph == 0 else _head(c["projectionDim"], ph, c["projectionDim"], bn)
        self.target_encoder = build(c["encoder"])
        self.target_projector = _head(c["encoderDim"], c["hidden"], c["projectionDim"], bn)
        for m in (self.target_encoder, self.target_projector):
            for p in m.parameters():
                p.requires_grad_(False)
        self.update_target(0.0)

    def represent(self, images):
        return _pool(self.online_encoder(images), self.config["encoderDim"], "BYOL")

    def forward(self, images):
        """images → online representation [B, encoderDim]."""
        return self.represent(images)

    def loss(self, view1, view2):
        if view1.shape != view2.shape:
            raise ValueError(f"BYOL.loss: views must have equal shapes, got {list(view1.shape)} and {list(view2.shape)}")
        d = self.config["encoderDim"]

        def online(v):
            z = self.online_projector(_pool(self.online_encoder(v), d, "BYOL"))
            return self.predictor(z) if self.predictor is not None else z

        def target(v):
            with torch.no_grad():
                return self.target_projector(_pool(self.target_encoder(v), d, "BYOL"))

        return byol_loss(online(view1), target(view2), online(view2), target(view1))

    def update_target(self, tau):
        ema_update(self.target_encoder, self.online_encoder, tau)
        ema_update(self.target_projector, self.online_projector, tau)


def random_masking(batch, length, ratio, generator=None):
    """MAE's masking: argsort of uniform noise, the first ⌊L(1 − ratio)⌋ kept → (ids_keep [B, K] long, mask [B, L], 1 = removed)."""
    keep = int(length * (1 - ratio))
    if keep < 1:
        raise ValueError(f"random_masking: ratio {ratio} keeps no token of {length}")
    noise = torch.rand(batch, length, generator=generator)
    ids_keep = noise.argsort(1)[:, :keep]
    mask = torch.ones(batch, length)
    mask.scatter_(1, ids_keep, 0.0)
    return ids_keep, mask


def mae_loss(pred, target, mask, norm_pix=False):
    """Σ mse(pred, target)·mask / Σ mask over the patches (BrickML's `maeLoss`); `norm_pix` normalises each target patch."""
    if norm_pix:
        mean = target.mean(-1, keepdim=True)
        var = target.var(-1, unbiased=False, keepdim=True)
        target = (target - mean) / torch.sqrt(var + 1e-6)
    per_patch = (pred - target).square().mean(-1)  # [B, L]
    return (per_patch * mask).sum() / mask.sum()


@register
class MaskedAutoencoder(Brick):
    """MAE (`models_mae.py` names, no class token): `forward(images, ids_keep, mask)` → {"loss", "pred" [B, L, p²C],
    "mask" [B, L]}. `ids_keep` [B, K] (kept positions) and `mask` come from BrickML's `randomMasking` to replay
    its draw, or are drawn here with `generator` when omitted."""

    brick_type = "MaskedAutoencoder"
    fields = {
        "channels": Field(positive_int, 3),
        "imageSize": Field(positive_int),
        "patchSize": Field(positive_int),
        "dim": Field(positive_int),
        "depth": Field(non_negative_int, 2),
        "heads": Field(positive_int, 4),
        "decoderDim": Field(positive_int),
        "decoderDepth": Field(non_negative_int, 1),
        "decoderHeads": Field(positive_int, 4),
        "mlpRatio": Field(positive, 4),
        "maskRatio": Field(_rate_below_one, 0.75),
        "normPixLoss": Field(boolean, False),
        "eps": Field(positive, 1e-6),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["decoderDim"] % c["decoderHeads"]:
            raise BrickConfigError(f"MaskedAutoencoder: config field 'decoderDim' ({c['decoderDim']}) must be divisible by 'decoderHeads' ({c['decoderHeads']})")
        vit = {k: c[k] for k in ("channels", "imageSize", "patchSize", "dim", "depth", "heads", "mlpRatio", "eps")}
        self.encoder = ViTEncoder({"type": "ViTEncoder", **vit})
        g = c["imageSize"] // c["patchSize"]
        self.decoder_embed = linear(c["dim"], c["decoderDim"])
        self.mask_token = nn.Parameter(torch.randn(1, 1, c["decoderDim"]) * 0.02)
        self.register_buffer("decoder_pos_embed", torch.from_numpy(sincos_table([g, g], c["decoderDim"])).reshape(1, g * g, c["decoderDim"]))
        self.decoder_blocks = nn.ModuleList(_block("self", c["decoderDim"], c["decoderHeads"], c["mlpRatio"], c["eps"], 0.0) for _ in range(c["decoderDepth"]))
        self.decoder_norm = layer_norm(c["decoderDim"], c["eps"])
        self.decoder_pred = linear(c["decoderDim"], c["patchSize"] ** 2 * c["channels"])

    def patchify(self, images):
        return patchify(images, self.config["patchSize"])

    def forward(self, images, ids_keep=None, mask=None, generator=None):
        c = self.config
        check_shape("MaskedAutoencoder", "images", images, [None, c["channels"], c["imageSize"], c["imageSize"]])
        b, L = images.shape[0], self.encoder.num_tokens
        if ids_keep is None:
            ids_keep, mask = random_masking(b, L, c["maskRatio"], generator)
            ids_keep, mask = ids_keep.to(images.device), mask.to(images)
        ids_keep = ids_keep.long()
        check_shape("MaskedAutoencoder", "ids_keep", ids_keep, [b, None])
        if mask is None:
            mask = torch.ones(b, L, dtype=images.dtype, device=images.device).scatter_(1, ids_keep, 0.0)
        check_shape("MaskedAutoencoder", "mask", mask, [b, L])
        x = self.encoder.embed(images)  # [B, L, dim]
        visible = x.gather(1, ids_keep.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # [B, K, dim]
        latent = self.encoder.encode_tokens(visible)
        dec = self.decoder_embed(latent)  # [B, K, dd]
        placed = dec.new_zeros(b, L, dec.shape[-1]).scatter(1, ids_keep.unsqueeze(-1).expand(-1, -1, dec.shape[-1]), dec)
        y = placed + mask.to(dec).unsqueeze(-1) * self.mask_token + self.decoder_pos_embed
        for block in self.decoder_blocks:
            y = block(y)
        pred = self.decoder_pred(self.decoder_norm(y))  # [B, L, p²C]
        loss = mae_loss(pred, self.patchify(images), mask.to(pred), c["normPixLoss"])
        return {"loss": loss, "pred": pred, "mask": mask}


def _select(x, idx):
    """x [B, L, D] at per-row positions idx [B, n] → [B, n, D]."""
    return x.gather(1, idx.long().unsqueeze(-1).expand(-1, -1, x.shape[-1]))


@register
class IJEPA(Brick):
    """I-JEPA (`facebookresearch/ijepa` names): `targets(images)`, `encode_context(images, context)`,
    `predict(z, context, target)`, `loss(images, context [B, Lc], targets [M, B, Lt])` and `represent`; masks
    (patch indices) come from BrickML's `sampleIJepaMasks`. `update_target(momentum)` is the EMA."""

    brick_type = "IJEPA"
    fields = {
        "channels": Field(positive_int, 3),
        "imageSize": Field(positive_int),
        "patchSize": Field(positive_int),
        "dim": Field(positive_int),
        "depth": Field(non_negative_int, 2),
        "heads": Field(positive_int, 4),
        "predictorDim": Field(positive_int),
        "predictorDepth": Field(non_negative_int, 1),
        "predictorHeads": Field(positive_int, 4),
        "mlpRatio": Field(positive, 4),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["predictorDim"] % c["predictorHeads"]:
            raise BrickConfigError(f"IJEPA: config field 'predictorDim' ({c['predictorDim']}) must be divisible by 'predictorHeads' ({c['predictorHeads']})")
        vit = {"type": "ViTEncoder", **{k: c[k] for k in ("channels", "imageSize", "patchSize", "dim", "depth", "heads", "mlpRatio")}, "eps": 1e-6}
        self.encoder = ViTEncoder(dict(vit))
        self.target_encoder = ViTEncoder(dict(vit))
        for p in self.target_encoder.parameters():
            p.requires_grad_(False)
        g = c["imageSize"] // c["patchSize"]
        pd = c["predictorDim"]
        self.predictor_embed = linear(c["dim"], pd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, pd))
        self.register_buffer("predictor_pos_embed", torch.from_numpy(sincos_table([g, g], pd)).reshape(1, g * g, pd))
        self.predictor_blocks = nn.ModuleList(_block("self", pd, c["predictorHeads"], c["mlpRatio"], 1e-6, 0.0) for _ in range(c["predictorDepth"]))
        self.predictor_norm = layer_norm(pd, 1e-6)
        self.predictor_proj = linear(pd, c["dim"])
        self.update_target(0.0)

    def targets(self, images):
        """LayerNorm'd (no affine, eps 1e-5) target-encoder features [B, L, D], no gradient."""
        with torch.no_grad():
            h = self.target_encoder(images)
            return F.layer_norm(h, (h.shape[-1],), eps=1e-5)

    def encode_context(self, images, context):
        return self.encoder.encode_tokens(_select(self.encoder.embed(images), context))

    def predict(self, z, context, target):
        b = z.shape[0]
        pos = self.predictor_pos_embed.expand(b, -1, -1)
        ctx = self.predictor_embed(z) + _select(pos, context)  # [B, Lc, pd]
        masks = self.mask_token.expand(b, target.shape[1], -1) + _select(pos, target)  # [B, Lt, pd]
        x = torch.cat([ctx, masks], 1)
        for block in self.predictor_blocks:
            x = block(x)
        return self.predictor_proj(self.predictor_norm(x)[:, ctx.shape[1] :])  # [B, Lt, D]

    def loss(self, images, context, targets):
        """context [B, Lc], targets [M, B, Lt] patch indices → mean over m of smooth_l1(p_m, h_m) (β 1)."""
        if targets.dim() != 3 or targets.shape[1] != images.shape[0] or context.shape[0] != images.shape[0]:
            raise ValueError(f"IJEPA.loss: expected context [B, Lc] and targets [M, B, Lt] for B = {images.shape[0]}, got {list(context.shape)} and {list(targets.shape)}")
        h = self.targets(images)
        z = self.encode_context(images, context)
        terms = [F.smooth_l1_loss(self.predict(z, context, t), _select(h, t)) for t in targets]
        return torch.stack(terms).mean()

    def represent(self, images):
        return self.target_encoder(images).mean(1)

    def forward(self, images):
        """images → the probe representation, mean-pooled target-encoder tokens [B, D]."""
        return self.represent(images)

    def update_target(self, momentum):
        ema_update(self.target_encoder, self.encoder, momentum)


@register
class ContrastiveRandomWalk(Brick):
    """Node embeddings of the contrastive random walk: each frame cut into reflect-padded windows of a grid,
    each window encoded on its own, pooled, `head` (Linear), L2-normalised → [B, T, N, embedDim].
    Training-mode window jitter is not mirrored (a clear error); evaluation mode equals BrickML's forward."""

    brick_type = "ContrastiveRandomWalk"
    fields = {
        "encoder": Field(brick),
        "encoderDim": Field(positive_int),
        "encoderInput": Field(enum("nchw", "nhwc", "flat"), "nchw"),
        "pixelMean": Field(list_of(number), OPTIONAL),
        "pixelStd": Field(list_of(positive), OPTIONAL),
        "embedDim": Field(positive_int, 128),
        "patchSize": Field(positive_int, 8),
        "stride": Field(positive_int, 4),
        "jitter": Field(boolean, True),
        "jitterScale": Field(pair(positive), [0.7, 0.9]),
        "jitterRatio": Field(pair(positive), [0.75, 4 / 3]),
        "temperature": Field(positive, 0.07),
        "edgeDropout": Field(_rate_below_one, 0.1),
        "shortestWalk": Field(positive_int, 2),
        "eps": Field(positive, 1e-20),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["stride"] > c["patchSize"] or (c["patchSize"] - c["stride"]) % 2:
            raise BrickConfigError(
                f"ContrastiveRandomWalk: config fields 'patchSize' and 'stride' need stride ≤ patchSize and patchSize − stride even, got patchSize {c['patchSize']}, stride {c['stride']}"
            )
        if (c.get("pixelMean") is None) != (c.get("pixelStd") is None) or (c.get("pixelMean") and len(c["pixelMean"]) != len(c["pixelStd"])):
            raise BrickConfigError("ContrastiveRandomWalk: config fields 'pixelMean' and 'pixelStd' go together, one number per channel")
        self.encoder = build(c["encoder"])
        self.head = linear(c["encoderDim"], c["embedDim"])

    def encode_patches(self, patches):
        """patches [M, C, p, p] → pooled encoder features [M, encoderDim]."""
        c = self.config
        x = patches
        if c["encoderInput"] == "nhwc":
            x = x.permute(0, 2, 3, 1)
        elif c["encoderInput"] == "flat":
            x = x.reshape(x.shape[0], -1)
        y = self.encoder(x)
        pooled = y if y.dim() == 2 else y.mean(1) if y.dim() == 3 else y.mean((1, 2)) if y.dim() == 4 else None
        if pooled is None or pooled.shape != (patches.shape[0], c["encoderDim"]):
            raise ValueError(f"ContrastiveRandomWalk: the encoder returned {list(y.shape)}; expected [M, {c['encoderDim']}], [M, n, {c['encoderDim']}] or [M, h, w, {c['encoderDim']}]")
        return pooled

    def node_features(self, video, stride=None, head=True):
        """video [B, T, C, H, W] → L2-normalised nodes [B, T, N, embedDim] (or encoderDim with head=False), no jitter."""
        c = self.config
        check_shape("ContrastiveRandomWalk", "video", video, [None, None, None, None, None])
        b, t, ch, h, w = video.shape
        s, p = stride or c["stride"], c["patchSize"]
        if h % s or w % s:
            raise ValueError(f"ContrastiveRandomWalk: frame {h}×{w} must be divisible by the stride {s}")
        frames = video.reshape(b * t, ch, h, w)
        if c.get("pixelMean") is not None:
            if len(c["pixelMean"]) != ch:
                raise ValueError(f"ContrastiveRandomWalk: argument 'video' has {ch} channels, config 'pixelMean' has {len(c['pixelMean'])}")
            frames = (frames - torch.tensor(c["pixelMean"]).to(frames).view(1, ch, 1, 1)) / torch.tensor(c["pixelStd"]).to(frames).view(1, ch, 1, 1)
        pad = (p - s) // 2
        padded = F.pad(frames, (pad, pad, pad, pad), mode="reflect") if pad > 0 else frames
        win = padded.unfold(2, p, s).unfold(3, p, s)  # [M, C, rows, cols, p, p]
        rows, cols = win.shape[2], win.shape[3]
        patches = win.permute(0, 2, 3, 1, 4, 5).reshape(-1, ch, p, p)  # [M·N, C, p, p], frame-major, row-major
        f = self.encode_patches(patches)
        if head:
            f = self.head(f)
        return l2_normalize(f.reshape(b, t, rows * cols, f.shape[-1]))

    def forward(self, video):
        if self.training and self.config["jitter"]:
            raise NotImplementedError(
                "ContrastiveRandomWalk: training-mode window jitter (config 'jitter': true) is not mirrored in brickml_torch; "
                "call eval() (BrickML's evaluation-mode forward) or build with 'jitter': false"
            )
        return self.node_features(video)

    def transitions(self, video, generator=None):
        """(forward, backward) transition matrices [B, T−1, N, N] at the training temperature; edge dropout in
        training mode (its masks from torch's `generator`, not BrickML's)."""
        c = self.config
        p = c["edgeDropout"] if self.training else 0.0
        return transition_matrices(self(video), c["temperature"], p, generator)

    def loss(self, video, generator=None):
        """The palindrome-walk loss of clips [B, T, C, H, W] → {"loss", "accuracy", "lossPerWalk", "accuracyPerWalk"}
        (BrickML's `loss`; evaluation mode equals it exactly, training mode refuses jitter as `forward` does)."""
        c = self.config
        if video.dim() == 5 and video.shape[1] < c["shortestWalk"] + 1:
            raise ValueError(f"ContrastiveRandomWalk: argument 'video' needs at least {c['shortestWalk'] + 1} frames for walks of {c['shortestWalk']}..T−1 steps, got {list(video.shape)}")
        fwd, bwd = self.transitions(video, generator)
        return palindrome_walk_loss(fwd, bwd, c["shortestWalk"], c["eps"])

    def to_config(self):
        return {**self.config, "encoder": self.encoder.to_config()}


def transition_matrices(nodes, temperature=0.07, edge_dropout=0.0, generator=None):
    """nodes [B, T, N, D] → (P_fwd, P_bwd) [B, T−1, N, N]: row softmaxes of A_t/τ and A_tᵀ/τ, A_t = q_t q_{t+1}ᵀ,
    logits dropped to −1e20 at rate `edge_dropout` (BrickML's `transitionMatrices`)."""
    a = nodes[:, :-1] @ nodes[:, 1:].transpose(-1, -2)  # [B, T−1, N, N]

    def stochastic(logits):
        z = logits / temperature
        if edge_dropout > 0:
            keep = (torch.rand(z.shape, generator=generator) >= edge_dropout).to(z)
            z = z + (1 - keep) * -1e20
        return torch.softmax(z, -1)

    return stochastic(a), stochastic(a.transpose(-1, -2))


def palindrome_walk_loss(forward, backward, shortest_walk=2, eps=1e-20):
    """W_k = P_{1→2}…P_{k→k+1} · P_{k+1→k}…P_{2→1} for k = shortest_walk … T−1; loss = mean over k of the
    cross-entropy of log(W_k + ε) against the identity (BrickML's `palindromeWalkLoss`)."""
    steps, n = forward.shape[1], forward.shape[2]
    out, back = forward[:, 0], backward[:, 0]
    losses, accs = [], []
    targets = torch.arange(n, device=forward.device)
    for k in range(1, steps + 1):
        if k > 1:
            out = out @ forward[:, k - 1]
            back = backward[:, k - 1] @ back
        if k < shortest_walk:
            continue
        walk = out @ back  # [B, N, N]
        losses.append(-torch.log(walk + eps).diagonal(dim1=-2, dim2=-1).mean())
        accs.append((walk.argmax(-1) == targets).float().mean())
    if not losses:
        raise ValueError(f"palindrome_walk_loss: walks of {shortest_walk}..T−1 steps need at least {shortest_walk + 1} frames, got {steps + 1}")
    loss_per, acc_per = torch.stack(losses), torch.stack(accs)
    return {"loss": loss_per.mean(), "accuracy": acc_per.mean(), "lossPerWalk": loss_per, "accuracyPerWalk": acc_per}


# ---- Transporter -------------------------------------------------------------------------------


def spatial_softmax(logits):
    """logits [N, h, w, K] → (coords [N, K, 2] as (x, y) in [0, 1], probs [N, h, w, K]) (BrickML's `spatialSoftmax`)."""
    n, h, w, k = logits.shape
    p = torch.softmax(logits.reshape(n, h * w, k).transpose(1, 2), -1)  # [N, K, h·w]
    cells = torch.arange(h * w, dtype=logits.dtype, device=logits.device)
    xs = ((cells % w) + 0.5) / w
    ys = (torch.div(cells, w, rounding_mode="floor") + 0.5) / h
    coords = p @ torch.stack([xs, ys], 1)  # [N, K, 2]
    return coords, p.transpose(1, 2).reshape(n, h, w, k)


def gaussian_maps(coords, h, w, std):
    """coords [N, K, 2] → exp(−‖u − c‖² / (2σ²)) on the h × w cell centres, [N, h, w, K]."""
    n, k, _ = coords.shape
    cx = coords[..., 0].reshape(n, 1, 1, k)
    cy = coords[..., 1].reshape(n, 1, 1, k)
    u = ((torch.arange(w, dtype=coords.dtype, device=coords.device) + 0.5) / w).reshape(1, 1, w, 1)
    v = ((torch.arange(h, dtype=coords.dtype, device=coords.device) + 0.5) / h).reshape(1, h, 1, 1)
    return torch.exp(((u - cx).square() + (v - cy).square()) / (-2 * std * std))


def transport(source_maps, target_maps, source_features, target_features):
    """Φ̂ ← (1 − H_s,k)(1 − H_t,k)·Φ̂ + H_t,k·Φ_t for k = 1 … K in turn, from Φ̂ = Φ_s."""
    out = source_features
    for i in range(source_maps.shape[-1]):
        hs, ht = source_maps[..., i : i + 1], target_maps[..., i : i + 1]
        out = (1 - hs) * (1 - ht) * out + ht * target_features
    return out


def _conv(cin, cout, k, stride=1, padding=0):
    return build({"type": "Conv2d", "inChannels": cin, "outChannels": cout, "kernelSize": k, "stride": stride, "padding": padding})


class _ConvEncoder(nn.Module):
    """[conv 3×3 → BatchNorm2d → ReLU] × (2 + 2·downsample), channels last (`convs.<i>`, `norms.<i>`)."""

    def __init__(self, cin, channels, downsample, norm):
        super().__init__()
        strides = [1, 1] + [s for _ in range(downsample) for s in (2, 1)]
        self.convs = nn.ModuleList(_conv(cin if i == 0 else channels, channels, 3, s, 1) for i, s in enumerate(strides))
        self.norms = nn.ModuleList(build({"type": "BatchNorm2d", "numFeatures": channels}) for _ in strides) if norm == "batch" else nn.ModuleList()

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if len(self.norms):
                x = self.norms[i](x)
            x = F.relu(x)
        return x


class _RefineNet(nn.Module):
    """[conv 3×3 → ReLU → nearest ×2] × downsample, conv 3×3 → ReLU, conv 3×3 to the image channels (`convs.<i>`)."""

    def __init__(self, channels, out_channels, downsample):
        super().__init__()
        self.upsamples = downsample
        self.convs = nn.ModuleList(_conv(channels, out_channels if i == downsample + 1 else channels, 3, 1, 1) for i in range(downsample + 2))

    def forward(self, x):
        for i in range(self.upsamples):
            x = F.relu(self.convs[i](x)).repeat_interleave(2, 1).repeat_interleave(2, 2)
        return self.convs[self.upsamples + 1](F.relu(self.convs[self.upsamples](x)))


@register
class Transporter(Brick):
    """Transporter keypoints (Kulkarni et al. 2019): frames channels last [N, H, W, inChannels];
    `keypoints(frames)` → (coords [N, K, 2], maps [N, h, w, K]); `reconstruct(source, target)`; `loss` (MSE)."""

    brick_type = "Transporter"
    fields = {
        "inChannels": Field(positive_int, 3),
        "numKeypoints": Field(positive_int, 4),
        "channels": Field(positive_int, 32),
        "downsample": Field(non_negative_int, 1),
        "gaussianStd": Field(positive, 0.05),
        "norm": Field(enum("batch", "none"), "batch"),
    }

    def __init__(self, c):
        super().__init__(c)
        self.feature_encoder = _ConvEncoder(c["inChannels"], c["channels"], c["downsample"], c["norm"])
        self.keypoint_encoder = _ConvEncoder(c["inChannels"], c["channels"], c["downsample"], c["norm"])
        self.keypoint_head = _conv(c["channels"], c["numKeypoints"], 1)
        self.refine_net = _RefineNet(c["channels"], c["inChannels"], c["downsample"])

    def _check(self, name, x):
        check_shape("Transporter", name, x, [None, None, None, self.config["inChannels"]])
        f = 2 ** self.config["downsample"]
        if x.shape[1] % f or x.shape[2] % f:
            raise ValueError(f"Transporter: argument '{name}' expected H and W divisible by 2^downsample = {f}, got {list(x.shape)}")

    def keypoints(self, frames):
        self._check("frames", frames)
        logits = self.keypoint_head(self.keypoint_encoder(frames))  # [N, h, w, K]
        coords, _ = spatial_softmax(logits)
        return coords, gaussian_maps(coords, logits.shape[1], logits.shape[2], self.config["gaussianStd"])

    def reconstruct(self, source, target):
        self._check("source", source)
        self._check("target", target)
        if source.shape != target.shape:
            raise ValueError(f"Transporter: arguments 'source' and 'target' expected equal shapes, got {list(source.shape)} and {list(target.shape)}")
        n = source.shape[0]
        both = torch.cat([source, target], 0)
        phi = self.feature_encoder(both)
        _, maps = self.keypoints(both)
        return self.refine_net(transport(maps[:n], maps[n:], phi[:n], phi[n:]))

    def loss(self, source, target):
        return (self.reconstruct(source, target) - target).square().mean()

    def forward(self, source, target):
        """The reconstruction of `target` from `source`."""
        return self.reconstruct(source, target)


__all__ = [
    "BYOL",
    "ContrastiveRandomWalk",
    "IJEPA",
    "MaskedAutoencoder",
    "ProjectionHead",
    "SimCLR",
    "Transporter",
    "ViTEncoder",
    "byol_loss",
    "byol_regression",
    "ema_update",
    "gaussian_maps",
    "mae_loss",
    "nt_xent_loss",
    "palindrome_walk_loss",
    "transition_matrices",
    "patchify",
    "random_masking",
    "spatial_softmax",
    "transport",
]
