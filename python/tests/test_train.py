"""brickml_torch.train: BrickML's AdamW and schedules, learning, DDP (2 ranks, gloo) equal to one
process on the same global batch, exact resume, and checkpoints in BrickML's layout."""
import json
import re
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import numpy as np
import torch

import brickml_torch as bt
from brickml_torch import safetensors
from brickml_torch.optim import AdamW, make_schedule, no_decay_for_bias_and_norm
from brickml_torch.train import batch_indices, read_run_config, train

PY_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = {"type": "MLP", "dim": 4, "hidden": 16, "outDim": 2, "activation": "gelu"}


def worker_pid(launcher_pid, rank):
    """The pid of torchrun's worker process with RANK=rank (a child of the launcher), read from /proc."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != launcher_pid:
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
        except (OSError, ValueError, IndexError):
            continue
        if env.get(b"RANK") == str(rank).encode():
            return int(entry)
    raise AssertionError(f"no worker with RANK={rank} under torchrun (pid {launcher_pid})")


def gloo_works():
    from brickml_torch.distributed import gloo_available

    return gloo_available()


class TrainTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        rs = np.random.RandomState(0)
        x = rs.randn(64, 4).astype(np.float32)
        w = rs.randn(4, 2).astype(np.float32)
        safetensors.save(os.path.join(self.dir, "data.safetensors"), {"x": x, "y": np.sin(x @ w).astype(np.float32)})

    def tearDown(self):
        self.tmp.cleanup()

    def run_config(self, name, **over):
        run = {"model": MODEL, "data": {"file": "data.safetensors", "inputs": ["x"], "target": "y"}, "loss": "mse", "steps": 4,
               "batchSize": 16, "seed": 3, "optimizer": {"lr": 1e-2, "weightDecay": 0.1}, "out": name, **over}
        path = os.path.join(self.dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump(run, f)
        return path

    def test_adamw_is_torch_adamw_with_brickml_decay_groups(self):
        torch.manual_seed(0)
        a = bt.build({"type": "TransformerBlock", "dim": 8, "heads": 2})
        b = bt.build(a.to_config())
        b.load_state_dict(a.state_dict())
        ours = AdamW(a.named_parameters(), lr=3e-3, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)
        named = list(b.named_parameters())
        ref = torch.optim.AdamW([{"params": [p for n, p in named if not no_decay_for_bias_and_norm(n, p)], "weight_decay": 0.05},
                                 {"params": [p for n, p in named if no_decay_for_bias_and_norm(n, p)], "weight_decay": 0.0}],
                                lr=3e-3, betas=(0.8, 0.95), eps=1e-6)
        x = torch.randn(2, 5, 8)
        for _ in range(3):
            for m, o in ((a, ours), (b, ref)):
                o.zero_grad()
                m(x).square().mean().backward()
                o.step()
        for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            self.assertTrue(torch.allclose(p, q, atol=1e-7, rtol=1e-6), n)
        self.assertEqual(sorted(ours.no_decay)[:2], ["attn.out.bias", "mlp.fc1.bias"])
        self.assertNotIn("attn.q.weight", ours.no_decay)
        self.assertIn("norm1.weight", ours.no_decay)

    def test_schedules_match_brickml(self):
        f = make_schedule({"kind": "warmupCosine", "peakLr": 1.0, "warmupSteps": 4, "totalSteps": 12, "minLr": 0.1})
        self.assertEqual([f(s) for s in range(4)], [0.25, 0.5, 0.75, 1.0])
        self.assertAlmostEqual(f(8), 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
        self.assertEqual(f(12), 0.1)
        g = make_schedule({"kind": "warmupLinearDecay", "peakLr": 2.0, "warmupSteps": 0, "totalSteps": 4})
        self.assertEqual([g(s) for s in range(5)], [2.0, 1.5, 1.0, 0.5, 0.0])
        with self.assertRaises(ValueError) as e:
            make_schedule({"kind": "warmupCosine", "peakLr": 1, "warmupSteps": 5, "totalSteps": 4})
        self.assertIn("'warmupSteps' (5) must be ≤ 'totalSteps' (4)", str(e.exception))

    def test_batches_depend_on_seed_and_step_only_and_split_over_ranks(self):
        full = batch_indices(10, 2, 6, seed=1)  # positions 12..17: epoch 1, positions 2..7
        self.assertEqual(full, torch.randperm(10, generator=torch.Generator().manual_seed(2))[2:8].tolist())
        self.assertEqual(batch_indices(10, 2, 6, 1, rank=0, world=2) + batch_indices(10, 2, 6, 1, rank=1, world=2), full)
        crossing = batch_indices(10, 1, 6, seed=1)  # positions 6..11 span epochs 0 and 1
        self.assertEqual(crossing[:4], torch.randperm(10, generator=torch.Generator().manual_seed(1))[6:].tolist())

    def test_learns_and_writes_a_brickml_checkpoint(self):
        run = self.run_config("learn", steps=150, optimizer={"lr": 3e-2, "weightDecay": 0.1})
        model, losses = train(read_run_config(run), log=lambda s: None)
        self.assertLess(np.mean(losses[-10:]), 0.25 * np.mean(losses[:5]))  # measured: 0.59 → 0.093
        out = os.path.join(self.dir, "learn")
        back = bt.load(out)
        for k, v in bt.state_to_brickml(back).items():
            self.assertTrue(np.array_equal(v, bt.state_to_brickml(model)[k]), k)
        with open(os.path.join(out, "optimizer.json")) as f:
            st = json.load(f)
        self.assertEqual((st["kind"], st["step"], st["paramSteps"]["fc1.weight"]), ("AdamW", 150, 150))
        self.assertIn("exp_avg_sq.fc2.bias", safetensors.load(os.path.join(out, "optimizer.safetensors")))

    def test_moe_auxiliary_loss_joins_the_objective(self):
        moe = {"type": "MoE", "kind": "dropless", "dim": 4, "ffnHidden": 8, "numExperts": 4, "topK": 2, "blockSize": 4, "zLossCoef": 0.01}
        # outDim 2 targets do not fit a [.., 4] MoE output: regress x on itself instead
        rs = np.random.RandomState(1)
        x = rs.randn(32, 4).astype(np.float32)
        safetensors.save(os.path.join(self.dir, "self.safetensors"), {"x": x, "y": np.tanh(x)})
        run = self.run_config("moe", model=moe, steps=1, data={"file": "self.safetensors", "inputs": ["x"], "target": "y"})
        torch.manual_seed(3)
        ref = bt.build(moe).train()
        idx = torch.tensor(batch_indices(32, 0, 16, 3))
        out = ref(torch.from_numpy(x)[idx])
        want = float(torch.nn.functional.mse_loss(out["y"], torch.from_numpy(np.tanh(x))[idx]) + out["auxLoss"])
        _, losses = train(read_run_config(run), log=lambda s: None)
        self.assertAlmostEqual(losses[0], want, places=6)
        self.assertGreater(float(out["auxLoss"]), 0.05)  # the aux term is not negligible here

    def test_resume_redoes_only_the_lost_steps(self):
        whole, _ = train(read_run_config(self.run_config("whole", steps=6)), log=lambda s: None)
        # a run stopped after its save at step 3 (what a killed run leaves), then the same command again
        train(read_run_config(self.run_config("cut", steps=3)), log=lambda s: None)
        resumed, losses = train(read_run_config(self.run_config("cut", steps=6)), log=lambda s: None)
        self.assertEqual(len(losses), 6)
        for (n, p), (_, q) in zip(whole.named_parameters(), resumed.named_parameters()):
            self.assertTrue(torch.equal(p, q), n)

    def test_run_config_errors_name_the_field(self):
        with self.assertRaises(ValueError) as e:
            read_run_config(self.run_config("bad", stpes=3))
        self.assertIn("'stpes'", str(e.exception))
        with self.assertRaises(ValueError) as e:
            read_run_config(self.run_config("bad", init="somewhere"))
        self.assertIn("exactly one of 'init'", str(e.exception))

    def test_shard_experts_keeps_brickml_names_and_a_slice(self):
        from brickml_torch.expert_parallel import shard_experts, shard_tensor

        torch.manual_seed(0)
        moe = {"type": "MoE", "dim": 4, "ffnHidden": 8, "numExperts": 4, "blockSize": 4, "activation": "swiglu"}
        full = bt.build({"type": "TransformerBlock", "dim": 4, "heads": 2, "feedForward": moe})
        ref = {k: v.clone() for k, v in full.state_dict().items()}
        names = shard_experts(full, rank=1, world=2)
        self.assertEqual(names, ["feed_forward.experts.w1", "feed_forward.experts.v1", "feed_forward.experts.w2"])
        st = full.state_dict()
        self.assertEqual(sorted(st), sorted(ref))  # BrickML's names, a rank's slice of the expert axis
        for k in ref:
            self.assertTrue(torch.equal(st[k], shard_tensor(ref[k], 1, 2) if k in names else ref[k]), k)
        self.assertEqual(tuple(st["feed_forward.experts.w2"].shape), (2, 8, 4))
        with self.assertRaises(ValueError) as e:
            shard_experts(full, rank=1, world=2)
        self.assertIn("already sharded", str(e.exception))
        with self.assertRaises(ValueError) as e:
            shard_experts(bt.build({**moe, "numExperts": 3}), rank=0, world=2)
        self.assertIn("numExperts 3, which does not divide over 2 ranks", str(e.exception))
        with self.assertRaises(ValueError) as e:
            read_run_config(self.run_config("bad", expertParallel="yes"))
        self.assertIn("'expertParallel' expected true, false or 'auto', got 'yes'", str(e.exception))

    def test_commit_save_leaves_one_whole_save(self):
        from brickml_torch.train import STAGE_DIR, STATE_FILE, commit_save

        out = os.path.join(self.dir, "ckpt")
        stage = os.path.join(out, STAGE_DIR)

        def write(folder, tag, files=("model.safetensors", "optimizer.json", STATE_FILE)):
            os.makedirs(folder, exist_ok=True)
            for f in files:
                with open(os.path.join(folder, f), "w") as fh:
                    fh.write(tag)

        def contents():
            return {f: open(os.path.join(out, f)).read() for f in sorted(os.listdir(out)) if f != STAGE_DIR}

        write(out, "old")
        write(stage, "new", ("model.safetensors",))  # killed while staging: no state file in the stage
        self.assertFalse(commit_save(out))
        self.assertEqual(contents(), {"model.safetensors": "old", "optimizer.json": "old", STATE_FILE: "old"})
        self.assertFalse(os.path.exists(stage))
        write(stage, "new")  # a whole stage, killed after moving one file in: the next start finishes the move
        os.replace(os.path.join(stage, "model.safetensors"), os.path.join(out, "model.safetensors"))
        os.remove(os.path.join(out, STATE_FILE))
        self.assertTrue(commit_save(out))
        self.assertEqual(contents(), {"model.safetensors": "new", "optimizer.json": "new", STATE_FILE: "new"})
        self.assertFalse(os.path.exists(stage))
        self.assertFalse(commit_save(os.path.join(self.dir, "nothing-here")))

    @unittest.skipUnless(gloo_works(), "torch.distributed with gloo is not available")
    def test_two_ranks_equal_one_process(self):
        single, _ = train(read_run_config(self.run_config("single", steps=5)), log=lambda s: None)
        env = {**os.environ, "PYTHONPATH": PY_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
        r = subprocess.run(
            # --redirects 2 --tee 1: torch 1.13's default "0" breaks under Python 3.11 (IntFlag iteration skips NONE)
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--redirects", "2", "--tee", "1",
             "-m", "brickml_torch.train",
             "--config", self.run_config("ddp", steps=5)],
            cwd=self.dir, env=env, capture_output=True, text=True, timeout=120,
        )
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        ddp = bt.load(os.path.join(self.dir, "ddp"))
        worst = 0.0
        for (n, p), (_, q) in zip(single.named_parameters(), ddp.named_parameters()):
            worst = max(worst, float((p - q).abs().max()))
        self.assertLess(worst, 1e-6, f"max |Δparam| {worst}")  # measured 3e-8 (gloo all-reduce order)
        # rank 0 logs one JSON line per step; torchrun's tee prefixes "[default<rank>]:" and may interleave the
        # two ranks' streams within a line, so the step records are found by pattern rather than parsed per line
        steps = [int(m) for m in re.findall(r'\{"step": (\d+), "loss"', r.stdout)]
        self.assertEqual(steps, [1, 2, 3, 4, 5])

    @unittest.skipUnless(gloo_works(), "torch.distributed with gloo is not available")
    def test_two_ranks_equal_one_process_for_a_dropless_moe(self):
        """Experts replicated on both ranks under DDP ("expertParallel": false). The load-balancing loss and a
        capacity limit are then computed per rank on its slice, so they are off here (z-loss is a mean: on)."""
        moe = {"type": "MoE", "kind": "dropless", "blockSize": 4, "dim": 4, "ffnHidden": 8, "numExperts": 8, "topK": 1,
               "loadBalanceCoef": 0, "zLossCoef": 0.01}
        rs = np.random.RandomState(1)
        x = rs.randn(32, 4).astype(np.float32)
        safetensors.save(os.path.join(self.dir, "self.safetensors"), {"x": x, "y": np.tanh(x)})
        over = {"model": moe, "data": {"file": "self.safetensors", "inputs": ["x"], "target": "y"}, "batchSize": 8, "steps": 4,
                "expertParallel": False}
        single, _ = train(read_run_config(self.run_config("moe-single", **over)), log=lambda s: None)
        env = {**os.environ, "PYTHONPATH": PY_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
        r = subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--redirects", "2", "--tee", "1",
             "-m", "brickml_torch.train", "--config", self.run_config("moe-ddp", **over)],
            cwd=self.dir, env=env, capture_output=True, text=True, timeout=120,
        )
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        ddp = bt.load(os.path.join(self.dir, "moe-ddp"))
        worst = max(float((p - q).abs().max()) for (_, p), (_, q) in zip(single.named_parameters(), ddp.named_parameters()))
        self.assertLess(worst, 1e-6)  # measured 7e-9
        self.assertNotIn('"expertParallel"', r.stdout)

    def torchrun(self, config, timeout=180):
        env = {**os.environ, "PYTHONPATH": PY_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
        return subprocess.run(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--redirects", "2", "--tee", "1",
             "-m", "brickml_torch.train", "--config", config],
            cwd=self.dir, env=env, capture_output=True, text=True, timeout=timeout,
        )

    def expert_parallel_case(self, kind, steps=4, **moe_over):
        moe = {"type": "MoE", "kind": kind, "blockSize": 4, "dim": 4, "ffnHidden": 8, "numExperts": 4, "topK": 2,
               "activation": "swiglu", "loadBalanceCoef": 0.1, "zLossCoef": 0.01, **moe_over}
        rs = np.random.RandomState(1)
        x = rs.randn(48, 4).astype(np.float32)
        safetensors.save(os.path.join(self.dir, "self.safetensors"), {"x": x, "y": np.tanh(x)})
        return {"model": moe, "data": {"file": "self.safetensors", "inputs": ["x"], "target": "y"}, "batchSize": 16, "steps": steps,
                "optimizer": {"lr": 3e-2, "weightDecay": 0.1}}

    def assert_same_run(self, single, other_dir, tol):
        other = bt.load(os.path.join(self.dir, other_dir))
        worst = 0.0
        for (n, p), (m, q) in zip(single.named_parameters(), other.named_parameters()):
            self.assertEqual((n, tuple(p.shape)), (m, tuple(q.shape)))  # the full BrickML layout, not a rank's slice
            worst = max(worst, float((p - q).abs().max()))
        self.assertLess(worst, tol, f"max |Δparam| {worst}")
        return worst

    @unittest.skipUnless(gloo_works(), "torch.distributed with gloo is not available")
    def test_two_ranks_with_experts_split_equal_one_process(self):
        """Expert parallelism: each rank holds 2 of the 4 experts, tokens travel by all_to_all; the
        load-balancing loss (on, with global counts), z-loss, top-2 and swiglu as one process."""
        for kind in ("dropless", "capacity"):
            with self.subTest(kind=kind):
                over = self.expert_parallel_case(kind, capacityFactor=0.75)
                single, single_losses = train(read_run_config(self.run_config(f"{kind}-single", **over)), log=lambda s: None)
                r = self.torchrun(self.run_config(f"{kind}-ep", **over))
                self.assertEqual(r.returncode, 0, r.stderr[-3000:])
                shards = sorted(json.loads(m)["experts"][0][1:] for m in re.findall(r'\{"expertParallel": (\{.*?\]\]\})', r.stdout))
                self.assertEqual(shards, [[0, 2], [2, 4]])
                self.assert_same_run(single, f"{kind}-ep", 1e-6)
                with open(os.path.join(self.dir, f"{kind}-ep", "torch_train.json")) as f:
                    ep_losses = json.load(f)["losses"]
                np.testing.assert_allclose(ep_losses, single_losses, rtol=1e-6, atol=1e-7)
                # the AdamW moments come back whole too (BrickML's optimizer layout)
                st = safetensors.load(os.path.join(self.dir, f"{kind}-ep", "optimizer.safetensors"))
                self.assertEqual(st["exp_avg.experts.w1"].shape, (4, 4, 8))

    @unittest.skipUnless(gloo_works() and os.path.isdir("/proc"), "needs torch.distributed with gloo and /proc")
    def test_a_killed_rank_resumes_from_the_last_save(self):
        """torchrun with 2 ranks (experts split), SIGKILL of rank 0 (the writer) after the first save,
        torchrun fails; the same command again resumes and ends where an uninterrupted run ends."""
        steps = 200  # a few seconds: the kill lands right after the first save (measured: step 5)
        over = {**self.expert_parallel_case("dropless", steps=steps), "saveEvery": 5}
        whole = self.torchrun(self.run_config("whole", **over))
        self.assertEqual(whole.returncode, 0, whole.stderr[-3000:])
        cut_config = self.run_config("cut", **over)
        env = {**os.environ, "PYTHONPATH": PY_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
        launcher = subprocess.Popen(
            [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--redirects", "2", "--tee", "1",
             "-m", "brickml_torch.train", "--config", cut_config],
            cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            state = os.path.join(self.dir, "cut", "torch_train.json")
            deadline = time.monotonic() + 120
            while not os.path.isfile(state):
                self.assertIsNone(launcher.poll(), "torchrun ended before its first save")
                self.assertLess(time.monotonic(), deadline, "no save within 120 s")
                time.sleep(0.005)
            victim = worker_pid(launcher.pid, rank=0)
            os.kill(victim, signal.SIGKILL)
            self.assertNotEqual(launcher.wait(timeout=120), 0)  # torchrun reports the dead worker and stops the other
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        with open(state) as f:
            saved = json.load(f)["step"]
        self.assertTrue(5 <= saved < steps and saved % 5 == 0, saved)  # killed mid-run, after a save
        again = self.torchrun(cut_config)
        self.assertEqual(again.returncode, 0, again.stderr[-3000:])
        resumed_from = [json.loads(m)["step"] for m in re.findall(r'(\{"resumed": .*?\})', again.stdout)]
        self.assertEqual(len(resumed_from), 1)
        self.assertGreaterEqual(resumed_from[0], saved)
        a, b = bt.load(os.path.join(self.dir, "whole")), bt.load(os.path.join(self.dir, "cut"))
        for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            self.assertTrue(torch.equal(p, q), f"{n}: max |Δ| {float((p - q).abs().max())}")
        with open(os.path.join(self.dir, "whole", "torch_train.json")) as f, open(os.path.join(self.dir, "cut", "torch_train.json")) as g:
            self.assertEqual(json.load(f)["losses"], json.load(g)["losses"])
        self.assertFalse(os.path.exists(os.path.join(self.dir, "cut", ".next")))


if __name__ == "__main__":
    unittest.main()
