#!/usr/bin/python3
"""Reference numbers from PyTorch for core's GRU bricks and linalg tests.

Run with Debian's python3-torch:  /usr/bin/python3 packages/core/scripts/make_linalg_fixtures.py
Writes JSON files under packages/core/test/fixtures/linalg/ (committed, so `npm test` needs no Python).
Inputs are drawn in float32 and the references computed in float64 from those same float32 values.
"""
import json
import os
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'linalg')


def flat(t):
    return [float(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]


def entry(t):
    return {'shape': list(t.shape), 'data': flat(t)}


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    print('wrote', os.path.relpath(path), file=sys.stderr)


def gru_fixtures():
    g = torch.Generator().manual_seed(19)
    # GRUCell: I=3, H=4, batch 2.
    cell = torch.nn.GRUCell(3, 4).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).double() * 0.5)
    x = torch.randn(2, 3, generator=g, dtype=torch.float32).double().requires_grad_()
    h = torch.randn(2, 4, generator=g, dtype=torch.float32).double().requires_grad_()
    r = torch.randn(2, 4, generator=g, dtype=torch.float32).double()
    y = cell(x, h)
    (y * r).sum().backward()
    cell_fix = {
        'inputSize': 3, 'hiddenSize': 4,
        'params': {n: entry(p) for n, p in cell.named_parameters()},
        'x': entry(x), 'h': entry(h), 'r': entry(r), 'y': entry(y),
        'grads': {**{n: entry(p.grad) for n, p in cell.named_parameters()}, 'x': entry(x.grad), 'h': entry(h.grad)},
    }
    # GRU: I=3, H=4, 2 layers, batch 2, time 5, batch_first.
    gru = torch.nn.GRU(3, 4, num_layers=2, batch_first=True).double()
    with torch.no_grad():
        for p in gru.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).double() * 0.5)
    xs = torch.randn(2, 5, 3, generator=g, dtype=torch.float32).double().requires_grad_()
    h0 = torch.randn(2, 2, 4, generator=g, dtype=torch.float32).double().requires_grad_()
    r1 = torch.randn(2, 5, 4, generator=g, dtype=torch.float32).double()
    r2 = torch.randn(2, 2, 4, generator=g, dtype=torch.float32).double()
    out, hn = gru(xs, h0)
    ((out * r1).sum() + (hn * r2).sum()).backward()
    # The same model from zero initial state (h0 omitted).
    with torch.no_grad():
        out0, hn0 = gru(xs)
    gru_fix = {
        'inputSize': 3, 'hiddenSize': 4, 'numLayers': 2,
        'params': {n: entry(p) for n, p in gru.named_parameters()},
        'x': entry(xs), 'h0': entry(h0), 'r1': entry(r1), 'r2': entry(r2),
        'output': entry(out), 'hidden': entry(hn), 'outputZeroH0': entry(out0), 'hiddenZeroH0': entry(hn0),
        'grads': {**{n: entry(p.grad) for n, p in gru.named_parameters()}, 'x': entry(xs.grad), 'h0': entry(h0.grad)},
    }
    write('gru.json', {'torch': torch.__version__, 'cell': cell_fix, 'gru': gru_fix})


def sym(x):
    return 0.5 * (x + x.transpose(-1, -2))


def sign_fix(V):
    """BrickML's sign convention: each eigenvector's largest-magnitude entry is positive (a constant factor)."""
    idx = V.detach().abs().argmax(dim=-2, keepdim=True)
    pivot = torch.gather(V.detach(), -2, idx)
    return V * torch.where(pivot < 0, -1.0, 1.0).to(V.dtype)


