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
      "expertParallel": "auto",                 true / false / "auto" (default): under W > 1 ranks, shard every
                                                MoE's experts over the ranks (numExperts/W each) when each
                                                numExperts divides by W; false keeps them replicated under DDP
      "ema": {"decay": 0.999, "warmup": false,  optional: BrickML's Ema of the weights, updated after every step,
              "includeBuffers": false},         saved as ema.safetensors + ema.json (brickml_torch.ema)
      "fsdp": true | {"wrap": ["TransformerBlock"], "sharding": "FULL_SHARD"}
                                                optional, PyTorch ≥ 2.0: FullyShardedDataParallel instead of DDP,
                                                every brick of the `wrap` types its own FSDP unit (see below)
    }

`init` may also be a BrickML `Trainer` checkpoint (a folder with `trainer.json`): then its optimizer
state (`optimizer.safetensors` + the `optimizer` entry of trainer.json) and, with `ema` set, its EMA
(`ema.safetensors` + the `ema` entry) continue here: the PyTorch run takes `steps` more steps.

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

FSDP (`"fsdp"`, brickml_torch.distributed.wrap_fsdp; written for PyTorch ≥ 2.0 and not runnable on
Debian's torch 1.13, where `import torch.distributed.fsdp` fails: the run then stops with an error
naming that capability): the model is wrapped with `use_orig_params=True`, one FSDP unit per brick of
the `wrap` types (default: the repeated blocks, `DEFAULT_FSDP_WRAP`); AdamW keeps its name-keyed state on
each rank's shards (the no-decay set is decided on the unsharded shapes first); gradient clipping uses
FSDP's global norm; a save gathers the full parameters on rank 0 (FULL_STATE_DICT, offloaded to CPU)
and the AdamW moments the same way (each moment is put in the parameters' place and gathered), so the
checkpoint is BrickML's layout; a resume shards the full files again. Not combined with expert
parallelism or `ema` (both refused with a clear error).

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

from . import distributed as capabilities
from . import expert_parallel, safetensors
from .checkpoint import load, save
from .distributed import DEFAULT_FSDP_WRAP, FSDP_SHARDING
from .ema import EMA
from .optim import AdamW, no_decay_for_bias_and_norm
from .registry import build

STATE_FILE = "torch_train.json"
STAGE_DIR = ".next"  # a save in progress (see commit_save)
RUN_FIELDS = {"init", "model", "data", "loss", "steps", "batchSize", "seed", "optimizer", "out", "saveEvery", "threads", "clipGradNorm", "expertParallel", "ema", "fsdp"}
EMA_FIELDS = {"decay", "warmup", "includeBuffers"}
FSDP_FIELDS = {"wrap", "sharding"}
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
    ema = run.get("ema")
    if ema is not None:
        if not isinstance(ema, dict) or set(ema) - EMA_FIELDS:
            raise RunConfigError(f"train: run config field 'ema' expected an object with fields {', '.join(sorted(EMA_FIELDS))}, got {ema!r}")
        d = ema.get("decay", 0.999)
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 <= d <= 1:
            raise RunConfigError(f"train: run config field 'ema.decay' expected a number in [0, 1], got {d!r}")
        for key in ("warmup", "includeBuffers"):
            if not isinstance(ema.get(key, False), bool):
                raise RunConfigError(f"train: run config field 'ema.{key}' expected a boolean, got {ema[key]!r}")
    fs = run.get("fsdp", False)
    if fs is not False:
        if fs is not True and not (isinstance(fs, dict) and not set(fs) - FSDP_FIELDS):
            raise RunConfigError(f"train: run config field 'fsdp' expected true, false or an object with fields {', '.join(sorted(FSDP_FIELDS))}, got {fs!r}")
        opts = fs if isinstance(fs, dict) else {}
        wrap = opts.get("wrap", list(DEFAULT_FSDP_WRAP))
        if not isinstance(wrap, list) or not all(isinstance(w, str) for w in wrap):
            raise RunConfigError(f"train: run config field 'fsdp.wrap' expected an array of brick type names, got {wrap!r}")
        if opts.get("sharding", "FULL_SHARD") not in FSDP_SHARDING:
            raise RunConfigError(f"train: run config field 'fsdp.sharding' expected one of {', '.join(FSDP_SHARDING)}, got {opts['sharding']!r}")
        if ema is not None:
            raise RunConfigError("train: run config fields 'fsdp' and 'ema' together are not supported (the EMA would have to be sharded and gathered like the moments); drop one")
        if ep is True:
            raise RunConfigError("train: run config fields 'fsdp' and 'expertParallel': true together are not supported; FSDP shards the experts with everything else")
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
    use_fsdp = run.get("fsdp", False) is not False
    if use_fsdp:
        capabilities.require_fsdp("train: run config field 'fsdp'")  # names the missing capability
        if "WORLD_SIZE" not in os.environ:
            raise RunConfigError("train: run config field 'fsdp' needs a process group: launch with torchrun (any --nproc_per_node, 1 included)")
    if (distributed or use_fsdp) and not dist.is_initialized():
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
    model_config = model.to_config()  # before any wrapping (FSDP replaces submodules with its units)

    # expert parallelism: every MoE keeps numExperts/W experts per rank (brickml_torch.expert_parallel)
    ep_mode = False if use_fsdp else run.get("expertParallel", "auto")
    moes = expert_parallel.moe_modules(model)
    if ep_mode is True and distributed and any(m.config["numExperts"] % world for _, m in moes):
        bad = next(f"{n or '(root)'} ({m.config['numExperts']})" for n, m in moes if m.config["numExperts"] % world)
        raise RunConfigError(f"train: run config field 'expertParallel' is true but MoE {bad} has a numExperts that does not divide over {world} ranks")
    use_ep = distributed and bool(moes) and ep_mode is not False and all(m.config["numExperts"] % world == 0 for _, m in moes)
    expert_names = set(expert_parallel.shard_experts(model, rank, world) if use_ep else ())
    if use_ep:
        lo = [(n or "(root)", rank * m.expert_parallel["local"], (rank + 1) * m.expert_parallel["local"]) for n, m in moes]
        log(json.dumps({"expertParallel": {"rank": rank, "world": world, "experts": lo}}))

    # `init` may be a BrickML Trainer checkpoint: its optimizer state and EMA continue here
    init_trainer = None
    if not resumed and "init" in run and os.path.isfile(os.path.join(run["init"], "trainer.json")):
        with open(os.path.join(run["init"], "trainer.json")) as f:
            init_trainer = json.load(f)

    o = run.get("optimizer", {})
    nd = o.get("noDecay", "biasAndNorm")
    if nd not in ("biasAndNorm", "none"):
        raise RunConfigError(f"train: run config field 'optimizer.noDecay' expected 'biasAndNorm' or 'none', got {nd!r}")
    no_decay = no_decay_for_bias_and_norm if nd == "biasAndNorm" else None
    if use_fsdp:  # the no-decay set is decided on the unsharded shapes; then the model is sharded
        fs = run["fsdp"] if isinstance(run["fsdp"], dict) else {}
        nd_names = {n for n, p in model.named_parameters() if no_decay is not None and no_decay(n, p)}
        full_params = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        net = capabilities.wrap_fsdp(model, fs.get("wrap", list(DEFAULT_FSDP_WRAP)), fs.get("sharding", "FULL_SHARD"), device)
        params = [(capabilities.clean_fsdp_name(n), p) for n, p in net.named_parameters()]
        no_decay = lambda n, p: n in nd_names  # noqa: E731
        log(json.dumps({"fsdp": {"rank": rank, "world": world, "units": capabilities.fsdp_unit_count(net)}}))
    else:
        params = list(model.named_parameters())
    opt = AdamW(params, lr=o.get("lr", 1e-3), betas=o.get("betas", (0.9, 0.999)), eps=o.get("eps", 1e-8),
                weight_decay=o.get("weightDecay", 1e-2), no_decay=no_decay)

    def load_optimizer(entries, state_json):
        for name in expert_names:  # saved in the full layout: keep this rank's experts
            for key in (f"exp_avg.{name}", f"exp_avg_sq.{name}"):
                if key in entries:
                    entries[key] = expert_parallel.shard_tensor(entries[key], rank, world)
        if use_fsdp:  # saved in the full layout: keep this rank's shards
            entries = capabilities.fsdp_shard_moments(net, full_params, entries)
        opt.load_state(entries, state_json)

    start, losses = 0, []
    if resumed:
        with open(os.path.join(out, STATE_FILE)) as f:
            st = json.load(f)
        with open(os.path.join(out, "optimizer.json")) as f:
            load_optimizer(safetensors.load(os.path.join(out, "optimizer.safetensors")), json.load(f))
        start, losses = st["step"], st["losses"]
        if rank == 0:
            log(json.dumps({"resumed": out, "step": start}))
    elif init_trainer is not None and isinstance(init_trainer.get("optimizer"), dict):
        opt_file = os.path.join(run["init"], "optimizer.safetensors")
        if init_trainer["optimizer"].get("kind") != "AdamW":
            raise RunConfigError(f"train: '{run['init']}' holds a {init_trainer['optimizer'].get('kind')!r} optimizer state; brickml_torch.train continues AdamW only")
        load_optimizer(safetensors.load(opt_file), init_trainer["optimizer"])
        if rank == 0:
            log(json.dumps({"continued": run["init"], "optimizerStep": opt.step_count}))

    # BrickML's Ema of the weights (after expert sharding: a rank's EMA holds its experts' slices)
    ema = None
    if run.get("ema") is not None:
        e = run["ema"]
        ema = EMA.for_module(model, e.get("decay", 0.999), e.get("warmup", False), e.get("includeBuffers", False))
        shard = lambda name, t: expert_parallel.shard_tensor(t, rank, world) if name in expert_names else t  # noqa: E731
        if resumed and os.path.isfile(os.path.join(out, "ema.safetensors")):
            with open(os.path.join(out, "ema.json")) as f:
                ema.load_state(safetensors.load(os.path.join(out, "ema.safetensors")), json.load(f), transform=shard)
        elif not resumed and init_trainer is not None and isinstance(init_trainer.get("ema"), dict):
            ema.load_state(safetensors.load(os.path.join(run["init"], "ema.safetensors")), init_trainer["ema"], transform=shard)
            if rank == 0:
                log(json.dumps({"continued": run["init"], "emaUpdates": ema.updates}))

    ddp = distributed and not use_ep and not use_fsdp  # with experts sharded, gradients are averaged by expert_parallel.finish_gradients
    if not use_fsdp:
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
        ema_full = None
        if ema is not None:  # with experts sharded a collective too: every rank sends its experts' averages
            ema_full = {n: (expert_parallel.gather_experts(ema.shadows[n], world) if n in expert_names else ema.shadows[n]).detach().cpu().contiguous().numpy()
                        for n in sorted(ema.shadows)}
        if use_fsdp:  # collectives: the full parameters and moments are gathered on rank 0
            full = capabilities.fsdp_full_state(net)
            moments = capabilities.fsdp_full_moments(net, opt)
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
        if use_ep or use_fsdp:
            with torch.random.fork_rng(devices=[]):  # the throwaway initialisation must not move the run's RNG
                whole = build(model_config)
            whole.load_state_dict(full, strict=True)
            save(whole, stage)
            safetensors.save(os.path.join(stage, "optimizer.safetensors"), moments)
        else:
            save(model, stage)
            safetensors.save(os.path.join(stage, "optimizer.safetensors"), opt.state_entries())
        with open(os.path.join(stage, "optimizer.json"), "w") as f:
            json.dump(opt.state_json(), f)
        if ema is not None:
            safetensors.save(os.path.join(stage, "ema.safetensors"), ema_full)
            with open(os.path.join(stage, "ema.json"), "w") as f:
                json.dump(ema.state_json(), f)
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
        if run.get("clipGradNorm") and use_fsdp:
            net.clip_grad_norm_(float(run["clipGradNorm"]))  # FSDP's global norm over every rank's shards
        elif run.get("clipGradNorm") and use_ep:
            expert_parallel.clip_grad_norm(list(model.named_parameters()), expert_names, float(run["clipGradNorm"]))
        elif run.get("clipGradNorm"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(run["clipGradNorm"]))  # BrickML's clipGradNorm formula
        lr = opt.step()
        if ema is not None:
            ema.update()
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
