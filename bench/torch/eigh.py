"""Reference for cases/eigh.ts: torch.linalg.eigh of the same batch of SPD matrices, forward and
the gradient of loss_b = sum_k u_k lambda_k + sum_ij W_ij (V diag(log lambda) V^T)_ij.

The parity outputs (values, logm, loss, grad.a) are computed in float64 from the float32 inputs,
so the harness's max |delta| is BrickML's float32 error; the timed step runs in float32, as
BrickML does. Like BrickML's eigh, the decomposition is taken of the symmetric part (A + A^T) / 2
(torch.linalg.eigh itself reads only the lower triangle).
"""
import torch


def build(meta, t):
    a32, u32, w32 = t["in.a"], t["in.u"], t["in.w"]

    def loss_parts(a, u, w):
        s = 0.5 * (a + a.transpose(-2, -1))
        values, vectors = torch.linalg.eigh(s)  # ascending, [b, n], [b, n, n]
        logm = (vectors * values.log().unsqueeze(-2)) @ vectors.transpose(-2, -1)
        loss = (values * u).sum(-1) + (logm * w).sum((-2, -1))  # [b]
        return values, logm, loss

    def outputs():
        a = a32.double().clone().requires_grad_(True)
        values, logm, loss = loss_parts(a, u32.double(), w32.double())
        (grad,) = torch.autograd.grad(loss.sum(), a)
        return {"values": values.detach(), "logm": logm.detach(), "loss": loss.detach(), "grad.a": grad}

    def step():
        a = a32.clone().requires_grad_(True)
        _, _, loss = loss_parts(a, u32, w32)
        (grad,) = torch.autograd.grad(loss.sum(), a)
        return grad

    return outputs, step
