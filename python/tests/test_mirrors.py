"""Behaviour of the mirrors that parity on random inputs does not pin down by itself."""
import os
import sys
import unittest

import torch

import brickml_torch as bt

HERE = os.path.dirname(os.path.abspath(__file__))


class MirrorTest(unittest.TestCase):
    def test_shape_errors_name_brick_argument_expected_and_actual(self):
        lin = bt.build({"type": "Linear", "inFeatures": 4, "outFeatures": 2})
        with self.assertRaises(ValueError) as e:
            lin(torch.zeros(3, 5))
        self.assertEqual(str(e.exception), "Linear: argument 'x' expected shape [..., 4], got [3, 5]")
        attn = bt.build({"type": "MultiHeadAttention", "dim": 8, "contextDim": 6, "heads": 2})
        with self.assertRaises(ValueError) as e:
            attn(torch.zeros(2, 3, 8), torch.zeros(3, 4, 6))
        self.assertIn("argument 'context' expected shape [2, ?, 6], got [3, 4, 6]", str(e.exception))
        block = bt.build({"type": "TransformerBlock", "dim": 8, "kind": "cross", "heads": 2})
        with self.assertRaises(ValueError) as e:
            block(torch.zeros(1, 2, 8))
        self.assertIn("needs a 'context'", str(e.exception))
        rin = bt.build({"type": "RinNetwork", "inputSize": [4, 4], "latentDim": 8, "interfaceDim": 8})
        with self.assertRaises(ValueError) as e:
            rin(torch.zeros(1, 3, 4, 4))
        self.assertIn("'noise_level'", str(e.exception))

    def test_fully_masked_query_gets_the_out_bias_and_masked_keys_do_not_leak(self):
        torch.manual_seed(0)
        attn = bt.build({"type": "MultiHeadAttention", "dim": 8, "heads": 2})
        x = torch.randn(1, 3, 8)
        mask = torch.tensor([[[1, 1, 0], [1, 0, 0], [0, 0, 0]]])
        with torch.no_grad():
            y, w = attn(x, attn_mask=mask, return_weights=True)
            self.assertTrue(torch.equal(y[0, 2], attn.out.bias))
            self.assertTrue(torch.all(w[0, :, 1, 1:] == 0))
            x2 = x.clone()
            x2[0, 2] += 5  # key 2 is masked for queries 0 and 1; changing it moves nothing there
            y2 = attn(x2, attn_mask=mask)
            self.assertTrue(torch.equal(y2[0, :2], y[0, :2]))

    def test_patch_embed_then_unembed_with_identity_projections_is_the_identity(self):
        for grid, x in [((2, 3), torch.randn(2, 3, 4, 12)), ((2, 2, 3), torch.randn(2, 4, 3, 4, 12))]:
            c = {"channels": 3, "patchSize": [2, 4], "tubelet": 2 if len(grid) == 3 else 1, "dim": 3 * 2 * 4 * (2 if len(grid) == 3 else 1)}
            emb, unemb = bt.build({"type": "PatchEmbed", **c}), bt.build({"type": "PatchUnembed", **c})
            with torch.no_grad():
                for lin in (emb.proj, unemb.proj):
                    lin.weight.copy_(torch.eye(c["dim"]))
                    lin.bias.zero_()
                tokens = emb(x)
                self.assertEqual(tuple(tokens.shape), (2, 6 if len(grid) == 2 else 12, c["dim"]))
                self.assertTrue(torch.equal(unemb(tokens, grid, video=len(grid) == 3), x))
            # token 1 is the patch at row 0, column 1; its features are (C, ph, pw)
            if len(grid) == 2:
                self.assertTrue(torch.equal(tokens[0, 1], x[0, :, 0:2, 4:8].reshape(-1)))

    def test_rotary_preserves_norms_and_relative_positions(self):
        rot = bt.build({"type": "RotaryEmbedding", "dim": 4})
        q = torch.randn(1, 1, 1, 6).expand(1, 1, 5, 6).contiguous()
        k = torch.randn(1, 1, 1, 6).expand(1, 1, 5, 6).contiguous()
        rq, rk = rot(q), rot(k)
        self.assertTrue(torch.allclose(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-6))
        self.assertTrue(torch.equal(rq[..., 4:], q[..., 4:]))  # features past `dim` pass through
        dots = (rq[0, 0] @ rk[0, 0].T)  # depends on i - j only
        self.assertAlmostEqual(float(dots[0, 1]), float(dots[2, 3]), places=5)
        self.assertAlmostEqual(float(dots[1, 0]), float(dots[4, 3]), places=5)

    def test_rin_block_without_compute_passes_the_interface_through(self):
        blk = bt.build({"type": "RinBlock", "latentDim": 8, "interfaceDim": 6, "computeLayers": 0})
        self.assertIsNone(blk.write)
        x = torch.randn(2, 5, 6)
        _, out = blk(torch.randn(2, 3, 8), x)
        self.assertTrue(torch.equal(out, x))

    def test_self_conditioning_starts_as_a_no_op(self):
        torch.manual_seed(0)
        rin = bt.build({"type": "RinNetwork", "inputSize": [4, 4], "latentDim": 8, "interfaceDim": 8, "numLatents": 3, "selfCondition": True})
        g = torch.rand(2)
        with torch.no_grad():
            a = rin.initial_latents(2, g)
            b = rin.initial_latents(2, g, prev_latents=torch.randn(2, 4, 8))
        self.assertTrue(torch.equal(a, b))  # latent_prev_ln starts at zero scale and bias

    def test_bench_reference_modules_use_the_package(self):
        """bench/torch/rin.py builds brickml_torch's RinNetwork from BrickML's parsed config (no `type`)."""
        sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "torch"))
        try:
            import rin  # noqa: F401  (bench/torch/rin.py)
        finally:
            sys.path.pop(0)
        cfg = {"inputSize": [4, 4], "latentDim": 8, "interfaceDim": 8, "numLatents": 2, "readHeads": 2, "latentHeads": 2}
        torch.manual_seed(0)
        ref = bt.build({**cfg, "type": "RinNetwork"})
        tensors = {f"param.{k}": torch.from_numpy(v) for k, v in bt.state_to_brickml(ref).items()}
        tensors.update({"in.x": torch.randn(2, 3, 4, 4), "in.target": torch.randn(2, 3, 4, 4), "in.noiseLevel": torch.rand(2)})
        meta = {"case": "train", "config": cfg, "adamw": {"lr": 1e-3, "betas": [0.9, 0.99], "eps": 1e-8, "weightDecay": 0.01},
                "noDecay": "noDecayForBiasAndNorm"}
        outputs, _ = rin.build(meta, tensors)
        out = outputs()
        self.assertTrue(torch.isfinite(out["loss"]))
        self.assertIn("updated.blocks.0.read.attn.q.weight", out)

    def test_bench_perceiver_reference_uses_the_package(self):
        """bench/torch/perceiver.py loads BrickML's encoder weights into brickml_torch's PerceiverEncoder."""
        sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "torch"))
        try:
            import perceiver  # noqa: F401  (bench/torch/perceiver.py)
        finally:
            sys.path.pop(0)
        cfg = {"inputDim": 3 + 2 * (2 * 4 + 1), "numLatents": 4, "latentDim": 8, "selfHeads": 2, "numBlocks": 2}
        torch.manual_seed(0)
        ref = bt.build({"type": "PerceiverEncoder", **cfg})
        t = {f"param.{k}": torch.from_numpy(v) for k, v in bt.state_to_brickml(ref).items()}
        t["in.pixels"] = torch.randn(2, 6, 3)
        outputs, _ = perceiver.build({**cfg, "grid": [2, 3], "numBands": 4, "channels": 3, "batch": 2}, t)
        out = outputs()
        x = torch.cat([t["in.pixels"], perceiver.fourier_features([2, 3], 4).expand(2, -1, -1)], -1)
        with torch.no_grad():
            self.assertTrue(torch.equal(out["latents"], ref.eval()(x)))
        self.assertEqual(tuple(out["cross"].shape), (2, 4, 8))


if __name__ == "__main__":
    unittest.main()
