"""Checkpoint directories in BrickML's format: strict loading, exact round trips, clear errors."""
import json
import os
import tempfile
import unittest

import numpy as np
import torch

import brickml_torch as bt
from brickml_torch import safetensors

RIN = {"type": "RinNetwork", "inputSize": [8, 8], "latentDim": 16, "interfaceDim": 12, "readHeads": 2, "latentHeads": 2,
       "numLatents": 4, "numBlocks": 2, "computeLayers": [1, 0], "numClasses": 2, "selfCondition": True, "writeDepthwiseConv": True}


class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def saved(self, config=RIN, seed=0):
        torch.manual_seed(seed)
        m = bt.build(config)
        d = os.path.join(self.dir, f"ckpt{seed}")
        bt.save(m, d)
        return m, d

    def test_save_load_is_bit_exact_and_writes_brickml_metadata(self):
        m, d = self.saved()
        back = bt.load(d)
        a, b = bt.state_to_brickml(m), bt.state_to_brickml(back)
        self.assertEqual(sorted(a), sorted(b))
        for k in a:
            self.assertTrue(np.array_equal(a[k].view(np.uint32), b[k].view(np.uint32)), k)
        _, meta = safetensors.load_with_metadata(os.path.join(d, "model.safetensors"))
        self.assertEqual(meta, {"format": "brickml", "brickml_type": "RinNetwork"})
        with open(os.path.join(d, "config.json")) as f:
            self.assertEqual(json.load(f), m.to_config())
        # and the same outputs
        x, g = torch.randn(2, 3, 8, 8), torch.rand(2)
        with torch.no_grad():
            self.assertTrue(torch.equal(m.eval()(x, g)[0], back(x, g)[0]))

    def test_brickml_names(self):
        m, _ = self.saved()
        names = set(bt.state_to_brickml(m))
        for n in ["stem.proj.weight", "stem_ln.weight", "interface_pos.weight", "latents", "noise_embed.fc1.weight",
                  "class_embed.weight", "blocks.0.read.attn.q.weight", "blocks.0.read.norm1.bias",
                  "blocks.0.compute.0.mlp.fc2.bias", "blocks.0.write.attn.out.bias", "blocks.0.conv.weight", "readout.proj.weight",
                  "latent_prev_mlp.fc1.weight", "latent_prev_ln.bias"]:
            self.assertIn(n, names)
        self.assertFalse(any(n.startswith("blocks.1.write") for n in names))  # 0 compute layers skip the write
        self.assertFalse(any(n.startswith("blocks.0.read.norm_context") for n in names))  # normContext false

    def rewrite(self, d, fn):
        p = os.path.join(d, "model.safetensors")
        arrays, meta = safetensors.load_with_metadata(p)
        safetensors.save(p, fn(arrays), meta)

    def test_missing_extra_and_misshapen_tensors_fail_naming_them(self):
        _, d = self.saved()
        self.rewrite(d, lambda a: {k: v for k, v in a.items() if k != "latents"})
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(d)
        self.assertIn("missing 1 tensor(s): latents", str(e.exception))
        self.assertIn("model.safetensors", str(e.exception))
        _, d = self.saved(seed=1)
        self.rewrite(d, lambda a: {**a, "blocks.9.x": np.zeros(2, np.float32)})
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(d)
        self.assertIn("unexpected 1 tensor(s): blocks.9.x", str(e.exception))
        _, d = self.saved(seed=2)
        self.rewrite(d, lambda a: {**a, "latents": np.zeros((5, 16), np.float32)})
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(d)
        self.assertIn("'latents' has shape [5, 16] in the file, expected [4, 16]", str(e.exception))

    def test_type_mismatch_and_missing_files(self):
        _, d = self.saved()
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"type": "Linear", "inFeatures": 2, "outFeatures": 2}, f)
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(d)
        self.assertIn("describes a Linear but", str(e.exception))
        self.assertIn("saved from a RinNetwork", str(e.exception))
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(os.path.join(self.dir, "nope"))
        self.assertIn("does not exist", str(e.exception))
        os.remove(os.path.join(d, "model.safetensors"))
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(d)
        self.assertIn("file not found", str(e.exception))

    def test_conv_weights_are_hwio_in_the_file_and_oihw_in_torch(self):
        torch.manual_seed(0)
        conv = bt.build({"type": "Conv2d", "inChannels": 4, "outChannels": 6, "kernelSize": [3, 2], "groups": 2})
        self.assertEqual(tuple(conv.weight.shape), (6, 2, 3, 2))  # OIHW
        d = os.path.join(self.dir, "conv")
        bt.save(conv, d)
        arrays = safetensors.load(os.path.join(d, "model.safetensors"))
        self.assertEqual(arrays["weight"].shape, (3, 2, 2, 6))  # HWIO, as BrickML stores it
        self.assertTrue(np.array_equal(arrays["weight"][1, 0, :, 4], conv.weight.detach().numpy()[4, :, 1, 0]))
        self.assertTrue(torch.equal(bt.load(d).weight, conv.weight))
        self.rewrite(d, lambda a: {**a, "weight": a["weight"].transpose(3, 2, 0, 1).copy()})  # an OIHW file
        with self.assertRaises(bt.CheckpointError) as e:
            bt.load(d)
        self.assertIn("'weight' has shape [6, 2, 3, 2] in the file", str(e.exception))
        self.assertIn("expected [3, 2, 2, 6] in BrickML's layout", str(e.exception))

    def test_unknown_config_field_in_a_checkpoint(self):
        _, d = self.saved()
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        cfg["latentDims"] = 3
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.load(d)
        self.assertIn("'latentDims'", str(e.exception))


if __name__ == "__main__":
    unittest.main()
