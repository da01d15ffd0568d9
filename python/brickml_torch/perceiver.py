"""Mirrors of @brickml/attention's Perceiver bricks (packages/attention/src/perceiver/*.ts):
PerceiverEncoder (flat, grouped, and Hierarchical Perceiver levels), PerceiverDecoder, PerceiverIO.

Names as BrickML's (deepmind's): the first level's `latents`, `cross_attend`, `self_attends.<i>`
sit on the encoder itself, further HiP levels under `levels.<i>.`; the decoder has `queries`,
`cross_attend` and `output`; PerceiverIO has `input_position`, `input_adapter`, `encoder`, `decoder`.
"""
import torch
from torch import nn

from .attention import TransformerBlock
from .core import ACTIVATIONS, INITS, Brick, Linear, MLP, check_shape
from .registry import (
    OPTIONAL,
    BrickConfigError,
    Field,
    boolean,
    brick,
    build,
    enum,
    list_of,
    non_negative,
    non_negative_int,
    positive,
    positive_int,
    probability,
    register,
)


def _tblock(kind, dim, heads, mlp_ratio, s, context_dim=None, dim_head=None, query_residual=True):
    c = {
        "type": "TransformerBlock", "dim": dim, "kind": kind, "heads": heads, "mlpRatio": mlp_ratio, "activation": s["activation"],
        "normContext": True, "queryResidual": query_residual, "eps": s["eps"], "qkNorm": s.get("qkNorm", "none"), "rotaryDim": 0,
        "qkvBias": False, "dropout": s.get("dropout", 0), "attnDropout": s.get("attnDropout", 0), "init": s["init"], "zeroInitOutput": False,
    }
    if context_dim is not None:
        c["contextDim"] = context_dim
    if dim_head is not None:
        c["dimHead"] = dim_head
    return TransformerBlock(c)


