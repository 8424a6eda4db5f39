#!/usr/bin/env python3
"""End-to-end: ONNX models run in onnxruntime before and after
`tasd decompose --reconstruct`.

  onnx_e2e.py [TOOL]  (TOOL: the built `tasd`, else $TASD_TOOL; `make test` runs it)

For a tiny model built here (test/data/make_onnx.py --e2e: Conv, MatMul,
Gemm with transB=1), test/data/onnx/identity.onnx (weights shared through
Identity nodes, as torch exports a layer applied twice) and a small real
model shipped in an npm package (openwakeword-js: a Gemm wake-word
classifier), all in onnxruntime-node:
  - a lossless series (2:4+2:4) must give BIT-IDENTICAL outputs, and a copy
    whose graph, opset, metadata and every initializer's values are the
    original's;
  - a lossy series (2:4): the per-tensor relative weight errors recomputed
    with numpy from the two files must match what --json reported, the N:M
    groups must run along each consumer's reduction axis, tensors not
    decomposed must be unchanged, and the model must still run;
  - a truncated model fails cleanly and leaves no output file;
  - identity.onnx: the weights reached through Identity nodes are the ones
    decomposed, and both models' outputs are what numpy computes from their
    initializers (make_onnx.identity_forward).
onnxruntime-node is installed with npm into build/onnx-e2e/ (once; its install
script, which would download GPU builds from outside, is not run: the CPU
binaries ship in the package). Without node/npm/python3-onnx, or when npm
cannot reach its registry, the test says SKIPPED loudly and passes nothing.
Ends with the suite's "N passed, N failed" line."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CACHE = os.path.join(ROOT, "build", "onnx-e2e")
ORT = "onnxruntime-node@1.30.0"
REAL = ("openwakeword-js@0.1.27", "package/models/hello_deepa.onnx")

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)
    return ok


def skip(why):
    print("*" * 72)
    print("SKIPPED onnx end-to-end test:", why)
    print("*" * 72)
    print("0 passed, 0 failed")
    sys.exit(0)


def run(*args, **kw):
    """The command's CompletedProcess; one that hangs (npm without a network)
    counts as failed with status 124 instead of raising."""
    try:
        return subprocess.run(list(args), capture_output=True, text=True, **kw)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(list(args), 124, "", "timed out")


def install_ort():
    mod = os.path.join(CACHE, "node_modules", "onnxruntime-node")
    if not os.path.isdir(mod):
        os.makedirs(CACHE, exist_ok=True)
        r = run("npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", CACHE,
                ORT, timeout=600)
        if r.returncode != 0:
            shutil.rmtree(os.path.join(CACHE, "node_modules"), ignore_errors=True)
            skip("npm install %s failed: %s" % (ORT, r.stderr.strip().splitlines()[-1:]))


def real_model():
    """The small real model, unpacked from its npm package (once); None if
    npm cannot fetch it (said loudly)."""
    pkg, member = REAL
    path = os.path.join(CACHE, "real", member)
    if not os.path.exists(path):
        d = os.path.join(CACHE, "real")
        os.makedirs(d, exist_ok=True)
        r = run("npm", "pack", pkg, cwd=d, timeout=300)
        tgz = os.path.join(d, r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else ""
        if not tgz or run("tar", "xzf", tgz, "-C", d, member).returncode != 0:
            print("SKIPPED the real model: npm pack %s failed" % pkg)
            return None
    return path


def ort_run(model, out, onnx):
    m = onnx.load(model)
    inits = {t.name for t in m.graph.initializer}
    specs = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim]
        specs.append("%s:%s" % (i.name, "x".join(map(str, dims))))
    r = run("node", os.path.join(ROOT, "test", "onnx_e2e_run.js"), CACHE, model, out, *specs,
            timeout=300)
    if r.returncode != 0:
        print(r.stderr)
        return None
    with open(out, "rb") as f:
        return f.read()


def weights(model, onnx, numpy_helper):
    m = onnx.load(model)
    return m, {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def without_data(m):
    """The model with its initializers' data dropped: what must not change."""
    c = type(m)()
    c.CopyFrom(m)
    for t in c.graph.initializer:
        t.ClearField("raw_data")
        t.ClearField("float_data")
    return c.SerializeToString()


def decompose(tool, model, config, out):
    r = run(tool, "decompose", model, "--config", config, "--json", "--quiet", "--reconstruct",
            out)
    if r.returncode != 0:
        print(r.stderr)
        return None
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    return {x["name"]: x for x in lines if "name" in x and "skipped" not in x}


def e2e_input(n, np):
    """The values onnx_e2e_run.js feeds an input of n elements."""
    i = np.arange(n)
    return (((i * 37 + 11) % 17 - 8) / 8).astype(np.float32)


