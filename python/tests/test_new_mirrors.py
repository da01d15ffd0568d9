"""Behaviour of the spectral, fast-weights, ssl and rl mirrors beyond parity on random inputs: the
definitions they implement, gradients, the EMA targets, and clear errors where something is not mirrored."""
import math
import unittest

import torch

import brickml_torch as bt
from brickml_torch.linalg import spd_log, spd_sqrt, triu_vector
from brickml_torch.rl import discern_loss
from brickml_torch.ssl import nt_xent_loss, random_masking


class SpectralTest(unittest.TestCase):
    def test_o2p_is_the_log_euclidean_covariance_and_differentiable(self):
        torch.manual_seed(0)
        o2p = bt.build({"type": "O2PPooling", "channels": 3, "output": "matrix"})
        x = torch.randn(2, 10, 3, dtype=torch.float64, requires_grad=True)
        y = o2p(x)
        cov = o2p.covariance(x)
        torch.testing.assert_close(torch.linalg.matrix_exp(y), cov)  # log then exp is the identity on SPD matrices
        s = spd_sqrt(cov)
        torch.testing.assert_close(s @ s, cov)
        self.assertTrue(torch.autograd.gradcheck(lambda t: o2p(t), (x,)))
        # the triu vector with √2 off the diagonal keeps the Frobenius norm
        v = triu_vector(y, math.sqrt(2))
        torch.testing.assert_close(v.norm(dim=-1), y.flatten(1).norm(dim=-1))
        self.assertEqual(bt.build({"type": "O2PPooling", "channels": 5}).out_features, 15)
        self.assertTrue(torch.allclose(spd_log(torch.eye(2)), torch.zeros(2, 2)))

    def test_normalized_cut_embeds_eigenvectors_and_separates_groups(self):
        torch.manual_seed(1)
        ncut = bt.build({"type": "NormalizedCut", "dim": 2, "segments": 1, "embedding": "raw"})
        # two groups far apart, a little spread inside each (distinct eigenvalues)
        x = torch.cat([torch.randn(1, 5, 2) * 0.3, torch.randn(1, 4, 2) * 0.3 + 2.5], 1)
        r = ncut.decompose(x)
        W = r["affinity"]
        d = W.sum(-1).rsqrt()
        M = W * d[:, :, None] * d[:, None, :]
        v = r["embedding"][0, :, 0]
        torch.testing.assert_close(M[0] @ v, r["values"][0, 0] * v, rtol=0, atol=1e-5)  # an eigenvector, its eigenvalue
        self.assertGreater(float(v[v.abs().argmax()]), 0)  # BrickML's sign convention: largest-magnitude entry positive
        signs = torch.sign(v)
        self.assertTrue(torch.all(signs[:5] == signs[0]) and torch.all(signs[5:] == -signs[0]))  # the cut splits the groups
        with self.assertRaises(ValueError) as e:
            bt.build({"type": "NormalizedCut", "dim": 2, "segments": 9})(x)
        self.assertIn("segments 9 + 1 (dropTrivial) must not exceed the number of tokens, got 9 tokens", str(e.exception))

    def test_learned_sigma_gets_a_gradient(self):
        ncut = bt.build({"type": "NormalizedCut", "dim": 3, "segments": 2, "learnSigma": True, "sigma": 2.0})
        self.assertAlmostEqual(float(ncut.log_sigma), math.log(2.0), places=6)
        ncut(torch.randn(2, 6, 3)).square().sum().backward()
        self.assertGreater(float(ncut.log_sigma.grad.abs()), 0)


class FastWeightsTest(unittest.TestCase):
    def test_without_memory_or_inner_loop_it_is_an_elman_rnn(self):
        torch.manual_seed(2)
        rnn = bt.build({"type": "FastWeightsRNN", "inputSize": 3, "hiddenSize": 4, "fastLr": 0.5, "innerSteps": 0})
        with torch.no_grad():
            rnn.recurrent.weight.normal_()
        x = torch.randn(2, 5, 3)
        out, (h, A) = rnn(x)
        ref = torch.zeros(2, 4)
        for t in range(5):
            ref = torch.relu(ref @ rnn.recurrent.weight.t() + rnn.input(x[:, t]))
        torch.testing.assert_close(h, ref)
        torch.testing.assert_close(out[:, -1], ref)
        # the memory is the decayed sum of outer products of the states
        want = torch.zeros(2, 4, 4)
        prev = torch.zeros(2, 4)
        for t in range(5):
            want = 0.95 * want + 0.5 * prev.unsqueeze(2) * prev.unsqueeze(1)
            prev = out[:, t]
        torch.testing.assert_close(A, want)

    def test_recurrent_weight_starts_as_scaled_identity_and_state_continues(self):
        rnn = bt.build({"type": "FastWeightsRNN", "inputSize": 2, "hiddenSize": 3})
        torch.testing.assert_close(rnn.recurrent.weight, 0.05 * torch.eye(3))
        x = torch.randn(1, 6, 2)
        whole, st = rnn(x)
        first, mid = rnn(x[:, :2])
        rest, st2 = rnn(x[:, 2:], mid)
        torch.testing.assert_close(torch.cat([first, rest], 1), whole)
        torch.testing.assert_close(st2[1], st[1])


