"""Reference for cases/rin.ts (the network itself is brickml_torch's RinNetwork mirror).

- meta.case == "train": one step of forward, MSE against a fixed target, backward and
  torch.optim.AdamW (two groups: decayed / not decayed by BrickML's `noDecayForBiasAndNorm`).
- meta.case == "ddim": the flagship sampling path of @brickml/diffusion (samplers/common.ts,
  samplers/ddim.ts, GaussianDiffusion.denoise): T steps t_k = 1 − k/T, γ on the host in float64,
  classifier-free guidance on a doubled batch, x̂0 clipped to [−b, b], ε̂ recomputed from it,
  self-conditioning latents carried when the network takes them, deterministic DDIM (η = 0).
"""
import math
import re

import torch

import brickml_torch


def load_rin(config, tensors, prefix="param."):
    """brickml_torch's RinNetwork for BrickML's parsed config, the `param.*` tensors loaded strictly."""
    net = brickml_torch.build({**config, "type": "RinNetwork"})
    arrays = {k[len(prefix):]: v.detach().cpu().numpy() for k, v in tensors.items() if k.startswith(prefix)}
    device = next(iter(tensors.values())).device
    return brickml_torch.state_from_brickml(net, arrays, where="bench rin").to(device)


def build(meta, t):
    return {"train": build_train, "ddim": build_ddim}[meta["case"]](meta, t)


# ---- training step -------------------------------------------------------------------------


def no_decay(name, p):
    """BrickML's `noDecayForBiasAndNorm` (core optim/optimizer.ts)."""
    if p.dim() <= 1:
        return True
    segs = name.lower().split(".")
    last, owner = segs[-1], (segs[-2] if len(segs) > 1 else "")
    if last == "bias" or "norm" in owner or re.match(r"ln(_|\d|$)", owner):
        return True

    def is_embed(s):
        return "embed" in s or re.search(r"(^|_)emb(s)?(_|$)", s) is not None or s in ("wte", "wpe")

    return is_embed(last) or is_embed(owner)


def build_train(meta, t):
    net = load_rin(meta["config"], t)
    net.train()
    x, target, noise_level = t["in.x"], t["in.target"], t["in.noiseLevel"]
    o = meta["adamw"]
    assert meta["noDecay"] == "noDecayForBiasAndNorm", meta["noDecay"]
    named = list(net.named_parameters())
    decay = [p for n, p in named if not no_decay(n, p)]
    plain = [p for n, p in named if no_decay(n, p)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weightDecay"]}, {"params": plain, "weight_decay": 0.0}],
        lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"],
    )

    def train_step():
        opt.zero_grad(set_to_none=True)
        out, _ = net(x, noise_level)
        loss = torch.mean(torch.square(out - target))
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in named}
        opt.step()
        return loss, grads

    def outputs():
        loss, grads = train_step()
        res = {"loss": loss.detach()}
        res.update({f"grad.{n}": g for n, g in grads.items()})
        res.update({f"updated.{n}": p.detach().clone() for n, p in named})
        return res

    def step():
        loss, _ = train_step()
        loss.item()

    return outputs, step


# ---- DDIM sampling ---------------------------------------------------------------------------


def gamma_fn(s):
    """γ(t) clipped to [1e-9, 1], float64 (diffusion schedules.ts)."""
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731

    def raw(t):
        if s["kind"] == "cosine":
            return math.cos(((t + 2e-4) / (1 + 2.5e-4)) * (math.pi / 2)) ** 2
        if s["kind"] == "linear":
            return 1 - t
        v0, v1 = sig(s["start"] / s["tau"]), sig(s["end"] / s["tau"])
        return (v1 - sig((t * (s["end"] - s["start"]) + s["start"]) / s["tau"])) / (v1 - v0)

    return lambda t: min(1.0, max(1e-9, raw(t)))


def f32(v):
    return torch.tensor(v, dtype=torch.float32)


def build_ddim(meta, t):
    d, c = meta["diffusion"], meta["denoiser"]
    net = load_rin(c, t)
    net.eval()
    noise = t["in.noise"]  # [n, C, H, W] x_1
    classes = t["in.classes"].long()  # [n]
    n = noise.shape[0]
    steps, w, eta, td = meta["steps"], float(meta["guidance"]), float(meta["eta"]), float(meta.get("timeDifference", 0))
    objective, bs, null = d["objective"], float(d["inputScale"]), c["numClasses"]
    gamma = gamma_fn(d["schedule"])
    times = [(1 - k / steps, max(1 - (k + 1 + td) / steps, 0)) for k in range(steps)]
    guided = w != 0
    keep_at = meta.get("intermediateStep")
    if eta != 0:
        raise NotImplementedError("η > 0 draws noise from BrickML's host generator; the mirror covers η = 0")

    def to_eps(pred, xt, sg, sn):  # objectives.ts predictionToEps
        if objective == "eps":
            return pred
        if objective == "x0":
            return (xt - sg * pred) / sn
        return sn * xt + sg * pred

    def to_x0(pred, xt, sg, sn):  # objectives.ts predictionToX0
        if objective == "eps":
            return (xt - sn * pred) / sg
        if objective == "x0":
            return pred
        return sg * xt - sn * pred

    def net_input(xt):
        if not d["normalizeNoisyInput"]:
            return xt
        var = torch.var(xt, dim=tuple(range(1, xt.dim())), unbiased=False, keepdim=True)
        return xt / torch.sqrt(var + 1e-8)

    def denoise(xt, g, prev):
        """GaussianDiffusion.denoise: (clipped x̂0, ε̂ from it, latents)."""
        gb = torch.full((n,), g, dtype=torch.float32)  # [n]
        x_in, g_in, cls = xt, gb, classes
        if guided:
            x_in, g_in = torch.cat([xt, xt]), torch.cat([gb, gb])
            cls = torch.cat([classes, torch.full((n,), null, dtype=torch.long)])
        pred, latents = net(net_input(x_in), g_in, cls, prev)
        gr = gb.reshape(n, 1, 1, 1)
        sg, sn = torch.sqrt(gr), torch.sqrt(torch.clamp(1 - gr, min=1e-12))
        if guided:
            pc, pu = pred.chunk(2)
            eps = to_eps(pc, xt, sg, sn) * f32(1 + w) - to_eps(pu, xt, sg, sn) * f32(w)
            x0 = (xt - sn * eps) / sg
        else:
            x0 = to_x0(pred, xt, sg, sn)
        x0 = torch.clamp(x0, -bs, bs)
        eps = (xt - sg * x0) / sn
        return x0, eps, (latents if c["selfCondition"] else None)

    def sample():
        xt, prev, kept = noise.clone(), None, None
        with torch.no_grad():
            for k, (tk, tn) in enumerate(times):
                g, gn = gamma(tk), gamma(tn)
                x0, eps, latents = denoise(xt, g, prev)
                if keep_at == k + 1:
                    kept = x0 / f32(bs)
                if k == steps - 1:
                    return x0 / f32(bs), kept
                # DDIM, η = 0: x_next = √γ_next·x̂0 + √(1 − γ_next)·ε̂ (samplers/ddim.ts)
                xt = x0 * f32(math.sqrt(gn)) + eps * f32(math.sqrt(max(0, 1 - gn)))
                prev = latents

    def outputs():
        samples, kept = sample()
        out = {"samples": samples}
        if kept is not None:
            out[f"x0.step{keep_at}"] = kept
        return out

    def step():
        sample()

    return outputs, step
