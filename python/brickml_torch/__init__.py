"""brickml_torch: PyTorch mirrors of BrickML's registered bricks.

    import brickml_torch
    net = brickml_torch.load("checkpoints/rin")          # config.json + model.safetensors from TypeScript
    net = brickml_torch.build(config_json)               # a mirror from a brick config (dict or JSON string)
    brickml_torch.save(net, "checkpoints/rin-torch")     # back in BrickML's layout, for TypeScript's load(dir)

Importing the package registers every mirror (core incl. conv, recurrent and spectral bricks, attention incl. FastWeightsRNN, moe,
the diffusion denoisers and GaussianDiffusion, the model bricks of ssl and rl); `registered_bricks()`
lists them. A BrickML type without a mirror fails with the TypeScript package that defines it.
"""
from . import attention, conv, core, diffusion, fast_weights, linalg, moe, perceiver, recurrent, rl, ssl  # noqa: F401  (registers the mirrors)
from .checkpoint import CheckpointError, load, save, state_from_brickml, state_to_brickml
from .ema import EMA
from .registry import BrickConfigError, brick_class, build, parse_config, registered_bricks

__version__ = "0.1.0"

__all__ = [
    "BrickConfigError",
    "CheckpointError",
    "EMA",
    "brick_class",
    "build",
    "load",
    "parse_config",
    "registered_bricks",
    "save",
    "state_from_brickml",
    "state_to_brickml",
]
