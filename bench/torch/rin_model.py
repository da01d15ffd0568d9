"""PyTorch mirror of BrickML's RinNetwork (packages/attention/src/rin/*.ts) for images.

Parameter names equal BrickML's dotted names (`blocks.0.read.attn.q.weight`, ...), so
`load_state_dict(strict=True)` proves the two trees match one to one. Conventions copied from the
BrickML source:
- LayerNorm: biased variance, eps from the config (RIN: 1e-6); GELU exact (erf); noise MLP SiLU.
- Attention (multi-head.ts, sdpa.ts): q/k/v Linear without bias, head-major features
  ([B, T, H·dh] → [B, H, T, dh]), q scaled by 1/√dh before q·kᵀ, softmax over keys, `out` Linear
  with bias. No masks, no dropout (both 0 in these cases).
- Pre-norm block (transformer-block.ts): x = x + attn(norm1(x), [norm_context](ctx)); x = x + mlp(norm2(x)).
- Patches (ops/patches.ts): tokens row-major over (gh, gw), features in (C, ph, pw) order.
- Latent tokens: [learned latents, noise token, class token] (+ self-conditioning), then
  read → compute × K → write [→ 3×3 depthwise conv] per block, then readout(output_ln(interface)).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from brick_attention import MultiHeadAttention


def js_round(x):
    """Math.round (halves up), as BrickML sizes MLP hidden widths."""
    return int(math.floor(x + 0.5))


def sinusoidal_embedding(values, dim):
    """[B] → [B, dim]: [sin(v·f_i), cos(v·f_i)], f_i = 10000^(−i/(h−1)), h = dim/2 (rin-network.ts)."""
    half = dim // 2
    freqs = torch.tensor([math.exp(-math.log(10000) * i / max(half - 1, 1)) for i in range(half)], dtype=torch.float32)
    args = values.to(torch.float32).reshape(-1, 1) * freqs.reshape(1, half)  # [B, h]
    return torch.cat([torch.sin(args), torch.cos(args)], 1)


class MLP(nn.Module):
    """fc2(act(fc1(x))) (core bricks/mlp.ts)."""

    def __init__(self, dim, hidden, out_dim=None, activation="gelu"):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim or dim)
        self.activation = activation

    def forward(self, x):
        h = self.fc1(x)
        h = F.gelu(h) if self.activation == "gelu" else F.silu(h)
        return self.fc2(h)


class TransformerBlock(nn.Module):
    """Pre-norm block; `context_dim` None = self-attention."""

    def __init__(self, dim, context_dim, heads, dim_head, mlp_hidden, eps, norm_context):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.norm_context = nn.LayerNorm(context_dim, eps=eps) if context_dim and norm_context else None
        self.attn = MultiHeadAttention(dim, context_dim or dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim, eps=eps) if mlp_hidden > 0 else None
        self.mlp = MLP(dim, mlp_hidden) if mlp_hidden > 0 else None

    def forward(self, x, context=None):
        xn = self.norm1(x)
        if context is None:
            ctx = xn
        else:
            ctx = self.norm_context(context) if self.norm_context is not None else context
        y = x + self.attn(xn, ctx)
        if self.mlp is not None:
            y = y + self.mlp(self.norm2(y))
        return y


class DepthwiseConvResidual(nn.Module):
    """x + dwconv3×3(LN(x)) on the patch grid, zero padding 1 (rin/depthwise-conv.ts)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.weight = nn.Parameter(torch.zeros(dim, 1, 3, 3))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x, rows, cols):
        b, n, c = x.shape
        h = self.norm(x).reshape(b, rows, cols, c).permute(0, 3, 1, 2)  # [B, C, rows, cols]
        y = F.conv2d(h, self.weight, self.bias, padding=1, groups=c)
        return x + y.permute(0, 2, 3, 1).reshape(b, n, c)