class SslTest(unittest.TestCase):
    def test_nt_xent_equals_cross_entropy_over_the_other_views(self):
        torch.manual_seed(3)
        z1, z2 = torch.randn(4, 6), torch.randn(4, 6)
        z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=-1)
        logits = z @ z.t() / 0.2
        logits.fill_diagonal_(float("-inf"))
        target = torch.cat([torch.arange(4, 8), torch.arange(0, 4)])
        torch.testing.assert_close(nt_xent_loss(z1, z2, 0.2), torch.nn.functional.cross_entropy(logits, target))

    def test_byol_starts_with_the_target_equal_to_the_online_network_and_trains_only_the_online_one(self):
        byol = bt.build({"type": "BYOL", "encoder": {"type": "MLP", "dim": 4, "hidden": 8, "outDim": 5}, "encoderDim": 5, "hidden": 6, "projectionDim": 3}).train()
        for (n, p), (_, q) in zip(byol.online_encoder.state_dict().items(), byol.target_encoder.state_dict().items()):
            self.assertTrue(torch.equal(p, q), n)
        byol.loss(torch.randn(6, 4), torch.randn(6, 4)).backward()
        self.assertTrue(all(p.grad is None for p in byol.target_encoder.parameters()))
        self.assertGreater(float(byol.online_encoder.fc1.weight.grad.abs().sum()), 0)
        with torch.no_grad():
            byol.online_encoder.fc1.weight.add_(1.0)
        before = byol.target_encoder.fc1.weight.clone()
        byol.update_target(0.75)
        torch.testing.assert_close(byol.target_encoder.fc1.weight, 0.75 * before + 0.25 * byol.online_encoder.fc1.weight)

    def test_mae_masking_and_loss_on_removed_patches_only(self):
        mae = bt.build({"type": "MaskedAutoencoder", "channels": 1, "imageSize": 4, "patchSize": 2, "dim": 8, "depth": 1, "heads": 2, "decoderDim": 4, "decoderHeads": 2})
        g = torch.Generator().manual_seed(0)
        ids, mask = random_masking(3, 4, 0.75, g)
        self.assertEqual(tuple(ids.shape), (3, 1))
        self.assertTrue(torch.equal(mask.sum(1), torch.full((3,), 3.0)))
        x = torch.randn(3, 1, 4, 4)
        a = mae(x, generator=torch.Generator().manual_seed(7))
        b = mae(x, generator=torch.Generator().manual_seed(7))
        self.assertTrue(torch.equal(a["pred"], b["pred"]) and torch.equal(a["mask"], b["mask"]))
        # the loss sees the removed patches only: a target that differs at the kept patches gives the same loss
        out = mae(x, ids_keep=ids, mask=mask)
        y = x.clone()
        for i in range(3):
            k = int(ids[i, 0])
            r, c = divmod(k, 2)
            y[i, :, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2] = 0.0  # only the kept patch's target changes
        patches = mae.patchify(y)
        per = (out["pred"] - patches).square().mean(-1)
        torch.testing.assert_close((per * mask).sum() / mask.sum(), out["loss"])

    def test_ijepa_trains_the_context_encoder_and_predictor_not_the_target(self):
        m = bt.build({"type": "IJEPA", "channels": 1, "imageSize": 4, "patchSize": 2, "dim": 8, "depth": 1, "heads": 2, "predictorDim": 4, "predictorHeads": 2})
        loss = m.loss(torch.randn(2, 1, 4, 4), torch.tensor([[0, 1], [2, 3]]), torch.tensor([[[2], [0]], [[3], [1]]]))
        loss.backward()
        self.assertTrue(all(p.grad is None for p in m.target_encoder.parameters()))
        self.assertGreater(float(m.encoder.patch_embed.proj.weight.grad.abs().sum()), 0)
        self.assertGreater(float(m.mask_token.grad.abs().sum()), 0)

    def test_crw_training_jitter_is_refused_clearly(self):
        crw = bt.build({"type": "ContrastiveRandomWalk", "encoder": {"type": "Linear", "inFeatures": 12, "outFeatures": 4}, "encoderDim": 4,
                        "encoderInput": "flat", "embedDim": 3, "patchSize": 2, "stride": 2}).train()
        with self.assertRaises(NotImplementedError) as e:
            crw(torch.randn(1, 2, 3, 4, 4))
        self.assertIn("training-mode window jitter (config 'jitter': true) is not mirrored", str(e.exception))
        nodes = crw.eval()(torch.randn(1, 2, 3, 4, 4))
        self.assertEqual(tuple(nodes.shape), (1, 2, 4, 3))
        torch.testing.assert_close(nodes.norm(dim=-1), torch.ones(1, 2, 4))

    def test_crw_walk_returns_home_on_a_static_clip_and_edge_dropout_draws_from_torch(self):
        torch.manual_seed(5)
        crw = bt.build({"type": "ContrastiveRandomWalk", "encoder": {"type": "Linear", "inFeatures": 12, "outFeatures": 6}, "encoderDim": 6,
                        "encoderInput": "flat", "embedDim": 6, "patchSize": 2, "stride": 2, "temperature": 0.01, "jitter": False}).eval()
        frame = torch.randn(1, 1, 3, 4, 4)
        r = crw.loss(frame.expand(1, 4, 3, 4, 4))  # the same frame four times: every walk comes back to its start
        self.assertEqual(float(r["accuracy"]), 1.0)
        self.assertLess(float(r["loss"]), 0.05)  # measured 0.0065: nearly one-hot transitions at τ 0.01
        self.assertEqual(tuple(r["lossPerWalk"].shape), (2,))  # k = 2, 3 (shortestWalk 2)
        crw.train()
        a = crw.loss(torch.randn(1, 3, 3, 4, 4), generator=torch.Generator().manual_seed(1))["loss"]
        b = crw.loss(torch.randn(1, 3, 3, 4, 4), generator=torch.Generator().manual_seed(1))["loss"]
        self.assertTrue(torch.isfinite(a) and torch.isfinite(b))
        with self.assertRaises(ValueError) as e:
            crw.loss(torch.randn(1, 2, 3, 4, 4))
        self.assertIn("needs at least 3 frames", str(e.exception))

    def test_transporter_keypoints_follow_a_bright_spot(self):
        from brickml_torch.ssl import gaussian_maps, spatial_softmax

        logits = torch.full((1, 4, 4, 1), -20.0)
        logits[0, 1, 3, 0] = 20.0  # row 1, column 3
        coords, _ = spatial_softmax(logits)
        torch.testing.assert_close(coords[0, 0], torch.tensor([3.5 / 4, 1.5 / 4]))
        maps = gaussian_maps(coords, 4, 4, 0.1)
        self.assertAlmostEqual(float(maps[0, 1, 3, 0]), 1.0, places=5)


