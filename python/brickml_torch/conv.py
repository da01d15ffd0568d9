"""Mirrors of @brickml/core's image bricks (packages/core/src/bricks/conv/): `GroupNorm`, `BatchNorm2d`, `BatchNorm1d`,
`MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`, `ConvTranspose2d`, `Upsample`, `BasicBlock`, `ResNet`.

Like BrickML's (and the `Conv2d` mirror in core.py) they are channels-last: feature maps are
`[N, H, W, C]`, permuted to PyTorch's `[N, C, H, W]` inside `forward` and back. Parameter and
buffer names are PyTorch's / torchvision's (`bn1.running_mean`, `layer2.0.downsample.0.weight`).

Layouts that differ from PyTorch's (README.md's table):
- `ConvTranspose2d.weight`: BrickML `[kh, kw, Cout/groups, Cin]`, PyTorch `[Cin, Cout/groups, kh, kw]`
  (load permutes (3, 2, 0, 1), save permutes back).
- `BatchNorm2d.num_batches_tracked`: int32 in BrickML's files, int64 in PyTorch (`brickml_dtypes`).
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .core import Brick, Conv2d, _pair, check_shape
from .registry import (
    OPTIONAL,
    BrickConfigError,
    Field,
    any_of,
    boolean,
    enum,
    list_of,
    non_negative_int,
    pair,
    parse_config,
    positive,
    positive_int,
    register,
)

SIZE2 = any_of(positive_int, pair(positive_int))
PAD2 = any_of(non_negative_int, pair(non_negative_int))
CONV_IMPLS = ("auto", "native", "hybrid", "im2col", "conv3d")


def _nchw(x):  # [N, H, W, C] → [N, C, H, W]
    return x.permute(0, 3, 1, 2)


def _nhwc(x):  # [N, C, H, W] → [N, H, W, C]
    return x.permute(0, 2, 3, 1)


def momentum_or_null(v):
    return None if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1) else "expected a number in [0, 1] or null"


@register
class GroupNorm(Brick):
    """`nn.GroupNorm` channels last: x [N, ..., C], contiguous groups of C/numGroups channels normalised over
    those channels and every position (biased variance); `weight`, `bias` [C]."""

    brick_type = "GroupNorm"
    fields = {
        "numGroups": Field(positive_int),
        "numChannels": Field(positive_int),
        "eps": Field(positive, 1e-5),
        "affine": Field(boolean, True),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["numChannels"] % c["numGroups"]:
            raise BrickConfigError(f"GroupNorm: config field 'numChannels' {c['numChannels']} must be divisible by numGroups {c['numGroups']}")
        C = c["numChannels"]
        self.weight = nn.Parameter(torch.ones(C)) if c["affine"] else None
        self.bias = nn.Parameter(torch.zeros(C)) if c["affine"] else None

    def forward(self, x):  # [N, ..., C] → same shape
        c = self.config
        check_shape("GroupNorm", "x", x, [None, c["numChannels"]] if x.dim() < 2 else ["...", c["numChannels"]])
        if x.dim() == 2:
            return F.group_norm(x, c["numGroups"], self.weight, self.bias, c["eps"])
        perm = [0, x.dim() - 1, *range(1, x.dim() - 1)]  # channels to axis 1
        back = [0, *range(2, x.dim()), 1]
        y = F.group_norm(x.permute(*perm), c["numGroups"], self.weight, self.bias, c["eps"])
        return y.permute(*back)


class _BatchNorm(Brick):
    """PyTorch's batch norm over every axis but the last (channels last), BrickML's `batchNormForward`:
    batch statistics in training mode (and with `trackRunningStats` `running_mean`/`running_var` move by
    `momentum`, None: cumulative average, towards the batch mean and unbiased variance, counting calls in
    `num_batches_tracked`); the running statistics in evaluation mode."""

    brickml_dtypes = {"num_batches_tracked": np.int32}
    fields = {
        "numFeatures": Field(positive_int),
        "eps": Field(positive, 1e-5),
        "momentum": Field(momentum_or_null, 0.1),
        "affine": Field(boolean, True),
        "trackRunningStats": Field(boolean, True),
    }

    def __init__(self, c):
        super().__init__(c)
        C = c["numFeatures"]
        self.weight = nn.Parameter(torch.ones(C)) if c["affine"] else None
        self.bias = nn.Parameter(torch.zeros(C)) if c["affine"] else None
        if c["trackRunningStats"]:
            self.register_buffer("running_mean", torch.zeros(C))
            self.register_buffer("running_var", torch.ones(C))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def _normalize(self, x, given):  # x [N, C, ...] (PyTorch's layout); `given`: the caller's shape, for errors
        c = self.config
        count = x.numel() // x.shape[1]
        if self.training and count < 2:
            raise ValueError(f"{self.brick_type}: expected more than 1 value per channel in training mode, got x {list(given)}")
        factor = 0.0
        if self.training and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if c["momentum"] is None else c["momentum"]
        use_batch = self.training or self.running_mean is None  # batch statistics (PyTorch's rule)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch, factor, c["eps"])


@register
class BatchNorm2d(_BatchNorm):
    """`nn.BatchNorm2d` channels last: x [N, H, W, C] → [N, H, W, C] (see `_BatchNorm`)."""

    brick_type = "BatchNorm2d"

    def forward(self, x):
        check_shape("BatchNorm2d", "x", x, [None, None, None, self.config["numFeatures"]])
        return _nhwc(self._normalize(_nchw(x), x.shape))


@register
class BatchNorm1d(_BatchNorm):
    """`nn.BatchNorm1d` on features: x [N, C] → [N, C] (see `_BatchNorm`)."""

    brick_type = "BatchNorm1d"

    def forward(self, x):
        check_shape("BatchNorm1d", "x", x, [None, self.config["numFeatures"]])
        return self._normalize(x, x.shape)


def _stride(c):
    return _pair(c["stride"]) if c.get("stride") is not None else _pair(c["kernelSize"])


def _check_pool_padding(name, c):
    k, p = _pair(c["kernelSize"]), _pair(c["padding"])
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise BrickConfigError(f"{name}: config field 'padding' {c['padding']} must be at most half the kernel size {c['kernelSize']}")


POOL_FIELDS = {"kernelSize": Field(SIZE2), "stride": Field(SIZE2, OPTIONAL), "padding": Field(PAD2, 0)}


@register
class MaxPool2d(Brick):
    """x [N, H, W, C] → [N, Ho, Wo, C]: max over windows (floor sizes, padding as −∞)."""

    brick_type = "MaxPool2d"
    fields = {**POOL_FIELDS, "impl": Field(enum("auto", "native", "taps"), "auto")}

    def __init__(self, c):
        super().__init__(c)
        _check_pool_padding("MaxPool2d", c)

    def forward(self, x):
        check_shape("MaxPool2d", "x", x, [None, None, None, None])
        c = self.config
        return _nhwc(F.max_pool2d(_nchw(x), _pair(c["kernelSize"]), _stride(c), _pair(c["padding"])))


@register
class AvgPool2d(Brick):
    """x [N, H, W, C] → [N, Ho, Wo, C]: mean over windows (floor sizes; padded zeros counted with `countIncludePad`)."""

    brick_type = "AvgPool2d"
    fields = {**POOL_FIELDS, "countIncludePad": Field(boolean, True)}

    def __init__(self, c):
        super().__init__(c)
        _check_pool_padding("AvgPool2d", c)

    def forward(self, x):
        check_shape("AvgPool2d", "x", x, [None, None, None, None])
        c = self.config
        y = F.avg_pool2d(_nchw(x), _pair(c["kernelSize"]), _stride(c), _pair(c["padding"]), count_include_pad=c["countIncludePad"])
        return _nhwc(y)


@register
class AdaptiveAvgPool2d(Brick):
    """x [N, H, W, C] → [N, oh, ow, C] with PyTorch's bins (start floor(i·H/oh), end ceil((i+1)·H/oh))."""

    brick_type = "AdaptiveAvgPool2d"
    fields = {"outputSize": Field(SIZE2, 1)}

    def forward(self, x):
        check_shape("AdaptiveAvgPool2d", "x", x, [None, None, None, None])
        return _nhwc(F.adaptive_avg_pool2d(_nchw(x), _pair(self.config["outputSize"])))


