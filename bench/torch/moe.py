"""Reference for cases/moe.ts: the usual PyTorch "dense-loop" MoE, loaded with BrickML's weights.

Router logits -> softmax -> top-k (raw softmax weights, not renormalised), then a Python loop over
experts: gather the token copies routed to expert e, run its MLP (x @ w1[e] -> exact GELU -> @ w2[e],
no biases), scale by the gate and index_add_ into the output. Mirrors BrickML's `MoE` brick:

- router.weight [E, d] in nn.Linear layout: logits = x @ W.T;
- top-k ranks by softmax probability, ties to the lower expert index (stable descending sort);
- experts.w1 [E, d, F], experts.w2 [E, F, d] ([experts, in, out] stacks);
- aux loss = load balancing alpha * E / (T k) * sum_e count_e * mean_t p[t, e] (counts constant)
  + z-loss c_z * mean_t logsumexp(logits_t)^2.

Each expert's weights are separate leaf tensors, as in the usual `nn.ModuleList` of experts: taking
`w1[e]` of one stacked leaf instead would make autograd build a zero-filled [E, d, F] gradient per
expert and add them up (E full-size adds and fills, over half of the step at this size), a cost of
the stacked layout, not of the MoE. The stacks are rebuilt for the parity outputs only.

One step: forward, loss = sum(y * r) + aux, backward w.r.t. x and every parameter.
"""
import torch
import torch.nn.functional as F


def moe_forward(x, wr, w1s, w2s, k):
    """x [T, d] -> y [T, d], logits [T, E], probs [T, E], chosen experts [T, k]."""
    logits = x @ wr.t()  # [T, E]
    probs = torch.softmax(logits, dim=1)  # [T, E]
    # BrickML breaks exact ties towards the lower expert index; torch.topk leaves tie order open.
    idx = torch.sort(probs, dim=1, descending=True, stable=True).indices[:, :k]  # [T, k]
    gates = probs.gather(1, idx)  # [T, k]
    y = torch.zeros_like(x)  # [T, d]
    for e, (w1, w2) in enumerate(zip(w1s, w2s)):
        tok, slot = torch.where(idx == e)  # copies routed to e, ascending token
        if tok.numel() == 0:
            continue
        h = F.gelu(x[tok] @ w1)  # [n, F] exact (erf) GELU
        y.index_add_(0, tok, (h @ w2) * gates[tok, slot].unsqueeze(1))  # [n, d]
    return y, logits, probs, idx


def aux_loss(logits, probs, idx, k, meta):
    T, E = probs.shape
    counts = torch.bincount(idx.flatten(), minlength=E).to(probs.dtype)  # [E], a constant
    balance = meta["loadBalanceCoef"] * E / (T * k) * (counts * probs.mean(0)).sum()
    z = meta["zLossCoef"] * torch.logsumexp(logits, dim=1).square().mean()
    return balance + z


def build(meta, t):
    k = meta["topK"]
    assert meta["kind"] == "dropless" and meta["activation"] == "gelu" and meta["score"] == "softmax"
    assert not meta["normalizeWeights"] and meta["jitterEps"] == 0
    assert sorted(n for n in t if n.startswith("param.")) == ["param.experts.w1", "param.experts.w2", "param.router.weight"], list(t)
    r = t["in.r"]  # [T, d]
    leaf = lambda v: v.clone().requires_grad_(True)  # noqa: E731
    x, wr = leaf(t["in.x"]), leaf(t["param.router.weight"])  # [T, d], [E, d]
    w1s = [leaf(w) for w in t["param.experts.w1"]]  # E × [d, F]
    w2s = [leaf(w) for w in t["param.experts.w2"]]  # E × [F, d]
    E = len(w1s)
    leaves = [x, wr, *w1s, *w2s]

    def loss_fn():
        y, logits, probs, idx = moe_forward(x, wr, w1s, w2s, k)
        return y, (y * r).sum() + aux_loss(logits, probs, idx, k, meta)

    def outputs():
        y, loss = loss_fn()
        g = torch.autograd.grad(loss, leaves)
        return {
            "y": y.detach(),
            "loss": loss.detach(),
            "grad.x": g[0],
            "grad.router.weight": g[1],
            "grad.experts.w1": torch.stack(g[2 : 2 + E]),  # [E, d, F]
            "grad.experts.w2": torch.stack(g[2 + E :]),  # [E, F, d]
        }

    def step():
        _, loss = loss_fn()
        torch.autograd.grad(loss, leaves)

    return outputs, step