class RinBlock(nn.Module):
    def __init__(self, c, compute_layers):
        super().__init__()
        D, C, eps = c["latentDim"], c["interfaceDim"], c["eps"]
        rw_dh = c.get("rwDimHead") or max(1, min(C, D) // c["readHeads"])
        latent_hidden = max(1, js_round(c["latentMlpRatio"] * D)) if c["latentMlpRatio"] > 0 else 0
        iface_hidden = max(1, js_round(c["interfaceMlpRatio"] * C)) if c["interfaceMlpRatio"] > 0 else 0
        assert D % c["latentHeads"] == 0
        self.read = TransformerBlock(D, C, c["readHeads"], rw_dh, latent_hidden, eps, c["normContext"])
        self.compute = nn.ModuleList(
            [TransformerBlock(D, None, c["latentHeads"], D // c["latentHeads"], latent_hidden, eps, False) for _ in range(compute_layers)]
        )
        has_write = not (c["skipEmptyWrite"] and compute_layers == 0)
        self.write = TransformerBlock(C, D, c["readHeads"], rw_dh, iface_hidden, eps, c["normContext"]) if has_write else None
        self.conv = DepthwiseConvResidual(C, eps) if has_write and c["writeDepthwiseConv"] else None

    def forward(self, z, x, grid):
        z = self.read(z, x)
        for layer in self.compute:
            z = layer(z)
        if self.write is not None:
            x = self.write(x, z)
        if self.conv is not None:
            x = self.conv(x, *grid)
        return z, x


class Patches(nn.Module):
    """PatchEmbed (`embed`) or PatchUnembed: a Linear `proj` between patches and tokens."""

    def __init__(self, channels, patch, dim, embed):
        super().__init__()
        self.channels, (self.ph, self.pw) = channels, patch
        p = channels * self.ph * self.pw
        self.proj = nn.Linear(p, dim) if embed else nn.Linear(dim, p)

    def embed(self, x):  # [B, C, H, W] → [B, N, dim]
        b, c, h, w = x.shape
        gh, gw = h // self.ph, w // self.pw
        t = x.reshape(b, c, gh, self.ph, gw, self.pw).permute(0, 2, 4, 1, 3, 5)  # [B, gh, gw, C, ph, pw]
        return self.proj(t.reshape(b, gh * gw, c * self.ph * self.pw))

    def unembed(self, tokens, gh, gw):  # [B, N, dim] → [B, C, H, W]
        b = tokens.shape[0]
        p = self.proj(tokens).reshape(b, gh, gw, self.channels, self.ph, self.pw).permute(0, 3, 1, 4, 2, 5)
        return p.reshape(b, self.channels, gh * self.ph, gw * self.pw)


class Table(nn.Module):
    """A parameter `weight` (learned position table)."""

    def __init__(self, rows, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(rows, dim))


class RinNetwork(nn.Module):
    """`c` is BrickML's parsed RinNetwork config (every default filled)."""

    def __init__(self, c):
        super().__init__()
        if len(c["inputSize"]) != 2 or c["position"] != "learned":
            raise NotImplementedError("mirror covers images with learned positions only")
        ps = c["patchSize"]
        ph, pw = (ps, ps) if isinstance(ps, int) else ps
        H, W = c["inputSize"]
        D, C = c["latentDim"], c["interfaceDim"]
        self.c = c
        self.grid = (H // ph, W // pw)
        n = self.grid[0] * self.grid[1]
        self.num_latent_tokens = c["numLatents"] + (1 if c["noiseCondition"] else 0) + (1 if c["numClasses"] > 0 else 0)
        self.noise_dim = c.get("noiseEmbedDim") or max(2, 2 * (D // 8))
        self.stem = Patches(c["channels"], (ph, pw), C, embed=True)
        self.stem_ln = nn.LayerNorm(C, eps=c["eps"])
        self.interface_pos = Table(n, C)
        self.latents = nn.Parameter(torch.zeros(c["numLatents"], D))
        self.noise_embed = MLP(self.noise_dim, D, D, "silu") if c["noiseCondition"] else None
        self.class_embed = nn.Embedding(c["numClasses"] + 1, D) if c["numClasses"] > 0 else None
        k = c["computeLayers"]
        layers = [k] * c["numBlocks"] if isinstance(k, int) else k
        self.blocks = nn.ModuleList([RinBlock(c, k) for k in layers])
        self.output_ln = nn.LayerNorm(C, eps=c["eps"])
        self.readout = Patches(c["channels"], (ph, pw), C, embed=False)
        sc = c["selfCondition"]
        self.latent_prev_norm = nn.LayerNorm(D, eps=c["eps"]) if sc else None
        self.latent_prev_mlp = MLP(D, max(1, js_round(c["latentMlpRatio"] * D))) if sc else None
        self.latent_prev_ln = nn.LayerNorm(D, eps=c["eps"]) if sc else None

    def initial_latents(self, b, noise_level, class_labels, prev_latents):
        c, D = self.c, self.c["latentDim"]
        parts = [self.latents.unsqueeze(0).expand(b, -1, -1)]  # [B, numLatents, D]
        if self.noise_embed is not None:
            s = sinusoidal_embedding(noise_level.reshape(b) * float(c["timeScale"]), self.noise_dim)
            parts.append(self.noise_embed(s).reshape(b, 1, D))
        if self.class_embed is not None:
            ids = class_labels if class_labels is not None else torch.full((b,), c["numClasses"], dtype=torch.long)
            parts.append(self.class_embed(ids.long()).reshape(b, 1, D))
        z = torch.cat(parts, 1)  # [B, L, D]
        if self.latent_prev_mlp is not None:
            prev = prev_latents if prev_latents is not None else torch.zeros(b, self.num_latent_tokens, D)
            z = z + self.latent_prev_ln(prev + self.latent_prev_mlp(self.latent_prev_norm(prev)))
        return z

    def forward(self, x, noise_level, class_labels=None, prev_latents=None):
        """x [B, C, H, W] → (output [B, C, H, W], latents [B, L, D])."""
        b = x.shape[0]
        iface = self.stem_ln(self.stem.embed(x)) + self.interface_pos.weight  # [B, N, C]
        z = self.initial_latents(b, noise_level, class_labels, prev_latents)  # [B, L, D]
        for block in self.blocks:
            z, iface = block(z, iface, self.grid)
        return self.readout.unembed(self.output_ln(iface), *self.grid), z


def load_rin(config, tensors, prefix="param."):
    """A RinNetwork with the `param.*` tensors loaded (strict: names and shapes must match)."""
    net = RinNetwork(config)
    net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    return net
