"""The EMA of the weights (brickml_torch.ema = core's Ema) in the trainer, continuing a BrickML Trainer
checkpoint's optimizer and EMA, and the FSDP path: its capability check, its config errors, and (only
where PyTorch ≥ 2.0 has torch.distributed.fsdp) two FSDP ranks equal to one process."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

import brickml_torch as bt
from brickml_torch import safetensors
from brickml_torch.distributed import FsdpUnavailable, fsdp_available, gloo_available
from brickml_torch.ema import EMA, EmaError
from brickml_torch.optim import AdamW
from brickml_torch.train import RunConfigError, read_run_config, train

PY_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL = {"type": "MLP", "dim": 4, "hidden": 16, "outDim": 2, "activation": "gelu"}
FSDP_OK, FSDP_WHY = fsdp_available()


class EmaTest(unittest.TestCase):
    def test_update_is_brickmls_formula_with_warmup(self):
        torch.manual_seed(0)
        lin = bt.build({"type": "Linear", "inFeatures": 3, "outFeatures": 2})
        ema = EMA.for_module(lin, decay=0.95, warmup=True)
        want = {n: p.detach().clone() for n, p in lin.named_parameters()}
        for t in range(12):
            with torch.no_grad():
                for p in lin.parameters():
                    p.add_(torch.randn_like(p))
            d = min(0.95, (1 + t) / (10 + t))  # 0.1, 0.1818, ..., capped at 0.95
            self.assertAlmostEqual(ema.current_decay(), d)
            ema.update()
            for n, p in lin.named_parameters():
                want[n] = d * want[n] + (1 - d) * p.detach()
        for n, s in ema.shadows.items():
            torch.testing.assert_close(s, want[n], rtol=0, atol=1e-6)
        self.assertEqual(ema.state_json(), {"kind": "Ema", "version": 1, "updates": 12, "decay": 0.95, "warmup": True, "includeBuffers": False})

    def test_tracks_what_brickml_tracks_and_round_trips_its_state(self):
        byol = bt.build({"type": "BYOL", "encoder": {"type": "Linear", "inFeatures": 3, "outFeatures": 4}, "encoderDim": 4, "hidden": 5, "projectionDim": 2})
        params = EMA.for_module(byol)  # BrickML's namedParameters: trainable only (not the frozen target)
        self.assertTrue(all(not n.startswith("target_") for n in params.shadows))
        everything = EMA.for_module(byol, include_buffers=True)  # namedState: target and BatchNorm statistics too
        self.assertIn("target_projector.bn.running_var", everything.shadows)
        self.assertIn("target_encoder.weight", everything.shadows)
        everything.update()
        other = EMA.for_module(byol, include_buffers=True)
        other.load_state(everything.state_entries(), everything.state_json())
        self.assertEqual(other.updates, 1)
        for n in everything.shadows:
            self.assertTrue(torch.equal(other.shadows[n], everything.shadows[n]), n)
        entries = everything.state_entries()
        del entries["predictor.fc1.bias"]
        with self.assertRaises(EmaError) as e:
            other.load_state(entries)
        self.assertIn("missing 'predictor.fc1.bias'", str(e.exception))
        with self.assertRaises(EmaError) as e:
            other.load_state({**everything.state_entries(), "predictor.fc1.bias": np.zeros(3, np.float32)})
        self.assertIn("'predictor.fc1.bias' has shape [3], expected [5]", str(e.exception))

    def test_averaged_swaps_in_and_restores(self):
        lin = bt.build({"type": "Linear", "inFeatures": 2, "outFeatures": 2})
        ema = EMA.for_module(lin, decay=0.5)
        before = lin.weight.detach().clone()
        with torch.no_grad():
            lin.weight.add_(1.0)
        ema.update()
        with ema.averaged():
            torch.testing.assert_close(lin.weight, before + 0.5)
        torch.testing.assert_close(lin.weight, before + 1.0)


class TrainerEmaTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        rs = np.random.RandomState(0)
        x = rs.randn(32, 4).astype(np.float32)
        self.x, self.y = x, np.sin(x @ rs.randn(4, 2)).astype(np.float32)
        safetensors.save(os.path.join(self.dir, "data.safetensors"), {"x": self.x, "y": self.y})

    def tearDown(self):
        self.tmp.cleanup()

    def run_config(self, name, **over):
        run = {"model": MODEL, "data": {"file": "data.safetensors", "inputs": ["x"], "target": "y"}, "loss": "mse", "steps": 4,
               "batchSize": 32, "seed": 3, "optimizer": {"lr": 1e-2, "weightDecay": 0.1}, "out": name, **over}
        path = os.path.join(self.dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump(run, f)
        return path

    def test_trainer_keeps_an_ema_that_resumes_exactly(self):
        ema = {"decay": 0.9, "warmup": True}
        whole, _ = train(read_run_config(self.run_config("whole", steps=6, ema=ema)), log=lambda s: None)
        train(read_run_config(self.run_config("cut", steps=3, ema=ema)), log=lambda s: None)
        train(read_run_config(self.run_config("cut", steps=6, ema=ema)), log=lambda s: None)
        a = safetensors.load(os.path.join(self.dir, "whole", "ema.safetensors"))
        b = safetensors.load(os.path.join(self.dir, "cut", "ema.safetensors"))
        self.assertEqual(sorted(a), sorted(n for n, _ in whole.named_parameters()))
        for n in a:
            self.assertTrue(np.array_equal(a[n], b[n]), n)
        with open(os.path.join(self.dir, "cut", "ema.json")) as f:
            self.assertEqual(json.load(f)["updates"], 6)
        # the average lags the weights
        self.assertGreater(max(float(np.abs(a[n] - p.detach().numpy()).max()) for n, p in whole.named_parameters()), 1e-4)

    def test_continues_a_brickml_trainer_checkpoint_optimizer_and_ema(self):
        """A folder as BrickML's Trainer.save writes it (model, optimizer.safetensors, ema.safetensors, trainer.json
        with the optimizer's and the EMA's JSON): one more step here moves the EMA from BrickML's state by BrickML's
        formula, with the decay of update #updates, and AdamW continues from its moments and step count."""
        torch.manual_seed(5)
        model = bt.build(MODEL)
        init = os.path.join(self.dir, "ts-trainer")
        bt.save(model, init)
        # BrickML's state after 7 steps (any consistent values do): moments, and an EMA away from the weights
        opt = AdamW(model.named_parameters(), lr=1e-2, weight_decay=0.1)
        shadows = {n: (p.detach() + 0.3 * torch.randn_like(p)).numpy() for n, p in model.named_parameters()}
        moments = {}
        for n, p in model.named_parameters():
            moments[f"exp_avg.{n}"] = (0.01 * torch.randn_like(p)).numpy()
            moments[f"exp_avg_sq.{n}"] = (1e-4 * torch.rand_like(p)).numpy()
        opt_json = {"kind": "AdamW", "version": 1, "step": 7, "paramSteps": {n: 7 for n, _ in model.named_parameters()},
                    "options": {"betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.1}}
        ema_json = {"kind": "Ema", "version": 1, "updates": 7, "decay": 0.99, "warmup": True, "includeBuffers": False}
        safetensors.save(os.path.join(init, "optimizer.safetensors"), moments)
        safetensors.save(os.path.join(init, "ema.safetensors"), shadows)
        with open(os.path.join(init, "trainer.json"), "w") as f:
            json.dump({"version": 1, "step": 7, "optimizer": opt_json, "ema": ema_json, "history": []}, f)

        run = self.run_config("continued", steps=1, ema={"decay": 0.99, "warmup": True})
        with open(run) as f:
            cfg = {**json.load(f), "init": "ts-trainer"}
        del cfg["model"]
        with open(run, "w") as f:
            json.dump(cfg, f)
        logs = []
        trained, _ = train(read_run_config(run), log=logs.append)
        self.assertIn('{"continued": "%s", "emaUpdates": 7}' % init, logs)

        # the same step by hand: AdamW from BrickML's moments (t = 8), then the EMA with d = min(0.99, 8/17)
        ref = bt.load(init).train()
        ref_opt = AdamW(ref.named_parameters(), lr=1e-2, weight_decay=0.1)
        ref_opt.load_state(moments, opt_json)
        loss = torch.nn.functional.mse_loss(ref(torch.from_numpy(self.x)), torch.from_numpy(self.y))
        loss.backward()
        ref_opt.step()
        for (n, p), (_, q) in zip(trained.named_parameters(), ref.named_parameters()):
            torch.testing.assert_close(p, q, rtol=0, atol=1e-7, msg=n)
        d = min(0.99, (1 + 7) / (10 + 7))
        got = safetensors.load(os.path.join(self.dir, "continued", "ema.safetensors"))
        for n, q in ref.named_parameters():
            np.testing.assert_allclose(got[n], d * shadows[n] + (1 - d) * q.detach().numpy(), rtol=0, atol=1e-6, err_msg=n)
        with open(os.path.join(self.dir, "continued", "ema.json")) as f:
            self.assertEqual(json.load(f)["updates"], 8)
        with open(os.path.join(self.dir, "continued", "optimizer.json")) as f:
            self.assertEqual(json.load(f)["step"], 8)

    def test_ema_and_fsdp_config_errors_name_the_field(self):
        for over, needle in [
            ({"ema": {"decay": 2}}, "'ema.decay' expected a number in [0, 1]"),
            ({"ema": {"decy": 0.9}}, "'ema' expected an object with fields decay, includeBuffers, warmup"),
            ({"fsdp": {"sharding": "ALL"}}, "'fsdp.sharding' expected one of FULL_SHARD"),
            ({"fsdp": {"wrap": "TransformerBlock"}}, "'fsdp.wrap' expected an array of brick type names"),
            ({"fsdp": True, "ema": {}}, "'fsdp' and 'ema' together are not supported"),
            ({"fsdp": True, "expertParallel": True}, "'fsdp' and 'expertParallel': true together are not supported"),
        ]:
            with self.subTest(over=over), self.assertRaises(RunConfigError) as e:
                read_run_config(self.run_config("bad", **over))
            self.assertIn(needle, str(e.exception))


class FsdpTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        rs = np.random.RandomState(0)
        x = rs.randn(64, 4).astype(np.float32)
        safetensors.save(os.path.join(self.dir, "data.safetensors"), {"x": x, "y": np.sin(x @ rs.randn(4, 2)).astype(np.float32)})

    def tearDown(self):
        self.tmp.cleanup()

    def run_config(self, name, **over):
        model = {"type": "Sequential", "layers": [{"type": "MLP", "dim": 4, "hidden": 16, "outDim": 8}, {"type": "LayerNorm", "dim": 8},
                                                  {"type": "MLP", "dim": 8, "hidden": 16, "outDim": 2}]}
        run = {"model": model, "data": {"file": "data.safetensors", "inputs": ["x"], "target": "y"}, "loss": "mse", "steps": 5,
               "batchSize": 16, "seed": 3, "optimizer": {"lr": 1e-2, "weightDecay": 0.1}, "clipGradNorm": 0.5, "out": name, **over}
        path = os.path.join(self.dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump(run, f)
        return path

    @unittest.skipIf(FSDP_OK, "this PyTorch has FSDP")
    def test_asking_for_fsdp_without_it_names_the_capability(self):
        with self.assertRaises(FsdpUnavailable) as e:
            train(read_run_config(self.run_config("fsdp", fsdp=True)), log=lambda s: None)
        msg = str(e.exception)
        self.assertIn("train: run config field 'fsdp': needs torch.distributed.fsdp (FullyShardedDataParallel, PyTorch ≥ 2.0)", msg)
        self.assertIn(FSDP_WHY, msg)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "fsdp")))  # stopped before anything ran

    def test_capability_check_reports_what_an_import_does(self):
        r = subprocess.run([sys.executable, "-c", "import torch.distributed.fsdp"], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            self.assertFalse(FSDP_OK)
            self.assertIn("import torch.distributed.fsdp failed", FSDP_WHY)
        elif int(torch.__version__.split(".")[0]) < 2:
            self.assertFalse(FSDP_OK)
            self.assertIn("older than 2.0", FSDP_WHY)
        else:
            self.assertTrue(FSDP_OK, FSDP_WHY)

    @unittest.skipUnless(FSDP_OK and gloo_available(), f"FSDP cannot run with this PyTorch ({FSDP_WHY}), or gloo is missing")
    def test_two_fsdp_ranks_equal_one_process_and_resume(self):
        single, single_losses = train(read_run_config(self.run_config("single")), log=lambda s: None)
        env = {**os.environ, "PYTHONPATH": PY_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}

        def torchrun(cfg):
            return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "brickml_torch.train",
                                   "--config", cfg], cwd=self.dir, env=env, capture_output=True, text=True, timeout=300)

        fsdp = {"wrap": ["MLP"]}
        r = torchrun(self.run_config("fsdp", fsdp=fsdp))
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        got = bt.load(os.path.join(self.dir, "fsdp"))
        for (n, p), (_, q) in zip(single.named_parameters(), got.named_parameters()):
            torch.testing.assert_close(q, p, rtol=0, atol=1e-6, msg=n)
        st = safetensors.load(os.path.join(self.dir, "fsdp", "optimizer.safetensors"))
        self.assertEqual(st["exp_avg.layers.0.fc1.weight"].shape, (16, 4))  # moments gathered in the full layout
        # stop after 3 steps (a save), then the same command to 5: equal to the uninterrupted run
        r = torchrun(self.run_config("cut", fsdp=fsdp, steps=3))
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        r = torchrun(self.run_config("cut", fsdp=fsdp))
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        cut = bt.load(os.path.join(self.dir, "cut"))
        for (n, p), (_, q) in zip(got.named_parameters(), cut.named_parameters()):
            torch.testing.assert_close(q, p, rtol=0, atol=1e-6, msg=n)


if __name__ == "__main__":
    unittest.main()
