"""Mirrors of @brickml/diffusion's denoisers (packages/diffusion/src/denoisers): MlpDenoiser,
TransformerDenoiser and UNetDenoiser. All are called as `net(x, noise_level, class_labels=None, prev_latents=None)`
and return `(output, latents)` (latents None for the TransformerDenoiser and UNetDenoiser), like RinNetwork's mirror.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import LearnedPositionEncoding, TransformerBlock, sinusoidal_embedding
from .conv import GroupNorm
from .core import Brick, Conv2d, Embedding, PatchEmbed, PatchUnembed, check_shape, layer_norm, linear, mlp
from .registry import OPTIONAL, BrickConfigError, Field, any_of, boolean, enum, list_of, non_negative, non_negative_int, pair, positive, positive_int, probability, register, parse_config, brick


def _labels(class_labels, b, num_classes, device):
    return class_labels.long() if class_labels is not None else torch.full((b,), num_classes, dtype=torch.long, device=device)


def _check_noise(where, noise_level, b):
    if noise_level is None or noise_level.numel() != b:
        got = "nothing" if noise_level is None else str(list(noise_level.shape))
        raise ValueError(f"{where}: argument 'noise_level' expected shape [{b}], got {got}")


@register
class MlpDenoiser(Brick):
    """x → in_proj(flat x) + noise_proj(sin-emb(γ·timeScale)) [+ class_embed] [+ prev_proj(prev)] → gelu → z = h + gelu(mid(h)) → out_proj."""

    brick_type = "MlpDenoiser"
    fields = {
        "channels": Field(positive_int, 3),
        "inputSize": Field(list_of(positive_int, 2, 3)),
        "hidden": Field(positive_int, 64),
        "noiseEmbedDim": Field(positive_int, 16),
        "timeScale": Field(positive, 1000),
        "numClasses": Field(non_negative_int, 0),
        "selfCondition": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["noiseEmbedDim"] % 2:
            raise BrickConfigError(f"MlpDenoiser: config field 'noiseEmbedDim' must be even, got {c['noiseEmbedDim']}")
        self.pixels = c["channels"]
        for n in c["inputSize"]:
            self.pixels *= n
        H = c["hidden"]
        self.in_proj = linear(self.pixels, H)
        self.noise_proj = linear(c["noiseEmbedDim"], H)
        self.class_embed = Embedding({"type": "Embedding", "numEmbeddings": c["numClasses"] + 1, "dim": H, "initStd": 0.02}) if c["numClasses"] > 0 else None
        self.mid = linear(H, H)
        self.out_proj = linear(H, self.pixels)
        self.prev_proj = linear(H, H) if c["selfCondition"] else None

    def forward(self, x, noise_level, class_labels=None, prev_latents=None):
        c = self.config
        s = c["inputSize"]
        check_shape("MlpDenoiser", "x", x, [None, s[0], c["channels"], s[1], s[2]] if len(s) == 3 else [None, c["channels"], *s])
        b = x.shape[0]
        _check_noise("MlpDenoiser", noise_level, b)
        if class_labels is not None and self.class_embed is None:
            raise ValueError("MlpDenoiser: 'class_labels' given but config numClasses is 0")
        if prev_latents is not None:
            if self.prev_proj is None:
                raise ValueError("MlpDenoiser: 'prev_latents' given but config selfCondition is false")
            check_shape("MlpDenoiser", "prev_latents", prev_latents, [b, 1, c["hidden"]])
        emb = sinusoidal_embedding(noise_level.reshape(b) * float(c["timeScale"]), c["noiseEmbedDim"])
        h = self.in_proj(x.reshape(b, self.pixels)) + self.noise_proj(emb)  # [B, hidden]
        if self.class_embed is not None:
            h = h + self.class_embed(_labels(class_labels, b, c["numClasses"], x.device))
        if self.prev_proj is not None:
            prev = prev_latents.reshape(b, c["hidden"]) if prev_latents is not None else h.new_zeros(b, c["hidden"])
            h = h + self.prev_proj(prev)
        h = F.gelu(h)
        z = h + F.gelu(self.mid(h))
        return self.out_proj(z).reshape(x.shape), z.reshape(b, 1, c["hidden"])


@register
class TransformerDenoiser(Brick):
    """[noise token, class token, patch tokens] → `depth` pre-norm self-attention blocks → readout of the patch tokens."""

    brick_type = "TransformerDenoiser"
    fields = {
        "channels": Field(positive_int, 3),
        "inputSize": Field(list_of(positive_int, 2, 3)),
        "patchSize": Field(any_of(positive_int, pair(positive_int)), 2),
        "tubelet": Field(positive_int, 1),
        "dim": Field(positive_int, 64),
        "depth": Field(positive_int, 4),
        "heads": Field(positive_int, 4),
        "mlpRatio": Field(non_negative, 4),
        "timeScale": Field(positive, 1000),
        "noiseEmbedDim": Field(positive_int, OPTIONAL),
        "numClasses": Field(non_negative_int, 0),
        "eps": Field(positive, 1e-6),
        "dropout": Field(probability, 0),
    }

    def __init__(self, c):
        super().__init__(c)
        ps = c["patchSize"]
        ph, pw = (ps, ps) if isinstance(ps, int) else tuple(ps)
        video = len(c["inputSize"]) == 3
        h, w = c["inputSize"][-2:]
        t = c["inputSize"][0] if video else 1
        if h % ph or w % pw or (video and t % c["tubelet"]):
            raise BrickConfigError(f"TransformerDenoiser: config field 'inputSize' {c['inputSize']} must be divisible by patchSize {ph}×{pw}" + (f" and tubelet {c['tubelet']}" if video else ""))
        self.grid = (t // c["tubelet"] if video else 1, h // ph, w // pw)
        self.num_patch_tokens = self.grid[0] * self.grid[1] * self.grid[2]
        self.noise_dim = c.get("noiseEmbedDim") or max(2, 2 * (c["dim"] // 8))
        if self.noise_dim % 2:
            raise BrickConfigError(f"TransformerDenoiser: config field 'noiseEmbedDim' must be even, got {self.noise_dim}")
        D = c["dim"]
        patch = {"channels": c["channels"], "patchSize": c["patchSize"], "tubelet": c["tubelet"], "dim": D, "init": "truncNormal", "biasInit": "zeros"}
        self.stem = PatchEmbed({"type": "PatchEmbed", **patch})
        self.stem_ln = layer_norm(D, c["eps"])
        self.interface_pos = LearnedPositionEncoding({"type": "LearnedPositionEncoding", "numPositions": self.num_patch_tokens, "dim": D, "initStd": 0.02})
        self.noise_embed = mlp(self.noise_dim, D, D, "silu")
        self.class_embed = Embedding({"type": "Embedding", "numEmbeddings": c["numClasses"] + 1, "dim": D, "initStd": 0.02}) if c["numClasses"] > 0 else None
        self.blocks = nn.ModuleList(
            TransformerBlock({
                "type": "TransformerBlock", "kind": "self", "dim": D, "heads": c["heads"], "mlpRatio": c["mlpRatio"], "eps": c["eps"],
                "dropout": c["dropout"], "activation": "gelu", "normContext": True, "queryResidual": True, "qkNorm": "none", "rotaryDim": 0,
                "qkvBias": False, "attnDropout": 0, "init": "truncNormal", "zeroInitOutput": False,
            })
            for _ in range(c["depth"])
        )
        self.output_ln = layer_norm(D, c["eps"])
        self.readout = PatchUnembed({"type": "PatchUnembed", **patch})

    def forward(self, x, noise_level, class_labels=None, prev_latents=None):
        c = self.config
        s = c["inputSize"]
        video = len(s) == 3
        check_shape("TransformerDenoiser", "x", x, [None, s[0], c["channels"], s[1], s[2]] if video else [None, c["channels"], *s])
        b = x.shape[0]
        _check_noise("TransformerDenoiser", noise_level, b)
        if class_labels is not None and self.class_embed is None:
            raise ValueError("TransformerDenoiser: 'class_labels' given but config numClasses is 0")
        if prev_latents is not None:
            raise ValueError("TransformerDenoiser: 'prev_latents' given but a TransformerDenoiser does not self-condition")
        D = c["dim"]
        patches = self.interface_pos(self.stem_ln(self.stem(x)))  # [B, N, D]
        emb = sinusoidal_embedding(noise_level.reshape(b) * float(c["timeScale"]), self.noise_dim)
        parts = [self.noise_embed(emb).reshape(b, 1, D)]
        if self.class_embed is not None:
            parts.append(self.class_embed(_labels(class_labels, b, c["numClasses"], x.device)).reshape(b, 1, D))
        k = len(parts)
        tokens = torch.cat([*parts, patches], 1)  # [B, k + N, D]
        for block in self.blocks:
            tokens = block(tokens)
        out = self.readout(self.output_ln(tokens[:, k:]), self.grid, video=video)
        return out, None


def _conv3x3(cin, cout):
    cfg = {"inChannels": cin, "outChannels": cout, "kernelSize": 3, "padding": 1, "biasInit": "zeros"}
    return Conv2d(parse_config(Conv2d, cfg))


def _group_norm(channels, groups, eps):
    return GroupNorm(parse_config(GroupNorm, {"numGroups": groups, "numChannels": channels, "eps": eps}))


class UNetResBlock(nn.Module):
    """skip(x) + conv2(silu(norm2(conv1(silu(norm1(x))) + emb_proj(silu(emb))))), channels last (unet-denoiser.ts)."""

    def __init__(self, cin, cout, embed_dim, groups, eps):
        super().__init__()
        self.out_channels = cout
        self.norm1 = _group_norm(cin, groups, eps)
        self.conv1 = _conv3x3(cin, cout)
        self.emb_proj = linear(embed_dim, cout)
        self.norm2 = _group_norm(cout, groups, eps)
        self.conv2 = _conv3x3(cout, cout)
        self.skip = linear(cin, cout) if cin != cout else None  # a 1×1 conv as a Linear over channels

    def forward(self, x, emb_act):  # x [B, H, W, Cin], emb_act = silu(emb) [B, E] → [B, H, W, Cout]
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb_proj(emb_act).reshape(x.shape[0], 1, 1, self.out_channels)
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


@register
class UNetDenoiser(Brick):
    """Small class-conditional conv U-Net (GroupNorm, SiLU, 3×3 convs, avg-pool down, nearest up, skip concat).

    `net(x [B, C, H, W], noise_level [B], class_labels=None)` → (output [B, C, H, W], None); parameter
    names `down.<level>.<block>.conv1.weight`, `up.…`, `stem`, `out_norm`, `out_conv` (conv weights HWIO in
    BrickML's files, see `Conv2d`)."""

    brick_type = "UNetDenoiser"
    fields = {
        "channels": Field(positive_int, 3),
        "inputSize": Field(list_of(positive_int, 2, 2)),
        "widths": Field(list_of(positive_int, 1), [32, 64]),
        "blocksPerLevel": Field(positive_int, 1),
        "groups": Field(positive_int, 8),
        "embedDim": Field(positive_int, 128),
        "noiseEmbedDim": Field(positive_int, 32),
        "timeScale": Field(positive, 1000),
        "numClasses": Field(non_negative_int, 0),
        "eps": Field(positive, 1e-5),
        "convImpl": Field(lambda v: None if v in ("auto", "native", "hybrid", "conv3d", "im2col") else "expected one of 'auto' | 'native' | 'hybrid' | 'conv3d' | 'im2col'", "auto"),
    }

    def __init__(self, c):
        super().__init__(c)
        w = c["widths"]
        levels = len(w)
        f = 2 ** (levels - 1)
        if c["inputSize"][0] % f or c["inputSize"][1] % f:
            raise BrickConfigError(f"UNetDenoiser: config field 'inputSize' {c['inputSize']} must be divisible by {f} (2^(levels − 1) for {levels} widths)")
        if c["noiseEmbedDim"] % 2:
            raise BrickConfigError(f"UNetDenoiser: config field 'noiseEmbedDim' must be even, got {c['noiseEmbedDim']}")
        for i in range(levels):
            concat = w[i] + w[i + 1] if i < levels - 1 else w[i]
            if w[i] % c["groups"] or concat % c["groups"]:
                raise BrickConfigError(f"UNetDenoiser: config field 'groups' {c['groups']} must divide every width and every skip-concat width, got widths {w} (level {i}: {w[i]}, concat {concat})")
        E = c["embedDim"]
        self.noise_embed = mlp(c["noiseEmbedDim"], E, E, "silu")
        self.class_embed = Embedding({"type": "Embedding", "numEmbeddings": c["numClasses"] + 1, "dim": E, "initStd": 0.02}) if c["numClasses"] > 0 else None
        self.stem = _conv3x3(c["channels"], w[0])
        block = lambda cin, cout: UNetResBlock(cin, cout, E, c["groups"], c["eps"])  # noqa: E731
        n = c["blocksPerLevel"]
        self.down = nn.ModuleList(nn.ModuleList(block(w[max(0, i - 1)] if j == 0 else wi, wi) for j in range(n)) for i, wi in enumerate(w))
        self.up = nn.ModuleList(nn.ModuleList(block(wi + w[i + 1] if j == 0 else wi, wi) for j in range(n)) for i, wi in enumerate(w[:-1]))
        self.out_norm = _group_norm(w[0], c["groups"], c["eps"])
        self.out_conv = _conv3x3(w[0], c["channels"])

    def forward(self, x, noise_level, class_labels=None, prev_latents=None):
        c = self.config
        check_shape("UNetDenoiser", "x", x, [None, c["channels"], *c["inputSize"]])
        b = x.shape[0]
        _check_noise("UNetDenoiser", noise_level, b)
        if class_labels is not None and self.class_embed is None:
            raise ValueError("UNetDenoiser: 'class_labels' given but config numClasses is 0")
        if class_labels is not None and class_labels.numel() != b:
            raise ValueError(f"UNetDenoiser: argument 'class_labels' expected shape [{b}], got {list(class_labels.shape)}")
        if prev_latents is not None:
            raise ValueError("UNetDenoiser: 'prev_latents' given but a UNetDenoiser does not self-condition")
        emb = self.noise_embed(sinusoidal_embedding(noise_level.reshape(b) * float(c["timeScale"]), c["noiseEmbedDim"]))  # [B, E]
        if self.class_embed is not None:
            emb = emb + self.class_embed(_labels(class_labels, b, c["numClasses"], x.device).reshape(b))
        emb_act = F.silu(emb)
        h = self.stem(x.permute(0, 2, 3, 1))  # [B, H, W, w0]
        skips = []
        levels = len(c["widths"])
        for i in range(levels):
            for blk in self.down[i]:
                h = blk(h, emb_act)
            if i < levels - 1:
                skips.append(h)
                h = F.avg_pool2d(h.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)  # [B, H/2, W/2, w_i]
        for i in range(levels - 2, -1, -1):
            up = h.repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # nearest ×2
            h = torch.cat([up, skips[i]], 3)  # [B, ·, ·, w_{i+1} + w_i]
            for blk in self.up[i]:
                h = blk(h, emb_act)
        y = self.out_conv(F.silu(self.out_norm(h)))  # [B, H, W, C]
        return y.permute(0, 3, 1, 2), None


OBJECTIVES = ("eps", "x0", "v")
GAMMA_MIN = 1e-9


def _schedule(v):
    if not isinstance(v, dict) or v.get("kind") not in ("cosine", "linear", "sigmoid"):
        return "expected {kind: 'cosine'} | {kind: 'linear'} | {kind: 'sigmoid', start?, end?, tau?}"
    allowed = {"kind"} | ({"start", "end", "tau"} if v["kind"] == "sigmoid" else set())
    extra = sorted(set(v) - allowed)
    if extra:
        return f"expected a {v['kind']} schedule without field '{extra[0]}'"
    nums = [v.get(k) for k in ("start", "end", "tau") if k in v]
    if any(not isinstance(n, (int, float)) or isinstance(n, bool) for n in nums):
        return "expected numbers for start, end and tau"
    if v["kind"] == "sigmoid" and (v.get("tau", 0.9) <= 0 or not v.get("end", 3) > v.get("start", -3)):
        return "expected tau > 0 and end > start"
    return None


def resolve_schedule(s):
    """A schedule with its defaults filled (schedules.ts `resolveSchedule`)."""
    if s["kind"] == "sigmoid":
        return {"kind": "sigmoid", "start": s.get("start", -3), "end": s.get("end", 3), "tau": s.get("tau", 0.9)}
    return {"kind": s["kind"]}


def gamma(schedule, t):
    """γ(t) of BrickML's schedules (schedules.ts), t a float64 tensor in [0, 1]; computed in float64, clipped to [1e-9, 1]."""
    t = t.to(torch.float64)
    k = schedule["kind"]
    if k == "cosine":
        g = torch.cos((t + 2e-4) / (1 + 2.5e-4) * (math.pi / 2)) ** 2
    elif k == "linear":
        g = 1 - t
    else:
        s, e, tau = schedule["start"], schedule["end"], schedule["tau"]
        sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
        v0, v1 = sig(s / tau), sig(e / tau)
        g = (v1 - torch.sigmoid((t * (e - s) + s) / tau)) / (v1 - v0)
    return g.clamp(GAMMA_MIN, 1)


def _per_example(g, rank):
    return g.reshape(g.shape[0], *([1] * (rank - 1)))


@register
class GaussianDiffusion(Brick):
    """Continuous-time Gaussian diffusion around a denoiser, the training objective of gaussian-diffusion.ts:

        t ~ U(0, 1), γ = schedule(t) (float64, then float32), ε ~ N(0, I)
        x_t = √γ·(b·x0) + √(1−γ)·ε;   pred = net(x_t [/ std(x_t)], γ, class (dropped to null w.p. classDropout), prev latents)
        loss = mean((pred − target)²),  target ε | b·x0 | v = √γ·ε − √(1−γ)·b·x0

    With a self-conditioning denoiser the previous latents come from a first pass without them (no
    gradient), kept per example with probability `selfConditionRate`. Images only: video frame
    prediction (`contextFrames` > 0) has no mirror yet. Parameters live under `denoiser.` as in BrickML.
    `forward(x0, classes=None, **draws)` is the training loss (so DDP wraps it); every random draw can be
    passed in (`t`, `noise`, `drop`, `keep`: uniforms/normals), else it comes from `generator`.
    """

    brick_type = "GaussianDiffusion"
    fields = {
        "denoiser": Field(brick),
        "schedule": Field(_schedule, {"kind": "sigmoid", "start": -3, "end": 3, "tau": 0.9}),
        "objective": Field(lambda v: None if v in OBJECTIVES else "expected one of 'eps' | 'x0' | 'v'", "eps"),
        "inputScale": Field(positive, 1),
        "normalizeNoisyInput": Field(boolean, False),
        "selfConditionRate": Field(probability, 0.9),
        "classDropout": Field(probability, 0.1),
        "contextFrames": Field(non_negative_int, 0),
        "residualFrom": Field(lambda v: None if v in ("none", "lastContext") else "expected one of 'none' | 'lastContext'", "none"),
        "contextChannels": Field(non_negative_int, 0),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["contextFrames"] or c["contextChannels"] or c["residualFrom"] != "none":
            raise BrickConfigError(
                "GaussianDiffusion: video frame prediction (config fields 'contextFrames', 'contextChannels', 'residualFrom') "
                f"has no PyTorch mirror yet, got contextFrames {c['contextFrames']}, contextChannels {c['contextChannels']}, residualFrom {c['residualFrom']!r}"
            )
        from .registry import build

        self.denoiser = build(c["denoiser"])
        dc = self.denoiser.config
        if "inputSize" not in dc or len(dc["inputSize"]) != 2:
            raise BrickConfigError(f"GaussianDiffusion: the mirror takes image denoisers (inputSize [H, W]), got {dc.get('type')} with inputSize {dc.get('inputSize')}")
        self.schedule = resolve_schedule(c["schedule"])
        self.num_classes = dc.get("numClasses", 0) or 0
        self.self_conditioning = dc.get("selfCondition") is True

    def to_config(self):
        return {**self.config, "schedule": dict(self.config["schedule"]), "denoiser": self.denoiser.to_config()}

    def sample_shape(self, n):
        dc = self.denoiser.config
        return [n, dc.get("channels", 3), *dc["inputSize"]]

    def gamma(self, t):
        """γ(t) as float32 [B] for t [B] (computed in float64)."""
        return gamma(self.schedule, t).to(torch.float32)

    def prepare_batch(self, x0, classes=None, t=None, noise=None, drop=None, keep=None, generator=None, noise_level=None):
        """The batch BrickML's `prepareBatch` makes: {input, noise_level, class_labels, prev_latents, target}.

        t [B] in [0, 1] (float64 best), noise [B, C, H, W], drop [B] and keep [B] uniforms in [0, 1) for the
        class dropout (dropped where drop < classDropout) and the self-conditioning mask (kept where keep <
        selfConditionRate); each is drawn from `generator` when not given. `noise_level` [B] (γ, float32) replaces
        t where the caller has γ already (e.g. as BrickML computed it from t in float64)."""
        c = self.config
        b = x0.shape[0]
        check_shape("GaussianDiffusion", "x0", x0, self.sample_shape(b))
        dev = x0.device
        draw = lambda *shape: torch.rand(*shape, generator=generator, dtype=torch.float64).to(dev)  # noqa: E731
        if noise_level is not None:
            g = noise_level.to(device=dev, dtype=torch.float32).reshape(b)
        else:
            t = draw(b) if t is None else t
            g = self.gamma(t.reshape(b)).to(dev)  # [B] float32
        scaled = x0 * float(c["inputScale"])
        noise = torch.randn(scaled.shape, generator=generator).to(dev) if noise is None else noise.to(dev)
        check_shape("GaussianDiffusion", "noise", noise, list(scaled.shape))
        gb = _per_example(g, scaled.dim())
        xt = torch.sqrt(gb) * scaled + torch.sqrt(1 - gb) * noise
        inp = xt
        if c["normalizeNoisyInput"]:
            var = xt.reshape(b, -1).var(1, unbiased=False)
            inp = xt / _per_example(torch.sqrt(var + 1e-8), xt.dim())
        labels = None
        if self.num_classes > 0:
            if classes is None:
                labels = torch.full((b,), self.num_classes, dtype=torch.long, device=dev)
            else:
                drop = draw(b) if drop is None else drop.to(dev)
                labels = torch.where(drop.reshape(b) < c["classDropout"], torch.full_like(classes.long().reshape(b), self.num_classes), classes.long().reshape(b))
        elif classes is not None:
            raise BrickConfigError("GaussianDiffusion.prepare_batch: 'classes' given but the denoiser has numClasses 0")
        prev = None
        rate = c["selfConditionRate"]
        if self.self_conditioning and rate > 0:
            keep = draw(b) if keep is None else keep.to(dev)
            with torch.no_grad():
                _, latents = self.denoiser(inp, g, labels, None)
            prev = (latents * _per_example((keep.reshape(b) < rate).to(latents.dtype), latents.dim())).detach()
        objective = c["objective"]
        if objective == "eps":
            target = noise
        elif objective == "x0":
            target = scaled
        else:
            target = torch.sqrt(gb) * noise - torch.sqrt(1 - gb) * scaled
        return {"input": inp, "noise_level": g, "class_labels": labels, "prev_latents": prev, "target": target}

    def loss(self, batch):
        """mean((net(input, γ, class, prev latents) − target)²) over every element."""
        out, _ = self.denoiser(batch["input"], batch["noise_level"], batch["class_labels"], batch["prev_latents"])
        return (out - batch["target"]).square().mean()

    def forward(self, x0, classes=None, t=None, noise=None, drop=None, keep=None, generator=None, noise_level=None):
        """The training loss of clean images x0 [B, C, H, W] in [−1, 1] (BrickML's `trainingLoss`)."""
        return self.loss(self.prepare_batch(x0, classes, t, noise, drop, keep, generator, noise_level))


@register
class ShapesClassifier(Brick):
    """The feature network of shapesFD (packages/diffusion/src/metrics/shapes-classifier.ts):
    h = gelu(fc2(gelu(fc1(flatten(x))))), features = gelu(fc3(h)) [B, featureDim], and the heads
    shape_head [B, numShapes], colour_head [B, numColours], factor_head [B, 3]. Inputs of side 2·16 or
    4·16 are k×k average-pooled to 16 first. Returns (features, shape_logits, colour_logits, factors)."""

    brick_type = "ShapesClassifier"
    fields = {
        "size": Field(enum(16), 16),
        "hidden": Field(list_of(positive_int, 2, 2), [256, 128]),
        "featureDim": Field(positive_int, 32),
        "numShapes": Field(positive_int, 3),
        "numColours": Field(positive_int, 6),
    }

    def __init__(self, c):
        super().__init__(c)
        self.fc1 = linear(3 * c["size"] * c["size"], c["hidden"][0])
        self.fc2 = linear(c["hidden"][0], c["hidden"][1])
        self.fc3 = linear(c["hidden"][1], c["featureDim"])
        self.shape_head = linear(c["featureDim"], c["numShapes"])
        self.colour_head = linear(c["featureDim"], c["numColours"])
        self.factor_head = linear(c["featureDim"], 3)

    def _flatten(self, x):
        s = self.config["size"]
        check_shape("ShapesClassifier", "x", x, [None, 3, None, None])
        b, _, h, w = x.shape
        for k in (1, 2, 4):
            if h == k * s and w == k * s:
                return x.reshape(b, 3, s, k, s, k).mean(dim=(3, 5)).reshape(b, 3 * s * s) if k > 1 else x.reshape(b, 3 * s * s)
        raise ValueError(f"ShapesClassifier: argument 'x' must be [B, 3, {s}, {s}], [B, 3, {2 * s}, {2 * s}] or [B, 3, {4 * s}, {4 * s}], got {list(x.shape)}")

    def features(self, x):
        return F.gelu(self.fc3(F.gelu(self.fc2(F.gelu(self.fc1(self._flatten(x)))))))

    def forward(self, x):
        f = self.features(x)
        return f, self.shape_head(f), self.colour_head(f), self.factor_head(f)
