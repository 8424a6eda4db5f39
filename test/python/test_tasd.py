"""The Python module against numpy: decomposition stats, terms, reconstruct,
GEMM, save/load, layers, TASDER, tensor files and errors."""
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import tasd

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.path.join(ROOT, "test", "data")


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def dense_from_terms(series):
    """Wa rebuilt in numpy from the canonical export."""
    rows, cols = series.shape
    wa = np.zeros((rows, cols), np.float32)
    for t in series.terms:
        for j in range(t.values.shape[1]):
            col = (j // t.n) * t.m + t.indices[:, j].astype(np.int64)
            ok = col < cols
            np.add.at(wa, (np.arange(rows)[ok], col[ok]), t.values[ok, j])
    return wa


class Decompose(unittest.TestCase):
    def setUp(self):
        self.w = rand(24, 40)
        self.s = tasd.decompose(self.w, "2:4+1:8", method="optimal")

    def test_shape_config_method(self):
        self.assertEqual(self.s.shape, (24, 40))
        self.assertEqual(self.s.config, "2:4+1:8")
        self.assertEqual(self.s.method, "optimal")
        self.assertIn("2:4+1:8", repr(self.s))

    def test_stats_match_numpy(self):
        wa = self.s.reconstruct()
        st = self.s.stats
        w = self.w.astype(np.float64)
        rel = np.linalg.norm(w - wa) / np.linalg.norm(w)
        energy = np.sum(wa.astype(np.float64) ** 2) / np.sum(w ** 2)
        nnz = np.count_nonzero(wa)
        self.assertAlmostEqual(st.rel_error, rel, places=5)
        self.assertAlmostEqual(st.retained_energy, energy, places=5)
        self.assertEqual(st.kept_nonzeros, nnz)
        self.assertEqual(st.input_nonzeros, np.count_nonzero(self.w))
        self.assertAlmostEqual(st.density, nnz / self.w.size)
        self.assertAlmostEqual(st.coverage, nnz / np.count_nonzero(self.w))
        self.assertEqual(len(st.term_nonzeros), 2)
        self.assertEqual(sum(st.term_nonzeros), st.kept_nonzeros)

    def test_terms_rebuild_reconstruct_and_are_n_m(self):
        np.testing.assert_allclose(dense_from_terms(self.s), self.s.reconstruct(), rtol=0, atol=1e-6)
        for t in self.s.terms:
            self.assertEqual(t.values.dtype, np.float32)
            self.assertEqual(t.indices.dtype, np.uint8)
            self.assertLess(int(t.indices.max()), t.m)
            groups = t.values.shape[1] // t.n
            self.assertEqual(groups, -(-40 // t.m))
        # Each kept value is W's value there (no scaling in TASD).
        wa = self.s.reconstruct()
        kept = wa != 0
        np.testing.assert_array_equal(wa[kept], self.w[kept])

    def test_matmul_matches_reconstruct(self):
        x = rand(40, 7, seed=1)
        want = self.s.reconstruct() @ x
        np.testing.assert_allclose(self.s @ x, want, rtol=1e-4, atol=1e-4)
        v = rand(40, seed=2)
        y = self.s @ v
        self.assertEqual(y.shape, (24,))
        np.testing.assert_allclose(y, self.s.reconstruct() @ v, rtol=1e-4, atol=1e-4)
        out = rand(24, 7, seed=3)
        base = out.copy()
        r = self.s.matmul(x, out=out, alpha=2.0, beta=0.5)
        self.assertIs(r, out)
        np.testing.assert_allclose(out, 2.0 * want + 0.5 * base, rtol=1e-4, atol=1e-4)
        # A transposed (strided) output and input work without copies.
        outT = np.zeros((7, 24), np.float32).T
        self.s.matmul(np.ascontiguousarray(x.T).T, out=outT)
        np.testing.assert_allclose(outT, want, rtol=1e-4, atol=1e-4)

    def test_strided_and_f16_inputs(self):
        wt = rand(40, 24, seed=4)
        a = tasd.decompose(wt.T, "2:4")
        b = tasd.decompose(np.ascontiguousarray(wt.T), "2:4")
        np.testing.assert_array_equal(a.reconstruct(), b.reconstruct())
        h = tasd.decompose(self.w.astype(np.float16), "2:4", method="greedy")
        np.testing.assert_array_equal(
            h.reconstruct(), tasd.decompose(self.w.astype(np.float16).astype(np.float32), "2:4").reconstruct())
        self.assertEqual(tasd.decompose(self.w.astype(np.float64), "2:4").shape, (24, 40))

    def test_empty_arrays(self):
        # numpy gives zero-size arrays strides of 0: still no overlap
        for shape in ((0, 8), (8, 0)):
            s = tasd.decompose(np.zeros(shape, np.float32), "2:4")
            self.assertEqual(s.shape, shape)
            wa = s.reconstruct()
            self.assertEqual((wa.shape, wa.dtype), (shape, np.float32))
            y = s @ np.zeros((shape[1], 3), np.float32)
            np.testing.assert_array_equal(y, np.zeros((shape[0], 3), np.float32))
        y = self.s @ np.zeros((40, 0), np.float32)
        self.assertEqual((y.shape, y.dtype), ((24, 0), np.float32))
        out = np.zeros((24, 0), np.float32)
        self.assertIs(self.s.matmul(np.zeros((40, 0), np.float32), out=out), out)
        for layer in (tasd.Layer(self.w), tasd.Layer(self.w, W="2:4"),
                      tasd.Layer(self.w, A="2:4")):
            y = layer(np.zeros((0, 40), np.float32))
            self.assertEqual((y.shape, y.dtype), ((0, 24), np.float32))

    def test_sliced_conv_weight(self):
        # axes 1.. that do not fold into one are copied, as other dtypes are
        w = rand(8, 8, 6, 6)[:, :, ::2, ::2]
        s = tasd.decompose(w, "2:4")
        self.assertEqual(s.shape, (8, 72))
        np.testing.assert_array_equal(
            s.reconstruct(), tasd.decompose(np.ascontiguousarray(w), "2:4").reconstruct())
        np.testing.assert_array_equal(
            s.reconstruct(), tasd.decompose(w.astype(np.float64), "2:4").reconstruct())
        self.assertEqual(tasd.Layer(w, W="2:4").shape, (8, 72))

    def test_array_times_series(self):
        with self.assertRaises(TypeError) as cm:
            rand(3, 24) @ self.s
        self.assertIn("series @ x", str(cm.exception))

    def test_lossless(self):
        s = tasd.decompose(self.w, "2:4+2:4")
        np.testing.assert_array_equal(s.reconstruct(), self.w)
        self.assertEqual(s.stats.rel_error, 0.0)

    def test_save_load_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "w.tasd")
            self.s.save(p)
            t = tasd.load(p)
            self.assertEqual((t.shape, t.config, t.method), (self.s.shape, self.s.config, self.s.method))
            np.testing.assert_array_equal(t.reconstruct(), self.s.reconstruct())
            self.assertAlmostEqual(t.stats.rel_error, self.s.stats.rel_error)
            self.assertEqual(os.listdir(d), ["w.tasd"])

    def test_bytes(self):
        self.assertGreater(self.s.bytes, 0)
        # at a realistic size a 2:4 series is about half the fp32 weights
        # (the fixed per-series overhead dominates tiny matrices)
        w = rand(256, 512)
        b = tasd.decompose(w, "2:4").bytes
        self.assertLessEqual(b, 2.3 * w.size)
        self.assertGreater(tasd.decompose(w, "4:4").bytes, b)


class Values(unittest.TestCase):
    def test_bf16_f16_values(self):
        w = rand(128, 1024)  # large enough that the fixed header is < 0.02 B/weight
        ref = tasd.decompose(w, "2:4+1:8", values="f32")
        self.assertEqual(ref.values, "f32")
        for vt, npt in (("bf16", None), ("f16", np.float16)):
            s = tasd.decompose(w, "2:4+1:8", values=vt)
            self.assertEqual(s.values, vt)
            # same selection, values rounded once
            for a, b in zip(ref.terms, s.terms):
                np.testing.assert_array_equal(a.indices, b.indices)
                if npt is not None:
                    np.testing.assert_array_equal(a.values.astype(npt).astype(np.float32),
                                                  b.values)
            # the stats describe the rounded series
            wa = s.reconstruct()
            err = np.linalg.norm((w - wa).astype(np.float64)) / np.linalg.norm(w.astype(np.float64))
            self.assertAlmostEqual(s.stats.rel_error, err, places=6)
            # half the value bytes: 2:4+1:8 <= 1.5 bytes per weight
            self.assertLessEqual(s.bytes / w.size, 1.5)
            x = rand(1024, 3)
            np.testing.assert_allclose(s @ x, wa.astype(np.float64) @ x, rtol=1e-4, atol=1e-4)
            xh = x.astype(np.float16)  # half activations, f32 accumulation
            np.testing.assert_allclose(s @ xh, wa.astype(np.float64) @ xh.astype(np.float64),
                                       rtol=1e-4, atol=1e-4)
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "s.tasd")
                s.save(p)
                back = tasd.load(p)
                self.assertEqual(back.values, vt)
                np.testing.assert_array_equal(back.reconstruct(), wa)


class Errors(unittest.TestCase):
    def test_bad_config(self):
        with self.assertRaises(tasd.ConfigError) as cm:
            tasd.decompose(rand(4, 8), "2:5")
        self.assertIsInstance(cm.exception, tasd.Error)
        self.assertEqual(cm.exception.status, -5)
        self.assertIn("2:5", str(cm.exception))
        self.assertIn("power of two", cm.exception.message)
        with self.assertRaises(tasd.Error):
            tasd.decompose(rand(4, 8), "")

    def test_nan_input(self):
        w = rand(4, 8)
        w[2, 3] = np.nan
        with self.assertRaises(tasd.NonFiniteError) as cm:
            tasd.decompose(w, "2:4")
        self.assertTrue(cm.exception.message)

    def test_shape_mismatch(self):
        s = tasd.decompose(rand(4, 8), "2:4")
        with self.assertRaises(tasd.ShapeError) as cm:
            s @ rand(9, 3)
        self.assertTrue(cm.exception.message)
        with self.assertRaises(tasd.Error):
            s.matmul(rand(8, 3), out=np.zeros((5, 3), np.float32))
        with self.assertRaises(tasd.Error):
            s.matmul(rand(8, 3), beta=1.0)

    def test_values_and_method(self):
        with self.assertRaises(tasd.Error) as cm:
            tasd.decompose(rand(4, 8), "2:4", values="f64")
        self.assertIn("bf16", str(cm.exception))
        with self.assertRaises(tasd.Error):
            tasd.decompose(rand(4, 8), "2:4", method="best")

    def test_files(self):
        with self.assertRaises(tasd.FileError):
            tasd.load("/nonexistent/x.tasd")
        with tempfile.NamedTemporaryFile(suffix=".tasd") as f:
            f.write(b"TASDSER\0garbage")
            f.flush()
            with self.assertRaises(tasd.FormatError) as cm:
                tasd.load(f.name)
            self.assertIn(f.name, str(cm.exception))


class Runtime(unittest.TestCase):
    def test_version(self):
        self.assertRegex(tasd.version(), r"^\d+\.\d+\.\d+")
        self.assertEqual(tasd.__version__, tasd.version())
        self.assertTrue(os.path.exists(tasd.library_path) or "/" not in tasd.library_path)

    def test_package_version_is_the_library_version(self):
        # python/pyproject.toml ships with this tree's libtasd: one version
        with open(os.path.join(ROOT, "include", "tasd.h")) as f:
            header = dict(re.findall(r"#define TASD_VERSION_(MAJOR|MINOR|PATCH) (\d+)", f.read()))
        want = "%s.%s.%s" % (header["MAJOR"], header["MINOR"], header["PATCH"])
        with open(os.path.join(ROOT, "python", "pyproject.toml")) as f:
            got = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
        self.assertEqual(got, want)

    def test_import_without_numpy_says_what_to_install(self):
        code = "import sys; sys.modules['numpy'] = None; import tasd"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(ROOT, "python")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError: the tasd module needs numpy", r.stderr)
        self.assertIn("python3-numpy", r.stderr)

    def test_threads_and_backend(self):
        old = tasd.threads()
        tasd.set_threads(1)
        self.assertEqual(tasd.threads(), 1)
        w, x = rand(16, 32), rand(32, 4, seed=1)
        y1 = tasd.decompose(w, "2:4") @ x
        tasd.set_threads(0)
        self.assertGreaterEqual(tasd.threads(), 1)
        np.testing.assert_array_equal(tasd.decompose(w, "2:4") @ x, y1)
        tasd.set_threads(old)
        self.assertIn("scalar", tasd.backends())
        before = tasd.backend()
        tasd.set_backend("scalar")
        self.assertEqual(tasd.backend(), "scalar")
        tasd.set_backend("auto")
        self.assertEqual(tasd.backend(), before)
        with self.assertRaises(tasd.Error):
            tasd.set_backend("quantum")

    def test_release_scratch(self):
        w, x = rand(64, 96), rand(96, 70, seed=1)
        s = tasd.decompose(w, "2:4")
        y = s @ x
        self.assertGreater(tasd.scratch_bytes(), 0)
        tasd.release_scratch()
        self.assertEqual(tasd.scratch_bytes(), 0)
        np.testing.assert_array_equal(s @ x, y)
        self.assertGreater(tasd.scratch_bytes(), 0)


class Layers(unittest.TestCase):
    def test_dense_and_weights(self):
        w, b, x = rand(12, 32), rand(12, seed=1), rand(5, 32, seed=2)
        dense = tasd.Layer(w, b)
        self.assertEqual((dense.mode, dense.shape), ("dense", (12, 32)))
        np.testing.assert_allclose(dense(x), x @ w.T + b, rtol=1e-4, atol=1e-4)
        sw = tasd.Layer(w, b, W="2:4+1:8", method="optimal")
        self.assertEqual(sw.mode, "weights")
        wa = tasd.decompose(w, "2:4+1:8").reconstruct()
        np.testing.assert_allclose(sw(x), x @ wa.T + b, rtol=1e-4, atol=1e-4)
        sa = tasd.Layer(w, config="A=2:4")
        self.assertEqual(sa.mode, "activations")
        # a config line with or without the layer's name; half series values
        for line in ("W=2:4 A=none", "fc1 W=2:4 A=none method=greedy"):
            np.testing.assert_array_equal(tasd.Layer(w, b, config=line)(x), tasd.Layer(w, b, W="2:4")(x))
        sh = tasd.Layer(w, b, config="W=2:4 A=none values=bf16")
        self.assertIn("values=bf16", repr(sh))
        np.testing.assert_allclose(sh(x), tasd.Layer(w, b, W="2:4")(x), rtol=2e-2, atol=2e-2)
        with self.assertRaises(tasd.Error):
            tasd.Layer(w, W="2:4", A="2:4")

    def test_half_input(self):
        # float16 X is passed as is (no float32 copy) and gives what its
        # exact float32 widening gives, in every layer mode
        w, b = rand(12, 40), rand(12, seed=1)
        x16 = rand(7, 40, seed=2).astype(np.float16)
        for layer in (tasd.Layer(w, b), tasd.Layer(w, b, W="2:4"), tasd.Layer(w, config="A=2:4")):
            np.testing.assert_allclose(layer(x16), layer(x16.astype(np.float32)),
                                       rtol=1e-6, atol=1e-6)

    def test_workspace(self):
        w, b, x = rand(12, 32), rand(12, seed=1), rand(5, 32, seed=2)
        for layer in (tasd.Layer(w, b), tasd.Layer(w, b, W="2:4"), tasd.Layer(w, config="A=2:4")):
            need = layer.workspace_size(5)
            ws = np.empty(need, np.uint8)
            np.testing.assert_array_equal(layer(x, workspace=ws), layer(x))
            with self.assertRaises(tasd.Error):
                layer(x, workspace=ws[:need - 1])
        s = tasd.decompose(w, "2:4")
        xt = rand(32, 70, seed=3)
        ws = np.empty(s.workspace_size(70), np.uint8)
        np.testing.assert_array_equal(s.matmul(xt, workspace=ws), s @ xt)

    def test_search(self):
        w, x = rand(32, 64), rand(64, 64, seed=1)
        s = tasd.search_layer(w, calib=x, budget=0.2, target="cpu", name="fc1")
        c = s.choice
        self.assertLessEqual(c.error, 0.2)
        self.assertTrue(c.config.startswith("fc1 "))
        front = s.front
        self.assertEqual(front[-1].error, 0.0)
        for a, b in zip(front, front[1:]):
            self.assertLess(a.cost, b.cost)
            self.assertGreater(a.error, b.error)
        self.assertGreaterEqual(len(s.candidates), len(front))
        self.assertAlmostEqual(s.speedup, 1 / c.cost)
        # A spec string and a Target object are the same target.
        t = tasd.Target("1:4=0.3,2:4=0.55")
        self.assertAlmostEqual(t.cost("2:4"), 0.55)
        s2 = tasd.search_layer(w, budget=0.9, target=t, name="fc2", sides="weights")
        self.assertIn(s2.choice.W, ("1:4", "2:4", "none", "1:4+1:4", "1:4+2:4", "2:4+1:4", "2:4+2:4"))
        m = tasd.search_model([s, s2], budget=0.1)
        self.assertLessEqual(m.error, 0.1 + 1e-12)
        self.assertEqual(len(m.choice), 2)
        lines = [l for l in m.config.splitlines() if l and not l.startswith("#")]
        self.assertEqual([l.split()[0] for l in lines], ["fc1", "fc2"])
        with self.assertRaises(tasd.Error):
            tasd.search_layer(w, target="no-such-target")
        # Costs timed at the tokens the model runs at; the config keeps the spec.
        s3 = tasd.search_layer(w, budget=0.5, target="cpu-measured@16", name="fc3")
        self.assertIn(" target=cpu-measured@16", s3.choice.config)
        with self.assertRaises(tasd.Error):
            tasd.Target("cpu-measured@0")


class TensorFiles(unittest.TestCase):
    def test_safetensors_views(self):
        with tasd.open(os.path.join(DATA, "tiny.safetensors")) as f:
            self.assertEqual(f.format, "safetensors")
            names = f.names()
            self.assertEqual(len(names), len(f))
            for t in f:
                if t.dtype is None:
                    continue
                a = f[t.name]
                self.assertEqual(a.shape, t.shape)
                self.assertFalse(a.flags.writeable)
                self.assertFalse(a.flags.owndata)  # a view of the mapping
                self.assertEqual(f[t.name].ctypes.data, a.ctypes.data)
                if t.dtype_name in ("F32", "F16"):
                    np.testing.assert_array_equal(a.astype(np.float32), f.read_f32(t.name))
            with self.assertRaises(tasd.NotFoundError):
                f["nope"]

    def test_onnx_and_lifetime(self):
        f = tasd.open(os.path.join(DATA, "onnx", "mlp.onnx"))
        self.assertEqual(f.format, "onnx")
        self.assertEqual(f.consumer("W1"), ("MatMul", 1, 1))
        self.assertEqual(f.consumer("W2"), ("Gemm", 1, 0))
        a = f["W1"]
        i = np.arange(a.size)
        np.testing.assert_array_equal(a.ravel(), (((i * 37 + 11) % 17 - 8) / 4).astype(np.float32))
        f.close()
        del f
        gc.collect()
        self.assertEqual(float(a[0, 0]), -2.25 if a[0, 0] == -2.25 else float(a[0, 0]))
        self.assertEqual(a.sum(), (((i * 37 + 11) % 17 - 8) / 4).sum())
        with self.assertRaises(tasd.FormatError) as cm:
            tasd.open(os.path.join(DATA, "onnx", "lie_raw.onnx"))
        self.assertIn("raw_data", str(cm.exception))


    def test_onnx_write_copy(self):
        src = os.path.join(DATA, "onnx", "mlp.onnx")
        with tasd.open(src) as f, tempfile.TemporaryDirectory() as d:
            w1 = f["W1"]
            s = tasd.decompose(w1.T, "2:4")   # MatMul [K, N]: groups along K
            out = os.path.join(d, "out.onnx")
            f.write_onnx(out, {"W1": s.reconstruct().T})
            with tasd.open(out) as g:
                self.assertEqual(g.names(), f.names())
                np.testing.assert_array_equal(g["W1"], s.reconstruct().T)
                np.testing.assert_array_equal(g["W3"], f["W3"])
                self.assertEqual(g.consumer("W1"), ("MatMul", 1, 1))
            f.write_onnx(out, {})
            with open(out, "rb") as a, open(src, "rb") as b:
                self.assertEqual(a.read(), b.read())
            with self.assertRaises(tasd.ShapeError):
                f.write_onnx(out, {"W1": np.zeros(3, np.float32)})

    def test_onnx_write_copy_external_data(self):
        # A kept initializer's external data is referred to relative to the
        # copy's directory: a copy elsewhere would name a file that is not there
        # (the library refuses it). The model and its data are copied first, so
        # a failing check cannot overwrite the test data.
        with tempfile.TemporaryDirectory() as d:
            sub, far = os.path.join(d, "sub"), os.path.join(d, "far")
            os.mkdir(sub)
            os.mkdir(far)
            for name in ("ext.onnx", "ext.bin"):
                shutil.copy(os.path.join(DATA, "onnx", name), sub)
            with tasd.open(os.path.join(sub, "ext.onnx")) as f:
                a = f.read_f32("A")
                out = os.path.join(far, "out.onnx")
                with self.assertRaises(tasd.ArgumentError) as cm:
                    f.write_onnx(out, {"A": a})
                self.assertIn("ext.bin", str(cm.exception))
                self.assertFalse(os.path.exists(out))
                # ... and so would overwriting the data file the copy refers to.
                with self.assertRaises(tasd.ArgumentError):
                    f.write_onnx(os.path.join(sub, "ext.bin"), {})
                with open(os.path.join(sub, "ext.bin"), "rb") as got, \
                        open(os.path.join(DATA, "onnx", "ext.bin"), "rb") as want:
                    self.assertEqual(got.read(), want.read())
                os.symlink(os.path.join(sub, "ext.bin"), os.path.join(far, "ext.bin"))
                f.write_onnx(out, {"A": a})   # with a link to the data there it works
                with tasd.open(out) as g:
                    np.testing.assert_array_equal(g["B"], f["B"])


class Example(unittest.TestCase):
    def test_quickstart_runs(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "python"), env.get("PYTHONPATH", "")])
        r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python_quickstart.py")],
                           env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("relative error", r.stdout)


if __name__ == "__main__":
    unittest.main()
