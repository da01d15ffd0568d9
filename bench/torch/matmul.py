"""Reference for cases/matmul.ts: torch.matmul of the same two tensors (mm or bmm)."""
import torch


def build(meta, t):
    a, b = t["in.a"], t["in.b"]

    def outputs():
        return {"c": torch.matmul(a, b)}

    def step():
        torch.matmul(a, b)

    return outputs, step
