"""Arguments checked at the Python boundary: each mistake raises a tasd
exception (or ValueError / IndexError / TypeError where Python's own
convention is that) whose message names the argument, never a ctypes or
attribute error, and never a silently different call."""
import os
import tempfile
import unittest

import numpy as np

import tasd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SAFETENSORS = os.path.join(ROOT, "test", "data", "tiny.safetensors")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


class LayerStrings(unittest.TestCase):
    """Layer's W, A, method, config and name: the same exception families as
    decompose(), and no way to smuggle keys into a config line."""

    def setUp(self):
        self.w = rand(8, 16)

    def test_bad_configs_are_config_errors(self):
        for kw in (dict(W="2:5"), dict(A="3:3:3"), dict(config="W=2:4 bogus=1"),
                   dict(config="fc1 W=2:5")):
            with self.assertRaises(tasd.ConfigError, msg=kw) as cm:
                tasd.Layer(self.w, **kw)
            self.assertNotIsInstance(cm.exception, tasd.FileError)
        with self.assertRaises(tasd.ConfigError) as cm:
            tasd.Layer(self.w, config="W=2:4 bogus=1")
        self.assertIn("bogus", str(cm.exception))
        with self.assertRaises(tasd.ConfigError):
            tasd.decompose(self.w, "2:5")

    def test_bad_method_is_argument_error(self):
        with self.assertRaises(tasd.ArgumentError) as cm:
            tasd.Layer(self.w, W="2:4", method="foo")
        self.assertNotIsInstance(cm.exception, tasd.FileError)
        self.assertIn("foo", str(cm.exception))

    def test_name_rule(self):
        for kw in (dict(W="2:4"), dict(config="W=2:4")):
            with self.assertRaises(tasd.ArgumentError) as cm:
                tasd.Layer(self.w, name="my layer", **kw)
            self.assertIn("whitespace", str(cm.exception))
            self.assertIn("my layer", str(cm.exception))
        self.assertTrue(tasd.Layer(self.w, W="2:4", name="fc1").config.startswith("fc1 "))
        self.assertTrue(tasd.Layer(self.w, config="W=2:4", name="fc2").config.startswith("fc2 "))

    def test_config_with_w_or_a_rejected(self):
        for kw in (dict(W="2:4"), dict(A="2:4"), dict(method="optimal")):
            with self.assertRaises(tasd.ArgumentError, msg=kw) as cm:
                tasd.Layer(self.w, config="W=1:4", **kw)
            self.assertIn("config", str(cm.exception))

    def test_no_keys_through_w_or_a(self):
        for kw in (dict(W="2:4 values=bf16 target=vegeta"), dict(W="2:4 method=optimal"),
                   dict(A="2:4 W=1:4"), dict(W="W=2:4")):
            with self.assertRaises(tasd.ConfigError, msg=kw) as cm:
                tasd.Layer(self.w, **kw)
            self.assertIn("config=", str(cm.exception))

    def test_separate_arguments_still_work(self):
        x = rand(3, 16, seed=1)
        ref = tasd.Layer(self.w, config="W=2:4 A=none method=optimal")
        got = tasd.Layer(self.w, W="2:4", method="optimal")
        self.assertEqual(got.config, ref.config)
        np.testing.assert_array_equal(got(x), ref(x))
        self.assertEqual(tasd.Layer(self.w, W="none").mode, "dense")
        self.assertEqual(tasd.Layer(self.w, A="2:4").mode, "activations")


