"""Mirrors of @brickml/attention's bricks (packages/attention/src): MultiHeadAttention,
TransformerBlock, LearnedPositionEncoding, RotaryEmbedding, RinBlock and RinNetwork.

Conventions copied from the BrickML source:
- Attention (attention/multi-head.ts, sdpa.ts): q/k/v Linear (bias only with `qkvBias`), head-major
  features ([B, T, H·dh] → [B, H, T, dh]), optional per-head qk-norm then rotary, q scaled by 1/√dh
  before q·kᵀ, softmax over keys; masks (`true` = may attend) add −1e9 to masked logits and multiply
  the weights by the mask after the softmax (a fully masked row gets all-zero weights); `out` Linear.
- Pre-norm block (transformer-block.ts): x = [x +] attn(norm1(x), [norm_context](ctx)); x = x + mlp(norm2(x)).
- RIN (rin/*.ts): latent tokens [learned latents, noise token, class token] (+ self-conditioning),
  then read → compute × K → write [→ 3×3 depthwise conv] per block, readout(output_ln(interface)).
- MLP hidden widths round as JavaScript's Math.round (halves up).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .core import INITS, Brick, RMSNorm, check_shape, layer_norm, linear, mlp
from .core import PatchEmbed, PatchUnembed, Embedding
from .registry import (
    OPTIONAL,
    BrickConfigError,
    Field,
    any_of,
    boolean,
    brick,
    build,
    enum,
    list_of,
    non_negative,
    non_negative_int,
    pair,
    positive,
    positive_int,
    probability,
    register,
)

MASKED_LOGIT = -1e9


def js_round(x):
    """Math.round (halves up), as BrickML sizes MLP hidden widths."""
    return int(math.floor(x + 0.5))


@register
class RotaryEmbedding(Brick):
    """Rotates the first `dim` features of each head (rotate-half layout), the rest pass through."""

    brick_type = "RotaryEmbedding"
    fields = {"dim": Field(lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v > 0 and v % 2 == 0 else "expected a positive even integer"), "base": Field(positive, 10000)}

    def forward(self, x, offset=0):  # [B, H, T, dh] → [B, H, T, dh]
        check_shape("RotaryEmbedding", "x", x, [None, None, None, None])
        t, dh = x.shape[2], x.shape[3]
        d, half = self.config["dim"], self.config["dim"] // 2
        if dh < d:
            check_shape("RotaryEmbedding", "x", x, [None, None, None, d])
        # Angles in float64 on the host, then float32 tables, as rotaryTables does.
        pos = torch.arange(t, dtype=torch.float64) + offset
        inv = torch.tensor([math.pow(self.config["base"], (-2 * i) / d) for i in range(half)], dtype=torch.float64)
        ang = pos[:, None] * inv[None]  # [T, half]
        cos = torch.ones(t, dh, dtype=torch.float64)
        sin = torch.zeros(t, dh, dtype=torch.float64)
        cos[:, :half], cos[:, half:d] = torch.cos(ang), torch.cos(ang)
        sin[:, :half], sin[:, half:d] = torch.sin(ang), torch.sin(ang)
        cos, sin = cos.to(x.dtype).to(x.device), sin.to(x.dtype).to(x.device)
        rotated = torch.cat([-x[..., half:d], x[..., :half], torch.zeros_like(x[..., d:])], -1)  # rotate_half on the first d
        return x * cos + rotated * sin


def combine_masks(key_padding_mask, attn_mask):
    """[B, Tk] and [B|1, Tq, Tk] (`true`/non-zero = may attend) → one bool mask [B|1, 1, Tq|1, Tk], or None."""
    kp = am = None
    if key_padding_mask is not None:
        kp = (key_padding_mask != 0).reshape(key_padding_mask.shape[0], 1, 1, key_padding_mask.shape[1])
    if attn_mask is not None:
        am = (attn_mask != 0).unsqueeze(1)
    if kp is not None and am is not None:
        return kp & am
    return kp if kp is not None else am


def scaled_dot_product_attention(q, k, v, mask=None, dropout=0.0, training=False):
    """softmax(q/√d · kᵀ + maskBias) · v with masked weights zeroed; q, k, v [B, H, T, d] → ([B, H, Tq, dv], weights)."""
    s = 1 / math.sqrt(q.shape[-1])
    logits = (q * s) @ k.transpose(-1, -2)  # [B, H, Tq, Tk]
    if mask is not None:
        allowed = mask.to(logits.dtype)
        w = torch.softmax(logits + (1 - allowed) * MASKED_LOGIT, dim=-1) * allowed
    else:
        w = torch.softmax(logits, dim=-1)
    wd = F.dropout(w, dropout, training) if dropout > 0 else w
    return wd @ v, w


@register
class MultiHeadAttention(Brick):
    brick_type = "MultiHeadAttention"
    fields = {
        "dim": Field(positive_int),
        "contextDim": Field(positive_int, OPTIONAL),
        "heads": Field(positive_int, 8),
        "dimHead": Field(positive_int, OPTIONAL),
        "outDim": Field(positive_int, OPTIONAL),
        "qkvBias": Field(boolean, False),
        "outBias": Field(boolean, True),
        "qkNorm": Field(enum("none", "layernorm", "rmsnorm"), "none"),
        "qkNormEps": Field(positive, 1e-5),
        "rotaryDim": Field(non_negative_int, 0),
        "rotaryBase": Field(positive, 10000),
        "dropout": Field(probability, 0),
        "init": Field(enum(*INITS), "truncNormal"),
        "zeroInitOutput": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        if c.get("dimHead") is None and c["dim"] % c["heads"] != 0:
            raise BrickConfigError(f"MultiHeadAttention: config field 'heads' ({c['heads']}) must divide 'dim' ({c['dim']}) when 'dimHead' is not given")
        dh = self.dim_head = c.get("dimHead") or c["dim"] // c["heads"]
        if c["rotaryDim"] > dh or c["rotaryDim"] % 2:
            raise BrickConfigError(f"MultiHeadAttention: config field 'rotaryDim' must be even and ≤ dimHead ({dh}), got {c['rotaryDim']}")
        inner, ctx = c["heads"] * dh, c.get("contextDim") or c["dim"]
        self.heads = c["heads"]
        self.q = linear(c["dim"], inner, c["qkvBias"])
        self.k = linear(ctx, inner, c["qkvBias"])
        self.v = linear(ctx, inner, c["qkvBias"])
        norm = {
            "layernorm": lambda: layer_norm(dh, c["qkNormEps"]),
            "rmsnorm": lambda: RMSNorm({"type": "RMSNorm", "dim": dh, "eps": c["qkNormEps"], "affine": True}),
            "none": lambda: None,
        }[c["qkNorm"]]
        self.q_norm, self.k_norm = norm(), norm()
        self.rotary = RotaryEmbedding({"type": "RotaryEmbedding", "dim": c["rotaryDim"], "base": c["rotaryBase"]}) if c["rotaryDim"] > 0 else None
        self.out = linear(inner, c.get("outDim") or c["dim"], c["outBias"])

    def forward(self, x, context=None, key_padding_mask=None, attn_mask=None, return_weights=False):
        """x [B, Tq, dim], context [B, Tk, contextDim] (default x) → [B, Tq, outDim] (and weights [B, H, Tq, Tk])."""
        c = self.config
        check_shape("MultiHeadAttention", "x", x, [None, None, c["dim"]])
        kv = x if context is None else context
        if context is not None:
            check_shape("MultiHeadAttention", "context", context, [x.shape[0], None, c.get("contextDim") or c["dim"]])
        b, tq, tk = x.shape[0], x.shape[1], kv.shape[1]
        h, dh = self.heads, self.dim_head

        def split(t, n):  # [B, T, H·dh] → [B, H, T, dh]
            return t.reshape(b, n, h, dh).transpose(1, 2)

        q, k, v = split(self.q(x), tq), split(self.k(kv), tk), split(self.v(kv), tk)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rotary is not None:
            q, k = self.rotary(q), self.rotary(k)
        o, w = scaled_dot_product_attention(q, k, v, combine_masks(key_padding_mask, attn_mask), c["dropout"], self.training)
        out = self.out(o.transpose(1, 2).reshape(b, tq, h * dh))  # [B, Tq, outDim]
        return (out, w) if return_weights else out


@register
class TransformerBlock(Brick):
    """Pre-norm block: x = [x +] attn(norm1(x), [norm_context](ctx)); x = x + mlp(norm2(x)).
    A `feedForward` brick (e.g. a MoE) is built from its config as `feed_forward`."""

    brick_type = "TransformerBlock"
    fields = {
        "dim": Field(positive_int),
        "kind": Field(enum("self", "cross"), "self"),
        "contextDim": Field(positive_int, OPTIONAL),
        "heads": Field(positive_int, 8),
        "dimHead": Field(positive_int, OPTIONAL),
        "feedForward": Field(brick, OPTIONAL),
        "mlpRatio": Field(non_negative, 4),
        "mlpHidden": Field(positive_int, OPTIONAL),
        "activation": Field(enum("gelu", "gelu_tanh", "silu", "relu", "swiglu"), "gelu"),
        "normContext": Field(boolean, True),
        "queryResidual": Field(boolean, True),
        "eps": Field(positive, 1e-5),
        "qkNorm": Field(enum("none", "layernorm", "rmsnorm"), "none"),
        "rotaryDim": Field(non_negative_int, 0),
        "qkvBias": Field(boolean, False),
        "dropout": Field(probability, 0),
        "attnDropout": Field(probability, 0),
        "init": Field(enum(*INITS), "truncNormal"),
        "zeroInitOutput": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["kind"] == "self" and c.get("contextDim") is not None and c["contextDim"] != c["dim"]:
            raise BrickConfigError(f"TransformerBlock: config field 'contextDim' ({c['contextDim']}) only applies to kind 'cross'")
        ctx = c.get("contextDim") or c["dim"]
        self.norm1 = layer_norm(c["dim"], c["eps"])
        self.norm_context = layer_norm(ctx, c["eps"]) if c["kind"] == "cross" and c["normContext"] else None
        attn = {
            "type": "MultiHeadAttention", "dim": c["dim"], "contextDim": ctx, "heads": c["heads"], "qkvBias": c["qkvBias"], "outBias": True,
            "qkNorm": c["qkNorm"], "qkNormEps": 1e-5, "rotaryDim": c["rotaryDim"], "rotaryBase": 10000, "dropout": c["attnDropout"],
            "init": c["init"], "zeroInitOutput": c["zeroInitOutput"],
        }
        if c.get("dimHead") is not None:
            attn["dimHead"] = c["dimHead"]
        self.attn = MultiHeadAttention(attn)
        self.mlp = self.feed_forward = None
        if c.get("feedForward") is not None:
            self.norm2 = layer_norm(c["dim"], c["eps"])
            self.feed_forward = build(c["feedForward"])
            return
        hidden = c["mlpHidden"] if c.get("mlpHidden") is not None else js_round(c["mlpRatio"] * c["dim"])
        with_mlp = c.get("mlpHidden") is not None or c["mlpRatio"] > 0
        self.norm2 = layer_norm(c["dim"], c["eps"]) if with_mlp else None
        if with_mlp:
            self.mlp = mlp(c["dim"], max(1, hidden), act=c["activation"], dropout=c["dropout"])

    def forward(self, x, context=None, key_padding_mask=None, attn_mask=None):
        """x [B, T, dim] (context [B, S, contextDim] for `cross`) → [B, T, dim]."""
        y, _ = self.forward_with_aux(x, context, key_padding_mask, attn_mask)
        return y

    def forward_with_aux(self, x, context=None, key_padding_mask=None, attn_mask=None):
        """(output [B, T, dim], the feed-forward brick's auxiliary loss or a zero scalar)."""
        c = self.config
        if c["kind"] == "cross" and context is None:
            raise ValueError("TransformerBlock: kind 'cross' needs a 'context' argument")
        if c["kind"] == "self" and context is not None:
            raise ValueError("TransformerBlock: kind 'self' takes no 'context' argument")
        check_shape("TransformerBlock", "x", x, [None, None, c["dim"]])
        xn = self.norm1(x)
        ctx = None if context is None else (self.norm_context(context) if self.norm_context is not None else context)
        out = self.attn(xn, ctx, key_padding_mask, attn_mask)
        y = x + out if c["queryResidual"] else out
        aux = x.new_zeros(())
        if self.mlp is not None:
            y = y + self.mlp(self.norm2(y))
        if self.feed_forward is not None:
            r = self.feed_forward(self.norm2(y))
            if isinstance(r, dict):
                y = y + r["y"]
                if r.get("auxLoss") is not None:
                    aux = r["auxLoss"]
            else:
                y = y + r
        return y, aux

    def to_config(self):
        c = dict(self.config)
        if self.feed_forward is not None:
            c["feedForward"] = self.feed_forward.to_config()
        return c


@register
class LearnedPositionEncoding(Brick):
    """x [B, N, dim] → x + weight [N, dim]."""

    brick_type = "LearnedPositionEncoding"
    fields = {"numPositions": Field(positive_int), "dim": Field(positive_int), "initStd": Field(positive, 0.02)}

    def __init__(self, c):
        super().__init__(c)
        self.weight = nn.Parameter(torch.randn(c["numPositions"], c["dim"]) * c["initStd"])

    def forward(self, x):
        check_shape("LearnedPositionEncoding", "x", x, [None, self.config["numPositions"], self.config["dim"]])
        return x + self.weight


def fourier_features(index_dims, num_bands, max_resolution=None, concat_pos=True, sine_only=False):
    """[prod(index_dims), channels] float32, as BrickML's `fourierFeatures` (deepmind's position_encoding.py):
    positions linspace(−1, 1, n) per dimension, row-major over the grid; [pos,] then sin, then cos of
    π·f·pos with bands f = linspace(1, r/2, K) per dimension (dimension-major, band-minor), in float64."""
    max_resolution = list(index_dims) if max_resolution is None else list(max_resolution)
    d = len(index_dims)
    axes = [np.linspace(-1.0, 1.0, n) for n in index_dims]
    pos = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, d)  # [M, d]
    bands = np.stack([np.linspace(1.0, r / 2, num_bands) for r in max_resolution])  # [d, K]
    angles = (np.pi * pos[:, :, None] * bands[None]).reshape(len(pos), -1)  # [M, d·K]
    parts = ([pos] if concat_pos else []) + [np.sin(angles)] + ([] if sine_only else [np.cos(angles)])
    return np.concatenate(parts, -1).astype(np.float32)


