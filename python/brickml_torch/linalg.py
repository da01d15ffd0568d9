"""Mirrors of @brickml/core's spectral bricks (packages/core/src/linalg/o2p.ts, ncut.ts).

BrickML computes the symmetric eigendecomposition with Jacobi sweeps in float32; the mirrors use
`torch.linalg.eigh` in float64 (then cast back), so their outputs are the exact ones to float32
rounding and the parity gap is BrickML's own eigensolver error. Where eigenvalues coincide the
eigenvectors are not unique and the two engines may pick different bases: parity is stated (and
tested) on well-separated spectra. Eigenvector signs follow BrickML's `eigh` convention: each
column's largest-magnitude entry is positive.
"""
import math

import torch

from .core import Brick, check_shape
from .registry import OPTIONAL, Field, boolean, enum, positive, positive_int, register


def eigh_brickml(a):
    """a [..., n, n] symmetric → (values [..., n] ascending, vectors [..., n, n] in columns), computed in float64,
    each column's largest-magnitude entry made positive (BrickML's `eigh` convention)."""
    a64 = a.double()
    values, vectors = torch.linalg.eigh(0.5 * (a64 + a64.transpose(-1, -2)))
    pivot = vectors.gather(-2, vectors.abs().argmax(-2, keepdim=True))  # [..., 1, n]
    sign = torch.where(pivot < 0, -torch.ones_like(pivot), torch.ones_like(pivot))
    return values, vectors * sign


def sym_function(a, f, min_eigenvalue=None):
    """V diag(f(λ)) Vᵀ of symmetric a [..., n, n] (BrickML's `symFunction`), in a's dtype."""
    values, vectors = eigh_brickml(a)
    if min_eigenvalue is not None:
        values = values.clamp_min(min_eigenvalue)
    return ((vectors * f(values).unsqueeze(-2)) @ vectors.transpose(-1, -2)).to(a.dtype)


def spd_log(a):
    """Principal matrix logarithm of SPD matrices [..., n, n]."""
    return sym_function(a, torch.log)


def spd_sqrt(a):
    """Principal square root of SPD (PSD) matrices [..., n, n], eigenvalues clamped at 0 (as BrickML's `spdSqrt`)."""
    return sym_function(a, torch.sqrt, min_eigenvalue=0.0)


def triu_vector(m, off_diagonal_scale=1.0):
    """Upper triangle (diagonal included) of m [..., n, n], row by row → [..., n(n+1)/2]; off-diagonal
    entries times `off_diagonal_scale` (BrickML's `triuVector`)."""
    n = m.shape[-1]
    rows, cols = torch.triu_indices(n, n)
    vec = m[..., rows, cols]
    if off_diagonal_scale != 1:
        scale = torch.where(rows == cols, torch.ones(()), torch.full((), float(off_diagonal_scale))).to(m.dtype)
        vec = vec * scale
    return vec


@register
class O2PPooling(Brick):
    """Second-order pooling: Σ = (X − μ)ᵀ(X − μ)/N + εI of x [batch, N, C], then log(Σ) | Σ^½ | Σ, as the
    upper triangle [batch, C(C+1)/2] (off-diagonal ×√2 with `scaleOffDiagonal`) or the matrix [batch, C, C].
    No parameters. `sweeps` (BrickML's Jacobi sweep count) is accepted and has no effect here."""

    brick_type = "O2PPooling"
    fields = {
        "channels": Field(positive_int),
        "normalization": Field(enum("log", "sqrt", "none"), "log"),
        "eps": Field(positive, 1e-3),
        "center": Field(boolean, True),
        "output": Field(enum("triu", "matrix"), "triu"),
        "scaleOffDiagonal": Field(boolean, True),
        "sweeps": Field(positive_int, OPTIONAL),
    }

    @property
    def out_features(self):
        C = self.config["channels"]
        return C * (C + 1) // 2 if self.config["output"] == "triu" else C * C

    def covariance(self, x):
        """x [batch, N, C] → Σ + εI [batch, C, C]."""
        c = self.config
        check_shape("O2PPooling", "x", x, [None, None, c["channels"]])
        xc = x - x.mean(1, keepdim=True) if c["center"] else x  # [batch, N, C]
        cov = xc.transpose(1, 2) @ xc / x.shape[1]  # [batch, C, C]
        return cov + c["eps"] * torch.eye(c["channels"], dtype=x.dtype, device=x.device)

    def forward(self, x):
        """x [batch, N, C] → [batch, C(C+1)/2] (`triu`) or [batch, C, C] (`matrix`)."""
        c = self.config
        cov = self.covariance(x)
        y = spd_log(cov) if c["normalization"] == "log" else spd_sqrt(cov) if c["normalization"] == "sqrt" else cov
        return triu_vector(y, math.sqrt(2) if c["scaleOffDiagonal"] else 1.0) if c["output"] == "triu" else y


