"""Capabilities of this PyTorch for distributed training.

DDP (torch.nn.parallel.DistributedDataParallel) over gloo or NCCL is what `brickml_torch.train`
uses. FSDP is not wired into the trainer yet; `fsdp_available()` says whether this PyTorch could
run it (on Debian's torch 1.13 under Python 3.11, `import torch.distributed.fsdp` fails with a
dataclass error inside torch).
"""


def fsdp_available():
    """(True, version) when `torch.distributed.fsdp` imports, else (False, the reason)."""
    try:
        import torch
        import torch.distributed.fsdp  # noqa: F401
    except Exception as e:  # the failure on torch 1.13 + Python 3.11 is a ValueError from dataclasses
        return False, f"import torch.distributed.fsdp failed: {type(e).__name__}: {e}"
    return True, f"torch {torch.__version__}"


def gloo_available():
    """Whether torch.distributed with the gloo backend (CPU) is available."""
    try:
        import torch.distributed as dist

        return dist.is_available() and dist.is_gloo_available()
    except Exception:
        return False
