"""Mirrors of @brickml/rl's model bricks (packages/rl/src/): PPO's `ActorCritic` and `ConvActorCritic`, RL²'s `RecurrentActorCritic`
and DISCERN's goal embedding `DiscernEmbedding`, with BrickML's names (`actor.<i>`, `critic.<i>`,
`actor_logstd`, `gru.*`, `layers.<i>`). Their forwards and `evaluate` (log-probabilities, entropy, value)
are mirrored, and DISCERN's embedding loss; sampling actions and the environments stay in TypeScript.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .core import Brick, check_shape, linear
from .registry import OPTIONAL, BrickConfigError, Field, any_of, build, enum, list_of, non_negative_int, number, positive, positive_int, register
from .recurrent import GRUCell

LOG_2PI = math.log(2 * math.pi)


def _action(v):
    if not isinstance(v, dict) or v.get("kind") not in ("discrete", "continuous"):
        return "expected {kind: 'discrete', n} or {kind: 'continuous', dim}"
    key = "n" if v["kind"] == "discrete" else "dim"
    extra = sorted(set(v) - {"kind", key})
    if extra or positive_int(v.get(key)) is not None:
        return f"expected {{kind: '{v['kind']}', {key}: a positive integer}} and nothing else"
    return None


positive_int_items = list_of(positive_int)


class _PolicyNet(Brick):
    """What PPO needs of a policy: `actor_output` and `value`; `evaluate` is shared (BrickML's `PolicyNet`)."""

    def action_spec(self):
        return self.config["action"]

    def evaluate(self, obs, actions):
        """{"logProb", "entropy", "value"} (each [batch]) of `actions` ([batch] indices or [batch, dim]) at `obs`."""
        a = self.action_spec()
        who = self.brick_type
        out = self.actor_output(obs)
        if a["kind"] == "discrete":
            check_shape(who, "actions", actions, [obs.shape[0]])
            logp = torch.log_softmax(out, -1)
            log_prob = logp.gather(1, actions.long().unsqueeze(1)).squeeze(1)
            entropy = -(logp.exp() * logp).sum(-1)
        else:
            check_shape(who, "actions", actions, [obs.shape[0], a["dim"]])
            z = (actions - out) / self.actor_logstd.exp()
            log_prob = (-0.5 * z.square() - (self.actor_logstd + 0.5 * LOG_2PI)).sum(-1)
            entropy = (self.actor_logstd + 0.5 + 0.5 * LOG_2PI).sum().expand(obs.shape[0])
        return {"logProb": log_prob, "entropy": entropy, "value": self.value(obs)}

    def forward(self, obs):
        """obs → (actor output, value)."""
        return self.actor_output(obs), self.value(obs)


@register
class ActorCritic(_PolicyNet):
    """PPO's actor-critic (CleanRL's `Agent`): actor and critic MLPs (`actor.0..k`, `critic.0..k`, tanh or ReLU
    between), categorical logits or a diagonal Gaussian mean with the learned `actor_logstd` [1, dim]."""

    brick_type = "ActorCritic"
    fields = {
        "obsDim": Field(positive_int),
        "action": Field(_action),
        "hidden": Field(positive_int_items, [64, 64]),
        "activation": Field(enum("tanh", "relu"), "tanh"),
        "actorHeadGain": Field(positive, 0.01),
        "criticHeadGain": Field(positive, 1),
        "initLogStd": Field(number, 0),
    }

    def __init__(self, c):
        super().__init__(c)
        a = c["action"]
        out = a["n"] if a["kind"] == "discrete" else a["dim"]
        widths = [c["obsDim"], *c["hidden"]]
        self.critic = nn.ModuleList(linear(i, o) for i, o in zip(widths, [*c["hidden"], 1]))
        self.actor = nn.ModuleList(linear(i, o) for i, o in zip(widths, [*c["hidden"], out]))
        self.actor_logstd = nn.Parameter(torch.full((1, a["dim"]), float(c["initLogStd"]))) if a["kind"] == "continuous" else None

    def _run(self, layers, x):
        for i, layer in enumerate(layers):
            x = layer(x)
            if i < len(layers) - 1:
                x = torch.tanh(x) if self.config["activation"] == "tanh" else F.relu(x)
        return x

    def value(self, obs):
        """obs [batch, obsDim] → value [batch]."""
        check_shape("ActorCritic", "obs", obs, [None, self.config["obsDim"]])
        return self._run(self.critic, obs).reshape(-1)

    def actor_output(self, obs):
        """obs [batch, obsDim] → logits [batch, n] (discrete) or the action mean [batch, dim] (continuous)."""
        check_shape("ActorCritic", "obs", obs, [None, self.config["obsDim"]])
        return self._run(self.actor, obs)



def _per_layer(name, v, n):
    arr = [v] * n if isinstance(v, int) else list(v)
    if len(arr) != n:
        raise BrickConfigError(f"ConvActorCritic: config field '{name}' expected one number or {n} entries (one per entry of 'channels'), got {len(arr)}")
    return arr


def _int_or_ints(check):
    return any_of(check, list_of(check, 1))


@register
class ConvActorCritic(_PolicyNet):
    """PPO's convolutional actor-critic (CleanRL's Atari agent): flat observations reshaped to `imageShape`
    [H, W, C] and scaled by `inputScale`, `network.<i>` (channels-last Conv2d, ReLU after each), flattened,
    `fc` (ReLU), then linear `actor` and `critic` heads; `actor_logstd` [1, dim] for continuous actions."""

    brick_type = "ConvActorCritic"
    fields = {
        "imageShape": Field(list_of(positive_int, 3, 3)),
        "action": Field(_action),
        "channels": Field(list_of(positive_int, 1), [16, 32]),
        "kernelSizes": Field(_int_or_ints(positive_int), 3),
        "strides": Field(_int_or_ints(positive_int), 1),
        "paddings": Field(_int_or_ints(non_negative_int), OPTIONAL),
        "hidden": Field(positive_int, 64),
        "inputScale": Field(positive, 1 / 255),
        "actorHeadGain": Field(positive, 0.01),
        "criticHeadGain": Field(positive, 1),
        "initLogStd": Field(number, 0),
    }

    def __init__(self, c):
        super().__init__(c)
        n = len(c["channels"])
        kernels = _per_layer("kernelSizes", c["kernelSizes"], n)
        strides = _per_layer("strides", c["strides"], n)
        paddings = _per_layer("paddings", c["paddings"] if c.get("paddings") is not None else [k // 2 for k in kernels], n)
        h, w, cin = c["imageShape"]
        convs = []
        for i, cout in enumerate(c["channels"]):
            convs.append(build({"type": "Conv2d", "inChannels": cin, "outChannels": cout, "kernelSize": kernels[i], "stride": strides[i], "padding": paddings[i]}))
            h = (h + 2 * paddings[i] - kernels[i]) // strides[i] + 1
            w = (w + 2 * paddings[i] - kernels[i]) // strides[i] + 1
            if h < 1 or w < 1:
                raise BrickConfigError(f"ConvActorCritic: convolution {i} leaves no output (image {'×'.join(map(str, c['imageShape']))}, kernel {kernels[i]}, stride {strides[i]}, padding {paddings[i]})")
            cin = cout
        self.network = nn.ModuleList(convs)
        self.feature_shape = (h, w, cin)
        a = c["action"]
        self.fc = linear(h * w * cin, c["hidden"])
        self.actor = linear(c["hidden"], a["n"] if a["kind"] == "discrete" else a["dim"])
        self.critic = linear(c["hidden"], 1)
        self.actor_logstd = nn.Parameter(torch.full((1, a["dim"]), float(c["initLogStd"]))) if a["kind"] == "continuous" else None

    @property
    def obs_dim(self):
        h, w, ch = self.config["imageShape"]
        return h * w * ch

    def features(self, obs):
        """obs [batch, H·W·C] → [batch, hidden] (the shared torso)."""
        check_shape("ConvActorCritic", "obs", obs, [None, self.obs_dim])
        x = obs.reshape(-1, *self.config["imageShape"]) * self.config["inputScale"]  # [batch, H, W, C]
        for conv in self.network:
            x = F.relu(conv(x))
        return F.relu(self.fc(x.reshape(x.shape[0], -1)))

    def value(self, obs):
        return self.critic(self.features(obs)).reshape(-1)

    def actor_output(self, obs):
        return self.actor(self.features(obs))


@register
class RecurrentActorCritic(Brick):
    """RL²'s recurrent policy: `gru` (GRUCell over [obs, onehot(prev action), prev reward, done]), linear
    `actor` (logits) and `critic` heads. `step(x, h)` / `forward(x, h)` → {"logits", "value", "h"}."""

    brick_type = "RecurrentActorCritic"
    fields = {"obsDim": Field(positive_int), "numActions": Field(positive_int), "hiddenSize": Field(positive_int, 64)}

    def __init__(self, c):
        super().__init__(c)
        self.gru = GRUCell({"type": "GRUCell", "inputSize": self.input_size, "hiddenSize": c["hiddenSize"], "bias": True})
        self.actor = linear(c["hiddenSize"], c["numActions"])
        self.critic = linear(c["hiddenSize"], 1)

    @property
    def input_size(self):
        return self.config["obsDim"] + self.config["numActions"] + 2

    def initial_state(self, batch):
        return torch.zeros(batch, self.config["hiddenSize"])

    def step(self, x, h):
        check_shape("RecurrentActorCritic", "x", x, [None, self.input_size])
        h1 = self.gru(x, h)
        return {"logits": self.actor(h1), "value": self.critic(h1).reshape(-1), "h": h1}

    def forward(self, x, h):
        return self.step(x, h)


@register
class DiscernEmbedding(Brick):
    """DISCERN's goal embedding ξ: an MLP (`layers.0..k`, ReLU between), rows L2-normalised: x [batch, inDim] → [batch, embedDim]."""

    brick_type = "DiscernEmbedding"
    fields = {"inDim": Field(positive_int), "hidden": Field(positive_int_items, [64]), "embedDim": Field(positive_int, 32)}

    def __init__(self, c):
        super().__init__(c)
        widths = [c["inDim"], *c["hidden"], c["embedDim"]]
        self.layers = nn.ModuleList(linear(i, o) for i, o in zip(widths[:-1], widths[1:]))

    def forward(self, x):
        check_shape("DiscernEmbedding", "x", x, [None, self.config["inDim"]])
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x / x.square().sum(-1, keepdim=True).clamp_min(1e-24).sqrt()


def discern_loss(achieved, goals, decoys, beta):
    """DISCERN's embedding objective (BrickML's `discernLoss`): achieved [B, E], goals [B, E], decoys [B, K, E] →
    (loss, logits [B, 1 + K]): cross-entropy of the true goal (index 0) over β·cosines."""
    if achieved.dim() != 2 or goals.shape != achieved.shape or decoys.dim() != 3 or decoys.shape[0] != achieved.shape[0] or decoys.shape[2] != achieved.shape[1]:
        raise ValueError(f"discern_loss: expected achieved [B, E], goals [B, E], decoys [B, K, E], got {list(achieved.shape)}, {list(goals.shape)}, {list(decoys.shape)}")
    if not beta > 0:
        raise ValueError(f"discern_loss: argument 'beta' expected a positive number, got {beta}")
    pos = (achieved * goals).sum(-1, keepdim=True)
    neg = (achieved.unsqueeze(1) * decoys).sum(-1)
    logits = torch.cat([pos, neg], 1) * beta
    return -torch.log_softmax(logits, -1)[:, 0].mean(), logits


__all__ = ["ActorCritic", "ConvActorCritic", "DiscernEmbedding", "RecurrentActorCritic", "discern_loss"]
