"""Expert parallelism for the MoE mirror under torch.distributed (gloo or NCCL).

With W ranks, `shard_experts(model, rank, world)` keeps on rank r only experts
[r·E/W, (r+1)·E/W) of every MoE: its `experts.w1` / `experts.v1` / `experts.w2` keep BrickML's names
and become the rank's slice along the expert axis ([E/W, d, F], [E/W, F, d]). The router stays
replicated. A sharded MoE's forward then:

1. routes its own tokens (top-k as in one process) and all-reduces the [E] tokens-per-expert counts;
2. sends every routed copy (token row) to the rank owning its expert with `all_to_all_single`
   (gloo implements it in torch 1.13), copies grouped by destination in ascending token·k + slot order;
3. the owner runs its experts on what it received — for `capacity`, expert e keeps the first
   floor(C·k·T/E) copies in global token order (T = the global token count: rank r holds the r-th
   slice, so source rank then local order *is* the global order), exactly one process's drop rule;
4. sends the outputs back (the reverse all_to_all), and the source weights them by the router's
   combine weights and sums them per token.

The all_to_all is differentiable (its backward is the reverse all_to_all), so expert gradients
arrive on the owning rank only and are never all-reduced (`finish_gradients` divides them by W,
because each rank's loss is a mean over its slice); the other parameters' gradients are averaged as
DDP does. The load-balancing loss on each rank uses the *global* counts and the global T with the
rank's own mean router probabilities, so its average over the ranks is the one-process loss on the
global batch, value and gradient. `gather_experts` collects the slices back into BrickML's full
layout (for `save` on rank 0 and the optimizer state).
"""
import torch
import torch.distributed as dist


class _AllToAll(torch.autograd.Function):
    """Rows of `x` split by `send` go to the ranks in order; returns the rows received (split by `recv`)."""

    @staticmethod
    def forward(ctx, x, send, recv, group):
        ctx.send, ctx.recv, ctx.group = send, recv, group
        out = x.new_empty((sum(recv), *x.shape[1:]))
        dist.all_to_all_single(out, x.contiguous(), recv, send, group=group)
        return out

    @staticmethod
    def backward(ctx, g):
        out = g.new_empty((sum(ctx.send), *g.shape[1:]))
        dist.all_to_all_single(out, g.contiguous(), ctx.send, ctx.recv, group=ctx.group)
        return out, None, None, None


def all_to_all(x, send, recv, group=None):
    """Differentiable `all_to_all_single` of the rows of x: `send[i]` rows to rank i, `recv[i]` rows from rank i."""
    return _AllToAll.apply(x, list(send), list(recv), group)


def exchange_counts(send, group=None):
    """[W] int64 row counts this rank sends → the [W] counts it receives."""
    recv = torch.empty_like(send)
    dist.all_to_all_single(recv, send.contiguous(), group=group)
    return recv


def moe_modules(model):
    """(dotted prefix, module) of every MoE mirror in `model`."""
    return [(n, m) for n, m in model.named_modules() if type(m).__name__ == "MoE"]


def shard_experts(model, rank, world, group=None):
    """Keeps only this rank's experts in every MoE (see the module docs); returns the sharded parameter names."""
    if not isinstance(world, int) or world < 1 or not 0 <= rank < world:
        raise ValueError(f"shard_experts: expected 0 ≤ rank < world, got rank {rank!r}, world {world!r}")
    names = []
    for prefix, m in moe_modules(model):
        E = m.config["numExperts"]
        if E % world:
            raise ValueError(f"shard_experts: MoE '{prefix or '(root)'}' has numExperts {E}, which does not divide over {world} ranks")
        local = E // world
        ex = m.experts
        for pname in ("w1", "v1", "w2"):
            p = getattr(ex, pname)
            if p is None:
                continue
            if p.shape[0] != E:
                raise ValueError(f"shard_experts: MoE '{prefix or '(root)'}' is already sharded ({pname} has {p.shape[0]} of {E} experts)")
            setattr(ex, pname, torch.nn.Parameter(p.detach()[rank * local : (rank + 1) * local].clone(), requires_grad=p.requires_grad))
            names.append(f"{prefix}.experts.{pname}" if prefix else f"experts.{pname}")
        m.expert_parallel = {"rank": rank, "world": world, "group": group, "local": local}
    return names


def shard_tensor(t, rank, world):
    """Rank `rank`'s slice of a full-layout expert tensor (first axis = experts)."""
    local = t.shape[0] // world
    return t[rank * local : (rank + 1) * local]


def gather_experts(t, world, group=None):
    """The full expert tensor from every rank's slice (all ranks call it; concatenated in rank order)."""
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t.detach().contiguous(), group=group)
    return torch.cat(parts, 0)


def full_state(model, expert_names, world, group=None):
    """`model.state_dict()` with the sharded experts gathered into BrickML's full layout (a collective)."""
    out = {}
    for name, t in model.state_dict().items():
        out[name] = gather_experts(t, world, group) if name in expert_names else t.detach().clone()
    return out


@torch.no_grad()
def finish_gradients(named_parameters, expert_names, world, group=None):
    """After backward: averages the replicated parameters' gradients over the ranks (as DDP does) and
    divides the local experts' by W (each rank's loss is the mean over its slice; no all-reduce)."""
    shared = [(n, p) for n, p in named_parameters if n not in expert_names and p.requires_grad]
    has = torch.tensor([0.0 if p.grad is None else 1.0 for _, p in shared])
    dist.all_reduce(has, group=group)  # a parameter some rank has a gradient for gets one everywhere
    grads = []
    for (_, p), h in zip(shared, has.tolist()):
        if h > 0:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
    if grads:
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, group=group)
        flat /= world
        off = 0
        for g in grads:
            g.copy_(flat[off : off + g.numel()].view_as(g))
            off += g.numel()
    for n, p in named_parameters:
        if n in expert_names and p.grad is not None:
            p.grad /= world


@torch.no_grad()
def clip_grad_norm(named_parameters, expert_names, max_norm, group=None):
    """BrickML's / torch's clipGradNorm over the global gradient: the replicated gradients counted once,
    the experts' norms summed over the ranks. Returns the total norm."""
    local = torch.zeros((), dtype=torch.float64)
    shared = torch.zeros((), dtype=torch.float64)
    for n, p in named_parameters:
        if p.grad is None:
            continue
        s = p.grad.double().square().sum()
        if n in expert_names:
            local += s
        else:
            shared += s
    dist.all_reduce(local, group=group)
    total = float((shared + local).sqrt())
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for _, p in named_parameters:
            if p.grad is not None:
                p.grad.mul_(coef)
    return total
