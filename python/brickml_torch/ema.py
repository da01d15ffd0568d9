"""Exponential moving average of a model's weights, as @brickml/core's `Ema` (packages/core/src/optim/ema.ts).

    shadow ← d·shadow + (1 − d)·p        after each optimizer step
    d = decay, or min(decay, (1 + t)/(10 + t)) on the t-th update (0-based) with `warmup`

Shadows are keyed by parameter name (and buffer name with `include_buffers`; non-float tensors are
copied), start as copies of the weights, and are written in BrickML's EMA checkpoint layout: one
tensor per name (`ema.safetensors`, which also loads as model weights) plus the JSON half
`{kind: "Ema", version: 1, updates, decay, warmup, includeBuffers}` (`Ema.stateJson()` /
`Ema.loadState`). So an EMA that a BrickML `Trainer` kept continues here, and back.
"""
import contextlib

import torch


class EmaError(ValueError):
    """An EMA state that does not match the model (the message names the tensor)."""


class EMA:
    def __init__(self, named_tensors, decay=0.999, warmup=False, include_buffers=False):
        """`named_tensors`: (name, tensor) pairs to track, e.g. `ema_targets(model, include_buffers)`."""
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay <= 1:
            raise EmaError(f"EMA: option 'decay' expected a number in [0, 1], got {decay!r}")
        if not isinstance(warmup, bool):
            raise EmaError(f"EMA: option 'warmup' expected a boolean, got {warmup!r}")
        self.decay, self.warmup, self.include_buffers = float(decay), warmup, bool(include_buffers)
        self.tracked = list(named_tensors)
        self.shadows = {name: t.detach().clone() for name, t in self.tracked}
        self.updates = 0

    @classmethod
    def for_module(cls, module, decay=0.999, warmup=False, include_buffers=False):
        return cls(ema_targets(module, include_buffers), decay, warmup, include_buffers)

    def current_decay(self):
        t = self.updates
        return min(self.decay, (1 + t) / (10 + t)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self):
        """Folds the current weights into the average (call after each optimizer step)."""
        d = self.current_decay()
        for name, p in self.tracked:
            s = self.shadows[name]
            if not p.is_floating_point():
                s.copy_(p)
            else:
                s.mul_(d).add_(p.detach() * (1 - d))
        self.updates += 1

    @torch.no_grad()
    def copy_to(self, module=None):
        """Copies the averages into the tracked tensors (or into `module`'s, matched by name)."""
        targets = self.tracked if module is None else ema_targets(module, self.include_buffers)
        for name, p in targets:
            if name not in self.shadows:
                raise EmaError(f"EMA.copy_to: module has '{name}', which the EMA does not track")
            p.copy_(self.shadows[name])

    @contextlib.contextmanager
    def averaged(self):
        """Runs the body with the averaged weights in the tracked tensors, then restores them (also on error)."""
        backup = {name: p.detach().clone() for name, p in self.tracked}
        self.copy_to()
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in self.tracked:
                    p.copy_(backup[name])

    def state_entries(self):
        """{name: numpy array} of the averages (BrickML's `ema.safetensors`)."""
        return {name: s.detach().cpu().contiguous().numpy() for name, s in self.shadows.items()}

    def state_json(self):
        return {"kind": "Ema", "version": 1, "updates": self.updates, "decay": self.decay, "warmup": self.warmup, "includeBuffers": self.include_buffers}

    def load_state(self, entries, json_state=None, transform=None):
        """Restores averages from {name: array} (and the update count from `json_state`); validates every
        name and shape first, so a mismatch changes nothing. `transform(name, tensor)` may reshape a saved
        tensor first (e.g. keep a rank's slice of sharded experts)."""
        if json_state is not None:
            if json_state.get("kind") != "Ema":
                raise EmaError(f"EMA.load_state: state JSON is for {json_state.get('kind')!r}, not 'Ema'")
            u = json_state.get("updates")
            if isinstance(u, bool) or not isinstance(u, int) or u < 0:
                raise EmaError(f"EMA.load_state: 'updates' must be an integer ≥ 0, got {u!r}")
        unknown = sorted(set(entries) - set(self.shadows))
        if unknown:
            raise EmaError(f"EMA.load_state: tensor '{unknown[0]}' is not tracked by this EMA")
        missing = sorted(set(self.shadows) - set(entries))
        if missing:
            raise EmaError(f"EMA.load_state: missing {', '.join(repr(m) for m in missing[:8])}")
        staged = {}
        for name, s in self.shadows.items():
            t = torch.as_tensor(entries[name])
            if transform is not None:
                t = transform(name, t)
            if tuple(t.shape) != tuple(s.shape):
                raise EmaError(f"EMA.load_state: '{name}' has shape {list(t.shape)}, expected {list(s.shape)}")
            staged[name] = t
        with torch.no_grad():
            for name, t in staged.items():
                self.shadows[name].copy_(t.to(self.shadows[name]))
        if json_state is not None:
            self.updates = json_state["updates"]


def ema_targets(module, include_buffers=False):
    """(name, tensor) pairs BrickML's Ema tracks: the trainable parameters (`namedParameters`), or with
    `include_buffers` every parameter and buffer (`namedState`: e.g. BYOL's frozen target, BatchNorm's statistics)."""
    if include_buffers:
        return [*module.named_parameters(), *module.named_buffers()]
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


__all__ = ["EMA", "EmaError", "ema_targets"]
