"""Brick registry and config validation, mirroring packages/core/src/module/registry.ts.

A mirror is an `nn.Module` class with `type` (BrickML's registered type name) and `fields` (one
`Field` per config field, the zod schema's rules and defaults); `build(config)` validates the whole
config first (unknown fields, wrong types and missing required fields fail before any tensor is
made), then constructs the module from the parsed config (every default filled, as BrickML's
`toConfig()` writes it).
"""
import json
import math

_REQUIRED = object()
_OPTIONAL = object()


class BrickConfigError(ValueError):
    """A config that BrickML's schema would reject (the message names the brick, the field, what was expected and what came)."""


def _describe(v):
    if v is _OPTIONAL or v is _REQUIRED:
        return "nothing"
    try:
        s = json.dumps(v)
    except (TypeError, ValueError):
        s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


class Field:
    """One config field: `check(value)` returns None when valid, else what was expected."""

    def __init__(self, check, default=_REQUIRED):
        self.check, self.default = check, default

    @property
    def required(self):
        return self.default is _REQUIRED


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return _is_num(v) and float(v).is_integer()


def positive_int(v):
    return None if _is_int(v) and v > 0 else "expected a positive integer"


def non_negative_int(v):
    return None if _is_int(v) and v >= 0 else "expected a non-negative integer"


def positive(v):
    return None if _is_num(v) and v > 0 else "expected a positive number"


def non_negative(v):
    return None if _is_num(v) and v >= 0 else "expected a non-negative number"


def probability(v):
    return None if _is_num(v) and 0 <= v <= 1 else "expected a number in [0, 1]"


def number(v):
    return None if _is_num(v) else "expected a finite number"


def boolean(v):
    return None if isinstance(v, bool) else "expected a boolean"


def enum(*names):
    def check(v):
        return None if v in names else "expected one of " + " | ".join(repr(n) for n in names)

    return check


def brick(v):
    return None if isinstance(v, dict) and isinstance(v.get("type"), str) else "expected a brick config object with a string 'type'"


def any_of(*checks):
    def check(v):
        errs = [c(v) for c in checks]
        return None if any(e is None for e in errs) else " or ".join(e.replace("expected ", "", 1) if i else e for i, e in enumerate(errs))

    return check


def list_of(item, min_len=0, max_len=None):
    def check(v):
        if not isinstance(v, list) or len(v) < min_len or (max_len is not None and len(v) > max_len):
            n = f"{min_len}..{max_len}" if max_len is not None else f"at least {min_len}"
            return f"expected an array of {n} items"
        for x in v:
            e = item(x)
            if e is not None:
                return f"expected an array whose items are {e.replace('expected ', '', 1)}"
        return None

    return check


def pair(item):
    return list_of(item, 2, 2)


OPTIONAL = _OPTIONAL

_registry = {}

# Bricks BrickML defines that have no PyTorch mirror yet, by the TypeScript package that defines them.
KNOWN_ELSEWHERE = {
    "Conv2d": "@brickml/core",
    "ConvTranspose2d": "@brickml/core",
    "Upsample": "@brickml/core",
    "GroupNorm": "@brickml/core",
    "BatchNorm2d": "@brickml/core",
    "BasicBlock": "@brickml/core",
    "ResNet": "@brickml/core",
    "MaxPool2d": "@brickml/core",
    "AvgPool2d": "@brickml/core",
    "AdaptiveAvgPool2d": "@brickml/core",
    "GRUCell": "@brickml/core",
    "GRU": "@brickml/core",
    "O2PPooling": "@brickml/core",
    "NormalizedCut": "@brickml/core",
    "PerceiverEncoder": "@brickml/attention",
    "PerceiverDecoder": "@brickml/attention",
    "PerceiverIO": "@brickml/attention",
    "FourierPositionEncoding": "@brickml/attention",
    "SinCosPositionEncoding": "@brickml/attention",
    "LearnedPositionEncoding": "@brickml/attention",
    "RotaryEmbedding": "@brickml/attention",
    "FastWeightsRNN": "@brickml/attention",
    "Router": "@brickml/moe",
    "ExpertMLP": "@brickml/moe",
    "MoE": "@brickml/moe",
    "GaussianDiffusion": "@brickml/diffusion",
    "MlpDenoiser": "@brickml/diffusion",
    "TransformerDenoiser": "@brickml/diffusion",
    "UNetDenoiser": "@brickml/diffusion",
    "ShapesClassifier": "@brickml/diffusion",
    "BatchNorm1d": "@brickml/core",
    "ContrastiveRandomWalk": "@brickml/ssl",
    "ViTEncoder": "@brickml/ssl",
    "Transporter": "@brickml/ssl",
    "BYOL": "@brickml/ssl",
    "SimCLR": "@brickml/ssl",
    "ProjectionHead": "@brickml/ssl",
    "MaskedAutoencoder": "@brickml/ssl",
    "IJEPA": "@brickml/ssl",
    "ActorCritic": "@brickml/rl",
    "RecurrentActorCritic": "@brickml/rl",
    "DiscernEmbedding": "@brickml/rl",
    "ConvActorCritic": "@brickml/rl",
    "CarmlEncoder": "@brickml/rl",
}


