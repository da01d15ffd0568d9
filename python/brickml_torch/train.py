"""Trains a BrickML model in PyTorch, on one process or under torchrun (DDP on gloo / NCCL).

    /usr/bin/python3 -m brickml_torch.train --config run.json
    torchrun --nproc_per_node=2 -m brickml_torch.train --config run.json

run.json (paths relative to the file):

    {
      "init": "checkpoints/from-ts",            BrickML checkpoint to start from (or "model": {brick config})
      "data": {"file": "data.safetensors",      tensors whose first axis indexes examples
               "inputs": ["x"],                 positional inputs of the model's forward
               "kwargs": {"noise_level": "g"},  keyword inputs (optional)
               "target": "y"},
      "loss": "mse",                            "mse" or "cross_entropy", on the model's first output
                                                (a MoE's {"y", "auxLoss"}: on y, plus auxLoss);
                                                "diffusion": the model is a GaussianDiffusion, its forward is
                                                the loss (inputs: the clean images, kwargs: {"classes": ...},
                                                no target)
      "clipGradNorm": 1.0,                      optional: global L2 norm clip (BrickML's clipGradNorm)
      "steps": 100, "batchSize": 32,            global batch (split evenly over the ranks)
      "seed": 0,                                data order and a fresh model's initialisation
      "optimizer": {"lr": 1e-3 | {schedule}, "betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.01,
                    "noDecay": "biasAndNorm" | "none"},
      "out": "checkpoints/trained",             written by rank 0
      "saveEvery": 50,                          optional; the end of training always saves
      "expertParallel": "auto"                  true / false / "auto" (default): under W > 1 ranks, shard every
                                                MoE's experts over the ranks (numExperts/W each) when each
                                                numExperts divides by W; false keeps them replicated under DDP
    }

The optimizer is BrickML's AdamW and its schedules (brickml_torch.optim); the data order is a
function of (seed, step) only: epoch e visits the examples in `torch.randperm(N, seed + e)` order,
the global batch of step s is positions [s·B, (s+1)·B) of that sequence, and rank r of W takes the
r-th of W equal slices. So W processes compute the same global-batch gradient as one (DDP averages
the per-rank means), and a resumed run sees exactly the batches the killed one would have.

The diffusion loss draws t, the noise, the class-dropout and self-conditioning uniforms for the
whole global batch from a generator seeded with (seed, step), and each rank takes its slice, so
its randomness too is the same on W ranks as on one and is redone identically after a resume.

With experts sharded (brickml_torch.expert_parallel), tokens travel to their expert's rank with
all_to_all, expert gradients stay on their rank, the other gradients are averaged as DDP does (DDP
itself is not used then), the load-balancing loss uses the global expert counts, and a save gathers
the experts (and their AdamW moments) into BrickML's full layout on rank 0.

`out` holds a BrickML checkpoint (`config.json`, `model.safetensors`: TypeScript's `load(dir)` reads
it), the optimizer state in BrickML's layout (`optimizer.safetensors` + `optimizer.json`, for
`AdamW.loadState`) and `torch_train.json` (step, losses). With `out` holding a finished save, a new
run resumes from it (the steps after that save are lost and redone, nothing else). Rank 0 writes a
save whole into `out/.next` and then moves it in (`commit_save`), so a rank killed mid-save leaves
the previous save, or a complete one the next start moves in.
"""
import argparse
import json
import os
import shutil
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F

from . import expert_parallel, safetensors
from .checkpoint import load, save
from .optim import AdamW, no_decay_for_bias_and_norm
from .registry import build

STATE_FILE = "torch_train.json"
STAGE_DIR = ".next"  # a save in progress (see commit_save)
RUN_FIELDS = {"init", "model", "data", "loss", "steps", "batchSize", "seed", "optimizer", "out", "saveEvery", "threads", "clipGradNorm", "expertParallel"}
LOSSES = ("mse", "cross_entropy", "diffusion")


class RunConfigError(ValueError):
    """A run.json that cannot run (the message names the field)."""