@register
class FourierPositionEncoding(Brick):
    """x [B, N, C] → [x, features] [B, N, C + channels]: fixed Fourier features concatenated (no parameters)."""

    brick_type = "FourierPositionEncoding"
    fields = {
        "indexDims": Field(list_of(positive_int, 1)),
        "numBands": Field(positive_int),
        "maxResolution": Field(list_of(positive, 1), OPTIONAL),
        "concatPos": Field(boolean, True),
        "sineOnly": Field(boolean, False),
    }

    def __init__(self, c):
        super().__init__(c)
        if c.get("maxResolution") is not None and len(c["maxResolution"]) != len(c["indexDims"]):
            raise BrickConfigError(
                f"FourierPositionEncoding: config field 'maxResolution' must have {len(c['indexDims'])} entries like 'indexDims', got {len(c['maxResolution'])}"
            )
        self.num_positions = int(np.prod(c["indexDims"]))
        self._table = torch.from_numpy(fourier_features(c["indexDims"], c["numBands"], c.get("maxResolution"), c["concatPos"], c["sineOnly"]))

    def table(self):
        """[N, channels] float32 (not a parameter or buffer: BrickML's checkpoints do not hold it)."""
        return self._table

    def forward(self, x):
        check_shape("FourierPositionEncoding", "x", x, [None, self.num_positions, None])
        pe = self._table.to(device=x.device, dtype=x.dtype)
        return torch.cat([x, pe.unsqueeze(0).expand(x.shape[0], -1, -1)], -1)