@register
class ConvTranspose2d(Brick):
    """`nn.ConvTranspose2d` channels last: x [N, H, W, Cin] → [N, (H − 1)·s − 2p + d·(k − 1) + outputPadding + 1, …, Cout].

    BrickML stores `weight` as [kh, kw, Cout/groups, Cin]; the PyTorch parameter is [Cin, Cout/groups, kh, kw]."""

    brick_type = "ConvTranspose2d"
    brickml_layouts = {"weight": (3, 2, 0, 1)}
    fields = {
        "inChannels": Field(positive_int),
        "outChannels": Field(positive_int),
        "kernelSize": Field(SIZE2),
        "stride": Field(SIZE2, 1),
        "dilation": Field(SIZE2, 1),
        "groups": Field(positive_int, 1),
        "bias": Field(boolean, True),
        "init": Field(enum("truncNormal", "xavierUniform", "kaimingUniform", "normal", "zeros"), "kaimingUniform"),
        "initStd": Field(positive, 0.02),
        "biasInit": Field(enum("uniform", "zeros"), OPTIONAL),
        "zeroInit": Field(boolean, False),
        "impl": Field(enum(*CONV_IMPLS), "auto"),
        "padding": Field(PAD2, 0),
        "outputPadding": Field(PAD2, 0),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["inChannels"] % c["groups"] or c["outChannels"] % c["groups"]:
            raise BrickConfigError(f"ConvTranspose2d: config field 'groups' ({c['groups']}) must divide inChannels ({c['inChannels']}) and outChannels ({c['outChannels']})")
        s, d, op = _pair(c["stride"]), _pair(c["dilation"]), _pair(c["outputPadding"])
        if op[0] >= max(s[0], d[0]) or op[1] >= max(s[1], d[1]):
            raise BrickConfigError(f"ConvTranspose2d: config field 'outputPadding' {c['outputPadding']} must be smaller than the stride {c['stride']} or the dilation")
        conv = nn.ConvTranspose2d(c["inChannels"], c["outChannels"], _pair(c["kernelSize"]), groups=c["groups"], bias=c["bias"])
        self.weight = conv.weight  # [Cin, Cout/groups, kh, kw]
        self.bias = conv.bias

    def forward(self, x):  # [N, H, W, Cin] → [N, Ho, Wo, Cout]
        c = self.config
        check_shape("ConvTranspose2d", "x", x, [None, None, None, c["inChannels"]])
        y = F.conv_transpose2d(
            _nchw(x), self.weight, self.bias, stride=_pair(c["stride"]), padding=_pair(c["padding"]),
            output_padding=_pair(c["outputPadding"]), groups=c["groups"], dilation=_pair(c["dilation"]),
        )
        return _nhwc(y)


@register
class Upsample(Brick):
    """x [N, H, W, C] → [N, fh·H, fw·W, C]: `nearest` copies or `bilinear` (align_corners=False)."""

    brick_type = "Upsample"
    fields = {"scaleFactor": Field(SIZE2, 2), "mode": Field(enum("nearest", "bilinear"), "nearest")}

    def forward(self, x):
        check_shape("Upsample", "x", x, [None, None, None, None])
        fh, fw = _pair(self.config["scaleFactor"])
        size = (x.shape[1] * fh, x.shape[2] * fw)
        if self.config["mode"] == "nearest":
            return _nhwc(F.interpolate(_nchw(x), size=size, mode="nearest"))
        return _nhwc(F.interpolate(_nchw(x), size=size, mode="bilinear", align_corners=False))


def _conv(cin, cout, k, stride, impl):
    cfg = {"inChannels": cin, "outChannels": cout, "kernelSize": k, "stride": stride, "padding": 1 if k == 3 else 0, "bias": False, "impl": impl}
    return Conv2d(parse_config(Conv2d, cfg))


def _norm(kind, channels, groups):
    if kind == "batch":
        return BatchNorm2d(parse_config(BatchNorm2d, {"numFeatures": channels}))
    return GroupNorm(parse_config(GroupNorm, {"numGroups": groups, "numChannels": channels}))


NORM_KIND = enum("batch", "group")


@register
class BasicBlock(Brick):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x)), 3×3 convs without bias; x [N, H, W, Cin] → [N, H/s, W/s, Cout]."""

    brick_type = "BasicBlock"
    fields = {
        "inChannels": Field(positive_int),
        "outChannels": Field(positive_int),
        "stride": Field(positive_int, 1),
        "norm": Field(NORM_KIND, "batch"),
        "normGroups": Field(positive_int, 8),
        "zeroInitResidual": Field(boolean, False),
        "impl": Field(enum(*CONV_IMPLS), "auto"),
    }

    def __init__(self, c):
        super().__init__(c)
        if c["norm"] == "group" and c["outChannels"] % c["normGroups"]:
            raise BrickConfigError(f"BasicBlock: config field 'normGroups' {c['normGroups']} must divide outChannels {c['outChannels']}")
        o = c["outChannels"]
        self.conv1 = _conv(c["inChannels"], o, 3, c["stride"], c["impl"])
        self.bn1 = _norm(c["norm"], o, c["normGroups"])
        self.conv2 = _conv(o, o, 3, 1, c["impl"])
        self.bn2 = _norm(c["norm"], o, c["normGroups"])
        if c["zeroInitResidual"] and self.bn2.weight is not None:
            nn.init.zeros_(self.bn2.weight)
        if c["stride"] != 1 or c["inChannels"] != o:
            self.downsample = nn.ModuleList([_conv(c["inChannels"], o, 1, c["stride"], c["impl"]), _norm(c["norm"], o, c["normGroups"])])
        else:
            self.downsample = None

    def forward(self, x):  # [N, H, W, Cin] → [N, Ho, Wo, Cout]
        check_shape("BasicBlock", "x", x, [None, None, None, self.config["inChannels"]])
        h = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(h))
        shortcut = self.downsample[1](self.downsample[0](x)) if self.downsample is not None else x
        return F.relu(y + shortcut)


@register
class ResNet(Brick):
    """torchvision-style ResNet encoder of BasicBlocks, channels last: [N, H, W, inChannels] → [N, C] (pooled) or [N, h, w, C]."""

    brick_type = "ResNet"
    fields = {
        "inChannels": Field(positive_int, 3),
        "stem": Field(enum("imagenet", "cifar"), "imagenet"),
        "stemWidth": Field(positive_int, OPTIONAL),
        "widths": Field(list_of(positive_int, 1, 4), [64, 128, 256, 512]),
        "blocksPerStage": Field(list_of(positive_int, 1, 4), [2, 2, 2, 2]),
        "strides": Field(list_of(positive_int, 1, 4), [1, 2, 2, 2]),
        "norm": Field(NORM_KIND, "batch"),
        "normGroups": Field(positive_int, 8),
        "zeroInitResidual": Field(boolean, False),
        "output": Field(enum("pooled", "featureMap"), "pooled"),
        "impl": Field(enum(*CONV_IMPLS), "auto"),
    }

    def __init__(self, c):
        super().__init__(c)
        s = len(c["widths"])
        if len(c["blocksPerStage"]) != s or len(c["strides"]) != s:
            raise BrickConfigError(
                f"ResNet: config fields 'widths', 'blocksPerStage' and 'strides' must have the same length, got {s}, {len(c['blocksPerStage'])} and {len(c['strides'])}"
            )
        stem_width = c.get("stemWidth") or c["widths"][0]
        for w in [stem_width, *c["widths"]]:
            if c["norm"] == "group" and w % c["normGroups"]:
                raise BrickConfigError(f"ResNet: config field 'normGroups' {c['normGroups']} must divide every width, got {w}")
        big = c["stem"] == "imagenet"
        cfg = {"inChannels": c["inChannels"], "outChannels": stem_width, "kernelSize": 7 if big else 3, "stride": 2 if big else 1, "padding": 3 if big else 1, "bias": False, "impl": c["impl"]}
        self.conv1 = Conv2d(parse_config(Conv2d, cfg))
        self.bn1 = _norm(c["norm"], stem_width, c["normGroups"])
        cin = stem_width
        stages = []
        for i in range(s):
            blocks = []
            for j in range(c["blocksPerStage"][i]):
                bc = {"inChannels": cin, "outChannels": c["widths"][i], "stride": c["strides"][i] if j == 0 else 1, "norm": c["norm"],
                      "normGroups": c["normGroups"], "zeroInitResidual": c["zeroInitResidual"], "impl": c["impl"]}
                blocks.append(BasicBlock(parse_config(BasicBlock, bc)))
                cin = c["widths"][i]
            stages.append(nn.ModuleList(blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = [stages[i] if i < s else nn.ModuleList() for i in range(4)]

    def forward(self, x, output=None):
        c = self.config
        check_shape("ResNet", "x", x, [None, None, None, c["inChannels"]])
        output = output or c["output"]
        if output not in ("pooled", "featureMap"):
            raise ValueError(f"ResNet: option 'output' expected 'pooled' or 'featureMap', got {output!r}")
        h = F.relu(self.bn1(self.conv1(x)))
        if c["stem"] == "imagenet":
            h = _nhwc(F.max_pool2d(_nchw(h), 3, 2, 1))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            for blk in stage:
                h = blk(h)
        return h.mean(dim=(1, 2)) if output == "pooled" else h


__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BasicBlock", "BatchNorm1d", "BatchNorm2d", "ConvTranspose2d", "GroupNorm", "MaxPool2d", "ResNet", "Upsample"]
