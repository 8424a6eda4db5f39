#!/usr/bin/env python3
"""Writes the small golden model files under test/data/ (plain Python, no numpy).

Values are v(i) = ((i*37 + 11) % 17 - 8) / 4 for the i-th element (row-major),
exactly representable in f32, f16 and bf16; every 17th element is 0.
Run from the source tree: python3 test/data/make_golden.py
The .tasd golden file is then made with the tool (see make_golden.sh)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def val(i):
    return ((i * 37 + 11) % 17 - 8) / 4.0


def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def pack(fmt, shape, offset=0):
    n = prod(shape)
    vals = [val(i + offset) for i in range(n)]
    if fmt == "f32":
        return struct.pack("<%df" % n, *vals)
    if fmt == "f16":
        return struct.pack("<%de" % n, *vals)
    if fmt == "bf16":
        return b"".join(struct.pack("<f", v)[2:] for v in vals)
    if fmt == "i64":
        return struct.pack("<%dq" % n, *range(n))
    raise ValueError(fmt)


def npy(path, descr, shape, data, version):
    sh = "(" + "".join("%d, " % d for d in shape)
    sh = sh[:-2] + ("," if len(shape) == 1 else "") + ")" if shape else "()"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, sh)
    pre = 10 if version == 1 else 12
    while (pre + len(header) + 1) % 64:
        header += " "
    header += "\n"
    h = header.encode("latin1" if version < 3 else "utf8")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]))
        f.write(struct.pack("<H" if version == 1 else "<I", len(h)))
        f.write(h)
        f.write(data)


def safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    off = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


npy(os.path.join(HERE, "tiny_f32.npy"), "<f4", [6, 8], pack("f32", [6, 8]), 1)
npy(os.path.join(HERE, "tiny_f16_v2.npy"), "<f2", [4, 10], pack("f16", [4, 10]), 2)
npy(os.path.join(HERE, "tiny_conv_v3.npy"), "<f4", [2, 3, 2, 2], pack("f32", [2, 3, 2, 2]), 3)
safetensors(
    os.path.join(HERE, "tiny.safetensors"),
    [
        ("layer.0.weight", "F32", [8, 16], pack("f32", [8, 16])),
        ("layer.0.bias", "F32", [8], pack("f32", [8], 5)),
        ("conv.weight", "F16", [4, 2, 2, 2], pack("f16", [4, 2, 2, 2], 3)),
        ("emb.weight", "BF16", [4, 8], pack("bf16", [4, 8], 7)),
        ("pos_ids", "I64", [4], pack("i64", [4])),
    ],
    {"format": "pt", "note": "libtasd golden file"},
)
