"""BrickML checkpoint directories: `config.json` (the brick config) + `model.safetensors` (every
parameter by dotted name), as packages/core/src/io/checkpoint.ts writes and reads them.

`load(dir)` builds the mirror from the config and loads the weights strictly (every name present,
no extra name, the same shapes); `save(module, dir)` writes both files back in BrickML's layout so
TypeScript's `load(dir)` continues from them. Where a BrickML tensor's layout differs from the
PyTorch parameter's, the mirror class lists it in `brickml_layouts` ({local name: permutation from
BrickML's axes to PyTorch's}); README.md has the table.
"""
import json
import os

import numpy as np
import torch

from . import safetensors
from .registry import build

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that does not exist, is malformed or does not match the model (the message names the file)."""


def _layouts(module):
    """{dotted parameter name: permutation BrickML → PyTorch} for every mirror with `brickml_layouts`."""
    out = {}
    for prefix, m in module.named_modules():
        for local, perm in getattr(type(m), "brickml_layouts", {}).items():
            out[f"{prefix}.{local}" if prefix else local] = tuple(perm)
    return out


def _dtypes(module):
    """{dotted name: numpy dtype of BrickML's file} for tensors whose dtype differs (`brickml_dtypes`, e.g. BatchNorm's int32 counter)."""
    out = {}
    for prefix, m in module.named_modules():
        for local, dt in getattr(type(m), "brickml_dtypes", {}).items():
            out[f"{prefix}.{local}" if prefix else local] = dt
    return out


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def state_from_brickml(module, arrays, where="load_state"):
    """Loads {BrickML name: numpy array} into `module` strictly (names, shapes; layouts converted)."""
    own = module.state_dict()
    layouts = _layouts(module)
    missing = sorted(set(own) - set(arrays))
    extra = sorted(set(arrays) - set(own))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s): {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if extra:
            parts.append(f"unexpected {len(extra)} tensor(s): {', '.join(extra[:8])}{' ...' if len(extra) > 8 else ''}")
        raise CheckpointError(f"{where}: the weights do not match the {type(module).__name__} built from the config: {'; '.join(parts)}")
    state = {}
    for name, ref in own.items():
        arr = arrays[name]
        t = torch.from_numpy(np.require(arr, requirements="C"))  # keeps 0-d arrays 0-d (ascontiguousarray makes them 1-d)
        if name in layouts:
            t = t.permute(*layouts[name]).contiguous()
        if tuple(t.shape) != tuple(ref.shape):
            if name in layouts:
                inv = _inverse(layouts[name])
                want = [int(ref.shape[i]) for i in inv]
                raise CheckpointError(
                    f"{where}: tensor '{name}' has shape {list(arr.shape)} in the file, expected {want} in BrickML's layout "
                    f"(PyTorch's {list(ref.shape)} after permute{tuple(layouts[name])})"
                )
            raise CheckpointError(f"{where}: tensor '{name}' has shape {list(arr.shape)} in the file, expected {list(ref.shape)}")
        state[name] = t.to(ref.dtype)
    module.load_state_dict(state, strict=True)
    return module


def state_to_brickml(module):
    """{BrickML name: numpy array} of `module`'s parameters and buffers, in BrickML's layouts."""
    layouts = _layouts(module)
    dtypes = _dtypes(module)
    out = {}
    for name, t in module.state_dict().items():
        t = t.detach().cpu()
        if name in layouts:
            t = t.permute(*_inverse(layouts[name]))
        out[name] = t.contiguous().numpy()
        if name in dtypes:
            out[name] = out[name].astype(dtypes[name])
    return out


def load(directory):
    """The mirror of a BrickML checkpoint directory, weights loaded, in eval mode."""
    if not os.path.isdir(directory):
        what = "does not exist" if not os.path.exists(directory) else "is a file, not a checkpoint directory (config.json + model.safetensors)"
        raise CheckpointError(f"load: '{directory}' {what}")
    cpath, wpath = os.path.join(directory, CONFIG_FILE), os.path.join(directory, WEIGHTS_FILE)
    for p in (cpath, wpath):
        if not os.path.isfile(p):
            raise CheckpointError(f"load: cannot read '{p}': file not found")
    with open(cpath, "rb") as f:
        try:
            config = json.loads(f.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CheckpointError(f"load: '{cpath}' is not valid UTF-8 JSON ({e})") from e
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise CheckpointError(f"load: '{cpath}' must hold a brick config object with a string \"type\"")
    arrays, meta = safetensors.load_with_metadata(wpath)
    saved = meta.get("brickml_type")
    if saved is not None and saved != config["type"]:
        raise CheckpointError(f"load: '{cpath}' describes a {config['type']} but '{wpath}' was saved from a {saved}")
    module = build(config)
    state_from_brickml(module, arrays, where=f"load: '{wpath}'")
    return module.eval()


def save(module, directory, metadata=None):
    """Writes `module` (a mirror) to `directory` as BrickML's `save` does: weights first, then config.json."""
    if not hasattr(module, "to_config"):
        raise TypeError(f"save: argument 'module' expected a brickml_torch mirror (built by build/load), got {type(module).__name__}")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise CheckpointError(f"save: '{directory}' is a file, not a directory; save writes a checkpoint directory (config.json + model.safetensors)")
    os.makedirs(directory, exist_ok=True)
    config = module.to_config()
    meta = {**(metadata or {}), "format": "brickml", "brickml_type": config["type"]}
    safetensors.save(os.path.join(directory, WEIGHTS_FILE), state_to_brickml(module), meta)
    tmp = os.path.join(directory, CONFIG_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(config, indent=2) + "\n")
    os.replace(tmp, os.path.join(directory, CONFIG_FILE))
    return os.path.join(directory, CONFIG_FILE), os.path.join(directory, WEIGHTS_FILE)
