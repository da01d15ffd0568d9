"""PyTorch mirror of BrickML's MultiHeadAttention (packages/attention/src/attention/multi-head.ts),
shared by the RIN and Perceiver references: separate q/k/v projections without bias, head-major
features, softmax(q·kᵀ/√dh)·v, output projection with bias. Parameter names match BrickML's."""
import math

import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, dim, context_dim, heads, dim_head):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head = heads, dim_head
        self.q = nn.Linear(dim, inner, bias=False)
        self.k = nn.Linear(context_dim, inner, bias=False)
        self.v = nn.Linear(context_dim, inner, bias=False)
        self.out = nn.Linear(inner, dim)

    def forward(self, x, context):
        b, tq, _ = x.shape
        tk = context.shape[1]
        h, dh = self.heads, self.dim_head

        def split(t, n):  # [B, T, H·dh] → [B, H, T, dh]
            return t.reshape(b, n, h, dh).transpose(1, 2)

        q = split(self.q(x), tq) * (1 / math.sqrt(dh))
        k = split(self.k(context), tk)
        v = split(self.v(context), tk)
        w = torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # [B, H, Tq, Tk]
        o = (w @ v).transpose(1, 2).reshape(b, tq, h * dh)  # [B, Tq, H·dh]
        return self.out(o)
