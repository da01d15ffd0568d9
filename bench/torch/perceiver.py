"""Reference for cases/perceiver.ts: BrickML's PerceiverEncoder (flat, no HiP, no masks) as
brickml_torch's mirror (python/brickml_torch/perceiver.py), plus the Fourier position features of
its FourierPositionEncoding mirror concatenated to the pixels.

The encoder is built from the case's config fields and loads BrickML's weights strictly (names and
shapes), so the state dict proves the two trees match one to one.
"""

import torch

import brickml_torch
from brickml_torch.attention import fourier_features as _fourier
from brickml_torch.perceiver import PerceiverEncoder


def fourier_features(index_dims, num_bands):
    """[prod(index_dims), d·(2K+1)]: brickml_torch's FourierPositionEncoding table (positions, sin, cos)."""
    return torch.from_numpy(_fourier(index_dims, num_bands))  # on the default device


def encoder_from_meta(meta, t):
    """brickml_torch's PerceiverEncoder for the case's config fields, `param.*` loaded strictly."""
    cfg = {k: v for k, v in meta.items() if k in PerceiverEncoder.fields}
    enc = brickml_torch.build({"type": "PerceiverEncoder", **cfg})
    arrays = {k[len("param."):]: v.detach().cpu().numpy() for k, v in t.items() if k.startswith("param.")}
    device = next(iter(t.values())).device
    return brickml_torch.state_from_brickml(enc, arrays, where="bench perceiver").to(device).eval()


def cross_only(enc, x):
    """The latents after the cross-attend alone: [B, N, D]."""
    z = enc.latents.expand(x.shape[0], -1, -1)
    return enc.cross_attend(z, x)


def build(meta, t):
    enc = encoder_from_meta(meta, t)
    pixels = t["in.pixels"]  # [B, M, 3]
    pos = fourier_features(meta["grid"], meta["numBands"])  # [M, 258], cached as BrickML's table

    def embed():
        return torch.cat([pixels, pos.expand(pixels.shape[0], -1, -1)], -1)  # [B, M, 261]

    @torch.inference_mode()
    def outputs():
        x = embed()
        return {"pos": pos, "cross": cross_only(enc, x), "latents": enc(x)}

    @torch.inference_mode()
    def step():
        enc(embed())

    return outputs, step
