"""One GaussianDiffusion training-loss evaluation on a batch BrickML wrote, for the TypeScript parity test
(tests/torch/diffusion-loss.test.ts):

    /usr/bin/python3 -m brickml_torch.diffusion_check <checkpoint dir> <batch.safetensors>

The batch file holds `x0` [B, C, H, W], `classes` [B] (int32), BrickML's draws `t` [B], `noise_level` [B]
(γ as BrickML computed it from t in float64), `noise` [B, C, H, W], `drop` [B] and, for
self-conditioning denoisers, `keep` [B]. Prints one JSON object: the loss with BrickML's γ
(`loss`), the loss with γ recomputed here from the float32 t (`loss_from_t`), and the largest
|γ(t) − BrickML's γ| (`gamma_max_abs`).
"""
import json
import sys

import torch

from . import safetensors
from .checkpoint import load


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m brickml_torch.diffusion_check <checkpoint dir> <batch.safetensors>", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    model = load(argv[0])
    if type(model).__name__ != "GaussianDiffusion":
        print(f"diffusion_check: '{argv[0]}' holds a {type(model).__name__}, expected a GaussianDiffusion", file=sys.stderr)
        return 2
    b = {k: torch.from_numpy(v) for k, v in safetensors.load(argv[1]).items()}
    draws = {"noise": b["noise"], "drop": b.get("drop"), "keep": b.get("keep")}
    with torch.no_grad():
        loss = model(b["x0"], b.get("classes"), noise_level=b["noise_level"], **draws)
        loss_t = model(b["x0"], b.get("classes"), t=b["t"].to(torch.float64), **draws)
        gap = (model.gamma(b["t"].to(torch.float64)) - b["noise_level"]).abs().max()
    print(json.dumps({"loss": float(loss), "loss_from_t": float(loss_t), "gamma_max_abs": float(gap)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