def read_run_config(path):
    with open(path) as f:
        run = json.load(f)
    base = os.path.dirname(os.path.abspath(path))
    unknown = sorted(set(run) - RUN_FIELDS)
    if unknown:
        raise RunConfigError(f"train: run config field '{unknown[0]}' is not a field (fields: {', '.join(sorted(RUN_FIELDS))})")
    for field in ("data", "steps", "batchSize", "out"):
        if field not in run:
            raise RunConfigError(f"train: run config field '{field}' is required")
    if ("init" in run) == ("model" in run):
        raise RunConfigError("train: run config needs exactly one of 'init' (a BrickML checkpoint directory) and 'model' (a brick config)")
    for field in ("steps", "batchSize"):
        if not isinstance(run[field], int) or run[field] < 1:
            raise RunConfigError(f"train: run config field '{field}' expected a positive integer, got {run[field]!r}")
    if run.get("loss", "mse") not in LOSSES:
        raise RunConfigError(f"train: run config field 'loss' expected one of {', '.join(repr(x) for x in LOSSES)}, got {run['loss']!r}")
    if run.get("loss", "mse") != "diffusion" and "target" not in run["data"]:
        raise RunConfigError(f"train: run config field 'data.target' is required for loss {run.get('loss', 'mse')!r}")
    clip = run.get("clipGradNorm")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float)) or clip <= 0):
        raise RunConfigError(f"train: run config field 'clipGradNorm' expected a positive number, got {clip!r}")
    ep = run.get("expertParallel", "auto")
    if ep not in (True, False, "auto"):
        raise RunConfigError(f"train: run config field 'expertParallel' expected true, false or 'auto', got {ep!r}")
    rel = lambda p: p if os.path.isabs(p) else os.path.join(base, p)  # noqa: E731
    run["out"] = rel(run["out"])
    if "init" in run:
        run["init"] = rel(run["init"])
    run["data"] = {**run["data"], "file": rel(run["data"]["file"])}
    return run


def commit_save(out):
    """Moves a complete staged save (`out/.next` holding its STATE_FILE, which is written last) into `out`,
    STATE_FILE last, so `out` always holds one whole save: a kill while staging leaves the previous save
    (and an incomplete stage, removed here), a kill while moving leaves a stage this call finishes."""
    stage = os.path.join(out, STAGE_DIR)
    if not os.path.isdir(stage):
        return False
    if not os.path.isfile(os.path.join(stage, STATE_FILE)):
        shutil.rmtree(stage)
        return False
    if os.path.isfile(os.path.join(out, STATE_FILE)):
        os.remove(os.path.join(out, STATE_FILE))  # out is mid-update from here until the stage's STATE_FILE arrives
    for name in sorted(os.listdir(stage)):
        if name != STATE_FILE:
            os.replace(os.path.join(stage, name), os.path.join(out, name))
    os.replace(os.path.join(stage, STATE_FILE), os.path.join(out, STATE_FILE))
    os.rmdir(stage)
    return True


