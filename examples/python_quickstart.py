#!/usr/bin/env python3
"""libtasd from Python in a minute: decompose a weight matrix, look at the
error, multiply with it, save it, and let TASDER pick a config.

Run from the source tree after `make`:
    PYTHONPATH=python python3 examples/python_quickstart.py
or, once installed (`make install install-python PYTHON=/usr/bin/python3`, or
the venv route of docs/python.md, both offline), with that interpreter."""
import os
import tempfile

import numpy as np

import tasd

rng = np.random.default_rng(0)
w = rng.standard_normal((256, 512), dtype=np.float32)   # [out, in]: groups run along `in`
x = rng.standard_normal((512, 8), dtype=np.float32)

print("libtasd", tasd.version(), "backend", tasd.backend(), "threads", tasd.threads())

# A two-term series: 2 of every 4, then 1 of every 8 of what is left.
s = tasd.decompose(w, "2:4+1:8", method="optimal")
st = s.stats
print("%s: density %.3f, relative error %.4f, retained energy %.4f, %d bytes"
      % (s.config, st.density, st.rel_error, st.retained_energy, s.bytes))

# The series times x equals its dense approximation times x.
y = s @ x
print("max |S@x - Wa@x| = %.2e" % np.abs(y - s.reconstruct() @ x).max())

# Save and load.
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "w.tasd")
    s.save(path)
    print("reloaded:", tasd.load(path))

# TASDER: the cheapest config within a 30% output error on calibration data.
calib = rng.standard_normal((64, 512), dtype=np.float32)
found = tasd.search_layer(w, calib=calib, budget=0.30, target="cpu", name="fc1")
c = found.choice
print("search: %s (predicted speed-up %.2fx, output error %.4f)" % (c.config, found.speedup, c.error))

# A layer Y = X W^T + b running the chosen config.
layer = tasd.Layer(w, bias=np.zeros(256, np.float32), config=c.config)
print("layer", layer.mode, "output", layer(calib).shape)
