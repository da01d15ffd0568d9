"""Capabilities of this PyTorch for distributed training, and the FSDP path of `brickml_torch.train`.

DDP (torch.nn.parallel.DistributedDataParallel) over gloo or NCCL is what `brickml_torch.train` uses
by default. FSDP (`"fsdp"` in the run config) is written for PyTorch ≥ 2.0 (`use_orig_params=True`,
`lambda_auto_wrap_policy`, FULL_STATE_DICT): `fsdp_available()` says whether this PyTorch can run it,
and `require_fsdp()` stops a run that asks for it with the reason. On Debian's torch 1.13 under
Python 3.11 `import torch.distributed.fsdp` fails with a dataclass error inside torch, so nothing in
this FSDP path has run on the machines this package is tested on.
"""
import functools

# Bricks that become their own FSDP unit by default: the repeated blocks of the stacks.
DEFAULT_FSDP_WRAP = ("TransformerBlock", "RinBlock", "BasicBlock", "MoE", "PerceiverEncoder", "PerceiverDecoder")
FSDP_SHARDING = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD")
_FSDP_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.")


class FsdpUnavailable(RuntimeError):
    """FSDP was asked for and this PyTorch cannot run it (the message names the capability and why)."""


def fsdp_available():
    """(True, version) when `torch.distributed.fsdp` imports and PyTorch is ≥ 2.0 (use_orig_params), else (False, the reason)."""
    try:
        import torch
        import torch.distributed.fsdp  # noqa: F401
    except Exception as e:  # the failure on torch 1.13 + Python 3.11 is a ValueError from dataclasses
        return False, f"import torch.distributed.fsdp failed: {type(e).__name__}: {e}"
    major = int(torch.__version__.split(".")[0])
    if major < 2:
        return False, f"torch {torch.__version__} is older than 2.0 (FSDP's use_orig_params, which keeps BrickML's parameter names, needs 2.0)"
    return True, f"torch {torch.__version__}"


def require_fsdp(who="fsdp"):
    """Raises FsdpUnavailable naming the capability when `fsdp_available()` is false."""
    ok, why = fsdp_available()
    if not ok:
        raise FsdpUnavailable(
            f"{who}: needs torch.distributed.fsdp (FullyShardedDataParallel, PyTorch ≥ 2.0), which this PyTorch cannot provide: {why}. "
            "Train with DDP (leave 'fsdp' out) or install a current PyTorch"
        )


def gloo_available():
    """Whether torch.distributed with the gloo backend (CPU) is available."""
    try:
        import torch.distributed as dist

        return dist.is_available() and dist.is_gloo_available()
    except Exception:
        return False


def clean_fsdp_name(name):
    """A parameter name of an FSDP-wrapped model without FSDP's wrapper segments: BrickML's dotted path."""
    for prefix in _FSDP_PREFIXES:
        name = name.replace(prefix, "")
    return name


def wrap_fsdp(model, wrap_types, sharding="FULL_SHARD", device=None):
    """`model` under FullyShardedDataParallel, every submodule whose `brick_type` is in `wrap_types` its own
    unit (the auto-wrap policy by brick), original parameters kept (`use_orig_params=True`, so names and the
    optimizer's per-name state stay BrickML's)."""
    import torch
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp import ShardingStrategy
    from torch.distributed.fsdp.wrap import lambda_auto_wrap_policy

    types = frozenset(wrap_types)
    policy = functools.partial(lambda_auto_wrap_policy, lambda_fn=lambda m: getattr(m, "brick_type", None) in types)
    kwargs = {"device_id": device} if device is not None and device.type == "cuda" else {}
    return FSDP(model, auto_wrap_policy=policy, sharding_strategy=ShardingStrategy[sharding], use_orig_params=True, **kwargs)


def fsdp_unit_count(net):
    """Number of FSDP units (the root included)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    return sum(1 for m in net.modules() if isinstance(m, FSDP))


def fsdp_full_state(net):
    """A collective: the full (unsharded) state dict on rank 0, on the CPU, BrickML's names; {} on the other ranks."""
    from torch.distributed.fsdp import FullStateDictConfig, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    with FSDP.state_dict_type(net, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
        state = net.state_dict()
    return {clean_fsdp_name(k): v for k, v in state.items()}


def fsdp_full_moments(net, opt):
    """A collective: AdamW's moments in the full layout on rank 0 ({`exp_avg.<name>`/`exp_avg_sq.<name>`: numpy}),
    {} elsewhere. Each moment is put in its parameter's (sharded) place, the full state dict gathered, and the
    parameters restored: the moments are sharded exactly as the parameters are."""
    import torch

    params = [(clean_fsdp_name(n), p) for n, p in net.named_parameters()]
    backup = [p.detach().clone() for _, p in params]
    out = {}
    try:
        for key in ("exp_avg", "exp_avg_sq"):
            with torch.no_grad():
                for name, p in params:
                    st = opt.state.get(name)
                    p.copy_(st[key] if st is not None else torch.zeros_like(p))
            full = fsdp_full_state(net)
            for name, _ in params:
                if name in opt.state and name in full:
                    out[f"{key}.{name}"] = full[name].detach().cpu().contiguous().numpy()
    finally:
        with torch.no_grad():
            for (_, p), b in zip(params, backup):
                p.copy_(b)
    return out


def fsdp_shard_moments(net, full_params, entries):
    """The reverse of `fsdp_full_moments`: moments saved in the full layout → this rank's shards, as
    {`exp_avg.<name>`/`exp_avg_sq.<name>`: tensor}. Every rank passes the same full `entries`; `full_params`
    is the full state dict the model was loaded from (put back afterwards)."""
    import torch
    from torch.distributed.fsdp import FullStateDictConfig, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    out = {}
    for key in ("exp_avg", "exp_avg_sq"):
        state = dict(full_params)
        for name in full_params:
            if f"{key}.{name}" in entries:
                state[name] = torch.as_tensor(entries[f"{key}.{name}"])
        with FSDP.state_dict_type(net, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=False)):
            net.load_state_dict(state)
        for n, p in net.named_parameters():
            name = clean_fsdp_name(n)
            if f"{key}.{name}" in entries:
                out[f"{key}.{name}"] = p.detach().clone()
    with FSDP.state_dict_type(net, StateDictType.FULL_STATE_DICT, FullStateDictConfig(rank0_only=False)):
        net.load_state_dict(full_params)
    return out