@register
class NormalizedCut(Brick):
    """Normalised-cuts layer: W = affinity(x) [batch, N, N], M = D^-½ W D^-½, the `segments` leading
    eigenvectors of M (after the trivial one with `dropTrivial`), largest first, as the segment embedding
    [batch, N, segments] (`normalized`: unit rows; `generalized`: D^-½ v; `raw`). `log_sigma` [1] with `learnSigma`."""

    brick_type = "NormalizedCut"
    fields = {
        "dim": Field(positive_int),
        "segments": Field(positive_int),
        "affinity": Field(enum("gaussian", "cosine"), "gaussian"),
        "sigma": Field(positive, 1),
        "learnSigma": Field(boolean, False),
        "dropTrivial": Field(boolean, True),
        "embedding": Field(enum("normalized", "generalized", "raw"), "normalized"),
        "sweeps": Field(positive_int, OPTIONAL),
    }

    def __init__(self, c):
        super().__init__(c)
        self.log_sigma = torch.nn.Parameter(torch.tensor([math.log(c["sigma"])])) if c["learnSigma"] else None

    def affinity(self, x):
        """x [batch, N, C] → W [batch, N, N]."""
        c = self.config
        check_shape("NormalizedCut", "x", x, [None, None, c["dim"]])
        sigma = self.log_sigma.exp() if self.log_sigma is not None else torch.tensor(float(c["sigma"]), dtype=x.dtype)
        if c["affinity"] == "cosine":
            xn = x / (x.norm(dim=-1, keepdim=True) + 1e-8)
            return torch.exp((xn @ xn.transpose(1, 2) - 1) / sigma)
        sq = x.square().sum(-1)  # [batch, N]
        d2 = torch.relu(sq.unsqueeze(2) + sq.unsqueeze(1) - 2 * (x @ x.transpose(1, 2)))
        return torch.exp(-d2 / (2 * sigma.square()))

    def decompose(self, x):
        """x [batch, N, C] → {"embedding" [batch, N, segments], "values" [batch, segments] (descending), "affinity" [batch, N, N]}."""
        c = self.config
        check_shape("NormalizedCut", "x", x, [None, None, c["dim"]])
        n = x.shape[1]
        skip = 1 if c["dropTrivial"] else 0
        if c["segments"] + skip > n:
            raise ValueError(
                f"NormalizedCut: segments {c['segments']}{' + 1 (dropTrivial)' if skip else ''} must not exceed the number of tokens, got {n} tokens"
            )
        W = self.affinity(x)
        d_inv_sqrt = W.sum(-1).rsqrt()  # [batch, N]
        M = W * d_inv_sqrt.unsqueeze(2) * d_inv_sqrt.unsqueeze(1)
        values, vectors = eigh_brickml(M)  # ascending, float64
        cols = [n - 1 - skip - i for i in range(c["segments"])]
        v = vectors[..., cols].to(x.dtype)  # [batch, N, k]
        lam = values[..., cols].to(x.dtype)  # [batch, k]
        if c["embedding"] == "normalized":
            v = v / (v.norm(dim=-1, keepdim=True) + 1e-8)
        elif c["embedding"] == "generalized":
            v = v * d_inv_sqrt.unsqueeze(2)
        return {"embedding": v, "values": lam, "affinity": W}

    def forward(self, x):
        """x [batch, N, C] → segment embedding [batch, N, segments]."""
        return self.decompose(x)["embedding"]


__all__ = ["NormalizedCut", "O2PPooling", "eigh_brickml", "spd_log", "spd_sqrt", "sym_function", "triu_vector"]
