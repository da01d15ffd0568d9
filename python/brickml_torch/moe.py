"""Mirrors of @brickml/moe's bricks (packages/moe/src): Router, ExpertMLP and MoE.

- Router (router.ts): logits = x·Wᵀ (`weight` [E, d]); scores = softmax or sigmoid; top-k by score,
  ties to the lower expert index; combine weights = the chosen scores (optionally divided by their
  sum); `probs` for the load-balancing loss = softmax, or sigmoid scores normalised per token.
- ExpertMLP (experts.ts): stacks `w1` [E, d, F], `v1` [E, d, F] (swiglu only), `w2` [E, F, d]:
  expert e maps x to act(x·w1[e])·w2[e], or (silu(x·w1[e]) ⊙ x·v1[e])·w2[e].
- MoE (moe.ts): `dense` and `dropless` compute every routed copy (the same function); `capacity`
  keeps, per expert, the first floor(C·k·T/E) copies in token-then-slot order and drops the rest.
  auxLoss = loadBalanceCoef·E/(T·k)·Σ_e count_e·mean_t probs[t, e] + zLossCoef·mean_t logsumexp(logits_t)².

The mirror computes the experts with a loop over experts (gather, two matmuls, index_add), the usual
PyTorch form; BrickML's block-sparse kernels are a speed matter, not a semantic one.
"""
import math

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .core import Brick, activation, check_shape
from .registry import BrickConfigError, Field, enum, positive, positive_int, probability, register

EXPERT_ACTIVATIONS = ("gelu", "gelu_tanh", "silu", "relu", "swiglu")


def route_top_k(logits, k, score="softmax", normalize_weights=False):
    """(scores, probs, indices [T, k], weights [T, k], counts [E]) as BrickML's routeTopK."""
    T, E = logits.shape
    scores = torch.softmax(logits, dim=1) if score == "softmax" else torch.sigmoid(logits)
    probs = scores if score == "softmax" else scores / scores.sum(1, keepdim=True)
    indices = torch.sort(scores.detach(), dim=1, descending=True, stable=True).indices[:, :k]  # ties → lower index
    weights = scores.gather(1, indices)
    if normalize_weights:
        weights = weights / weights.sum(1, keepdim=True)
    counts = torch.bincount(indices.reshape(-1), minlength=E).to(logits.dtype)
    return scores, probs, indices, weights, counts


@register
class Router(Brick):
    brick_type = "Router"
    fields = {
        "dim": Field(positive_int),
        "numExperts": Field(positive_int),
        "topK": Field(positive_int, 1),
        "score": Field(enum("softmax", "sigmoid"), "softmax"),
        "normalizeWeights": Field(lambda v: None if isinstance(v, bool) else "expected a boolean", False),
        "jitterEps": Field(probability, 0),
        "initStd": Field(positive, 0.02),
    }

    def __init__(self, c):
        super().__init__(c)
        self.weight = nn.Parameter(torch.randn(c["numExperts"], c["dim"]) * c["initStd"])  # [E, d]

    def logits(self, x):  # [T, d] → [T, E]
        check_shape("Router", "x", x, [None, self.config["dim"]])
        eps = self.config["jitterEps"]
        if self.training and eps > 0:
            x = x * torch.empty_like(x).uniform_(1 - eps, 1 + eps)
        return F.linear(x, self.weight)

    def forward(self, x):
        c = self.config
        logits = self.logits(x)
        scores, probs, indices, weights, counts = route_top_k(logits, c["topK"], c["score"], c["normalizeWeights"])
        return {"logits": logits, "scores": scores, "probs": probs, "indices": indices, "weights": weights, "counts": counts}


