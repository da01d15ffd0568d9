"""Probe of RIN recipes for the 16×16 `shapes` flagship, in PyTorch (fast on a CPU), with BrickML's
RinNetwork mirror (brickml_torch), the same data (bench/rin-probe/dump-shapes.ts) and the shipped
shapes classifier (accuracy per requested class, a Fréchet distance in its features, mean pixel).
Not BrickML's training path: a way to rule recipes in or out quickly before a BrickML run.

  python3 bench/torch/rin_recipe_probe.py --data out/rin-probe --steps 1500 --evalat 750 \
      --objective x0 --cond_iface 1 --cfg '{"numBlocks":4,"computeLayers":1}' --tag x0b4

--cond_iface 1 adds a zero-initialised projection of (noise token + class token) to every interface
token at the input (not a BrickML option). The FD here uses its own real reference (2,048 held-out
images, per class 1,024), so it reads close to, not equal to, shapesFD at the same n.
"""
import sys, json, math, time, argparse, copy
import os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from brickml_torch import safetensors as st
import brickml_torch

p = argparse.ArgumentParser()
p.add_argument('--steps', type=int, default=1500); p.add_argument('--batch', type=int, default=64)
p.add_argument('--lr', type=float, default=3e-3); p.add_argument('--warmup', type=int, default=200)
p.add_argument('--cfg', type=str, default='{}'); p.add_argument('--guidance', type=float, default=3)
p.add_argument('--objective', default='v'); p.add_argument('--drop', type=float, default=0.1)
p.add_argument('--evaln', type=int, default=256); p.add_argument('--seed', type=int, default=0)
p.add_argument('--evalat', type=str, default=''); p.add_argument('--threads', type=int, default=1)
p.add_argument('--cond_iface', type=int, default=0); p.add_argument('--tag', default='')
p.add_argument('--schedule', default='sigmoid'); p.add_argument('--data', default='out/rin-probe')
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed); np.random.seed(a.seed)
# The flagship RIN recipe (shapesRinConfig({ size: 16 }) with every default filled, as BrickML parses it).
base = {'type': 'RinNetwork', 'channels': 3, 'inputSize': [16, 16], 'patchSize': 2, 'tubelet': 1, 'numLatents': 16, 'numBlocks': 2, 'computeLayers': 1, 'position': 'learned', 'noiseCondition': True, 'timeScale': 1000, 'numClasses': 3, 'selfCondition': False, 'latentInitStd': 0.02, 'latentDim': 80, 'interfaceDim': 48, 'readHeads': 4, 'latentHeads': 4, 'latentMlpRatio': 4, 'interfaceMlpRatio': 2, 'eps': 1e-06, 'normContext': False, 'dropout': 0, 'attnDropout': 0, 'skipEmptyWrite': True, 'zeroInitWrite': False, 'writeDepthwiseConv': True}
base = copy.deepcopy(base)
base.update(json.loads(a.cfg))
X = torch.from_numpy(np.fromfile(os.path.join(a.data, 'train.x.bin'), dtype=np.float32).reshape(-1, 3, 16, 16))
Y = torch.from_numpy(np.fromfile(os.path.join(a.data, 'train.y.bin'), dtype=np.int32)).long()
XT = torch.from_numpy(np.fromfile(os.path.join(a.data, 'test.x.bin'), dtype=np.float32).reshape(-1, 3, 16, 16))
YT = torch.from_numpy(np.fromfile(os.path.join(a.data, 'test.y.bin'), dtype=np.int32)).long()

net = brickml_torch.build(base).train()
def init(m):
    for n_, p_ in m.named_parameters():
        if n_.endswith('conv.weight'): nn.init.uniform_(p_, -1/3, 1/3)
        elif 'ln' in n_ or 'norm' in n_: nn.init.ones_(p_) if n_.endswith('weight') else nn.init.zeros_(p_)
        elif n_.endswith('bias'): nn.init.zeros_(p_)
        else: nn.init.trunc_normal_(p_, std=0.02, a=-0.04, b=0.04)
init(net)
C = base['interfaceDim']
if a.cond_iface:
    # class + noise embedding projected and added to every interface token at the input
    net.iface_cond = nn.Linear(base['latentDim'], C); nn.init.zeros_(net.iface_cond.weight); nn.init.zeros_(net.iface_cond.bias)
orig_forward = net.forward
def forward(x, g, cls):
    if not a.cond_iface: return orig_forward(x, g, cls)[0]
    b = x.shape[0]
    iface = net.stem_ln(net.stem(x)) + net.interface_pos.weight
    z = net.initial_latents(b, g, cls, None)
    cond = z[:, -2:, :].sum(1)  # noise token + class token
    iface = iface + net.iface_cond(cond).unsqueeze(1)
    for blk in net.blocks: z, iface = blk(z, iface, net.grid)
    return net.readout(net.output_ln(iface), net.grid)
nparams = sum(p_.numel() for p_ in net.parameters())

def gamma(t):
    if a.schedule == 'cosine': return torch.clamp(torch.cos(((t + 2e-4) / (1 + 2.5e-4)) * math.pi / 2) ** 2, 1e-9, 1)
    s, e, tau = -3, 3, 0.9
    vs, ve = torch.sigmoid(torch.tensor(s / tau)), torch.sigmoid(torch.tensor(e / tau))
    o = torch.sigmoid((t * (e - s) + s) / tau)
    return torch.clamp((ve - o) / (ve - vs), 1e-9, 1)

