"""The GaussianDiffusion mirror and the trainer's diffusion objective (the loss itself is checked
against BrickML's in tests/torch/diffusion-loss.test.ts)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import brickml_torch as bt  # noqa: E402
from brickml_torch import safetensors  # noqa: E402
from brickml_torch.diffusion import gamma, resolve_schedule  # noqa: E402
from brickml_torch.train import RunConfigError, diffusion_draws, read_run_config, train  # noqa: E402

MODEL = {
    "type": "GaussianDiffusion",
    "objective": "v",
    "denoiser": {"type": "MlpDenoiser", "channels": 1, "inputSize": [4, 4], "hidden": 32, "noiseEmbedDim": 8, "numClasses": 2},
}


class DiffusionTest(unittest.TestCase):
    def test_schedules_are_brickmls(self):
        t = torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64)
        torch.testing.assert_close(gamma({"kind": "linear"}, t), torch.tensor([1, 0.75, 0.5, 1e-9], dtype=torch.float64))
        sig = gamma(resolve_schedule({"kind": "sigmoid"}), t)
        self.assertAlmostEqual(float(sig[0]), 1.0, places=12)
        self.assertEqual(float(sig[3]), 1e-9)  # clipped like pix2seq
        self.assertAlmostEqual(float(sig[2]), 0.5, places=12)  # symmetric range: γ(½) = ½
        cos = gamma({"kind": "cosine"}, t)
        self.assertAlmostEqual(float(cos[2]), math.cos((0.5 + 2e-4) / (1 + 2.5e-4) * math.pi / 2) ** 2, places=12)

    def test_config_errors_name_the_field(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({**MODEL, "schedule": {"kind": "sigmoid", "start": 2, "end": 1}})
        self.assertIn("'schedule'", str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({**MODEL, "contextFrames": 2})
        self.assertIn("no PyTorch mirror yet", str(e.exception))

    def test_given_draws_fix_the_loss_and_class_dropout_uses_the_null_class(self):
        torch.manual_seed(0)
        m = bt.build(MODEL)
        x0 = torch.rand(4, 1, 4, 4) * 2 - 1
        classes = torch.tensor([0, 1, 0, 1])
        draws = {"t": torch.rand(4, dtype=torch.float64), "noise": torch.randn(4, 1, 4, 4), "drop": torch.tensor([0.5, 0.05, 0.9, 0.2], dtype=torch.float64)}
        batch = m.prepare_batch(x0, classes, **draws)
        self.assertEqual(batch["class_labels"].tolist(), [0, 2, 0, 1])  # dropped where drop < classDropout 0.1
        g = batch["noise_level"].reshape(4, 1, 1, 1)
        torch.testing.assert_close(batch["target"], g.sqrt() * draws["noise"] - (1 - g).sqrt() * x0)
        self.assertEqual(float(m(x0, classes, **draws)), float(m(x0, classes, **draws)))

    def test_draws_depend_on_seed_and_step_and_split_over_ranks(self):
        m = bt.build(MODEL)
        whole = diffusion_draws(m, 3, 8, 5)
        halves = [diffusion_draws(m, 3, 8, 5, r, 2) for r in (0, 1)]
        for k in whole:
            self.assertTrue(torch.equal(whole[k], torch.cat([h[k] for h in halves])), k)
        self.assertFalse(torch.equal(whole["noise"], diffusion_draws(m, 4, 8, 5)["noise"]))

    def test_trainer_trains_a_diffusion_model_and_writes_a_brickml_checkpoint(self):
        d = tempfile.mkdtemp()
        try:
            g = torch.Generator().manual_seed(0)
            labels = torch.randint(0, 2, (64,), generator=g)
            x = torch.where(labels.reshape(64, 1, 1, 1) == 0, -0.8, 0.8) * torch.ones(64, 1, 4, 4)  # two constant images
            safetensors.save(os.path.join(d, "data.safetensors"), {"x": x.numpy(), "labels": labels.to(torch.int32).numpy()})
            run = {"model": MODEL, "data": {"file": "data.safetensors", "inputs": ["x"], "kwargs": {"classes": "labels"}}, "loss": "diffusion",
                   "steps": 300, "batchSize": 32, "seed": 1, "optimizer": {"lr": 3e-3, "weightDecay": 0}, "clipGradNorm": 1.0, "out": "out"}
            with open(os.path.join(d, "run.json"), "w") as f:
                json.dump(run, f)
            model, losses = train(read_run_config(os.path.join(d, "run.json")), log=lambda s: None)
            self.assertEqual(len(losses), 300)
            self.assertLess(np.mean(losses[-30:]), 0.5 * np.mean(losses[:30]))  # measured 0.72 → 0.28
            back = bt.load(os.path.join(d, "out"))
            self.assertEqual(type(back).__name__, "GaussianDiffusion")
            for (n, p), (_, q) in zip(model.state_dict().items(), back.state_dict().items()):
                self.assertTrue(torch.equal(p, q), n)
            with open(os.path.join(d, "run.json"), "w") as f:
                json.dump({**run, "data": {"file": "data.safetensors", "inputs": ["x"]}, "loss": "mse"}, f)
            with self.assertRaises(RunConfigError) as e:
                read_run_config(os.path.join(d, "run.json"))
            self.assertIn("'data.target'", str(e.exception))
        finally:
            shutil.rmtree(d)

    def test_two_ranks_equal_one_process_for_the_diffusion_loss(self):
        from brickml_torch.distributed import gloo_available

        if not gloo_available():
            self.skipTest("torch.distributed with gloo is not available")
        d = tempfile.mkdtemp()
        try:
            g = torch.Generator().manual_seed(2)
            x = torch.rand(32, 1, 4, 4, generator=g) * 2 - 1
            labels = torch.randint(0, 2, (32,), generator=g)
            safetensors.save(os.path.join(d, "data.safetensors"), {"x": x.numpy(), "labels": labels.to(torch.int32).numpy()})
            model = {**MODEL, "denoiser": {**MODEL["denoiser"], "selfCondition": True}}  # self-conditioning draws too

            def config(name):
                run = {"model": model, "data": {"file": "data.safetensors", "inputs": ["x"], "kwargs": {"classes": "labels"}}, "loss": "diffusion",
                       "steps": 4, "batchSize": 16, "seed": 7, "optimizer": {"lr": 1e-2}, "clipGradNorm": 1.0, "out": name}
                path = os.path.join(d, f"{name}.json")
                with open(path, "w") as f:
                    json.dump(run, f)
                return path

            single, _ = train(read_run_config(config("single")), log=lambda s: None)
            root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
            env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
            r = subprocess.run(
                [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--redirects", "2", "--tee", "1",
                 "-m", "brickml_torch.train", "--config", config("ddp")],
                cwd=d, env=env, capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])
            ddp = bt.load(os.path.join(d, "ddp"))
            worst = max(float((p - q).abs().max()) for (_, p), (_, q) in zip(single.state_dict().items(), ddp.state_dict().items()))
            self.assertLess(worst, 1e-6, f"max |Δparam| {worst}")  # measured 3e-8 (gloo all-reduce order)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
