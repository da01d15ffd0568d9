"""Reference for cases/perceiver.ts: BrickML's PerceiverEncoder (flat, no HiP, no masks) rebuilt
in PyTorch, plus the Fourier position features of FourierPositionEncoding concatenated to the pixels.

Mirrors packages/attention/src: perceiver/encoder.ts (latents broadcast over the batch, one
cross-attend, `numBlocks` repeats of the self-attention layers, shared), transformer-block.ts
(pre-LN: x = x + attn(norm1(x), norm_context(ctx)); x = x + mlp(norm2(x))), attention/multi-head.ts
(q/k/v Linear without bias, head-major features, out Linear with bias), attention/sdpa.ts
(softmax((q / sqrt(dh)) k^T) v), core MLP (fc1 → exact GELU → fc2) and position/fourier.ts.
Module names equal BrickML's parameter paths, so the state dict loads strictly.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from brick_attention import MultiHeadAttention


def fourier_features(index_dims, num_bands):
    """[prod(index_dims), d·(2K+1)]: positions linspace(-1, 1) row-major, then sin, then cos of
    pi·f·pos with bands f = linspace(1, n_d / 2, K) per dimension (dimension-major, band-minor)."""
    axes = [np.linspace(-1.0, 1.0, n) for n in index_dims]
    pos = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(index_dims))  # [M, d]
    bands = np.stack([np.linspace(1.0, n / 2, num_bands) for n in index_dims])  # [d, K]
    angles = (np.pi * pos[:, :, None] * bands[None]).reshape(len(pos), -1)  # [M, d·K]
    return torch.tensor(np.concatenate([pos, np.sin(angles), np.cos(angles)], -1).astype(np.float32))  # on the default device


class MLP(nn.Module):
    def __init__(self, dim, hidden, approximate):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.approximate = approximate

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


class Block(nn.Module):
    """TransformerBlock with queryResidual true (the encoder's cross-attend and self-attends)."""

    def __init__(self, dim, ctx_dim, heads, dim_head, mlp_ratio, eps, approximate, cross):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.norm_context = nn.LayerNorm(ctx_dim, eps=eps) if cross else None
        self.attn = MultiHeadAttention(dim, ctx_dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, max(1, round(mlp_ratio * dim)), approximate)

    def forward(self, x, ctx=None):
        xn = self.norm1(x)
        x = x + self.attn(xn, self.norm_context(ctx) if self.norm_context is not None else xn)
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, m):
        super().__init__()
        c, n, d, eps = m["inputDim"], m["numLatents"], m["latentDim"], m["eps"]
        approximate = {"gelu": "none", "gelu_tanh": "tanh"}[m["activation"]]
        layers = m["selfAttendsPerBlock"] * (1 if m["shareWeights"] else m["numBlocks"])
        self.repeats = m["numBlocks"] if m["shareWeights"] else 1
        self.latents = nn.Parameter(torch.empty(n, d))
        # Defaults as BrickML: cross dimHead = floor(inputDim / crossHeads), self dimHead = latentDim / selfHeads.
        self.cross_attend = Block(d, c, m["crossHeads"], c // m["crossHeads"], m["crossMlpRatio"], eps, approximate, cross=True)
        self.self_attends = nn.ModuleList(
            Block(d, d, m["selfHeads"], d // m["selfHeads"], m["selfMlpRatio"], eps, approximate, cross=False) for _ in range(layers)
        )

    def cross(self, x):
        z = self.latents.expand(x.shape[0], -1, -1)  # [B, N, D]
        return self.cross_attend(z, x)

    def forward(self, x):
        z = self.cross(x)
        for _ in range(self.repeats):
            for layer in self.self_attends:
                z = layer(z)
        return z  # [B, N, D]


def build(meta, t):
    enc = Encoder(meta)
    enc.load_state_dict({k[len("param."):]: v for k, v in t.items() if k.startswith("param.")}, strict=True)
    enc.eval()
    pixels = t["in.pixels"]  # [B, M, 3]
    pos = fourier_features(meta["grid"], meta["numBands"])  # [M, 258], cached as BrickML's table

    def embed():
        return torch.cat([pixels, pos.expand(pixels.shape[0], -1, -1)], -1)  # [B, M, 261]

    @torch.inference_mode()
    def outputs():
        x = embed()
        return {"pos": pos, "cross": enc.cross(x), "latents": enc(x)}

    @torch.inference_mode()
    def step():
        enc(embed())

    return outputs, step
