"""Config validation mirrors BrickML's parseConfig: unknown fields, wrong types and unknown types fail clearly."""
import json
import os
import unittest

import brickml_torch as bt


class RegistryTest(unittest.TestCase):
    def test_defaults_are_filled_as_brickml_writes_them(self):
        c = bt.parse_config(bt.brick_class("TransformerBlock"), {"type": "TransformerBlock", "dim": 8})
        self.assertEqual(c["heads"], 8)
        self.assertEqual(c["mlpRatio"], 4)
        self.assertEqual(c["eps"], 1e-5)
        self.assertEqual(c["kind"], "self")
        self.assertNotIn("contextDim", c)  # optional without a default stays out, as zod leaves it

    def test_unknown_field_is_rejected_naming_brick_and_field(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "Linear", "inFeatures": 3, "outFeatures": 2, "bais": True})
        msg = str(e.exception)
        self.assertIn("Linear", msg)
        self.assertIn("'bais'", msg)
        self.assertIn("inFeatures", msg)  # lists the real fields

    def test_wrong_value_names_expected_and_got(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "MLP", "dim": 4, "hidden": 8, "activation": "tanh"})
        self.assertIn("config field 'activation'", str(e.exception))
        self.assertIn("'gelu'", str(e.exception))
        self.assertIn('(got "tanh")', str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "Linear", "inFeatures": 2.5, "outFeatures": 2})
        self.assertIn("positive integer", str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "LayerNorm", "dim": 4, "affine": 1})
        self.assertIn("boolean", str(e.exception))

    def test_missing_required_field(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "Linear", "inFeatures": 3})
        self.assertIn("'outFeatures' is required", str(e.exception))

    def test_type_without_mirror_names_its_typescript_package(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "CarmlEncoder"})
        self.assertIn("@brickml/rl", str(e.exception))
        self.assertIn("no PyTorch mirror", str(e.exception))

    def test_every_registered_brick_of_the_typescript_packages_has_a_mirror_but_one(self):
        """Every type that `registerBrick(` registers in packages/*/src (read from the source tree) is mirrored or
        listed in KNOWN_ELSEWHERE (so building it names its package); today only CarmlEncoder
        is not mirrored. A brick that lands in TypeScript without either fails here: add its mirror or its entry."""
        from brickml_torch.registry import KNOWN_ELSEWHERE

        import re

        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packages")
        if not os.path.isdir(root):
            self.skipTest("no packages/ beside python/ (an installed copy)")
        registered = set()
        for d, _, files in os.walk(root):
            if "node_modules" in d or "/dist" in d or "/src" not in d:
                continue
            for f in files:
                if f.endswith(".ts"):
                    with open(os.path.join(d, f), encoding="utf-8") as fh:
                        registered |= set(re.findall(r"^registerBrick\((\w+)\);", fh.read(), re.M))
        self.assertGreater(len(registered), 50)
        # class names equal type names in BrickML's packages
        unmirrored = registered - set(bt.registered_bricks())
        self.assertEqual(sorted(unmirrored - set(KNOWN_ELSEWHERE)), [], "registered in TypeScript, neither mirrored nor listed")
        self.assertLessEqual(unmirrored, {"CarmlEncoder"})

    def test_nested_unmirrored_brick_fails_with_its_path_before_building(self):
        cfg = {"type": "Sequential", "layers": [{"type": "Linear", "inFeatures": 2, "outFeatures": 2}, {"type": "CarmlEncoder"}]}
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build(cfg)
        self.assertIn("'layers.1'", str(e.exception))
        self.assertIn("@brickml/rl", str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "TransformerBlock", "dim": 8, "feedForward": {"type": "NormalizedCut", "numGroups": 1}})
        self.assertIn("'feedForward'", str(e.exception))
        self.assertIn("config field 'numGroups' is not a field of NormalizedCut", str(e.exception))

    def test_moe_cross_field_rules_as_brickml(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "MoE", "dim": 8, "ffnHidden": 12, "numExperts": 4})
        self.assertIn("'ffnHidden' must be a multiple of blockSize (128) for kind 'dropless' (got 12)", str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "MoE", "dim": 8, "ffnHidden": 12, "numExperts": 4, "blockSize": 3, "kind": "capacity"})
        self.assertIn("power of two", str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "MoE", "dim": 8, "ffnHidden": 12, "numExperts": 2, "topK": 3, "kind": "dense"})
        self.assertIn("'topK' must be ≤ numExperts (2)", str(e.exception))

    def test_unknown_type(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "Linaer"})
        self.assertIn("unknown brick type 'Linaer'", str(e.exception))
        self.assertIn("Linear", str(e.exception))

    def test_build_takes_json_and_round_trips_config(self):
        cfg = {"type": "RinBlock", "latentDim": 8, "interfaceDim": 6, "computeLayers": 1}
        m = bt.build(json.dumps(cfg))
        self.assertFalse(m.training)
        self.assertEqual(bt.build(m.to_config()).to_config(), m.to_config())
        self.assertEqual(m.to_config()["readHeads"], 4)

    def test_brick_level_checks(self):
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "MultiHeadAttention", "dim": 10, "heads": 4})
        self.assertIn("'heads' (4) must divide 'dim' (10)", str(e.exception))
        with self.assertRaises(bt.BrickConfigError) as e:
            bt.build({"type": "RinNetwork", "inputSize": [4, 8, 8], "latentDim": 8, "interfaceDim": 8})
        self.assertIn("video", str(e.exception))


if __name__ == "__main__":
    unittest.main()
