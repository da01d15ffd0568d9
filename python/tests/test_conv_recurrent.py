"""The image and recurrent mirrors against PyTorch's own modules (nn.BatchNorm2d, nn.GRU, ...) on the
same weights, plus BatchNorm's buffers through a checkpoint (int32 counter in BrickML's file)."""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import brickml_torch as bt  # noqa: E402
from brickml_torch import safetensors  # noqa: E402


def nchw(x):
    return x.permute(0, 3, 1, 2)


class ConvRecurrentTest(unittest.TestCase):
    def test_batchnorm_train_and_eval_equal_torch_batchnorm(self):
        torch.manual_seed(0)
        for momentum in (0.1, None):
            bn = bt.build({"type": "BatchNorm2d", "numFeatures": 3, "momentum": momentum}).train()
            ref = nn.BatchNorm2d(3, momentum=momentum).train()
            with torch.no_grad():
                bn.weight.copy_(torch.randn(3))
                bn.bias.copy_(torch.randn(3))
                ref.weight.copy_(bn.weight)
                ref.bias.copy_(bn.bias)
            for _ in range(3):
                x = torch.randn(4, 5, 5, 3) * 2 + 1
                torch.testing.assert_close(nchw(bn(x)), ref(nchw(x)), rtol=1e-6, atol=1e-6)
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                torch.testing.assert_close(getattr(bn, name), getattr(ref, name), rtol=1e-6, atol=1e-7)
            self.assertEqual(int(bn.num_batches_tracked), 3)
            bn.eval(), ref.eval()
            x = torch.randn(2, 3, 3, 3)
            torch.testing.assert_close(nchw(bn(x)), ref(nchw(x)), rtol=1e-6, atol=1e-6)

    def test_batchnorm1d_equals_torch_batchnorm1d(self):
        torch.manual_seed(3)
        bn = bt.build({"type": "BatchNorm1d", "numFeatures": 4, "momentum": 0.2}).train()
        ref = nn.BatchNorm1d(4, momentum=0.2).train()
        for _ in range(2):
            x = torch.randn(6, 4) * 3
            torch.testing.assert_close(bn(x), ref(x), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(bn.running_var, ref.running_var)
        bn.eval(), ref.eval()
        x = torch.randn(3, 4)
        torch.testing.assert_close(bn(x), ref(x), rtol=1e-6, atol=1e-6)

    def test_batchnorm_training_needs_more_than_one_value(self):
        bn = bt.build({"type": "BatchNorm2d", "numFeatures": 2}).train()
        with self.assertRaises(ValueError) as e:
            bn(torch.zeros(1, 1, 1, 2))
        self.assertEqual(str(e.exception), "BatchNorm2d: expected more than 1 value per channel in training mode, got x [1, 1, 1, 2]")

    def test_batchnorm_buffers_round_trip_with_an_int32_counter(self):
        torch.manual_seed(1)
        net = bt.build({"type": "BasicBlock", "inChannels": 2, "outChannels": 4, "stride": 2}).train()
        net(torch.randn(3, 6, 6, 2))
        net(torch.randn(3, 6, 6, 2))
        with tempfile.TemporaryDirectory() as d:
            bt.save(net, d)
            arrays = safetensors.load(os.path.join(d, "model.safetensors"))
            self.assertEqual(arrays["bn1.num_batches_tracked"].dtype, np.int32)
            self.assertEqual(arrays["downsample.1.num_batches_tracked"].shape, ())
            self.assertEqual(int(arrays["downsample.1.num_batches_tracked"]), 2)
            back = bt.load(d)
        self.assertEqual(back.bn1.num_batches_tracked.dtype, torch.int64)
        for (k, a), (k2, b) in zip(net.state_dict().items(), back.state_dict().items()):
            self.assertEqual(k, k2)
            self.assertTrue(torch.equal(a, b), k)

    def test_gru_equals_torch_gru(self):
        torch.manual_seed(2)
        gru = bt.build({"type": "GRU", "inputSize": 3, "hiddenSize": 5, "numLayers": 2})
        ref = nn.GRU(3, 5, num_layers=2, batch_first=True)
        ref.load_state_dict(gru.state_dict())  # the same names, one to one
        x, h0 = torch.randn(4, 7, 3), torch.randn(2, 4, 5)
        with torch.no_grad():
            out, h = gru(x, h0)
            rout, rh = ref(x, h0)
        torch.testing.assert_close(out, rout, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(h, rh, rtol=1e-5, atol=1e-6)
        cell = bt.build({"type": "GRUCell", "inputSize": 3, "hiddenSize": 5})
        rcell = nn.GRUCell(3, 5)
        rcell.load_state_dict(cell.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(cell(x[:, 0], h0[0]), rcell(x[:, 0], h0[0]), rtol=1e-5, atol=1e-6)

    def test_conv_transpose_inverts_the_shape_of_its_conv(self):
        ct = bt.build({"type": "ConvTranspose2d", "inChannels": 4, "outChannels": 3, "kernelSize": 3, "stride": 2, "padding": 1, "outputPadding": 1})
        self.assertEqual(list(ct(torch.zeros(2, 5, 7, 4)).shape), [2, 10, 14, 3])
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "ConvTranspose2d", "inChannels": 4, "outChannels": 3, "kernelSize": 3, "stride": 2, "outputPadding": 2})
        self.assertIn("'outputPadding'", str(e.exception))

    def test_resnet_shapes_and_config_errors(self):
        net = bt.build({"type": "ResNet", "widths": [8, 16], "blocksPerStage": [1, 1], "strides": [1, 2]})
        self.assertEqual(list(net(torch.zeros(2, 32, 32, 3)).shape), [2, 16])
        self.assertEqual(list(net(torch.zeros(2, 32, 32, 3), output="featureMap").shape), [2, 4, 4, 16])
        self.assertIn("layer2.0.downsample.0.weight", net.state_dict())
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "ResNet", "widths": [8, 16], "blocksPerStage": [1]})
        self.assertIn("same length", str(e.exception))

    def test_unet_checks_its_config_and_starts_from_the_flagship(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "UNetDenoiser", "inputSize": [6, 6], "widths": [8, 16, 16]})
        self.assertIn("'inputSize'", str(e.exception))
        flagship = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packages", "diffusion", "assets", "flagship")
        net = bt.load(flagship).denoiser
        out, latents = net(torch.zeros(2, 3, 16, 16), torch.tensor([0.3, 0.7]), torch.tensor([0, 3]))
        self.assertEqual(list(out.shape), [2, 3, 16, 16])
        self.assertIsNone(latents)


if __name__ == "__main__":
    unittest.main()