def eigh_fixtures():
    g = torch.Generator().manual_seed(1919)
    # Random symmetric matrices [3, 6, 6] with well-separated eigenvalues (gap ≥ 0.2, checked).
    X = torch.randn(3, 6, 6, generator=g, dtype=torch.float32).double()
    L, _ = torch.linalg.eigh(sym(X))
    assert (L[:, 1:] - L[:, :-1]).min() > 0.2, 'pick another seed: eigenvalues too close'
    X.requires_grad_()
    wl = torch.randn(3, 6, generator=g, dtype=torch.float32).double()
    W2 = torch.randn(3, 6, 6, generator=g, dtype=torch.float32).double()
    W3 = torch.randn(3, 6, 6, generator=g, dtype=torch.float32).double()
    L, V = torch.linalg.eigh(sym(X))
    V = sign_fix(V)
    losses = {
        'values': (L * wl).sum(),               # Σ w ∘ λ
        'squares': (V * V * W2).sum(),          # Σ W ∘ V ∘ V (sign-invariant)
        'vectors': (V * W3).sum(),              # Σ W ∘ V (under the sign convention)
    }
    grads = {}
    for name, loss in losses.items():
        (gx,) = torch.autograd.grad(loss, X, retain_graph=True)
        grads[name] = entry(gx)
    eig = {'x': entry(X), 'values': entry(L), 'vectors': entry(V), 'wl': entry(wl), 'W2': entry(W2), 'W3': entry(W3), 'grads': grads}

    # SPD matrices [3, 5, 5]: S = Y Yᵀ / 5 + 0.5 I; f(S) and d/dS Σ R ∘ f(S) for log, sqrt, inverse sqrt.
    Y = torch.randn(3, 5, 5, generator=g, dtype=torch.float32).double()
    S = (Y @ Y.transpose(-1, -2) / 5 + 0.5 * torch.eye(5, dtype=torch.float64)).float().double().requires_grad_()
    R = torch.randn(3, 5, 5, generator=g, dtype=torch.float32).double()
    fns = {'log': torch.log, 'sqrt': torch.sqrt, 'invSqrt': torch.rsqrt}
    spd = {'a': entry(S), 'r': entry(R)}
    for name, f in fns.items():
        Ls, Vs = torch.linalg.eigh(sym(S))
        F = Vs @ torch.diag_embed(f(Ls)) @ Vs.transpose(-1, -2)
        (gs,) = torch.autograd.grad((F * R).sum(), S)
        spd[name] = {'value': entry(F), 'grad': entry(gs)}
    # Matrix exponential of a symmetric matrix (torch.linalg.matrix_exp), for symExp.
    E = sym(torch.randn(2, 5, 5, generator=g, dtype=torch.float32).double()).float().double()
    spd['expInput'] = entry(E)
    spd['exp'] = entry(torch.linalg.matrix_exp(E))

    # Repeated eigenvalues: S = Q diag(1, 1, 2, 3, 3) Qᵀ. torch.linalg.eigh's gradient is not finite
    # here, so the reference gradient of Σ R ∘ log(S) is a central finite difference in float64.
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float32).double())
    Srep = (Q @ torch.diag(torch.tensor([1.0, 1.0, 2.0, 3.0, 3.0], dtype=torch.float64)) @ Q.T)
    Srep = sym(Srep).float().double()
    Rrep = torch.randn(5, 5, generator=g, dtype=torch.float32).double()

    def logm_loss(M):
        Lm, Vm = torch.linalg.eigh(sym(M))
        return ((Vm @ torch.diag_embed(torch.log(Lm)) @ Vm.T) * Rrep).sum()

    h = 1e-6
    grad = torch.zeros(5, 5, dtype=torch.float64)
    for i in range(5):
        for j in range(5):
            d = torch.zeros(5, 5, dtype=torch.float64)
            d[i, j] = h
            grad[i, j] = (logm_loss(Srep + d) - logm_loss(Srep - d)) / (2 * h)
    Lr, Vr = torch.linalg.eigh(Srep)
    repeated = {'a': entry(Srep), 'r': entry(Rrep), 'values': entry(Lr),
                'log': entry(Vr @ torch.diag(torch.log(Lr)) @ Vr.T), 'logGrad': entry(grad)}
    write('eigh.json', {'torch': torch.__version__, 'eigh': eig, 'spd': spd, 'repeated': repeated})


if __name__ == '__main__':
    gru_fixtures()
    eigh_fixtures()