def register(cls):
    """Class decorator: registers a mirror under its BrickML `type`."""
    existing = _registry.get(cls.brick_type)
    if existing is not None and existing is not cls:
        raise ValueError(f"register: type '{cls.brick_type}' is already registered by {existing.__name__}")
    _registry[cls.brick_type] = cls
    KNOWN_ELSEWHERE.pop(cls.brick_type, None)
    return cls


def registered_bricks():
    """The BrickML types this package mirrors, sorted."""
    return sorted(_registry)


def brick_class(type_name, path=""):
    """The mirror class of a BrickML type; a clear BrickConfigError for types without one."""
    cls = _registry.get(type_name)
    if cls is not None:
        return cls
    where = f" (at '{path}')" if path else ""
    pkg = KNOWN_ELSEWHERE.get(type_name)
    if pkg:
        raise BrickConfigError(
            f"build: brick type '{type_name}'{where} is defined by the TypeScript package {pkg} and has no PyTorch mirror "
            f"in brickml_torch yet; mirrored types: {', '.join(registered_bricks())}"
        )
    raise BrickConfigError(f"build: unknown brick type '{type_name}'{where}; mirrored types: {', '.join(registered_bricks())}")


def parse_config(cls, config, path=""):
    """Validates `config` (with or without `type`) against `cls.fields`; returns a new dict with the
    defaults filled and `type` first. Raises BrickConfigError like BrickML's `parseConfig`."""
    name = f"{cls.brick_type}{f' {path!r}' if path else ''}"
    if not isinstance(config, dict):
        raise BrickConfigError(f"{name}: config must be an object, got {_describe(config)}")
    fields = {k: v for k, v in config.items() if k != "type"}
    if "type" in config and config["type"] != cls.brick_type:
        raise BrickConfigError(f"{name}: config field 'type' expected {cls.brick_type!r}, got {_describe(config['type'])}")
    unknown = [k for k in fields if k not in cls.fields]
    if unknown:
        raise BrickConfigError(
            f"{name}: config field '{unknown[0]}' is not a field of {cls.brick_type} (got {_describe(fields[unknown[0]])}); "
            f"fields: {', '.join(cls.fields)}"
        )
    out = {"type": cls.brick_type}
    for key, field in cls.fields.items():
        if key not in fields:
            if field.required:
                raise BrickConfigError(f"{name}: config field '{key}' is required (got nothing)")
            if field.default is not _OPTIONAL:
                out[key] = json.loads(json.dumps(field.default))  # a fresh copy of lists
            continue
        value = fields[key]
        if value is None and field.default is _OPTIONAL:
            continue
        if value is None and field.default is None:  # zod's .nullable().default(null)
            out[key] = None
            continue
        err = field.check(value)
        if err is not None:
            raise BrickConfigError(f"{name}: config field '{key}' {err} (got {_describe(value)})")
        out[key] = value
    return out


def validate(config, path=""):
    """Validates a config and every brick config nested in it (fields holding `{type, ...}` objects
    or lists of them), so that a bad leaf fails before any sibling is built."""
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise BrickConfigError(f"build: config{f' at {path!r}' if path else ''} must be an object with a string 'type', got {_describe(config)}")
    cls = brick_class(config["type"], path)
    parse_config(cls, config, path)
    for key, value in config.items():
        items = [(f"{key}.{i}", v) for i, v in enumerate(value)] if isinstance(value, list) else [(key, value)]
        for sub, v in items:
            if isinstance(v, dict) and isinstance(v.get("type"), str):
                validate(v, f"{path}.{sub}" if path else sub)


def build(config):
    """The PyTorch mirror of a BrickML brick config (a dict or a JSON string), in eval mode."""
    if isinstance(config, (str, bytes)):
        config = json.loads(config)
    validate(config)
    cls = brick_class(config["type"])
    module = cls(parse_config(cls, config))
    return module.eval()