def batch_indices(n, step, batch, seed, rank=0, world=1):
    """Example indices of rank `rank`'s slice of the global batch at `step` (see the module docs)."""
    start = step * batch
    out = []
    while len(out) < batch:
        epoch, pos = divmod(start + len(out), n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
        out.extend(perm[pos : pos + batch - len(out)].tolist())
    per = batch // world
    return out[rank * per : (rank + 1) * per]


def diffusion_draws(model, step, batch, seed, rank=0, world=1):
    """t, noise, drop, keep for rank `rank`'s slice of the global batch at `step` (a function of (seed, step) only)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    shape = model.sample_shape(batch)
    t = torch.rand(batch, generator=g, dtype=torch.float64)
    noise = torch.randn(shape, generator=g)
    drop = torch.rand(batch, generator=g, dtype=torch.float64)
    keep = torch.rand(batch, generator=g, dtype=torch.float64)
    per = batch // world
    sl = slice(rank * per, (rank + 1) * per)
    return {"t": t[sl], "noise": noise[sl], "drop": drop[sl], "keep": keep[sl]}


def _loss(kind, pred, target):
    if kind == "mse":
        return F.mse_loss(pred, target.to(pred.dtype))
    return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), target.reshape(-1).long())


def train(run, log=print):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    distributed = world > 1
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.set_num_threads(int(run.get("threads", 1)))
    batch, steps, seed = run["batchSize"], run["steps"], int(run.get("seed", 0))
    if batch % world:
        raise RunConfigError(f"train: run config field 'batchSize' ({batch}) must divide evenly over {world} ranks")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")

    out = run["out"]
    if rank == 0:
        commit_save(out)  # a save killed while being moved in is finished first; a half-written one is dropped
    if distributed:
        dist.barrier()
    resumed = os.path.isfile(os.path.join(out, STATE_FILE))
    if resumed:
        model = load(out)
    elif "init" in run:
        model = load(run["init"])
    else:
        torch.manual_seed(seed)
        model = build(run["model"])
    model.to(device).train()

    # expert parallelism: every MoE keeps numExperts/W experts per rank (brickml_torch.expert_parallel)
    ep_mode = run.get("expertParallel", "auto")
    moes = expert_parallel.moe_modules(model)
    if ep_mode is True and distributed and any(m.config["numExperts"] % world for _, m in moes):
        bad = next(f"{n or '(root)'} ({m.config['numExperts']})" for n, m in moes if m.config["numExperts"] % world)
        raise RunConfigError(f"train: run config field 'expertParallel' is true but MoE {bad} has a numExperts that does not divide over {world} ranks")
    use_ep = distributed and bool(moes) and ep_mode is not False and all(m.config["numExperts"] % world == 0 for _, m in moes)
    expert_names = set(expert_parallel.shard_experts(model, rank, world) if use_ep else ())
    if use_ep:
        lo = [(n or "(root)", rank * m.expert_parallel["local"], (rank + 1) * m.expert_parallel["local"]) for n, m in moes]
        log(json.dumps({"expertParallel": {"rank": rank, "world": world, "experts": lo}}))

    o = run.get("optimizer", {})
    nd = o.get("noDecay", "biasAndNorm")
    if nd not in ("biasAndNorm", "none"):
        raise RunConfigError(f"train: run config field 'optimizer.noDecay' expected 'biasAndNorm' or 'none', got {nd!r}")
    opt = AdamW(model.named_parameters(), lr=o.get("lr", 1e-3), betas=o.get("betas", (0.9, 0.999)), eps=o.get("eps", 1e-8),
                weight_decay=o.get("weightDecay", 1e-2), no_decay=no_decay_for_bias_and_norm if nd == "biasAndNorm" else None)
    start, losses = 0, []
    if resumed:
        with open(os.path.join(out, STATE_FILE)) as f:
            st = json.load(f)
        with open(os.path.join(out, "optimizer.json")) as f:
            entries = safetensors.load(os.path.join(out, "optimizer.safetensors"))
            for name in expert_names:  # saved in the full layout: keep this rank's experts
                for key in (f"exp_avg.{name}", f"exp_avg_sq.{name}"):
                    if key in entries:
                        entries[key] = expert_parallel.shard_tensor(entries[key], rank, world)
            opt.load_state(entries, json.load(f))
        start, losses = st["step"], st["losses"]
        if rank == 0:
            log(json.dumps({"resumed": out, "step": start}))

    ddp = distributed and not use_ep  # with experts sharded, gradients are averaged by expert_parallel.finish_gradients
    net = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True) if ddp else model
    d = run["data"]
    arrays = safetensors.load(d["file"])
    loss_kind = run.get("loss", "mse")
    if loss_kind == "diffusion" and type(model).__name__ != "GaussianDiffusion":
        raise RunConfigError(f"train: run config field 'loss' 'diffusion' needs a GaussianDiffusion model, got {type(model).__name__}")
    for name in [*d["inputs"], *d.get("kwargs", {}).values(), *([d["target"]] if "target" in d else [])]:
        if name not in arrays:
            raise RunConfigError(f"train: data file '{d['file']}' has no tensor '{name}' (has {', '.join(sorted(arrays))})")
    data = {k: torch.from_numpy(v) for k, v in arrays.items()}
    n = data[d["target"] if "target" in d else d["inputs"][0]].shape[0]

    def save_all(step):
        if use_ep:  # a collective: every rank sends its experts (and their optimizer state) to be gathered
            full = expert_parallel.full_state(model, expert_names, world)
            moments = {}
            for name, st in sorted(opt.state.items()):
                for key in ("exp_avg", "exp_avg_sq"):
                    t = st[key]
                    moments[f"{key}.{name}"] = (expert_parallel.gather_experts(t, world) if name in expert_names else t).detach().cpu().contiguous().numpy()
        if rank != 0:
            return
        stage = os.path.join(out, STAGE_DIR)  # written whole, then moved in (commit_save): a kill never mixes two saves
        if os.path.isdir(stage):
            shutil.rmtree(stage)
        if use_ep:
            with torch.random.fork_rng(devices=[]):  # the throwaway initialisation must not move the run's RNG
                whole = build(model.to_config())
            whole.load_state_dict(full, strict=True)
            save(whole, stage)
            safetensors.save(os.path.join(stage, "optimizer.safetensors"), moments)
        else:
            save(model, stage)
            safetensors.save(os.path.join(stage, "optimizer.safetensors"), opt.state_entries())
        with open(os.path.join(stage, "optimizer.json"), "w") as f:
            json.dump(opt.state_json(), f)
        tmp = os.path.join(stage, STATE_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump({"step": step, "losses": losses, "worldSize": world, "seed": seed}, f)
        os.replace(tmp, os.path.join(stage, STATE_FILE))  # last: its presence marks a complete staged save
        commit_save(out)

    for step in range(start, steps):
        idx = torch.tensor(batch_indices(n, step, batch, seed, rank, world))
        args = [data[k][idx].to(device) for k in d["inputs"]]
        kwargs = {py: data[k][idx].to(device) for py, k in d.get("kwargs", {}).items()}
        opt.zero_grad()
        if loss_kind == "diffusion":
            draws = {k: v.to(device) for k, v in diffusion_draws(model, step, batch, seed, rank, world).items()}
            loss = net(*args, **kwargs, **draws)
        else:
            y = net(*args, **kwargs)
            aux = None
            if isinstance(y, dict):  # MoE: {"y", "auxLoss", ...}; the auxiliary loss joins the objective
                y, aux = y["y"], y.get("auxLoss")
            pred = y[0] if isinstance(y, tuple) else y
            loss = _loss(loss_kind, pred, data[d["target"]][idx].to(device))
            if aux is not None:
                loss = loss + aux
        loss.backward()
        if use_ep:
            expert_parallel.finish_gradients(list(model.named_parameters()), expert_names, world)
        if run.get("clipGradNorm") and use_ep:
            expert_parallel.clip_grad_norm(list(model.named_parameters()), expert_names, float(run["clipGradNorm"]))
        elif run.get("clipGradNorm"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(run["clipGradNorm"]))  # BrickML's clipGradNorm formula
        lr = opt.step()
        global_loss = loss.detach().clone()
        if distributed:
            dist.all_reduce(global_loss)
            global_loss /= world
        losses.append(float(global_loss))
        if rank == 0:
            log(json.dumps({"step": step + 1, "loss": losses[-1], "lr": lr}))
        if run.get("saveEvery") and (step + 1) % run["saveEvery"] == 0 and step + 1 < steps:
            save_all(step + 1)
    save_all(steps)
    if distributed:
        dist.barrier()
    return model, losses


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m brickml_torch.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="run.json (see the module docs)")
    a = p.parse_args(argv)
    try:
        train(read_run_config(a.config))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
