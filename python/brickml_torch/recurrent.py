"""Mirrors of @brickml/core's gated recurrent units (packages/core/src/bricks/recurrent.ts), PyTorch's
parameterisation and names: `weight_ih` [3H, I], `weight_hh` [3H, H], `bias_ih`, `bias_hh` [3H], gate
order (r, z, n); `GRU` keeps them per layer as `weight_ih_l{k}` … like `nn.GRU`.

    r = σ(W_ir x + b_ir + W_hr h + b_hr);  z = σ(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));  h' = (1 − z) ⊙ n + z ⊙ h
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .core import Brick, check_shape
from .registry import Field, boolean, positive_int, register


def _uniform(shape, hidden):
    bound = 1 / math.sqrt(hidden)
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """x [B, I], h [B, H] → h' [B, H] (the formula above, as BrickML's `gruStep`)."""
    return gru_gates(F.linear(x, w_ih, b_ih), F.linear(h, w_hh, b_hh), h)


def gru_gates(gi, gh, h):
    """Input part gi [B, 3H], hidden part gh [B, 3H], h [B, H] → h' [B, H]."""
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n)


@register
class GRUCell(Brick):
    """One GRU step, `nn.GRUCell`: x [B, inputSize], h [B, hiddenSize] (default zeros) → h' [B, hiddenSize]."""

    brick_type = "GRUCell"
    fields = {"inputSize": Field(positive_int), "hiddenSize": Field(positive_int), "bias": Field(boolean, True)}

    def __init__(self, c):
        super().__init__(c)
        H = c["hiddenSize"]
        self.weight_ih = _uniform((3 * H, c["inputSize"]), H)
        self.weight_hh = _uniform((3 * H, H), H)
        self.bias_ih = _uniform((3 * H,), H) if c["bias"] else None
        self.bias_hh = _uniform((3 * H,), H) if c["bias"] else None

    def forward(self, x, h=None):
        c = self.config
        check_shape("GRUCell", "x", x, [None, c["inputSize"]])
        if h is None:
            h = x.new_zeros(x.shape[0], c["hiddenSize"])
        check_shape("GRUCell", "h", h, [x.shape[0], c["hiddenSize"]])
        return gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


@register
class GRU(Brick):
    """`nn.GRU(batch_first=True)`, unidirectional: x [B, T, inputSize], h0 [numLayers, B, H] (default zeros) →
    (output [B, T, H], hidden [numLayers, B, H]) — BrickML's `{output, hidden}`."""

    brick_type = "GRU"
    fields = {
        "inputSize": Field(positive_int),
        "hiddenSize": Field(positive_int),
        "numLayers": Field(positive_int, 1),
        "bias": Field(boolean, True),
    }

    def __init__(self, c):
        super().__init__(c)
        H = c["hiddenSize"]
        for k in range(c["numLayers"]):
            i = c["inputSize"] if k == 0 else H
            setattr(self, f"weight_ih_l{k}", _uniform((3 * H, i), H))
            setattr(self, f"weight_hh_l{k}", _uniform((3 * H, H), H))
            setattr(self, f"bias_ih_l{k}", _uniform((3 * H,), H) if c["bias"] else None)
            setattr(self, f"bias_hh_l{k}", _uniform((3 * H,), H) if c["bias"] else None)

    def forward(self, x, h0=None):
        c = self.config
        check_shape("GRU", "x", x, [None, None, c["inputSize"]])
        b, t, _ = x.shape
        if t < 1:
            raise ValueError(f"GRU: argument 'x' needs at least one time step, got shape {list(x.shape)}")
        if h0 is not None:
            check_shape("GRU", "h0", h0, [c["numLayers"], b, c["hiddenSize"]])
        seq, finals = x, []
        for k in range(c["numLayers"]):
            w_ih, w_hh = getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}")
            gi = F.linear(seq, w_ih, b_ih)  # [B, T, 3H] for the whole sequence at once
            h = h0[k] if h0 is not None else x.new_zeros(b, c["hiddenSize"])
            outs = []
            for s in range(t):
                h = gru_gates(gi[:, s], F.linear(h, w_hh, b_hh), h)
                outs.append(h)
            finals.append(h)
            seq = torch.stack(outs, 1)  # [B, T, H]
        return seq, torch.stack(finals, 0)


__all__ = ["GRU", "GRUCell", "gru_gates", "gru_step"]
