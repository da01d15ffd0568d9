"""Runs the mirrors on fixtures that BrickML wrote (tests/torch/fixtures.ts) and reports the gaps.

    /usr/bin/python3 -m brickml_torch.parity <fixtures dir> [--roundtrip]

For every case folder (a BrickML checkpoint + io.safetensors + case.json): loads the checkpoint with
`load`, calls the mirror with the saved inputs as case.json says, writes `torch.safetensors`
(`out.<name>`, float32) beside it and, with --roundtrip, saves the loaded mirror back to
`<case>/roundtrip/` (BrickML's layout) and checks that re-loading that folder gives the same
parameters bit for bit. Prints one JSON object {case: {output: {max_abs, max_rel, scale}}}.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

from . import safetensors
from .checkpoint import load, save, state_to_brickml


def _flatten(out):
    if isinstance(out, (tuple, list)):
        for o in out:
            yield from _flatten(o)
    else:
        yield out


def run_case(case_dir, roundtrip=False):
    module = load(case_dir)
    with open(os.path.join(case_dir, "case.json")) as f:
        spec = json.load(f)
    io = safetensors.load(os.path.join(case_dir, "io.safetensors"))
    t = {k[3:]: torch.from_numpy(v.astype(np.int64) if v.dtype == np.int32 else v) for k, v in io.items() if k.startswith("in.")}
    args = [t[n] for n in spec["args"]]
    kwargs = {py: t[n] for py, n in (spec.get("kwargs") or {}).items()}
    if spec.get("grid") is not None:
        kwargs["grid"] = tuple(spec["grid"])
    after = spec.get("after") or []  # state tensors read after the call (BatchNorm's running statistics)
    names = spec["outputs"][: len(spec["outputs"]) - len(after)]
    if spec.get("train"):
        module.train()
    with torch.no_grad():
        out = getattr(module, spec.get("method") or "forward")(*args, **kwargs)
    module.eval()
    if isinstance(out, dict):  # MoE-style results: pick the named entries
        out = tuple(out[n] for n in names)
    outs = tuple(_flatten(out))  # e.g. FastWeightsRNN's (output, (h, A))
    if spec.get("take") is not None:
        outs = tuple(outs[i] for i in spec["take"])
    if len(outs) > len(names) and all(o is None for o in outs[len(names) :]):
        outs = outs[: len(names)]  # e.g. a denoiser's (output, None)
    if len(outs) != len(names):
        raise ValueError(f"parity: case '{case_dir}' expects outputs {names}, the mirror returned {len(outs)}")
    state = module.state_dict()
    outs = (*outs, *(state[n] for n in after))
    ours = {f"out.{n}": o.detach().to(torch.float32).contiguous().numpy() for n, o in zip(spec["outputs"], outs)}
    safetensors.save(os.path.join(case_dir, "torch.safetensors"), ours)
    report = {}
    for name, got in ours.items():
        want = io[name].astype(np.float32)
        if got.shape != want.shape:
            raise ValueError(f"parity: case '{case_dir}' output '{name}' has shape {list(got.shape)}, BrickML's {list(want.shape)}")
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        report[name[4:]] = {"max_abs": float(diff.max()) if diff.size else 0.0, "scale": scale}
    if roundtrip:
        rdir = os.path.join(case_dir, "roundtrip")
        if spec.get("train"):
            module = load(case_dir)  # the checkpoint as BrickML saved it, before the training-mode call
        save(module, rdir)
        again = state_to_brickml(load(rdir))
        first = state_to_brickml(module)
        same = set(again) == set(first) and all(again[k].dtype == first[k].dtype and again[k].tobytes() == first[k].tobytes() for k in first)
        if not same:
            raise ValueError(f"parity: case '{case_dir}': PyTorch → safetensors → PyTorch changed the parameters")
    return report


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m brickml_torch.parity")
    p.add_argument("dir")
    p.add_argument("--roundtrip", action="store_true")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    cases = sorted(d for d in os.listdir(a.dir) if os.path.isfile(os.path.join(a.dir, d, "case.json")))
    if not cases:
        print(f"parity: no case folders (with case.json) under '{a.dir}'", file=sys.stderr)
        return 2
    print(json.dumps({c: run_case(os.path.join(a.dir, c), a.roundtrip) for c in cases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