decay, no_decay = [], []
for n_, p_ in net.named_parameters(): (no_decay if p_.ndim < 2 or 'ln' in n_ or 'norm' in n_ else decay).append(p_)
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0}], lr=a.lr, betas=(0.9, 0.999))
ema = copy.deepcopy(net); [q.requires_grad_(False) for q in ema.parameters()]
def lr_at(s):
    if s < a.warmup: return a.lr * (s + 1) / a.warmup
    return a.lr * 0.5 * (1 + math.cos(math.pi * min(1, (s - a.warmup) / max(1, a.steps - a.warmup))))

# classifier
ct = {k: torch.from_numpy(v) for k, v in st.load(os.path.join(ROOT, 'packages/diffusion/assets/shapes-classifier/model.safetensors')).items()}
def clf(x):
    h = x.reshape(x.shape[0], -1)
    h = F.gelu(F.linear(h, ct['fc1.weight'], ct['fc1.bias'])); h = F.gelu(F.linear(h, ct['fc2.weight'], ct['fc2.bias']))
    f = F.gelu(F.linear(h, ct['fc3.weight'], ct['fc3.bias']))
    return f, F.linear(f, ct['shape_head.weight'], ct['shape_head.bias'])
def stats(f): f = f.double().numpy(); return f.mean(0), np.cov(f, rowvar=False)
def fd(s1, s2):
    (m1, c1), (m2, c2) = s1, s2
    w, V = np.linalg.eigh(c1); s1h = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    ev = np.linalg.eigvalsh(s1h @ c2 @ s1h)
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.sqrt(np.clip(ev, 0, None)).sum())

@torch.no_grad()
def model_fwd(m, x, g, cls):
    global net
    saved = net; net = m
    try: return forward(x, g, cls)
    finally: net = saved

@torch.no_grad()
def sample(m, cls, steps=25, w=a.guidance, seed=123):
    gen = torch.Generator().manual_seed(seed)
    b = cls.shape[0]; x = torch.randn(b, 3, 16, 16, generator=gen)
    for k in range(steps):
        t, tn = 1 - k / steps, max(1 - (k + 1) / steps, 0)
        g, gn = gamma(torch.tensor(t)), gamma(torch.tensor(tn))
        gb = torch.full((b,), float(g))
        if w != 0:
            out = model_fwd(m, torch.cat([x, x]), torch.cat([gb, gb]), torch.cat([cls, torch.full_like(cls, 3)]))
            out = (1 + w) * out[:b] - w * out[b:]
        else: out = model_fwd(m, x, gb, cls)
        if a.objective == 'v': x0 = g.sqrt() * x - (1 - g).sqrt() * out
        elif a.objective == 'x0': x0 = out
        else: x0 = (x - (1 - g).sqrt() * out) / g.sqrt()
        x0 = x0.clamp(-1, 1); eps = (x - g.sqrt() * x0) / (1 - g).sqrt()
        x = x0 * gn.sqrt() + eps * (1 - gn).sqrt() if k < steps - 1 else x0
    return x

realf, _ = clf(XT[:2048])
real_stats = stats(realf)
real_cls = {c: stats(clf(XT[YT == c][:1024])[0]) for c in range(3)}
def evaluate(m, n):
    per = n // 3; cls = torch.arange(3).repeat_interleave(per)
    xs = torch.cat([sample(m, cls[i:i + 128], seed=123 + i) for i in range(0, len(cls), 128)])
    f, logits = clf(xs); pred = logits.argmax(1)
    res = {'fd': fd(stats(f), real_stats), 'acc': [float((pred[cls == c] == c).float().mean()) for c in range(3)],
           'fdc': [fd(stats(f[cls == c]), real_cls[c]) for c in range(3)], 'mean': [float(xs[cls == c].mean()) for c in range(3)]}
    return res, xs

evalat = set(int(s) for s in a.evalat.split(',') if s)
print(f'[{a.tag}] params {nparams} cfg {json.dumps(json.loads(a.cfg))} lr {a.lr} obj {a.objective} cond_iface {a.cond_iface}', flush=True)
t0 = time.time(); gen = torch.Generator().manual_seed(a.seed); losses = []
for s in range(a.steps):
    idx = torch.randint(0, X.shape[0], (a.batch,), generator=gen)
    x0, y = X[idx], Y[idx].clone()
    y[torch.rand(a.batch, generator=gen) < a.drop] = 3
    t = torch.rand(a.batch, generator=gen); g = gamma(t).reshape(-1, 1, 1, 1)
    eps = torch.randn(x0.shape, generator=gen)
    xt = g.sqrt() * x0 + (1 - g).sqrt() * eps
    out = forward(xt, g.reshape(-1), y)
    target = {'v': g.sqrt() * eps - (1 - g).sqrt() * x0, 'x0': x0, 'eps': eps}[a.objective]
    loss = F.mse_loss(out, target)
    for pg in opt.param_groups: pg['lr'] = lr_at(s)
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0); opt.step()
    d = min(0.999, (1 + s) / (10 + s))
    with torch.no_grad():
        for pe, pn in zip(ema.parameters(), net.parameters()): pe.mul_(d).add_(pn.detach(), alpha=1 - d)
    losses.append(loss.item())
    if (s + 1) in evalat or s + 1 == a.steps:
        r, xs = evaluate(ema, a.evaln)
        print(f'[{a.tag}] step {s+1} {time.time()-t0:.0f}s loss {np.mean(losses[-100:]):.4f} FD {r["fd"]:.1f} acc {[round(v,2) for v in r["acc"]]} fdc {[round(v,1) for v in r["fdc"]]} mean {[round(v,2) for v in r["mean"]]}', flush=True)
        np.save(os.path.join(a.data, f'samples-{a.tag}.npy'), xs.numpy())
