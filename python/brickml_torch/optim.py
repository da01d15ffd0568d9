"""BrickML's AdamW, weight-decay rule and learning-rate schedules (packages/core/src/optim/), in PyTorch.

`AdamW` keeps its state by parameter *name* (as BrickML's optimizers do) and writes it in BrickML's
optimizer-checkpoint layout: tensors `exp_avg.<name>`, `exp_avg_sq.<name>` plus the JSON half
(`kind`, `version`, `step`, `paramSteps`, `options`), which TypeScript's `AdamW.loadState` reads.
"""
import math
import re

import torch


def no_decay_for_bias_and_norm(name, p):
    """BrickML's `noDecayForBiasAndNorm` (core optim/optimizer.ts): rank ≤ 1, biases, norms and embeddings."""
    if p.dim() <= 1:
        return True
    segs = [s for s in name.split(".") if s]
    last, owner = segs[-1], (segs[-2] if len(segs) > 1 else "")
    if last == "bias" or "norm" in owner or re.match(r"^ln(_|\d|$)", owner):
        return True

    def is_embed(s):
        return "embed" in s or re.search(r"(^|_)emb(s)?(_|$)", s) is not None or s in ("wte", "wpe")

    return is_embed(last) or is_embed(owner)


SCHEDULE_KINDS = ("constant", "warmupCosine", "linearWarmup", "warmupLinearDecay")


def make_schedule(config):
    """`step → lr` exactly as BrickML's `makeSchedule` (0-based steps; the same validation messages)."""
    if isinstance(config, (int, float)) and not isinstance(config, bool):
        config = {"kind": "constant", "lr": config}
    if not isinstance(config, dict):
        raise ValueError(f"makeSchedule: config must be an object with a 'kind', got {config!r}")
    kind = config.get("kind")

    def rate(field, default=None):
        v = config.get(field, default)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            raise ValueError(f"makeSchedule({kind}): '{field}' must be a finite number ≥ 0, got {v!r}")
        return float(v)

    def steps(field, lo):
        v = config.get(field)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ValueError(f"makeSchedule({kind}): '{field}' must be an integer ≥ {lo}, got {v!r}")
        return v

    def warmup(step, warm):
        return (step + 1) / warm if step < warm else 1.0

    if kind == "constant":
        lr = rate("lr")
        return lambda step: lr
    if kind == "linearWarmup":
        peak, warm = rate("peakLr"), steps("warmupSteps", 0)
        return lambda step: peak * warmup(step, warm)
    if kind in ("warmupCosine", "warmupLinearDecay"):
        peak, lo, warm, total = rate("peakLr"), rate("minLr", 0), steps("warmupSteps", 0), steps("totalSteps", 1)
        if warm > total:
            raise ValueError(f"makeSchedule({kind}): 'warmupSteps' ({warm}) must be ≤ 'totalSteps' ({total})")
        if lo > peak:
            raise ValueError(f"makeSchedule({kind}): 'minLr' ({lo}) must be ≤ 'peakLr' ({peak})")
        cosine = kind == "warmupCosine"

        def f(step):
            if step < warm:
                return peak * warmup(step, warm)
            if step >= total:
                return lo
            progress = (step - warm) / (total - warm)
            shape = 0.5 * (1 + math.cos(math.pi * progress)) if cosine else 1 - progress
            return lo + (peak - lo) * shape

        return f
    raise ValueError(f"makeSchedule: unknown 'kind' {kind!r} (expected one of {', '.join(SCHEDULE_KINDS)})")


class AdamW:
    """AdamW as BrickML's (= torch.optim.AdamW without amsgrad), state keyed by parameter name:

        p ← p·(1 − lr·wd)            (skipped for no-decay parameters)
        m ← β1·m + (1 − β1)·g ;  v ← β2·v + (1 − β2)·g²
        p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)

    `t` is the parameter's own update count; `lr` is the schedule at the global step.
    """

    def __init__(self, named_parameters, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, no_decay=no_decay_for_bias_and_norm):
        self.params = [(n, p) for n, p in named_parameters if p.requires_grad]
        self.schedule = make_schedule(lr)
        self.betas, self.eps, self.weight_decay = (float(betas[0]), float(betas[1])), float(eps), float(weight_decay)
        self.no_decay = {n for n, p in self.params if no_decay is not None and no_decay(n, p)}
        self.step_count = 0
        self.state = {}  # name → {"step": int, "exp_avg": tensor, "exp_avg_sq": tensor}

    def zero_grad(self):
        for _, p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        lr = self.schedule(self.step_count)
        b1, b2 = self.betas
        for name, p in self.params:
            if p.grad is None:
                continue
            g = p.grad
            st = self.state.get(name)
            if st is None:
                st = self.state[name] = {"step": 0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
            st["step"] += 1
            t = st["step"]
            if name not in self.no_decay and self.weight_decay > 0:
                p.mul_(1 - lr * self.weight_decay)
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m.mul_(b1).add_(g * (1 - b1))
            v.mul_(b2).add_(g.square() * (1 - b2))
            denom = v.sqrt().div_(math.sqrt(1 - b2**t)).add_(self.eps)
            p.sub_(m.div(denom).mul_(lr / (1 - b1**t)))
        self.step_count += 1
        return lr

    def state_entries(self):
        """{`exp_avg.<name>` / `exp_avg_sq.<name>`: numpy array} in BrickML's optimizer-checkpoint layout."""
        out = {}
        for name, st in self.state.items():
            out[f"exp_avg.{name}"] = st["exp_avg"].detach().cpu().contiguous().numpy()
            out[f"exp_avg_sq.{name}"] = st["exp_avg_sq"].detach().cpu().contiguous().numpy()
        return out

    def state_json(self):
        """The JSON half BrickML's `Optimizer.loadState` reads."""
        return {
            "kind": "AdamW",
            "version": 1,
            "step": self.step_count,
            "paramSteps": {n: st["step"] for n, st in self.state.items()},
            "options": {"betas": list(self.betas), "eps": self.eps, "weightDecay": self.weight_decay},
        }

    def load_state(self, entries, json_state):
        """Restores `state_entries()` + `state_json()` (e.g. written by BrickML's AdamW)."""
        if json_state.get("kind") != "AdamW":
            raise ValueError(f"AdamW.load_state: the checkpoint is a {json_state.get('kind')!r} optimizer, expected 'AdamW'")
        params = dict(self.params)
        self.state = {}
        for name, t in json_state.get("paramSteps", {}).items():
            if name not in params:
                raise ValueError(f"AdamW.load_state: state for '{name}', which is not a parameter of this model")
            p = params[name]
            self.state[name] = {
                "step": int(t),
                "exp_avg": torch.as_tensor(entries[f"exp_avg.{name}"]).to(p).clone(),
                "exp_avg_sq": torch.as_tensor(entries[f"exp_avg_sq.{name}"]).to(p).clone(),
            }
        self.step_count = int(json_state["step"])
