"""Runs one PyTorch reference case for the BrickML bench harness.

    python3 bench/torch/driver.py <module> <artifacts.safetensors> <meta.json> <outputs.safetensors>
        --threads N --min-iters 3 --max-seconds 20 [--device cpu|cuda]

The module (bench/torch/<module>.py) defines `build(meta, tensors) -> (outputs_fn, step_fn)`:
`tensors` maps names (`param.*`, `in.*`) to torch tensors (float32/int64 as saved); `outputs_fn()`
runs the computation once on the fresh state and returns a dict of torch tensors (the parity
outputs, same names as the BrickML case); `step_fn()` is one timed iteration.
Prints one JSON line: {"times_ms": [...], "torch": version, "threads": N, "blas": ..., "device": ...}.
With --device cuda, tensors and modules live on the GPU (torch.set_default_device), matmuls are
plain fp32 (TF32 off: BrickML's WebGPU path is fp32), and every timed step ends with a synchronize.
"""
import argparse
import importlib
import json
import os
import re
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # the case modules (rin.py, perceiver.py, ...)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))  # brickml_torch, the PyTorch mirrors
from brickml_torch import safetensors as st  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("module")
    p.add_argument("artifacts")
    p.add_argument("meta")
    p.add_argument("outputs")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-iters", type=int, default=3)
    p.add_argument("--max-iters", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=20.0)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.set_default_device(device)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    with open(a.meta) as f:
        meta = json.load(f)
    arrays = st.load(a.artifacts)
    tensors = {k: torch.from_numpy(v.astype(np.int64) if v.dtype == np.int32 else v).to(device) for k, v in arrays.items()}
    mod = importlib.import_module(a.module)
    outputs_fn, step_fn = mod.build(meta, tensors)
    outs = outputs_fn()
    st.save(a.outputs, {k: v.detach().to(torch.float32).cpu().contiguous().numpy() for k, v in outs.items()})
    step_fn()  # warm-up
    sync()
    times, start = [], time.perf_counter()
    while len(times) < a.max_iters and (len(times) < a.min_iters or time.perf_counter() - start < a.max_seconds):
        t0 = time.perf_counter()
        step_fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({
        "times_ms": times, "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(),
        "device": torch.cuda.get_device_name(device) + " fp32 (no TF32)" if device.type == "cuda" else "cpu",
    }))


def blas_in_use():
    """The BLAS library this process actually loaded (Debian's torch is built with BLAS_INFO=generic
    and calls whatever libblas.so.3 the alternatives system points at)."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        libs = set()
    info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    names = sorted(os.path.realpath(p) for p in libs)
    return f"BLAS_INFO={info.group(1) if info else '?'}; loaded: {', '.join(names) or 'none found'}"


if __name__ == "__main__":
    main()
