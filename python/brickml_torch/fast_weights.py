"""Mirror of @brickml/attention's `FastWeightsRNN` (packages/attention/src/fast-weights/fast-weights-rnn.ts):
Ba et al. 2016, "Using Fast Weights to Attend to the Recent Past". Per step, for each sequence:

    A(t)      = λ·A(t−1) + η·h(t) h(t)ᵀ
    h₀(t+1)   = f(W h(t) + C x(t))
    hₛ₊₁(t+1) = f(LN[W h(t) + C x(t) + A(t) hₛ(t+1)])     s = 0 … S−1

Names as BrickML's: `recurrent.weight` (W, [H, H], no bias), `input.weight`/`input.bias` (C), `norm.*`.
"""
import torch

from .core import Brick, activation, check_shape, layer_norm, linear
from .registry import Field, boolean, enum, non_negative, non_negative_int, number, positive, positive_int, probability, register


@register
class FastWeightsRNN(Brick):
    """x [batch, time, inputSize] (and a state (h [batch, H], A [batch, H, H]), default zeros) →
    (output [batch, time, H], (h, A)) — BrickML's `{output, state: {h, A}}`."""

    brick_type = "FastWeightsRNN"
    fields = {
        "inputSize": Field(positive_int),
        "hiddenSize": Field(positive_int),
        "decay": Field(probability, 0.95),
        "fastLr": Field(non_negative, 0.5),
        "innerSteps": Field(non_negative_int, 1),
        "activation": Field(enum("relu", "tanh"), "relu"),
        "layerNorm": Field(boolean, True),
        "eps": Field(positive, 1e-5),
        "recurrentInitScale": Field(number, 0.05),
    }

    def __init__(self, c):
        super().__init__(c)
        H = c["hiddenSize"]
        self.recurrent = linear(H, H, bias=False)
        with torch.no_grad():
            self.recurrent.weight.copy_(torch.eye(H) * c["recurrentInitScale"])
        self.input = linear(c["inputSize"], H)
        self.norm = layer_norm(H, c["eps"]) if c["layerNorm"] else None

    def initial_state(self, batch, like=None):
        H = self.config["hiddenSize"]
        kw = {} if like is None else {"dtype": like.dtype, "device": like.device}
        return torch.zeros(batch, H, **kw), torch.zeros(batch, H, H, **kw)

    def step(self, x, state):
        """x [batch, inputSize], state (h, A) → the state after the step."""
        c = self.config
        h, A = state
        check_shape("FastWeightsRNN", "x", x, [None, c["inputSize"]])
        check_shape("FastWeightsRNN", "state.h", h, [x.shape[0], c["hiddenSize"]])
        check_shape("FastWeightsRNN", "state.A", A, [x.shape[0], c["hiddenSize"], c["hiddenSize"]])
        if c["fastLr"] != 0:
            A = A * c["decay"] + c["fastLr"] * (h.unsqueeze(2) * h.unsqueeze(1))  # [batch, H, H]
        slow = self.recurrent(h) + self.input(x)  # W h + C x + b  [batch, H]
        hs = activation(c["activation"], slow)
        for _ in range(c["innerSteps"]):
            pre = slow if c["fastLr"] == 0 else slow + (A @ hs.unsqueeze(2)).squeeze(2)
            hs = activation(c["activation"], self.norm(pre) if self.norm is not None else pre)
        return hs, A

    def forward(self, x, state=None):
        c = self.config
        check_shape("FastWeightsRNN", "x", x, [None, None, c["inputSize"]])
        st = state if state is not None else self.initial_state(x.shape[0], x)
        outs = []
        for t in range(x.shape[1]):
            st = self.step(x[:, t], st)
            outs.append(st[0])
        return torch.stack(outs, 1), st


__all__ = ["FastWeightsRNN"]