def sincos_table(grid, dim, temperature=10000.0, normalize_to=None):
    """[prod(grid), dim] float32 as BrickML's `sinCosTable`: per grid axis a block of w = 2·floor(dim / (2·axes))
    features [sin(p·ω_i), cos(p·ω_i)], ω_i = temperature^(−i/(w/2)), p the coordinate (or coord/(n−1)·normalizeTo);
    features past axes·w stay 0."""
    axes = len(grid)
    w = 2 * (dim // (2 * axes))
    if w < 2:
        raise BrickConfigError(f"sinCosTable: dim {dim} is too small for a {axes}-D grid (need ≥ {2 * axes})")
    half = w // 2
    omega = np.array([math.pow(temperature, -i / half) for i in range(half)])
    coords = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in grid], indexing="ij"), -1).reshape(-1, axes)  # [N, axes]
    out = np.zeros((coords.shape[0], dim))
    for a in range(axes):
        n = grid[a]
        p = coords[:, a] if normalize_to is None else (coords[:, a] / (n - 1) * normalize_to if n > 1 else np.zeros(len(coords)))
        ang = p[:, None] * omega[None]
        out[:, a * w : a * w + half] = np.sin(ang)
        out[:, a * w + half : (a + 1) * w] = np.cos(ang)
    return out.astype(np.float32)