def one_model(tool, model, tmp, np, onnx, numpy_helper, want=None, forward=None):
    """want: the names that 2:4 must decompose; forward(weights, np): the
    model's outputs computed with numpy, compared with onnxruntime's."""
    base = os.path.splitext(os.path.basename(model))[0]
    print("== %s" % model)
    y0 = ort_run(model, os.path.join(tmp, base + ".y0"), onnx)
    if not check(y0 is not None and len(y0) > 0, "%s runs in onnxruntime" % base):
        return
    m0, w0 = weights(model, onnx, numpy_helper)

    # Lossless: the same outputs, bit for bit.
    lossless = os.path.join(tmp, base + ".lossless.onnx")
    rep = decompose(tool, model, "2:4+2:4", lossless)
    if not check(rep is not None and len(rep) > 0, "%s: 2:4+2:4 decomposes some tensors" % base):
        return
    y1 = ort_run(lossless, os.path.join(tmp, base + ".y1"), onnx)
    check(y1 is not None and y1 == y0, "%s: 2:4+2:4 outputs bit-identical" % base)
    m1, w1 = weights(lossless, onnx, numpy_helper)
    check(all(np.array_equal(w0[n], w1[n]) for n in w0),
          "%s: 2:4+2:4 keeps every initializer's values" % base)
    check(without_data(m0) == without_data(m1),
          "%s: graph, opset, metadata and tensor fields kept" % base)

    # Lossy: errors as reported, groups along the reduction axis.
    lossy = os.path.join(tmp, base + ".lossy.onnx")
    rep = decompose(tool, model, "2:4", lossy) or {}
    _, w2 = weights(lossy, onnx, numpy_helper)
    for name, r in rep.items():
        a, b = w0[name].astype(np.float64), w2[name].astype(np.float64)
        err = np.linalg.norm(a - b) / np.linalg.norm(a)
        check(abs(err - r["rel_error"]) <= 1e-6 + 1e-5 * err,
              "%s: %s rel_error %.9g reported, numpy %.9g" % (base, name, r["rel_error"], err))
        # [out, in] as decomposed: the transpose of a MatMul weight [K, N].
        mat = b.T if r["transposed"] else b.reshape(b.shape[0], -1)
        cols = mat.shape[1] // 4 * 4
        nz = (mat[:, :cols].reshape(mat.shape[0], -1, 4) != 0).sum(axis=2)
        check(nz.max() <= 2, "%s: %s 2:4 along its reduction axis" % (base, name))
        print("  %-28s %-14s transposed=%-5s rel_error json %.6f numpy %.6f" %
              (name, str(list(w0[name].shape)), r["transposed"], r["rel_error"], err))
    check(all(np.array_equal(w0[n], w2[n]) for n in w0 if n not in rep),
          "%s: tensors not decomposed are unchanged" % base)
    if want is not None:
        check(sorted(rep) == sorted(want), "%s: 2:4 decomposed %s, want %s" %
              (base, sorted(rep), sorted(want)))
    y2 = ort_run(lossy, os.path.join(tmp, base + ".y2"), onnx)
    if forward is not None:
        for w, y, what in ((w0, y0, "original"), (w2, y2, "2:4 copy")):
            ref = np.concatenate([np.asarray(a, np.float32).ravel() for a in forward(w, np)])
            got = np.frombuffer(y, np.float32) if y is not None else None
            check(got is not None and got.shape == ref.shape and
                  np.allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max()),
                  "%s: %s outputs as numpy computes them from its initializers" % (base, what))
    ok = y2 is not None and len(y2) == len(y0)
    if ok:
        v0, v2 = np.frombuffer(y0, np.float32), np.frombuffer(y2, np.float32)
        ok = bool(np.isfinite(v2).all()) and not np.array_equal(v0, v2)
        print("  lossy model output: relative change %.4f" %
              (np.linalg.norm(v2 - v0) / max(np.linalg.norm(v0), 1e-30)))
    check(ok, "%s: the 2:4 model runs, finite outputs that differ" % base)

    # A truncated model: an error and no output.
    trunc = os.path.join(tmp, base + ".trunc.onnx")
    with open(model, "rb") as f, open(trunc, "wb") as g:
        g.write(f.read()[:os.path.getsize(model) * 2 // 3])
    out = os.path.join(tmp, base + ".never.onnx")
    r = run(tool, "decompose", trunc, "--config", "2:4", "--reconstruct", out)
    check(r.returncode == 1 and "trunc" in r.stderr and not os.path.exists(out),
          "%s: a truncated file fails, nothing written" % base)


def main():
    tool = sys.argv[1] if len(sys.argv) == 2 else os.environ.get("TASD_TOOL", "")
    if not tool or len(sys.argv) > 2:
        print(__doc__)
        return 2
    tool = os.path.abspath(tool)
    try:
        import numpy as np
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        skip("python3 without numpy/onnx (%s): apt-get install python3-numpy python3-onnx" % e)
    for prog in ("node", "npm"):
        if not shutil.which(prog):
            skip("%s missing: apt-get install nodejs npm" % prog)
    install_ort()
    sys.path.insert(0, os.path.join(ROOT, "test", "data"))
    import make_onnx
    with tempfile.TemporaryDirectory() as tmp:
        tiny = os.path.join(tmp, "tiny_e2e.onnx")
        make_onnx.e2e_model(tiny)
        models = [(tiny, {})]
        x = e2e_input(16, np).reshape(1, 16)
        models.append((os.path.join(ROOT, "test", "data", "onnx", "identity.onnx"),
                       {"want": ["Wsq", "Wonly"],
                        "forward": lambda w, np_: make_onnx.identity_forward(w, x)}))
        real = real_model()
        if real:
            models.append((real, {}))
        for m, kw in models:
            one_model(tool, m, tmp, np, onnx, numpy_helper, **kw)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
