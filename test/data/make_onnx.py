#!/usr/bin/env python3
"""Writes the small ONNX files under test/data/onnx/ that test/test_onnx.c reads.

Needs python3-onnx and numpy (Debian: apt-get install python3-onnx); the
generated files are committed, so the C tests do not. Values are
v(i) = ((i*37 + 11 + seed) % 17 - 8) / 4 for the i-th element (row-major),
exactly representable in f32, f16 and bf16 (seed: see each tensor).
Run from the source tree: python3 test/data/make_onnx.py

`make_onnx.py --e2e PATH` writes instead the model that test/onnx_e2e.py runs
in onnxruntime (not committed: the test builds it)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx")


def vals(shape, seed):
    n = int(np.prod(shape))
    i = np.arange(n)
    return (((i * 37 + 11 + seed) % 17 - 8) / 4.0).astype(np.float32).reshape(shape)


def f32_raw(name, shape, seed):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, vals(shape, seed).tobytes(), raw=True)


def f32_floats(name, shape, seed):
    return helper.make_tensor(name, TensorProto.FLOAT, shape, vals(shape, seed).ravel().tolist())


def half_bits(shape, seed, bf16):
    v = vals(shape, seed).ravel()
    if bf16:
        return (v.view(np.uint32) >> 16).astype(np.uint16)  # exact: low bits are 0
    return v.astype(np.float16).view(np.uint16)


def half_raw(name, shape, seed, bf16):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.BFLOAT16 if bf16 else TensorProto.FLOAT16
    t.dims.extend(shape)
    t.raw_data = half_bits(shape, seed, bf16).astype("<u2").tobytes()
    return t


def half_int32(name, shape, seed, bf16):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.BFLOAT16 if bf16 else TensorProto.FLOAT16
    t.dims.extend(shape)
    t.int32_data.extend(int(b) for b in half_bits(shape, seed, bf16))
    return t


def model(nodes, inits, inputs, outputs):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits)
    m = helper.make_model(g, producer_name="libtasd-test", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def save(m, name):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(m.SerializeToString())


def main():
    os.makedirs(OUT, exist_ok=True)
    # mlp.onnx: x[1,8] -MatMul W1[8,16]- Add b1 - Gemm(transB=1) W2[12,16]
    # - Gemm(transB=0) W3[12,4] ; a Conv on another input with Wc[4,2,3,3];
    # plus an INT64 shape initializer used by Reshape.
    inits = [
        f32_raw("W1", [8, 16], 0),
        f32_raw("b1", [16], 1),
        f32_floats("W2", [12, 16], 2),
        f32_raw("W3", [12, 4], 3),
        f32_raw("Wc", [4, 2, 3, 3], 4),
        helper.make_tensor("shape", TensorProto.INT64, [2], [1, 4], raw=False),
        f32_raw("unused", [2, 2], 5),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h2"]),
        helper.make_node("Gemm", ["h2", "W2"], ["h3"], transB=1),
        helper.make_node("Gemm", ["h3", "W3"], ["h4"], transB=0),
        helper.make_node("Reshape", ["h4", "shape"], ["y"]),
        helper.make_node("Conv", ["img", "Wc"], ["z"], pads=[1, 1, 1, 1]),
    ]
    m = model(nodes, inits, [vi("x", [1, 8]), vi("img", [1, 2, 5, 5])],
              [vi("y", [1, 4]), vi("z", [1, 4, 5, 5])])
    onnx.checker.check_model(m)
    save(m, "mlp.onnx")

    # half.onnx: FLOAT16 and BFLOAT16 as raw_data and as int32_data.
    inits = [
        half_raw("h_raw", [4, 8], 6, False),
        half_int32("h_int", [4, 8], 7, False),
        half_raw("bf_raw", [8, 4], 8, True),
        half_int32("bf_int", [8, 4], 9, True),
    ]
    nodes = [helper.make_node("Identity", [n.name], [n.name + "_out"]) for n in inits]
    m = model(nodes, inits, [], [helper.make_tensor_value_info(n.name + "_out", n.data_type, None)
                                 for n in inits])
    save(m, "half.onnx")

    # ext.onnx + ext.bin: two tensors in an external file (the second at an
    # offset), one inline.
    a = vals([6, 8], 10)
    b = vals([8, 6], 11)
    pad = b"\0" * 16
    with open(os.path.join(OUT, "ext.bin"), "wb") as f:
        f.write(a.tobytes() + pad + b.tobytes())

    def ext(name, shape, off, length, location="ext.bin"):
        t = TensorProto()
        t.name = name
        t.data_type = TensorProto.FLOAT
        t.dims.extend(shape)
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(off)), ("length", str(length))):
            e = t.external_data.add()
            e.key = k
            e.value = v
        return t

    def ext_model(ta, tb):
        return model([helper.make_node("MatMul", ["x", "A"], ["h"]),
                      helper.make_node("MatMul", ["h", "B"], ["y"])],
                     [ta, tb, f32_raw("C", [2, 3], 12)], [vi("x", [1, 6])], [vi("y", [1, 6])])

    save(ext_model(ext("A", [6, 8], 0, a.nbytes), ext("B", [8, 6], a.nbytes + 16, b.nbytes)), "ext.onnx")
    # The same pointing outside the model's directory, or past the file's end.
    save(ext_model(ext("A", [6, 8], 0, a.nbytes, "../onnx/ext.bin"), ext("B", [8, 6], 0, b.nbytes)),
         "ext_dotdot.onnx")
    save(ext_model(ext("A", [6, 8], 0, a.nbytes, "/etc/passwd"), ext("B", [8, 6], 0, b.nbytes)),
         "ext_absolute.onnx")
    save(ext_model(ext("A", [6, 8], 0, a.nbytes), ext("B", [8, 6], a.nbytes + 32, b.nbytes)),
         "ext_past_end.onnx")
    save(ext_model(ext("A", [6, 8], 0, a.nbytes, "missing.bin"), ext("B", [8, 6], 0, b.nbytes)),
         "ext_missing.onnx")

    # identity.onnx: weights shared through Identity nodes, as torch exports
    # a layer applied twice. x[1,16] -MatMul Wsq- -MatMul (Wsq through two
    # Identity nodes)- -MatMul Wdis- -Gemm(transB=1) (Wdis through an
    # Identity)- -Gemm(transB=1) (Wonly only through an Identity)- y[1,12].
    # Wsq: MatMul input B both ways (out axis 1); Wonly: Gemm B with transB
    # (0); Wdis: MatMul B [K, N] and Gemm B [N, K] disagree (unknown); Wdead
    # reaches only an Identity whose output is a graph output.
    inits = [
        f32_raw("Wsq", [16, 16], 13),
        f32_raw("Wonly", [12, 16], 14),
        f32_raw("Wdis", [16, 16], 15),
        f32_raw("Wdead", [4, 4], 16),
    ]
    nodes = [
        helper.make_node("Identity", ["Wsq"], ["Wsq_1"]),
        helper.make_node("Identity", ["Wonly"], ["Wonly_1"]),
        helper.make_node("Identity", ["Wdis"], ["Wdis_1"]),
        helper.make_node("Identity", ["Wdead"], ["dead"]),
        helper.make_node("MatMul", ["x", "Wsq"], ["h1"]),
        helper.make_node("Identity", ["Wsq_1"], ["Wsq_2"]),
        helper.make_node("MatMul", ["h1", "Wsq_2"], ["h2"]),
        helper.make_node("MatMul", ["h2", "Wdis"], ["h3"]),
        helper.make_node("Gemm", ["h3", "Wdis_1"], ["h4"], transB=1),
        helper.make_node("Gemm", ["h4", "Wonly_1"], ["y"], transB=1),
    ]
    m = model(nodes, inits, [vi("x", [1, 16])], [vi("y", [1, 12]), vi("dead", [4, 4])])
    onnx.checker.check_model(m)
    save(m, "identity.onnx")

    # conv1d.onnx: a Conv over one spatial axis, weight W1d [out 16, in 8, k 3]
    # (rank 3: audio models' convolutions).
    inits = [f32_raw("W1d", [16, 8, 3], 17)]
    nodes = [helper.make_node("Conv", ["x", "W1d"], ["y"], pads=[1, 1])]
    m = model(nodes, inits, [vi("x", [1, 8, 16])], [vi("y", [1, 16, 16])])
    onnx.checker.check_model(m)
    save(m, "conv1d.onnx")

    # Lying files: raw_data of the wrong size, float_data count off, a name twice.
    t = f32_raw("W", [4, 4], 0)
    t.raw_data = t.raw_data[:-4]
    save(model([], [t], [], []), "lie_raw.onnx")
    t = f32_floats("W", [4, 4], 0)
    t.float_data.append(1.0)
    save(model([], [t], [], []), "lie_float.onnx")
    save(model([], [f32_raw("W", [2, 2], 0), f32_raw("W", [2, 2], 1)], [], []), "dup_name.onnx")


def identity_forward(w, x):
    """identity.onnx's outputs (y, dead) computed with numpy from its
    initializers w ({name: array}) and input x [1, 16]."""
    h = x @ w["Wsq"] @ w["Wsq"] @ w["Wdis"] @ w["Wdis"].T
    return [h @ w["Wonly"].T, w["Wdead"]]


def e2e_model(path):
    """A small model onnxruntime runs: x [2, 3, 6, 6] -> Conv W_conv [8, 3, 3, 3]
    -> Relu -> Flatten -> MatMul W_mm [288, 64] -> Relu -> Gemm(transB=1)
    W_gemm [32, 64] + b_gemm -> y [2, 32]. Random weights, and metadata, a
    doc string and an opset the copy must keep."""
    rng = np.random.default_rng(12)

    def init(name, shape):
        return helper.make_tensor(name, TensorProto.FLOAT, shape,
                                  rng.standard_normal(shape).astype(np.float32).tobytes(), raw=True)

    inits = [init("W_conv", [8, 3, 3, 3]), init("W_mm", [288, 64]), init("W_gemm", [32, 64]),
             init("b_gemm", [32])]
    nodes = [
        helper.make_node("Conv", ["x", "W_conv"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["c1"]),
        helper.make_node("Flatten", ["c1"], ["f"]),
        helper.make_node("MatMul", ["f", "W_mm"], ["h"]),
        helper.make_node("Relu", ["h"], ["h1"]),
        helper.make_node("Gemm", ["h1", "W_gemm", "b_gemm"], ["y"], transB=1),
    ]
    m = model(nodes, inits, [vi("x", [2, 3, 6, 6])], [vi("y", [2, 32])])
    m.doc_string = "libtasd end-to-end test model"
    helper.set_model_props(m, {"purpose": "tasd e2e", "kept": "yes"})
    onnx.checker.check_model(m)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--e2e":
        e2e_model(sys.argv[2])
    else:
        main()