@register
class SinCosPositionEncoding(Brick):
    """x [B, N, dim] → x + table (fixed; no parameters)."""

    brick_type = "SinCosPositionEncoding"
    fields = {
        "dim": Field(positive_int),
        "grid": Field(list_of(positive_int, 1, 3)),
        "temperature": Field(positive, 10000),
        "normalizeTo": Field(positive, None),
    }

    def __init__(self, c):
        super().__init__(c)
        self.num_positions = int(np.prod(c["grid"]))
        self._table = torch.from_numpy(sincos_table(c["grid"], c["dim"], c["temperature"], c.get("normalizeTo")))

    def table(self):
        return self._table

    def forward(self, x):
        check_shape("SinCosPositionEncoding", "x", x, [None, self.num_positions, self.config["dim"]])
        return x + self._table.to(device=x.device, dtype=x.dtype)


class DepthwiseConvResidual(nn.Module):
    """x + dwconv3×3(LN(x)) on the patch grid, zero padding 1 (rin/depthwise-conv.ts). `weight` [C, 1, 3, 3]
    is PyTorch's grouped-conv layout in both (no transpose)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.norm = layer_norm(dim, eps)
        self.weight = nn.Parameter(torch.empty(dim, 1, 3, 3).uniform_(-1 / 3, 1 / 3))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x, grid):  # x [B, N, C], grid (frames, rows, cols)
        b, n, c = x.shape
        frames, rows, cols = grid
        if n != frames * rows * cols:
            raise ValueError(f"DepthwiseConvResidual: {n} tokens do not fill the grid {frames}×{rows}×{cols}")
        h = self.norm(x).reshape(b * frames, rows, cols, c).permute(0, 3, 1, 2)  # [B·F, C, rows, cols]
        y = F.conv2d(h, self.weight, self.bias, padding=1, groups=c)
        return x + y.permute(0, 2, 3, 1).reshape(b, n, c)


RIN_BLOCK_FIELDS = {
    "latentDim": Field(positive_int),
    "interfaceDim": Field(positive_int),
    "readHeads": Field(positive_int, 4),
    "rwDimHead": Field(positive_int, OPTIONAL),
    "latentHeads": Field(positive_int, 4),
    "latentMlpRatio": Field(non_negative, 4),
    "interfaceMlpRatio": Field(non_negative, 2),
    "eps": Field(positive, 1e-6),
    "normContext": Field(boolean, False),
    "dropout": Field(probability, 0),
    "attnDropout": Field(probability, 0),
    "skipEmptyWrite": Field(boolean, True),
    "zeroInitWrite": Field(boolean, False),
    "writeDepthwiseConv": Field(boolean, False),
}


def _block(kind, dim, heads, mlp_ratio, eps, attn_dropout, context_dim=None, dim_head=None, norm_context=True, dropout=0.0):
    c = {
        "type": "TransformerBlock", "dim": dim, "kind": kind, "heads": heads, "mlpRatio": mlp_ratio, "activation": "gelu",
        "normContext": norm_context, "queryResidual": True, "eps": eps, "qkNorm": "none", "rotaryDim": 0, "qkvBias": False,
        "dropout": dropout, "attnDropout": attn_dropout, "init": "truncNormal", "zeroInitOutput": False,
    }
    if context_dim is not None:
        c["contextDim"] = context_dim
    if dim_head is not None:
        c["dimHead"] = dim_head
    return TransformerBlock(c)


@register
class RinBlock(Brick):
    """read (latents ← interface) → compute × K (latent self-attention) → write (interface ← latents) [→ conv]."""

    brick_type = "RinBlock"
    fields = {**RIN_BLOCK_FIELDS, "computeLayers": Field(non_negative_int, 2)}

    def __init__(self, c):
        super().__init__(c)
        D, C, eps, ad = c["latentDim"], c["interfaceDim"], c["eps"], c["attnDropout"]
        rw = c.get("rwDimHead") or max(1, min(C, D) // c["readHeads"])
        self.read = _block("cross", D, c["readHeads"], c["latentMlpRatio"], eps, ad, C, rw, c["normContext"])
        self.compute = nn.ModuleList(
            _block("self", D, c["latentHeads"], c["latentMlpRatio"], eps, ad, dropout=c["dropout"]) for _ in range(c["computeLayers"])
        )
        has_write = not (c["skipEmptyWrite"] and c["computeLayers"] == 0)
        self.write = _block("cross", C, c["readHeads"], c["interfaceMlpRatio"], eps, ad, D, rw, c["normContext"]) if has_write else None
        self.conv = DepthwiseConvResidual(C, eps) if has_write and c["writeDepthwiseConv"] else None

    def forward(self, latents, iface, grid=None):
        """latents [B, L, D], interface [B, N, C] → (latents, interface); `grid` (rows, cols) or (frames, rows, cols) for the conv."""
        check_shape("RinBlock", "latents", latents, [None, None, self.config["latentDim"]])
        check_shape("RinBlock", "iface", iface, [latents.shape[0], None, self.config["interfaceDim"]])
        z = self.read(latents, iface)
        for layer in self.compute:
            z = layer(z)
        x = iface
        if self.write is not None:
            x = self.write(x, z)
        if self.conv is not None and grid is not None:
            x = self.conv(x, (1, *grid) if len(grid) == 2 else tuple(grid))
        return z, x


def sinusoidal_embedding(values, dim):
    """[B] → [B, dim]: [sin(v·f_i), cos(v·f_i)], f_i = 10000^(−i/(h−1)), h = dim/2 (rin-network.ts)."""
    half = dim // 2
    freqs = torch.tensor([math.exp(-math.log(10000) * i / max(half - 1, 1)) for i in range(half)], dtype=torch.float32, device=values.device)
    args = values.to(torch.float32).reshape(-1, 1) * freqs.reshape(1, half)  # [B, h]
    return torch.cat([torch.sin(args), torch.cos(args)], 1)


@register
class RinNetwork(Brick):
    """Recurrent Interface Network for images [B, C, H, W], learned or sin-cos positions (the mirror's scope)."""

    brick_type = "RinNetwork"
    fields = {
        "channels": Field(positive_int, 3),
        "inputSize": Field(list_of(positive_int, 2, 3)),
        "patchSize": Field(any_of(positive_int, pair(positive_int)), 2),
        "tubelet": Field(positive_int, 1),
        "numLatents": Field(positive_int, 32),
        "numBlocks": Field(positive_int, 2),
        "computeLayers": Field(any_of(non_negative_int, list_of(non_negative_int)), 2),
        "position": Field(enum("learned", "sincos"), "learned"),
        "noiseCondition": Field(boolean, True),
        "timeScale": Field(positive, 1000),
        "noiseEmbedDim": Field(positive_int, OPTIONAL),
        "numClasses": Field(non_negative_int, 0),
        "selfCondition": Field(boolean, False),
        "latentInitStd": Field(positive, 0.02),
        **RIN_BLOCK_FIELDS,
    }

    def __init__(self, c):
        super().__init__(c)
        if len(c["inputSize"]) != 2:
            raise BrickConfigError(
                f"RinNetwork: the PyTorch mirror covers images (inputSize [H, W]); got inputSize {c['inputSize']} (video has no mirror yet)"
            )
        ps = c["patchSize"]
        ph, pw = (ps, ps) if isinstance(ps, int) else tuple(ps)
        H, W = c["inputSize"]
        if H % ph or W % pw:
            raise BrickConfigError(f"RinNetwork: config field 'inputSize' [{H}, {W}] must be divisible by patchSize {ph}×{pw}")
        k = c["computeLayers"]
        layers = [k] * c["numBlocks"] if isinstance(k, int) else list(k)
        if len(layers) != c["numBlocks"]:
            raise BrickConfigError(f"RinNetwork: config field 'computeLayers' has {len(layers)} entries, expected one per block (numBlocks = {c['numBlocks']})")
        D, C = c["latentDim"], c["interfaceDim"]
        self.grid = (H // ph, W // pw)
        n = self.grid[0] * self.grid[1]
        self.num_latent_tokens = c["numLatents"] + (1 if c["noiseCondition"] else 0) + (1 if c["numClasses"] > 0 else 0)
        self.noise_dim = c.get("noiseEmbedDim") or max(2, 2 * (D // 8))
        if self.noise_dim % 2:
            raise BrickConfigError(f"RinNetwork: config field 'noiseEmbedDim' must be even, got {self.noise_dim}")
        patch = {"channels": c["channels"], "patchSize": c["patchSize"], "tubelet": c["tubelet"], "dim": C, "init": "truncNormal", "biasInit": "zeros"}
        self.stem = PatchEmbed({"type": "PatchEmbed", **patch})
        self.stem_ln = layer_norm(C, c["eps"])
        self.interface_pos = (
            LearnedPositionEncoding({"type": "LearnedPositionEncoding", "numPositions": n, "dim": C, "initStd": 0.02})
            if c["position"] == "learned"
            else SinCosPositionEncoding({"type": "SinCosPositionEncoding", "dim": C, "grid": list(self.grid), "temperature": 10000, "normalizeTo": None})
        )
        self.latents = nn.Parameter(torch.randn(c["numLatents"], D) * c["latentInitStd"])
        self.noise_embed = mlp(self.noise_dim, D, D, "silu") if c["noiseCondition"] else None
        self.class_embed = Embedding({"type": "Embedding", "numEmbeddings": c["numClasses"] + 1, "dim": D, "initStd": 0.02}) if c["numClasses"] > 0 else None
        block_fields = {key: c[key] for key in RIN_BLOCK_FIELDS if key in c}
        self.blocks = nn.ModuleList(RinBlock({"type": "RinBlock", **block_fields, "computeLayers": kk}) for kk in layers)
        self.output_ln = layer_norm(C, c["eps"])
        self.readout = PatchUnembed({"type": "PatchUnembed", **patch})
        sc = c["selfCondition"]
        self.latent_prev_norm = layer_norm(D, c["eps"]) if sc else None
        self.latent_prev_mlp = mlp(D, max(1, js_round(c["latentMlpRatio"] * D))) if sc else None
        self.latent_prev_ln = layer_norm(D, c["eps"], zero_init=True) if sc else None

    def initial_latents(self, b, noise_level=None, class_labels=None, prev_latents=None):
        """The initial latents [B, L, D]: learned latents, noise token, class token (+ self-conditioning)."""
        c, D = self.config, self.config["latentDim"]
        if self.noise_embed is not None and (noise_level is None or noise_level.numel() != b):
            raise ValueError(f"RinNetwork: argument 'noise_level' [{b}] is required (config noiseCondition is true)")
        if class_labels is not None and self.class_embed is None:
            raise ValueError("RinNetwork: argument 'class_labels' given but config numClasses is 0")
        if prev_latents is not None and self.latent_prev_mlp is None:
            raise ValueError("RinNetwork: argument 'prev_latents' given but config selfCondition is false")
        parts = [self.latents.unsqueeze(0).expand(b, -1, -1)]  # [B, numLatents, D]
        if self.noise_embed is not None:
            s = sinusoidal_embedding(noise_level.reshape(b) * float(c["timeScale"]), self.noise_dim)
            parts.append(self.noise_embed(s).reshape(b, 1, D))
        if self.class_embed is not None:
            ids = class_labels if class_labels is not None else torch.full((b,), c["numClasses"], dtype=torch.long, device=self.latents.device)
            parts.append(self.class_embed(ids.long()).reshape(b, 1, D))
        z = torch.cat(parts, 1)  # [B, L, D]
        if self.latent_prev_mlp is not None:
            prev = prev_latents if prev_latents is not None else z.new_zeros(b, self.num_latent_tokens, D)
            z = z + self.latent_prev_ln(prev + self.latent_prev_mlp(self.latent_prev_norm(prev)))
        return z

    def forward(self, x, noise_level=None, class_labels=None, prev_latents=None):
        """x [B, C, H, W] → (output [B, C, H, W], latents [B, L, D])."""
        c = self.config
        check_shape("RinNetwork", "x", x, [None, c["channels"], *c["inputSize"]])
        b = x.shape[0]
        iface = self.interface_pos(self.stem_ln(self.stem(x)))  # [B, N, C]
        z = self.initial_latents(b, noise_level, class_labels, prev_latents)  # [B, L, D]
        for block in self.blocks:
            z, iface = block(z, iface, self.grid)
        return self.readout(self.output_ln(iface), self.grid), z
