"""Search, then apply: tasd.read_layers / tasd.apply_layers against numpy
and against `tasd decompose --layers` (when the tool is built)."""
import os
import subprocess
import tempfile
import unittest
import warnings

import numpy as np

import tasd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MLP = os.path.join(ROOT, "test", "data", "onnx", "mlp.onnx")
CFG = ("# a hand-written layer config\n"
       "W1 W=2:4 A=none method=greedy target=vegeta\n"
       "W2 W=none A=none method=greedy\n"
       "Wc W=1:4+1:4 A=none method=optimal\n"
       "nosuch W=1:8 A=none method=greedy\n")


class ApplyLayers(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.cfg = os.path.join(self.dir.name, "layers.cfg")
        with open(self.cfg, "w") as f:
            f.write(CFG)

    def tearDown(self):
        self.dir.cleanup()

    def test_read_layers(self):
        layers = tasd.read_layers(self.cfg)
        self.assertEqual(list(layers), ["W1", "W2", "Wc", "nosuch"])
        self.assertEqual(layers["W1"], tasd.LayerEntry("2:4", None, "greedy", "vegeta"))
        self.assertIsNone(layers["W2"].W)
        self.assertEqual(layers["Wc"].method, "optimal")
        with self.assertRaises(tasd.Error):
            tasd.read_layers(os.path.join(self.dir.name, "missing.cfg"))
        bad = os.path.join(self.dir.name, "bad.cfg")
        with open(bad, "w") as f:
            f.write("W1 W=3:5 A=none\n")
        with self.assertRaises(tasd.Error) as e:
            tasd.read_layers(bad)
        self.assertIn("line 1", str(e.exception))

    def test_apply_onnx(self):
        with self.assertWarns(UserWarning) as w:
            a = tasd.apply_layers(MLP, self.cfg)
        # the tool's warning, word for word
        self.assertEqual(str(w.warning), "%s names \"nosuch\", which %s does not have"
                         % (self.cfg, MLP))
        self.assertNotIn("nosuch", a.skipped)
        self.assertEqual(sorted(a.series), ["W1", "Wc"])
        self.assertTrue(a.transposed["W1"])
        self.assertFalse(a.transposed["Wc"])
        self.assertIn("W=none", a.skipped["W2"])
        self.assertIn("not listed", a.skipped["W3"])
        self.assertIn("no consumer", a.skipped["unused"])
        self.assertEqual(a.series["Wc"].config, "1:4+1:4")
        # W1 [K=8, N=16] feeds MatMul: decomposed as its transpose, so the
        # 2:4 groups run along K, and the approximation comes back [8, 16].
        w1 = tasd.open(MLP).read_f32("W1")
        want = tasd.decompose(w1.T, "2:4", method="greedy").reconstruct().T
        got = a.weights("W1")
        self.assertEqual(got.shape, (8, 16))
        np.testing.assert_array_equal(got, want)
        self.assertLessEqual(int((got.reshape(2, 4, 16) != 0).sum(axis=1).max()), 2)
        out = os.path.join(self.dir.name, "out.onnx")
        a.write_onnx(out)
        f = tasd.open(out)
        np.testing.assert_array_equal(f.read_f32("W1"), got)
        np.testing.assert_array_equal(f.read_f32("W2"), tasd.open(MLP).read_f32("W2"))
        # The tool applies the same file to the same values.
        tool = os.path.join(os.path.dirname(os.environ.get("TASD_LIBRARY", "")), "..", "bin",
                            "tasd")
        if os.access(tool, os.X_OK):
            ref = os.path.join(self.dir.name, "tool.onnx")
            subprocess.run([tool, "decompose", MLP, "--layers", self.cfg, "--reconstruct", ref,
                            "--quiet"], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            g = tasd.open(ref)
            for n in ("W1", "Wc", "W2"):
                np.testing.assert_array_equal(g.read_f32(n), f.read_f32(n))

    def test_apply_npy_by_file_name(self):
        npy = os.path.join(ROOT, "test", "data", "tiny_f32.npy")
        entry = tasd.LayerEntry("2:4", None, "greedy", "")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # every name is in the file: no warning
            a = tasd.apply_layers(npy, {"tiny_f32": entry})
        self.assertEqual(list(a.series), ["tiny_f32"])
        with self.assertWarns(UserWarning) as w:
            tasd.apply_layers(npy, {"tiny_f32": entry, "tiny_f23": entry})
        self.assertIn("the layer config names \"tiny_f23\", which", str(w.warning))
        w = np.load(npy)
        np.testing.assert_array_equal(a.weights("tiny_f32"),
                                      tasd.decompose(w, "2:4", method="greedy").reconstruct())

    def test_apply_conv1d(self):
        """A Conv over one axis: its rank-3 weight [out, in, k] is decomposed
        as [out, in*k], as the tool does; rank 3 outside ONNX is skipped."""
        path = os.path.join(ROOT, "test", "data", "onnx", "conv1d.onnx")
        a = tasd.apply_layers(path, {"W1d": tasd.LayerEntry("2:4", None, "greedy", "")})
        self.assertEqual(list(a.series), ["W1d"])
        self.assertFalse(a.transposed["W1d"])
        w = tasd.open(path).read_f32("W1d")
        want = tasd.decompose(w.reshape(16, 24), "2:4", method="greedy").reconstruct()
        np.testing.assert_array_equal(a.weights("W1d").reshape(16, 24), want)
        npy = os.path.join(self.dir.name, "r3.npy")
        np.save(npy, w)
        a = tasd.apply_layers(npy, {"r3": tasd.LayerEntry("2:4", None, "greedy", "")})
        self.assertIn("rank 3 outside ONNX", a.skipped["r3"])


class LayerValues(unittest.TestCase):
    """A layer's values= (docs/format.md) is read and applied, as by
    `tasd decompose --layers`."""

    def test_values(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "v.cfg")
            with open(cfg, "w") as f:
                f.write("layer.0.weight W=2:4 A=none method=greedy values=bf16\n"
                        "emb.weight W=2:4 A=none method=greedy\n")
            layers = tasd.read_layers(cfg)
            self.assertEqual(layers["layer.0.weight"].values, "bf16")
            self.assertEqual(layers["emb.weight"].values, "f32")
            a = tasd.apply_layers(os.path.join(ROOT, "test", "data", "tiny.safetensors"), cfg)
            self.assertEqual(a.series["layer.0.weight"].values, "bf16")
            self.assertEqual(a.series["emb.weight"].values, "f32")
        # an entry made by hand without values is f32
        self.assertEqual(tasd.LayerEntry("2:4", None, "greedy", "").values, "f32")


if __name__ == "__main__":
    unittest.main()