class NonStrings(unittest.TestCase):
    def test_strings(self):
        w = rand(4, 8)
        for what, fn in (("method", lambda: tasd.decompose(w, "2:4", method=1)),
                         ("method", lambda: tasd.decompose(w, "2:4", method=None)),
                         ("backend", lambda: tasd.set_backend(1)),
                         ("backend", lambda: tasd.set_backend(None)),
                         ("config", lambda: tasd.Layer(w, config=123)),
                         ("W", lambda: tasd.Layer(w, W=24)),
                         ("name", lambda: tasd.Layer(w, W="2:4", name=1)),
                         ("name", lambda: tasd.search_layer(w, name=1)),
                         ("target", lambda: tasd.Target(5)),
                         ("path", lambda: tasd.load(3.5))):
            with self.assertRaises(tasd.ArgumentError, msg=what) as cm:
                fn()
            self.assertIn(what, str(cm.exception))
            self.assertNotIn("NULL", str(cm.exception))

    def test_integers(self):
        old = tasd.threads()
        for bad in (2 ** 31, 1.5, "2"):
            with self.assertRaises(tasd.ArgumentError) as cm:
                tasd.set_threads(bad)
            self.assertIn("threads", str(cm.exception))
            self.assertNotIn("-2147483648", str(cm.exception))
        self.assertEqual(tasd.threads(), old)
        tasd.set_threads(np.int64(1))
        self.assertEqual(tasd.threads(), 1)
        tasd.set_threads(0)
        with self.assertRaises(tasd.ArgumentError):
            tasd.decompose(rand(4, 8), "2:4").workspace_size(2.5)

    def test_out_must_be_a_float32_array(self):
        w, x = rand(4, 8), rand(2, 8, seed=1)
        with self.assertRaises(tasd.ArgumentError) as cm:
            tasd.Layer(w)(x, out=[[0.0] * 4] * 2)
        self.assertIn("out", str(cm.exception))
        with self.assertRaises(tasd.ArgumentError):
            tasd.Layer(w)(x, out=np.zeros((2, 4)))
        with self.assertRaises(tasd.ArgumentError):
            tasd.decompose(w, "2:4").matmul(x.T, out=[[0.0] * 2] * 4)

    def test_search_model_budget(self):
        s = tasd.search_layer(rand(8, 16), budget=0.3)
        for kw, what in ((dict(budget=-1), "budget"), (dict(budget=float("nan")), "budget"),
                         (dict(budget="x"), "budget"),
                         (dict(budget=0.1, layer_cap=-1), "layer_cap")):
            with self.assertRaises(tasd.ArgumentError, msg=kw) as cm:
                tasd.search_model([s], **kw)
            self.assertIn(what, str(cm.exception))
            if what == "budget":
                self.assertNotIn("layer_cap", str(cm.exception))


class TensorKeys(unittest.TestCase):
    def test_index_types(self):
        with tasd.open(SAFETENSORS) as f:
            n = len(f)
            self.assertEqual(f.info(np.int64(1)), f.info(1))
            self.assertEqual(f.info(-1), f.info(n - 1))
            self.assertEqual(f.info(-n), f.info(0))
            for bad in (n, -n - 1):
                with self.assertRaises(IndexError) as cm:
                    f.info(bad)
                self.assertIn(str(n), str(cm.exception))
                self.assertIn("out of range", str(cm.exception))
            with self.assertRaises(tasd.ArgumentError):
                f[1.0]
            with self.assertRaises(tasd.ArgumentError):
                f[None]


class EmbeddedNul(unittest.TestCase):
    """C would read up to the NUL: a different string. ValueError, as open()."""

    def test_strings_and_paths(self):
        w = rand(4, 8)
        s = tasd.decompose(w, "2:4")
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "a")
            for fn in (lambda: tasd.decompose(w, "2:4\x00+junk"),
                       lambda: tasd.decompose(w, "2:4", method="greedy\x00x"),
                       lambda: tasd.Layer(w, config="W=2:4\x00 A=2:4"),
                       lambda: tasd.Layer(w, W="2:4", name="fc\x001"),
                       lambda: tasd.Target("cpu\x00x"),
                       lambda: tasd.set_backend("auto\x00"),
                       lambda: s.save(p + "\x00b"),
                       lambda: s.save((p + "\x00b").encode()),
                       lambda: tasd.load(p + "\x00b"),
                       lambda: tasd.open(p + "\x00b"),
                       lambda: tasd.read_layers(p + "\x00b")):
                with self.assertRaises(ValueError) as cm:
                    fn()
                self.assertIn("null", str(cm.exception))
            self.assertEqual(os.listdir(d), [])
            with tasd.open(SAFETENSORS) as f, self.assertRaises(ValueError):
                f[f.names()[0] + "\x00"]


class Bf16Bits(unittest.TestCase):
    """tasd.open() gives bf16 as uint16 bits: decomposing those by value
    would be silently wrong, so uint16 is refused with a way out."""

    def test_uint16_refused(self):
        bits = (rand(8, 16).view(np.uint32) >> 16).astype(np.uint16)
        for fn in (lambda: tasd.decompose(bits, "2:4"), lambda: tasd.Layer(bits),
                   lambda: tasd.decompose(rand(4, 8), "2:4") @ bits[:8, :2],
                   lambda: tasd.Layer(rand(4, 16))(bits[:2])):
            with self.assertRaises(tasd.ArgumentError) as cm:
                fn()
            self.assertIn("read_f32", str(cm.exception))
            self.assertIn("bf16", str(cm.exception))
        with tasd.open(SAFETENSORS) as f:
            self.assertEqual(f["emb.weight"].dtype, np.uint16)
            with self.assertRaises(tasd.ArgumentError):
                tasd.decompose(f["emb.weight"], "2:4")
            self.assertEqual(tasd.decompose(f.read_f32("emb.weight"), "2:4").shape, (4, 8))
        # other integer types are still converted by value
        ints = np.arange(32, dtype=np.int32).reshape(4, 8)
        np.testing.assert_array_equal(tasd.decompose(ints, "4:4").reconstruct(), ints)


if __name__ == "__main__":
    unittest.main()