class PerceiverLevel(nn.Module):
    """Latents [G?, N, D] cross-attend to (grouped) inputs, then self-attention layers (shared `repeats` times)."""

    def __init__(self, s):
        super().__init__()
        self.s = s
        shape = (s["groups"], s["numLatents"], s["latentDim"]) if s["groups"] > 1 else (s["numLatents"], s["latentDim"])
        self.latents = nn.Parameter(torch.randn(*shape) * s["latentInitStd"])
        self.cross_attend = _tblock(
            "cross", s["latentDim"], s["crossHeads"], s["crossMlpRatio"], s, context_dim=s["inputDim"],
            dim_head=s.get("crossDimHead") or max(1, s["inputDim"] // s["crossHeads"]), query_residual=s["queryResidual"],
        )
        self.self_attends = nn.ModuleList(
            _tblock("self", s["latentDim"], s["selfHeads"], s["selfMlpRatio"], s, dim_head=s.get("selfDimHead")) for _ in range(s["selfLayers"])
        )
        self.shared = True

    def forward(self, grouped, mask, batch):  # grouped [B·G, M', C] → [B·G, N, D]
        s = self.s
        lat = self.latents if s["groups"] > 1 else self.latents.unsqueeze(0)  # [G, N, D]
        z = lat.unsqueeze(0).expand(batch, -1, -1, -1).reshape(batch * s["groups"], s["numLatents"], s["latentDim"])
        z = self.cross_attend(z, grouped, key_padding_mask=mask)
        for _ in range(s["repeats"] if self.shared else 1):
            for layer in self.self_attends:
                z = layer(z)
        return z


HIP_LEVEL_FIELDS = {"groups", "numLatents", "latentDim", "heads", "crossHeads", "selfAttends", "mlpRatio"}
HIP_DEFAULTS = {"heads": 8, "crossHeads": 1, "selfAttends": 2, "mlpRatio": 4}


def _hip_level(v):
    if not isinstance(v, dict):
        return "expected a HiP level object"
    extra = sorted(set(v) - HIP_LEVEL_FIELDS)
    if extra:
        return f"expected a HiP level object without field '{extra[0]}' (fields: {', '.join(sorted(HIP_LEVEL_FIELDS))})"
    for k in ("groups", "numLatents", "latentDim"):
        if positive_int(v.get(k)) is not None:
            return f"expected a HiP level whose '{k}' is a positive integer"
    return None


@register
class PerceiverEncoder(Brick):
    """inputs [B, M, inputDim] (+ inputMask [B, M]) → latents [B, outputLatents, outputDim]."""

    brick_type = "PerceiverEncoder"
    fields = {
        "inputDim": Field(positive_int),
        "numLatents": Field(positive_int),
        "latentDim": Field(positive_int),
        "crossHeads": Field(positive_int, 1),
        "crossDimHead": Field(positive_int, OPTIONAL),
        "crossMlpRatio": Field(non_negative, 1),
        "selfHeads": Field(positive_int, 8),
        "selfDimHead": Field(positive_int, OPTIONAL),
        "selfMlpRatio": Field(non_negative, 1),
        "selfAttendsPerBlock": Field(non_negative_int, 2),
        "numBlocks": Field(positive_int, 1),
        "shareWeights": Field(boolean, True),
        "queryResidual": Field(boolean, True),
        "eps": Field(positive, 1e-5),
        "activation": Field(enum(*ACTIVATIONS), "gelu"),
        "qkNorm": Field(enum("none", "layernorm", "rmsnorm"), "none"),
        "dropout": Field(probability, 0),
        "attnDropout": Field(probability, 0),
        "init": Field(enum(*INITS), "xavierUniform"),
        "latentInitStd": Field(positive, 0.02),
        "groups": Field(positive_int, 1),
        "hipLevels": Field(list_of(_hip_level), []),
    }

    def __init__(self, c):
        super().__init__(c)
        prev = c["groups"]
        for i, lvl in enumerate(c["hipLevels"]):
            if prev % lvl["groups"]:
                raise BrickConfigError(f"PerceiverEncoder: config field 'hipLevels.{i}.groups' ({lvl['groups']}) must divide the previous level's groups ({prev})")
            prev = lvl["groups"]
        common = {k: c[k] for k in ("queryResidual", "eps", "activation", "qkNorm", "dropout", "attnDropout", "latentInitStd", "init")}
        first = PerceiverLevel({
            "groups": c["groups"], "numLatents": c["numLatents"], "latentDim": c["latentDim"], "inputDim": c["inputDim"],
            "crossHeads": c["crossHeads"], "crossDimHead": c.get("crossDimHead"), "crossMlpRatio": c["crossMlpRatio"],
            "selfHeads": c["selfHeads"], "selfDimHead": c.get("selfDimHead"), "selfMlpRatio": c["selfMlpRatio"],
            "selfLayers": c["selfAttendsPerBlock"] * (1 if c["shareWeights"] else c["numBlocks"]), "repeats": c["numBlocks"], **common,
        })
        first.shared = c["shareWeights"]
        # The first level's parts live on the encoder itself (BrickML's names); `_first` only runs them.
        self.latents, self.cross_attend, self.self_attends = first.latents, first.cross_attend, first.self_attends
        object.__setattr__(self, "_first", first)  # not a submodule: its parameters are the three above
        levels, prev_dim = [], c["latentDim"]
        for lvl in c["hipLevels"]:
            lv = {**HIP_DEFAULTS, **lvl}
            levels.append(PerceiverLevel({
                "groups": lv["groups"], "numLatents": lv["numLatents"], "latentDim": lv["latentDim"], "inputDim": prev_dim,
                "crossHeads": lv["crossHeads"], "crossMlpRatio": 1, "selfHeads": lv["heads"], "selfMlpRatio": lv["mlpRatio"],
                "selfLayers": lv["selfAttends"], "repeats": 1, **common,
            }))
            prev_dim = lv["latentDim"]
        self.levels = nn.ModuleList(levels)

    @property
    def output_dim(self):
        return self.config["hipLevels"][-1]["latentDim"] if self.config["hipLevels"] else self.config["latentDim"]

    def forward(self, inputs, input_mask=None):
        c = self.config
        check_shape("PerceiverEncoder", "inputs", inputs, [None, None, c["inputDim"]])
        b, m = inputs.shape[0], inputs.shape[1]
        if input_mask is not None:
            check_shape("PerceiverEncoder", "input_mask", input_mask, [b, m])
        g = c["groups"]
        x, mask = inputs, (None if input_mask is None else input_mask != 0)
        per = -(-m // g)
        pad = per * g - m
        if pad > 0:
            x = torch.cat([x, x.new_zeros(b, pad, c["inputDim"])], 1)
            real = mask if mask is not None else torch.ones(b, m, dtype=torch.bool, device=x.device)
            mask = torch.cat([real, torch.zeros(b, pad, dtype=torch.bool, device=x.device)], 1)
        grouped = x.reshape(b * g, per, c["inputDim"]) if g > 1 else x
        gmask = mask.reshape(b * g, per) if mask is not None and g > 1 else mask
        z = self._first(grouped, gmask, b)  # [B·G, N, D]
        pg, pn, pd = g, c["numLatents"], c["latentDim"]
        for level in self.levels:
            s = level.s
            z = level(z.reshape(b * s["groups"], (pg // s["groups"]) * pn, pd), None, b)
            pg, pn, pd = s["groups"], s["numLatents"], s["latentDim"]
        return z.reshape(b, pg * pn, pd)


@register
class PerceiverDecoder(Brick):
    """latents [B, N, latentDim] → outputs [B, O, outDim or queryDim] for learned or given queries."""

    brick_type = "PerceiverDecoder"
    fields = {
        "latentDim": Field(positive_int),
        "queryDim": Field(positive_int),
        "numQueries": Field(positive_int, OPTIONAL),
        "heads": Field(positive_int, 1),
        "dimHead": Field(positive_int, OPTIONAL),
        "mlpRatio": Field(non_negative, 1),
        "queryResidual": Field(boolean, False),
        "outDim": Field(positive_int, OPTIONAL),
        "zeroInitOutput": Field(boolean, False),
        "eps": Field(positive, 1e-5),
        "activation": Field(enum(*ACTIVATIONS), "gelu"),
        "init": Field(enum(*INITS), "xavierUniform"),
        "queryInitStd": Field(positive, 0.02),
    }

    def __init__(self, c):
        super().__init__(c)
        self.queries = nn.Parameter(torch.randn(c["numQueries"], c["queryDim"]) * c["queryInitStd"]) if c.get("numQueries") else None
        self.cross_attend = _tblock(
            "cross", c["queryDim"], c["heads"], c["mlpRatio"], c, context_dim=c["latentDim"],
            dim_head=c.get("dimHead") or max(1, c["latentDim"] // c["heads"]), query_residual=c["queryResidual"],
        )
        self.output = Linear({"type": "Linear", "inFeatures": c["queryDim"], "outFeatures": c["outDim"], "bias": True, "init": c["init"],
                              "initStd": 0.02, "zeroInit": False}) if c.get("outDim") else None

    def forward(self, latents, queries=None, query_indices=None):
        c = self.config
        check_shape("PerceiverDecoder", "latents", latents, [None, None, c["latentDim"]])
        b = latents.shape[0]
        if queries is not None:
            if queries.dim() == 2:
                check_shape("PerceiverDecoder", "queries", queries, [None, c["queryDim"]])
                queries = queries.unsqueeze(0).expand(b, -1, -1)
            else:
                check_shape("PerceiverDecoder", "queries", queries, [b, None, c["queryDim"]])
            q = queries
        else:
            if self.queries is None:
                raise ValueError("PerceiverDecoder: no learned queries (numQueries unset), pass 'queries'")
            table = self.queries if query_indices is None else self.queries[torch.as_tensor(query_indices).long()]
            q = table.unsqueeze(0).expand(b, -1, -1)
        y = self.cross_attend(q, latents)
        return self.output(y) if self.output is not None else y


@register
class PerceiverIO(Brick):
    """[input_position →] [input_adapter →] encoder → decoder; images [B, C, H, W] become [B, H·W, C] first."""

    brick_type = "PerceiverIO"
    fields = {"encoder": Field(brick), "decoder": Field(brick), "inputPosition": Field(brick, None), "inputAdapter": Field(brick, None)}

    def __init__(self, c):
        super().__init__(c)

        def expect(cfg, field, classes):
            m = build(cfg)
            if not isinstance(m, classes):
                names = " or ".join(k.brick_type for k in classes)
                raise BrickConfigError(f"PerceiverIO: config field '{field}' must be a {names} config, got type '{cfg['type']}'")
            return m

        from .attention import FourierPositionEncoding, LearnedPositionEncoding, SinCosPositionEncoding

        positions = (FourierPositionEncoding, LearnedPositionEncoding, SinCosPositionEncoding)
        self.input_position = expect(c["inputPosition"], "inputPosition", positions) if c.get("inputPosition") else None
        self.input_adapter = expect(c["inputAdapter"], "inputAdapter", (MLP, Linear)) if c.get("inputAdapter") else None
        self.encoder = expect(c["encoder"], "encoder", (PerceiverEncoder,))
        self.decoder = expect(c["decoder"], "decoder", (PerceiverDecoder,))
        if self.decoder.config["latentDim"] != self.encoder.output_dim:
            raise BrickConfigError(
                f"PerceiverIO: config field 'decoder.latentDim' ({self.decoder.config['latentDim']}) must equal the encoder's output latent width ({self.encoder.output_dim})"
            )

    def embed_inputs(self, x):
        if x.dim() == 4:
            b, ch, h, w = x.shape
            x = x.reshape(b, ch, h * w).transpose(1, 2)  # [B, H·W, C]
        if self.input_position is not None:
            x = self.input_position(x)
        return self.input_adapter(x) if self.input_adapter is not None else x

    def forward(self, inputs, input_mask=None, queries=None, query_indices=None):
        z = self.encoder(self.embed_inputs(inputs), input_mask)
        return self.decoder(z, queries, query_indices)

    def to_config(self):
        return {
            "type": "PerceiverIO",
            "encoder": self.encoder.to_config(),
            "decoder": self.decoder.to_config(),
            "inputPosition": self.input_position.to_config() if self.input_position is not None else None,
            "inputAdapter": self.input_adapter.to_config() if self.input_adapter is not None else None,
        }
