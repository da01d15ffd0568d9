"""Mirrors of @brickml/diffusion's denoisers (packages/diffusion/src/denoisers): MlpDenoiser and
TransformerDenoiser. Both are called as `net(x, noise_level, class_labels=None, prev_latents=None)`
and return `(output, latents)` (latents None for the TransformerDenoiser), like RinNetwork's mirror.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .attention import LearnedPositionEncoding, TransformerBlock, sinusoidal_embedding
from .core import Brick, Embedding, PatchEmbed, PatchUnembed, check_shape, layer_norm, linear, mlp
from .registry import OPTIONAL, BrickConfigError, Field, any_of, boolean, list_of, non_negative, non_negative_int, pair, positive, positive_int, probability, register


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