class RlTest(unittest.TestCase):
    def test_evaluate_equals_torch_distributions(self):
        torch.manual_seed(4)
        ac = bt.build({"type": "ActorCritic", "obsDim": 3, "action": {"kind": "discrete", "n": 4}})
        obs, act = torch.randn(5, 3), torch.tensor([0, 3, 1, 2, 2])
        r = ac.evaluate(obs, act)
        dist = torch.distributions.Categorical(logits=ac.actor_output(obs))
        torch.testing.assert_close(r["logProb"], dist.log_prob(act))
        torch.testing.assert_close(r["entropy"], dist.entropy())
        cont = bt.build({"type": "ActorCritic", "obsDim": 3, "action": {"kind": "continuous", "dim": 2}, "initLogStd": -0.3})
        a = torch.randn(5, 2)
        r = cont.evaluate(obs, a)
        normal = torch.distributions.Normal(cont.actor_output(obs), cont.actor_logstd.exp())
        torch.testing.assert_close(r["logProb"], normal.log_prob(a).sum(-1))
        torch.testing.assert_close(r["entropy"], normal.entropy().sum(-1))

    def test_action_config_is_validated_like_the_discriminated_union(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "ActorCritic", "obsDim": 3, "action": {"kind": "discrete", "dim": 2}})
        self.assertIn("config field 'action' expected {kind: 'discrete', n: a positive integer} and nothing else", str(e.exception))

    def test_discern_embedding_is_unit_norm_and_its_loss_is_cross_entropy(self):
        emb = bt.build({"type": "DiscernEmbedding", "inDim": 4, "hidden": [5], "embedDim": 3})
        a, g, d = emb(torch.randn(6, 4)), emb(torch.randn(6, 4)), emb(torch.randn(12, 4)).reshape(6, 2, 3)
        torch.testing.assert_close(a.norm(dim=-1), torch.ones(6))
        loss, logits = discern_loss(a, g, d, 5.0)
        torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, torch.zeros(6, dtype=torch.long)))

    def test_recurrent_policy_input_size(self):
        rac = bt.build({"type": "RecurrentActorCritic", "obsDim": 3, "numActions": 2, "hiddenSize": 5})
        self.assertEqual(rac.input_size, 7)
        r = rac(torch.randn(4, 7), rac.initial_state(4))
        self.assertEqual((tuple(r["logits"].shape), tuple(r["value"].shape), tuple(r["h"].shape)), ((4, 2), (4,), (4, 5)))


if __name__ == "__main__":
    unittest.main()