@register
class ExpertMLP(Brick):
    brick_type = "ExpertMLP"
    fields = {
        "numExperts": Field(positive_int),
        "dim": Field(positive_int),
        "ffnHidden": Field(positive_int),
        "activation": Field(enum(*EXPERT_ACTIVATIONS), "gelu"),
        "initStd": Field(positive, 0.02),
    }

    def __init__(self, c):
        super().__init__(c)
        E, d, Fh, s = c["numExperts"], c["dim"], c["ffnHidden"], c["initStd"]
        self.w1 = nn.Parameter(torch.randn(E, d, Fh) * s)  # [E, d, F]
        self.v1 = nn.Parameter(torch.randn(E, d, Fh) * s) if c["activation"] == "swiglu" else None
        self.w2 = nn.Parameter(torch.randn(E, Fh, d) * s)  # [E, F, d]

    def expert(self, e, x):  # x [n, d] → [n, d]
        h = x @ self.w1[e]
        a = F.silu(h) * (x @ self.v1[e]) if self.v1 is not None else activation(self.config["activation"], h)
        return a @ self.w2[e]


@register
class MoE(Brick):
    """x [..., dim] → {"y": [..., dim], "auxLoss", "loadBalanceLoss", "zLoss", "tokensPerExpert", "keptPerExpert"}."""

    brick_type = "MoE"
    fields = {
        "kind": Field(enum("dense", "capacity", "dropless"), "dropless"),
        "dim": Field(positive_int),
        "ffnHidden": Field(positive_int),
        "numExperts": Field(positive_int),
        "topK": Field(positive_int, 1),
        "activation": Field(enum(*EXPERT_ACTIVATIONS), "gelu"),
        "score": Field(enum("softmax", "sigmoid"), "softmax"),
        "normalizeWeights": Field(lambda v: None if isinstance(v, bool) else "expected a boolean", False),
        "jitterEps": Field(probability, 0),
        "loadBalanceCoef": Field(lambda v: None if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else "expected a number ≥ 0", 0.1),
        "zLossCoef": Field(lambda v: None if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else "expected a number ≥ 0", 1e-3),
        "capacityFactor": Field(positive, 1.25),
        "blockSize": Field(positive_int, 128),
        "sparseImpl": Field(enum("auto", "kernel", "grouped", "batched"), "auto"),
        "initStd": Field(positive, 0.02),
        "routerInitStd": Field(positive, 0.02),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["topK"] > c["numExperts"]:
            raise BrickConfigError(f"MoE: config field 'topK' must be ≤ numExperts ({c['numExperts']}) (got {c['topK']})")
        bs = c["blockSize"]
        if bs & (bs - 1):
            raise BrickConfigError(f"MoE: config field 'blockSize' must be a power of two (1, 2, 4, …, 128, …) (got {bs})")
        if c["kind"] == "dropless" and c["ffnHidden"] % bs:
            raise BrickConfigError(f"MoE: config field 'ffnHidden' must be a multiple of blockSize ({bs}) for kind 'dropless' (got {c['ffnHidden']})")
        self.router = Router({"type": "Router", "dim": c["dim"], "numExperts": c["numExperts"], "topK": c["topK"], "score": c["score"],
                              "normalizeWeights": c["normalizeWeights"], "jitterEps": c["jitterEps"], "initStd": c["routerInitStd"]})
        self.experts = ExpertMLP({"type": "ExpertMLP", "numExperts": c["numExperts"], "dim": c["dim"], "ffnHidden": c["ffnHidden"],
                                  "activation": c["activation"], "initStd": c["initStd"]})

    def forward(self, x):
        c = self.config
        check_shape("MoE", "x", x, ["...", c["dim"]])
        lead = x.shape[:-1]
        xt = x.reshape(-1, c["dim"])  # [T, d]
        T, E, k = xt.shape[0], c["numExperts"], c["topK"]
        r = self.router(xt)
        idx, w = r["indices"], r["weights"]
        if getattr(self, "expert_parallel", None) is not None:
            return self._forward_expert_parallel(x, xt, r)
        capacity = math.floor(c["capacityFactor"] * k * T / E) if c["kind"] == "capacity" else None
        flat = idx.reshape(-1)  # copies in t·k + s order
        y = torch.zeros_like(xt)
        kept = torch.zeros(E, dtype=xt.dtype, device=xt.device)
        for e in range(E):
            copies = torch.nonzero(flat == e).reshape(-1)  # ascending t·k + s: MegaBlocks' stable order
            if capacity is not None:
                copies = copies[:capacity]
            kept[e] = copies.numel()
            if copies.numel() == 0:
                continue
            tok, slot = copies // k, copies % k
            y.index_add_(0, tok, self.experts.expert(e, xt[tok]) * w[tok, slot].unsqueeze(1))
        balance = c["loadBalanceCoef"] * E / (T * k) * (r["counts"] * r["probs"].mean(0)).sum()
        z = c["zLossCoef"] * torch.logsumexp(r["logits"], dim=1).square().mean()
        return {"y": y.reshape(*lead, c["dim"]), "auxLoss": balance + z, "loadBalanceLoss": balance, "zLoss": z,
                "tokensPerExpert": r["counts"], "keptPerExpert": kept}

    def _forward_expert_parallel(self, x, xt, r):
        """This rank holds experts [rank·L, (rank+1)·L) (brickml_torch.expert_parallel): the routed copies
        travel to their expert's rank and back with all_to_all; the same numbers as one process on the
        global batch (see expert_parallel's docs)."""
        from . import expert_parallel as ep

        c, p = self.config, self.expert_parallel
        world, rank, L, group = p["world"], p["rank"], p["local"], p["group"]
        T_local, E, k = xt.shape[0], c["numExperts"], c["topK"]
        T = T_local * world  # every rank holds an equal slice of the global batch
        counts = r["counts"].detach().clone()
        dist.all_reduce(counts, group=group)  # global tokens per expert [E]
        flat = r["indices"].reshape(-1)  # [T_local·k] copies in t·k + s order
        dest = torch.div(flat, L, rounding_mode="floor")  # owning rank of each copy
        order = torch.sort(dest, stable=True).indices  # grouped by destination, t·k + s order within
        send = torch.bincount(dest, minlength=world)
        recv = ep.exchange_counts(send, group)
        send_l, recv_l = send.tolist(), recv.tolist()
        tok, slot = torch.div(order, k, rounding_mode="floor"), order % k
        x_recv = ep.all_to_all(xt[tok], send_l, recv_l, group)  # [n_recv, d]
        e_recv = torch.empty(sum(recv_l), dtype=flat.dtype, device=flat.device)
        dist.all_to_all_single(e_recv, (flat[order] - dest[order] * L).contiguous(), recv_l, send_l, group=group)
        capacity = math.floor(c["capacityFactor"] * k * T / E) if c["kind"] == "capacity" else None
        y_recv = torch.zeros_like(x_recv)
        kept = torch.zeros(E, dtype=xt.dtype, device=xt.device)
        for e in range(L):
            rows = torch.nonzero(e_recv == e).reshape(-1)  # source rank, then its t·k + s order = global order
            if capacity is not None:
                rows = rows[:capacity]
            kept[rank * L + e] = rows.numel()
            if rows.numel():
                y_recv = y_recv.index_add(0, rows, self.experts.expert(e, x_recv[rows]))
        dist.all_reduce(kept, group=group)
        y_back = ep.all_to_all(y_recv, recv_l, send_l, group)  # [n_send, d], this rank's copies
        y = torch.zeros_like(xt).index_add(0, tok, y_back * r["weights"][tok, slot].unsqueeze(1))
        balance = c["loadBalanceCoef"] * E / (T * k) * (counts * r["probs"].mean(0)).sum()
        z = c["zLossCoef"] * torch.logsumexp(r["logits"], dim=1).square().mean()
        return {"y": y.reshape(*x.shape[:-1], c["dim"]), "auxLoss": balance + z, "loadBalanceLoss": balance, "zLoss": z,
                "tokensPerExpert": counts, "keptPerExpert": kept}
