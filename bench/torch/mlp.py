"""Reference for cases/mlp.ts: a 784-256-10 MLP (nn.Linear, ReLU, nn.Linear) loaded with BrickML's
weights (fc1/fc2, PyTorch's [out, in] layout), F.cross_entropy on the same batch, backward,
torch.optim.AdamW (one group, decoupled weight decay)."""
import torch
import torch.nn.functional as F


class Mlp(torch.nn.Module):
    def __init__(self, dim, hidden, out_dim):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.fc2 = torch.nn.Linear(hidden, out_dim)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def build(meta, t):
    n = meta["net"]
    if n["activation"] != "relu":
        raise ValueError(f"bench mlp: the mirror implements relu, the case asks for {n['activation']}")
    net = Mlp(n["dim"], n["hidden"], n["outDim"])
    with torch.no_grad():
        for name, p in net.named_parameters():
            src = t[f"param.{name}"]
            if tuple(src.shape) != tuple(p.shape):
                raise ValueError(f"bench mlp: param.{name} is {tuple(src.shape)}, the mirror expects {tuple(p.shape)}")
            p.copy_(src)
    x, labels = t["in.x"], t["in.labels"].long()
    o = meta["adamw"]
    named = list(net.named_parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weightDecay"])

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        grads = {name: p.grad.detach().clone() for name, p in named}
        opt.step()
        return loss, grads

    def outputs():
        loss, grads = train_step()
        res = {"loss": loss.detach()}
        res.update({f"grad.{name}": g for name, g in grads.items()})
        res.update({f"updated.{name}": p.detach().clone() for name, p in named})
        return res

    def step():
        train_step()

    return outputs, step
