"""Mirrors of @brickml/core's bricks (packages/core/src/bricks/*.ts).

Parameter names and layouts equal BrickML's: Linear `weight` [out, in] as `nn.Linear`, LayerNorm
`weight`/`bias` [dim], Embedding `weight` [rows, dim], MLP `fc1`/`fc2`, PatchEmbed/PatchUnembed `proj`
(a Linear over patches flattened in (C, t, ph, pw) order), Sequential `layers.<i>`.

Initialisation: the mirrors start from PyTorch's defaults (they exist to run and train BrickML
checkpoints, which `load` fills in); BrickML's seeded initialisers are not reproduced.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .registry import (
    OPTIONAL,
    BrickConfigError,
    Field,
    any_of,
    boolean,
    build,
    enum,
    pair,
    positive,
    positive_int,
    probability,
    list_of,
    non_negative_int,
    brick,
    register,
)

INITS = ("truncNormal", "xavierUniform", "kaimingUniform", "normal", "zeros")
BIAS_INITS = ("uniform", "zeros")
ACTIVATIONS = ("gelu", "gelu_tanh", "silu", "relu", "swiglu")


def activation(name, x):
    """BrickML's activations (core ops/activations.ts): `gelu` is the exact (erf) GELU."""
    if name == "gelu":
        return F.gelu(x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "silu":
        return F.silu(x)
    if name == "relu":
        return F.relu(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "identity":
        return x
    raise ValueError(f"activation: unknown activation {name!r}")


def check_shape(brick, arg, x, expected):
    """Raises ValueError naming the brick, the argument, the expected and the actual shape.
    `expected` holds ints, None (any) and a leading '...' (any number of leading axes)."""
    shape = list(x.shape)
    exp = list(expected)
    lead = bool(exp) and exp[0] == "..."
    if lead:
        exp = exp[1:]
    ok = (len(shape) >= len(exp)) if lead else (len(shape) == len(exp))
    if ok:
        tail = shape[len(shape) - len(exp) :] if exp else []
        ok = all(e is None or e == s for e, s in zip(exp, tail))
    if not ok:
        fmt = "[" + ", ".join("..." if e == "..." else "?" if e is None else str(e) for e in expected) + "]"
        raise ValueError(f"{brick}: argument '{arg}' expected shape {fmt}, got [{', '.join(str(s) for s in shape)}]")


class Brick(nn.Module):
    """Base of the mirrors: `config` is the parsed BrickML config; `to_config()` returns it."""

    brick_type = ""
    fields = {}

    def __init__(self, config):
        super().__init__()
        self.config = config

    def to_config(self):
        return dict(self.config)


@register
class Linear(Brick):
    brick_type = "Linear"
    fields = {
        "inFeatures": Field(positive_int),
        "outFeatures": Field(positive_int),
        "bias": Field(boolean, True),
        "init": Field(enum(*INITS), "kaimingUniform"),
        "initStd": Field(positive, 0.02),
        "biasInit": Field(enum(*BIAS_INITS), OPTIONAL),
        "zeroInit": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        lin = nn.Linear(c["inFeatures"], c["outFeatures"], bias=c["bias"])
        self.weight = lin.weight  # [out, in]
        self.bias = lin.bias  # [out] or None

    def forward(self, x):  # [..., in] → [..., out]
        check_shape("Linear", "x", x, ["...", self.config["inFeatures"]])
        return F.linear(x, self.weight, self.bias)


@register
class LayerNorm(Brick):
    """Biased variance over the last axis; `weight` without `bias` when `bias` is false (nn.LayerNorm in torch 1.13 has no such option)."""

    brick_type = "LayerNorm"
    fields = {
        "dim": Field(positive_int),
        "eps": Field(positive, 1e-5),
        "affine": Field(boolean, True),
        "bias": Field(boolean, True),
        "zeroInit": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        d = c["dim"]
        self.weight = nn.Parameter(torch.zeros(d) if c["zeroInit"] else torch.ones(d)) if c["affine"] else None
        self.bias = nn.Parameter(torch.zeros(d)) if c["affine"] and c["bias"] else None

    def forward(self, x):  # [..., dim] → [..., dim]
        check_shape("LayerNorm", "x", x, ["...", self.config["dim"]])
        return F.layer_norm(x, (self.config["dim"],), self.weight, self.bias, self.config["eps"])


def layer_norm(dim, eps, zero_init=False):
    return LayerNorm({"type": "LayerNorm", "dim": dim, "eps": eps, "affine": True, "bias": True, "zeroInit": zero_init})


@register
class RMSNorm(Brick):
    """x · rsqrt(mean(x²) + eps) · weight over the last axis."""

    brick_type = "RMSNorm"
    fields = {"dim": Field(positive_int), "eps": Field(positive, 1e-6), "affine": Field(boolean, True)}

    def __init__(self, c):
        super().__init__(c)
        self.weight = nn.Parameter(torch.ones(c["dim"])) if c["affine"] else None

    def forward(self, x):  # [..., dim] → [..., dim]
        check_shape("RMSNorm", "x", x, ["...", self.config["dim"]])
        y = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + self.config["eps"])
        return y * self.weight if self.weight is not None else y


@register
class Dropout(Brick):
    """Inverted dropout; the identity in eval mode. Masks come from torch's generator, not BrickML's."""

    brick_type = "Dropout"
    fields = {"p": Field(probability, 0.1)}

    def forward(self, x):
        return F.dropout(x, self.config["p"], self.training)


@register
class MLP(Brick):
    """fc2(act(fc1(x))), or fc2(value · silu(gate)) with [value, gate] = fc1(x) for `swiglu`."""

    brick_type = "MLP"
    fields = {
        "dim": Field(positive_int),
        "hidden": Field(positive_int),
        "outDim": Field(positive_int, OPTIONAL),
        "activation": Field(enum(*ACTIVATIONS), "gelu"),
        "bias": Field(boolean, True),
        "dropout": Field(probability, 0),
        "init": Field(enum(*INITS), "kaimingUniform"),
        "biasInit": Field(enum(*BIAS_INITS), OPTIONAL),
        "zeroInitOutput": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        gated = c["activation"] == "swiglu"
        self.fc1 = linear(c["dim"], (2 if gated else 1) * c["hidden"], c["bias"])
        self.fc2 = linear(c["hidden"], c.get("outDim") or c["dim"], c["bias"])
        self.p = c["dropout"]

    def forward(self, x):  # [..., dim] → [..., outDim]
        check_shape("MLP", "x", x, ["...", self.config["dim"]])
        h = self.fc1(x)  # [..., hidden (×2 if gated)]
        if self.config["activation"] == "swiglu":
            value, gate = h.chunk(2, dim=-1)
            h = value * F.silu(gate)
        else:
            h = activation(self.config["activation"], h)
        h = F.dropout(h, self.p, self.training)
        return F.dropout(self.fc2(h), self.p, self.training)


def linear(i, o, bias=True):
    return Linear({"type": "Linear", "inFeatures": i, "outFeatures": o, "bias": bias, "init": "kaimingUniform", "initStd": 0.02, "zeroInit": False})


def mlp(dim, hidden, out_dim=None, act="gelu", dropout=0.0):
    c = {"type": "MLP", "dim": dim, "hidden": hidden, "activation": act, "bias": True, "dropout": dropout, "init": "kaimingUniform", "zeroInitOutput": False}
    if out_dim is not None:
        c["outDim"] = out_dim
    return MLP(c)


@register
class Embedding(Brick):
    brick_type = "Embedding"
    fields = {"numEmbeddings": Field(positive_int), "dim": Field(positive_int), "initStd": Field(positive, 1)}

    def __init__(self, c):
        super().__init__(c)
        self.weight = nn.Parameter(torch.randn(c["numEmbeddings"], c["dim"]) * c["initStd"])  # [rows, dim]

    def forward(self, ids):  # [...] integer → [..., dim]
        if ids.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"Embedding: argument 'ids' must be an integer tensor, got {ids.dtype}")
        return F.embedding(ids.long(), self.weight)


@register
class Sequential(Brick):
    """Applies single-input bricks in order; parameters `layers.<i>.<name>`."""

    brick_type = "Sequential"
    fields = {"layers": Field(list_of(brick))}

    def __init__(self, c):
        super().__init__(c)
        self.layers = nn.ModuleList(build(lc) for lc in c["layers"])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def to_config(self):
        return {"type": "Sequential", "layers": [layer.to_config() for layer in self.layers]}


def _hw(c):
    ps = c["patchSize"]
    return (ps, ps) if isinstance(ps, int) else tuple(ps)


PATCH_FIELDS = {
    "channels": Field(positive_int),
    "patchSize": Field(any_of(positive_int, pair(positive_int))),
    "tubelet": Field(positive_int, 1),
    "dim": Field(positive_int),
    "init": Field(enum(*INITS), "kaimingUniform"),
    "biasInit": Field(enum(*BIAS_INITS), OPTIONAL),
}


@register
class PatchEmbed(Brick):
    """images [B, C, H, W] → tokens [B, N, dim] (row-major over the grid, patch features in (C, ph, pw) order);
    videos [B, T, C, H, W] → tokens row-major over (t, h, w), features (C, tubelet, ph, pw)."""

    brick_type = "PatchEmbed"
    fields = PATCH_FIELDS

    def __init__(self, c):
        super().__init__(c)
        ph, pw = _hw(c)
        self.proj = linear(c["channels"] * c["tubelet"] * ph * pw, c["dim"])

    def forward(self, x):
        c = self.config
        ph, pw = _hw(c)
        if x.dim() == 4:
            check_shape("PatchEmbed", "x", x, [None, c["channels"], None, None])
            b, ch, h, w = x.shape
            x = x.reshape(b, 1, ch, h, w)
            tub = 1
        else:
            check_shape("PatchEmbed", "x", x, [None, None, c["channels"], None, None])
            tub = c["tubelet"]
        b, t, ch, h, w = x.shape
        if h % ph or w % pw or t % tub:
            raise ValueError(f"PatchEmbed: argument 'x' of shape {list(x.shape)} must have H divisible by {ph}, W by {pw} and T by tubelet {tub}")
        gt, gh, gw = t // tub, h // ph, w // pw
        p = x.reshape(b, gt, tub, ch, gh, ph, gw, pw).permute(0, 1, 4, 6, 3, 2, 5, 7)  # [B, gt, gh, gw, C, tub, ph, pw]
        return self.proj(p.reshape(b, gt * gh * gw, ch * tub * ph * pw))  # [B, N, dim]


@register
class PatchUnembed(Brick):
    """tokens [B, N, dim] → images [B, C, H, W] on a (rows, cols) grid (or video [B, T, C, H, W] with frames > 1)."""

    brick_type = "PatchUnembed"
    fields = PATCH_FIELDS

    def __init__(self, c):
        super().__init__(c)
        ph, pw = _hw(c)
        self.proj = linear(c["dim"], c["channels"] * c["tubelet"] * ph * pw)

    def forward(self, tokens, grid, video=None):
        """`grid` is (rows, cols) or (frames, rows, cols)."""
        c = self.config
        ph, pw = _hw(c)
        frames, rows, cols = (1, *grid) if len(grid) == 2 else tuple(grid)
        video = frames > 1 if video is None else video
        check_shape("PatchUnembed", "tokens", tokens, [None, frames * rows * cols, c["dim"]])
        b = tokens.shape[0]
        tub = c["tubelet"] if video else 1
        if not video and c["tubelet"] != 1:
            raise ValueError("PatchUnembed: an image grid needs tubelet 1")
        p = self.proj(tokens).reshape(b, frames, rows, cols, c["channels"], tub, ph, pw)
        p = p.permute(0, 1, 5, 4, 2, 6, 3, 7)  # [B, frames, tub, C, rows, ph, cols, pw]
        out = p.reshape(b, frames * tub, c["channels"], rows * ph, cols * pw)
        return out if video else out.reshape(b, c["channels"], rows * ph, cols * pw)




def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def resolve_padding(padding, in_size, kernel, stride, dilation):
    """((top, bottom), (left, right)) as BrickML's `resolvePadding`: 'same' puts the odd pixel at the bottom/right."""
    eff = [dilation[i] * (kernel[i] - 1) + 1 for i in (0, 1)]
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        def side(i):
            out = -(-in_size[i] // stride[i])
            total = max((out - 1) * stride[i] + eff[i] - in_size[i], 0)
            return (total // 2, total - total // 2)

        return (side(0), side(1))
    ph, pw = _pair(padding)
    return ((ph, ph), (pw, pw))


SIZE2 = any_of(positive_int, pair(positive_int))
PAD2 = any_of(non_negative_int, pair(non_negative_int))


@register
class Conv2d(Brick):
    """Channels-last 2-D convolution, x [N, H, W, Cin] → [N, Ho, Wo, Cout], as BrickML's (core bricks/conv/conv2d.ts).

    BrickML stores `weight` HWIO [kh, kw, Cin/groups, Cout]; the PyTorch parameter is OIHW
    [Cout, Cin/groups, kh, kw] (`brickml_layouts`: load permutes (3, 2, 0, 1), save permutes back).
    """

    brick_type = "Conv2d"
    brickml_layouts = {"weight": (3, 2, 0, 1)}
    fields = {
        "inChannels": Field(positive_int),
        "outChannels": Field(positive_int),
        "kernelSize": Field(SIZE2),
        "stride": Field(SIZE2, 1),
        "dilation": Field(SIZE2, 1),
        "groups": Field(positive_int, 1),
        "bias": Field(boolean, True),
        "init": Field(enum(*INITS), "kaimingUniform"),
        "initStd": Field(positive, 0.02),
        "biasInit": Field(enum(*BIAS_INITS), OPTIONAL),
        "zeroInit": Field(boolean, False),
        "impl": Field(enum("auto", "native", "hybrid", "im2col", "conv3d"), "auto"),
        "padding": Field(any_of(PAD2, enum("same", "valid")), 0),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["inChannels"] % c["groups"] or c["outChannels"] % c["groups"]:
            raise BrickConfigError(f"Conv2d: config field 'groups' ({c['groups']}) must divide inChannels ({c['inChannels']}) and outChannels ({c['outChannels']})")
        kh, kw = _pair(c["kernelSize"])
        conv = nn.Conv2d(c["inChannels"], c["outChannels"], (kh, kw), groups=c["groups"], bias=c["bias"])
        self.weight = conv.weight  # [Cout, Cin/groups, kh, kw] (OIHW)
        self.bias = conv.bias

    def forward(self, x):  # [N, H, W, Cin] → [N, Ho, Wo, Cout]
        c = self.config
        check_shape("Conv2d", "x", x, [None, None, None, c["inChannels"]])
        k, s, d = _pair(c["kernelSize"]), _pair(c["stride"]), _pair(c["dilation"])
        (pt, pb), (pl, pr) = resolve_padding(c["padding"], tuple(x.shape[1:3]), k, s, d)
        h = F.pad(x.permute(0, 3, 1, 2), (pl, pr, pt, pb))  # [N, Cin, H + pads, W + pads]
        y = F.conv2d(h, self.weight, self.bias, stride=s, dilation=d, groups=c["groups"])
        return y.permute(0, 2, 3, 1)  # [N, Ho, Wo, Cout]


__all__ = [
    "Brick",
    "Conv2d",
    "Dropout",
    "Embedding",
    "LayerNorm",
    "Linear",
    "MLP",
    "PatchEmbed",
    "PatchUnembed",
    "RMSNorm",
    "Sequential",
    "activation",
    "check_shape",
    "resolve_padding",
]
