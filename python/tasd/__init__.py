"""libtasd from Python: N:M structured-sparse series (TASD) of numpy arrays.

    import numpy as np, tasd
    w = np.random.default_rng(0).standard_normal((256, 512), dtype=np.float32)
    s = tasd.decompose(w, "2:4+1:8")
    s.stats.rel_error            # ||W - Wa|| / ||W||
    y = s @ x                    # tasd_gemm: the series times x [512, n]

Pure ctypes over libtasd.so, found via $TASD_LIBRARY, then the build tree
(build/lib/libtasd.so beside this package's source), then the system
loader. Failures raise tasd.Error (subclasses per status family) carrying
the library's message. See docs/python.md.
"""
import builtins
import ctypes
import operator
import os
import sys
import threading
import warnings
from collections import namedtuple

try:
    import numpy as np
except ImportError as e:
    raise ImportError("the tasd module needs numpy for this Python (%s): apt-get install "
                      "python3-numpy (Debian, for /usr/bin/python3) or pip install numpy (%s)"
                      % (sys.executable, e)) from e

from . import _lib
from ._lib import (ArgumentError, ConfigError, Error, FileError, FormatError, InternalError,
                   NonFiniteError, NotFoundError, ResourceError, ShapeError, UnsupportedError)

__all__ = [
    "Error", "ArgumentError", "ConfigError", "ShapeError", "NonFiniteError", "ResourceError",
    "UnsupportedError", "FileError", "FormatError", "NotFoundError", "InternalError",
    "decompose", "load", "Series", "Stats", "Term", "Layer", "Target", "search_layer",
    "search_model", "LayerSearch", "ModelSearch", "Point", "open", "TensorFile", "Tensor",
    "version", "threads", "set_threads", "backend", "set_backend", "backends",
    "scratch_bytes", "release_scratch",
]

__version__ = _lib.lib.tasd_version().decode()
library_path = _lib.path


def version():
    """The version string of the loaded libtasd, e.g. "1.1.0"."""
    return _lib.lib.tasd_version().decode()


# ---- the module's context: threads and backend ----

class _Context:
    def __init__(self):
        h = ctypes.c_void_p()
        _lib.call("tasd_context_create", None, ctypes.byref(h))
        self.h = h

    def __del__(self):
        if getattr(self, "h", None) and _lib is not None and _lib.lib is not None:
            _lib.lib.tasd_context_destroy(self.h)
            self.h = None


_ctx = _Context()
_ctx_lock = threading.Lock()


def _workspace(ws):
    """(pointer, bytes) of a caller's workspace array."""
    if not isinstance(ws, np.ndarray) or not ws.flags.c_contiguous or not ws.flags.writeable:
        raise ArgumentError(-2, "workspace must be a writable C-contiguous numpy array")
    return ctypes.c_void_p(ws.ctypes.data), ws.nbytes


_INT = (-2 ** 31, 2 ** 31 - 1)
_INT64 = (-2 ** 63, 2 ** 63 - 1)


def _int(value, what, bounds=_INT):
    """An integer argument (anything with __index__, not 1.5) that fits the C
    type whose (min, max) is `bounds`."""
    try:
        n = operator.index(value)
    except TypeError:
        raise ArgumentError(-2, "%s must be an integer, not %r" % (what, value)) from None
    if not bounds[0] <= n <= bounds[1]:
        raise ArgumentError(-2, "%s = %d is out of range" % (what, n))
    return n


def _number(value, what):
    """A float argument that must be >= 0 (NaN is not)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ArgumentError(-2, "%s must be a number, not %r" % (what, value)) from None
    if not x >= 0:
        raise ArgumentError(-2, "%s = %r: want a number >= 0" % (what, value))
    return x


def _out_array(out):
    """A caller's output array: float32 numpy (the library checks the rest)."""
    if not isinstance(out, np.ndarray) or out.dtype != np.float32:
        raise ArgumentError(-4, "out must be a float32 numpy array, not %s"
                            % (out.dtype if isinstance(out, np.ndarray) else type(out).__name__))
    return out


def threads():
    """Threads libtasd uses for this module's calls."""
    return _lib.lib.tasd_context_threads(_ctx.h)


def set_threads(n):
    """Use n threads (0: the default, OpenMP's maximum). Results do not
    depend on it."""
    with _ctx_lock:
        _lib.call("tasd_context_set_threads", _ctx.h, _int(n, "threads"))


def backend():
    """The kernel backend in use: "scalar", "avx2", "avx512" or "neon"."""
    return _lib.lib.tasd_backend_name(_lib.lib.tasd_context_backend(_ctx.h)).decode()


def set_backend(name):
    """Force a backend by name ("auto" restores the best one); UnsupportedError
    if this CPU or build lacks it."""
    b = ctypes.c_int()
    _lib.call("tasd_backend_parse", _lib.c_string(name, "backend name"), ctypes.byref(b))
    with _ctx_lock:
        _lib.call("tasd_context_set_backend", _ctx.h, b.value)


def _need_scratch_calls(fn):
    if not _lib.HAVE_SCRATCH:
        raise UnsupportedError(-10, "needs libtasd 1.1 or later (this one is %s)" % version(),
                               fn)


def scratch_bytes():
    """Bytes of scratch the module's context keeps between calls (0: none).
    libtasd 1.1 or later."""
    _need_scratch_calls("tasd_context_scratch_bytes")
    return _lib.lib.tasd_context_scratch_bytes(_ctx.h)


def release_scratch():
    """Free the scratch the module's context keeps; the next call allocates
    it again. libtasd 1.1 or later."""
    _need_scratch_calls("tasd_context_release_scratch")
    _lib.call("tasd_context_release_scratch", _ctx.h)


def backends():
    """Names of the backends this build and CPU can run."""
    return [_lib.lib.tasd_backend_name(b).decode() for b in (1, 2, 3, 4)
            if _lib.lib.tasd_backend_available(b)]


# ---- numpy <-> tasd_view ----

_DTYPES = {np.dtype(np.float32): _lib.F32, np.dtype(np.float16): _lib.F16}


def _view(a, writable=False):
    """A tasd_view of numpy array a (rank 1..4, f32/f16), no copy; strides
    must be whole elements."""
    if a.ndim < 1 or a.ndim > _lib.MAX_DIMS:
        raise ShapeError(-3, "rank %d: want 1..4 dimensions" % a.ndim)
    if writable and not a.flags.writeable:
        raise ArgumentError(-2, "output array is read-only")
    if a.dtype not in _DTYPES:
        raise ArgumentError(-4, "dtype %s: want float32 (or float16 for inputs)" % a.dtype)
    v = _lib.View()
    v.data = a.ctypes.data
    v.dtype = _DTYPES[a.dtype]
    v.ndim = a.ndim
    for d in range(a.ndim):
        v.shape[d] = a.shape[d]
        v.strides[d] = a.strides[d] // a.itemsize
    return v


def _collapsible(a):
    """Axes 1.. of a fold into one without a copy (the library's rule for a
    rank 3-4 view, lib/core/view.c: each axis of more than one element spans
    the next such axis; size-1 axes may have any stride)."""
    axes = [d for d in range(1, a.ndim) if a.shape[d] > 1]
    return all(a.strides[d] == a.strides[e] * a.shape[e] for d, e in zip(axes, axes[1:]))


def _as_input(a, dtypes=(np.float32, np.float16)):
    """a as a numpy array the library can view: float32 (or float16 where
    allowed) with whole-element strides and axes 1.. collapsible; copies
    only when it must."""
    a = np.asarray(a)
    if a.dtype == np.uint16:
        # what tasd.open() gives for bf16: converting the bits by value
        # would silently decompose integers
        raise ArgumentError(-4, "dtype uint16: tasd.open() returns bf16 tensors as uint16 bits; "
                                "use f.read_f32(name), or convert explicitly (a.astype(np.float32) "
                                "for integer data)")
    if a.dtype not in [np.dtype(t) for t in dtypes]:
        a = a.astype(np.float32)
    if any(s % a.itemsize for s in a.strides) or not a.flags.aligned or not _collapsible(a):
        a = np.ascontiguousarray(a)
    return a


def _method(method):
    m = ctypes.c_int()
    _lib.call("tasd_method_parse", _lib.c_string(method, "method"), ctypes.byref(m))
    return m.value


class _Config:
    """An owned tasd_config; `what` names the argument in errors."""

    def __init__(self, text, what="config"):
        if not isinstance(text, str):
            raise ConfigError(-5, "%s must be a string such as \"2:4+1:8\", not %r"
                              % (what, text))
        h = ctypes.c_void_p()
        _lib.call("tasd_config_parse", _ctx.h, _lib.c_string(text, what), ctypes.byref(h))
        self.h = h

    def __del__(self):
        if getattr(self, "h", None):
            _lib.lib.tasd_config_destroy(self.h)


def _config_text(cfg):
    return _lib.fmt(_lib.lib.tasd_config_format, cfg) if cfg else "none"


# ---- series ----

# A series' value type: the library's tasd_dtype by its name, and back.
_VALUE_TYPES = {"f32": _lib.F32, "bf16": _lib.BF16, "f16": _lib.F16}
_VALUE_NAMES = {v: k for k, v in _VALUE_TYPES.items()}

Stats = namedtuple("Stats", "retained_energy rel_error density coverage kept_nonzeros "
                            "input_nonzeros slots term_nonzeros")
Stats.__doc__ = """What tasd_series_stats reports: retained energy ||Wa||^2/||W||^2,
relative error ||W-Wa||_F/||W||_F, density kept/(rows*cols), coverage
kept/input nonzeros, the counts, and the nonzeros of each term."""

Term = namedtuple("Term", "n m values indices")
Term.__doc__ = """One term in the canonical layout: values float32 and indices uint8
(position 0..m-1 inside its group), both [rows, groups_per_row * n]: for each
row, n slots per group of m consecutive columns."""


class Series:
    """A decomposed matrix W ~ W1 + ... + Wt (from decompose() or load())."""

    __array_ufunc__ = None  # ndarray @ Series: numpy defers to __rmatmul__

    def __init__(self, handle):
        self._h = handle

    def __del__(self):
        if getattr(self, "_h", None) and _lib.lib is not None:
            _lib.lib.tasd_series_destroy(self._h)
            self._h = None

    @property
    def shape(self):
        r, c = ctypes.c_int64(), ctypes.c_int64()
        _lib.call("tasd_series_shape", self._h, ctypes.byref(r), ctypes.byref(c))
        return (r.value, c.value)

    @property
    def config(self):
        """The config text, e.g. "2:4+1:8"."""
        return _config_text(_lib.lib.tasd_series_config(self._h))

    @property
    def method(self):
        return _lib.lib.tasd_method_name(_lib.lib.tasd_series_method(self._h)).decode()

    @property
    def values(self):
        """The value type the series stores: "f32", "bf16" or "f16"."""
        if not _lib.HAVE_VALUE_TYPES:
            return "f32"
        return _VALUE_NAMES[_lib.lib.tasd_series_value_type(self._h)]

    @property
    def stats(self):
        s = _lib.Stats()
        _lib.call("tasd_series_stats", self._h, ctypes.byref(s))
        t = _lib.lib.tasd_config_terms(_lib.lib.tasd_series_config(self._h))
        return Stats(s.retained_energy, s.rel_error, s.density, s.coverage, s.kept_nonzeros,
                     s.input_nonzeros, s.slots, tuple(s.term_nonzeros[:t]))

    @property
    def terms(self):
        """The terms as numpy arrays (tasd_series_export_term), see Term."""
        rows = self.shape[0]
        out = []
        cfg = _lib.lib.tasd_series_config(self._h)
        for i in range(_lib.lib.tasd_config_terms(cfg)):
            n, m, g = ctypes.c_int(), ctypes.c_int(), ctypes.c_int64()
            _lib.call("tasd_series_term_layout", self._h, i, ctypes.byref(n), ctypes.byref(m),
                      ctypes.byref(g))
            width = g.value * n.value
            vals = np.empty((rows, width), np.float32)
            idx = np.empty((rows, width), np.uint8)
            _lib.call("tasd_series_export_term", self._h, i, vals.ctypes.data, idx.ctypes.data,
                      rows * width)
            out.append(Term(n.value, m.value, vals, idx))
        return out

    @property
    def bytes(self):
        """Bytes of the compressed weights. tasd_series_bytes() when the
        loaded library has it; otherwise computed from the canonical export:
        4 bytes per value slot plus the indices packed at ceil(log2 M) bits
        per slot (1 byte minimum per row and term), an estimate of the
        kernels' storage, not an exact count."""
        if _lib.HAVE_SERIES_BYTES:
            return int(_lib.lib.tasd_series_bytes(self._h))
        total = 0
        for t in self.terms:
            slots = t.values.size
            bits = max(1, (t.m - 1).bit_length())
            rows = t.values.shape[0]
            total += 4 * slots + rows * max(1, -(-t.values.shape[1] * bits // 8))
        return total

    def reconstruct(self):
        """The dense approximation Wa = W1 + ... + Wt, float32 [rows, cols]."""
        out = np.empty(self.shape, np.float32)
        v = _view(out, writable=True)
        _lib.call("tasd_series_reconstruct", self._h, ctypes.byref(v))
        return out

    def workspace_size(self, n):
        """Bytes of scratch matmul needs for x with n columns on the current
        threads and backend (tasd_gemm_workspace_size)."""
        size = ctypes.c_size_t()
        _lib.call("tasd_gemm_workspace_size", _ctx.h, self._h, _int(n, "n", _INT64),
                  ctypes.byref(size))
        return size.value

    def matmul(self, x, out=None, alpha=1.0, beta=0.0, workspace=None):
        """out = alpha * S @ x + beta * out (tasd_gemm). x: float32 or
        float16 (widened while packed, f32 accumulation), [cols, n] or [cols];
        out: None (a new array) or float32 [rows, n] (any strides).
        workspace: None, or a writable C-contiguous numpy array of at least
        workspace_size(n) bytes that the call uses instead of allocating
        (tasd_gemm_ws)."""
        x = _as_input(x, (np.float32, np.float16) if _lib.HAVE_VALUE_TYPES else (np.float32,))
        vec = x.ndim == 1
        x2 = x.reshape(-1, 1) if vec else x
        if x2.ndim != 2:
            raise ShapeError(-3, "x must be [cols] or [cols, n], got shape %s" % (x.shape,))
        rows = self.shape[0]
        if out is None:
            if beta != 0:
                raise ArgumentError(-2, "beta != 0 needs an `out` array to accumulate into")
            res = np.empty((rows, x2.shape[1]), np.float32)
        else:
            res = _out_array(out)
        o2 = res.reshape(-1, 1) if (vec and res.ndim == 1) else res
        bv, cv = _view(x2), _view(o2, writable=True)
        if workspace is None:
            _lib.call("tasd_gemm", _ctx.h, float(alpha), self._h, ctypes.byref(bv),
                      float(beta), ctypes.byref(cv))
        else:
            wp, wn = _workspace(workspace)
            _lib.call("tasd_gemm_ws", _ctx.h, float(alpha), self._h, ctypes.byref(bv),
                      float(beta), ctypes.byref(cv), wp, wn)
        return res.reshape(rows) if (vec and out is None) else res

    def __matmul__(self, x):
        return self.matmul(x)

    def __rmatmul__(self, x):
        raise TypeError("x @ series is not supported: a series multiplies from the left "
                        "(series @ x); for x @ W.T use tasd.Layer, or (series @ x.T).T")

    def save(self, path):
        """Write a .tasd file (atomically)."""
        _lib.call("tasd_series_save", self._h, _lib.c_path(path))

    def __repr__(self):
        r, c = self.shape
        return "<tasd.Series %dx%d %s %s>" % (r, c, self.config, self.method)


def decompose(array, config, method="optimal", values="f32"):
    """Decompose a matrix into a series of N:M terms.

    array: 2-D [rows, K] (or a conv weight [out, in, kh, kw], seen as
    [out, in*kh*kw]); float32 or float16 (others are converted to float32).
    Groups of M run along the last axis: pass w.T for a [K, N] weight.
    config: "2:4", "2:4+1:8", ...; method: "optimal" or "greedy";
    values: the value type the series stores its values in: "f32", "bf16"
    or "f16" (selected on the exact weights, then rounded once to nearest
    even; the stats describe the rounded series)."""
    vt = _VALUE_TYPES.get(values)
    if vt is None:
        raise ArgumentError(-4, "values=%r: want \"f32\", \"bf16\" or \"f16\"" % (values,))
    if vt != _lib.F32 and not _lib.HAVE_VALUE_TYPES:
        raise UnsupportedError(-10, "values=%r: the loaded libtasd has only f32 values"
                               % (values,))
    cfg = _Config(config)
    m = _method(method)
    a = _as_input(array)
    v = _view(a)
    h = ctypes.c_void_p()
    if _lib.HAVE_VALUE_TYPES:
        o = _lib.DecomposeOptions()
        o.values = vt
        _lib.call("tasd_decompose_ex", _ctx.h, ctypes.byref(v), cfg.h, m, ctypes.byref(o),
                  ctypes.byref(h))
    else:
        _lib.call("tasd_decompose", _ctx.h, ctypes.byref(v), cfg.h, m, ctypes.byref(h))
    return Series(h)


def load(path):
    """Load the only series of a .tasd file."""
    h = ctypes.c_void_p()
    _lib.call("tasd_series_load", _ctx.h, _lib.c_path(path), ctypes.byref(h))
    return Series(h)


# ---- layers, targets, TASDER ----

def _side(value, what):
    """A layer's W= or A= argument as an owned _Config, or None for none."""
    if value is None or value == "none":
        return None
    if isinstance(value, str) and any(c.isspace() or c == "=" for c in value):
        # more keys of a config line ("2:4 values=bf16"): say where they go
        raise ConfigError(-5, "%s=%r: want one series config such as \"2:4+1:8\" (no spaces "
                              "or '='); give values=, target= and the like in config="
                          % (what, value))
    return _Config(value, what)


class _LayerConfig:
    """An owned tasd_layer_config: from the separate arguments W, A and
    method (tasd_layer_config_create, each checked on its own), or from a
    config line, which gets `name` when it starts with a key."""

    def __init__(self, name, W=None, A=None, method=None, config=None):
        h = ctypes.c_void_p()
        if config is None:
            w, a = _side(W, "W"), _side(A, "A")
            m = _method("greedy" if method is None else method)
            _lib.call("tasd_layer_config_create", _ctx.h, _lib.c_string(name, "name"),
                      w.h if w else None, a.h if a else None, m, None, ctypes.byref(h))
            self.h = h
            return
        given = [k for k, v in (("W", W), ("A", A), ("method", method)) if v is not None]
        if given:
            raise ArgumentError(-2, "give config= or %s=, not both (config is a whole layer "
                                    "config line)" % "=/".join(given))
        line = _lib.c_string(config, "config", ConfigError, -5)
        first = line.split()[0] if line.split() else b""
        if b"=" in first or not first:  # "W=2:4 ...": named `name`
            _LayerConfig(name)  # checks it by the library's rule, in its words
            line = _lib.c_string(name, "name") + b" " + line
        try:
            _lib.call("tasd_layer_config_parse", _ctx.h, line, ctypes.byref(h))
        except FormatError as e:  # a malformed line, not a file
            raise ConfigError(-5, e.message, e.function) from None
        self.h = h

    def __del__(self):
        if getattr(self, "h", None):
            _lib.lib.tasd_layer_config_destroy(self.h)


class Layer:
    """Y = X @ W.T + bias on libtasd's kernels (tasd_layer_create).

    weights [out, in] (or [out, in, kh, kw]); bias None or [out];
    W="2:4+1:8": decomposed weights (TASD-W); A="2:4": activations
    decomposed on the fly (TASD-A); neither: dense; method "greedy"
    (default) or "optimal". config: a whole layer config line ("fc1 W=2:4
    A=none method=greedy") or "W=... A=..." instead of W/A/method (not
    with them). name: the layer's name (no whitespace, '#' or '=')."""

    def __init__(self, weights, bias=None, W=None, A=None, method=None, config=None,
                 name="layer"):
        lc = _LayerConfig(name, W, A, method, config)
        w = _as_input(weights)
        wv = _view(w)
        bv = None
        if bias is not None:
            b = _as_input(bias, (np.float32,))
            bv = ctypes.byref(_view(b))
        h = ctypes.c_void_p()
        _lib.call("tasd_layer_create", _ctx.h, ctypes.byref(wv), bv, lc.h, ctypes.byref(h))
        self._h = h
        self.config = _lib.fmt(_lib.lib.tasd_layer_config_format, lc.h)

    def __del__(self):
        if getattr(self, "_h", None) and _lib.lib is not None:
            _lib.lib.tasd_layer_destroy(self._h)
            self._h = None

    @property
    def shape(self):
        """(out_features, in_features)"""
        o, i = ctypes.c_int64(), ctypes.c_int64()
        _lib.call("tasd_layer_shape", self._h, ctypes.byref(o), ctypes.byref(i))
        return (o.value, i.value)

    @property
    def mode(self):
        return ("dense", "weights", "activations")[_lib.lib.tasd_layer_get_mode(self._h)]

    def workspace_size(self, tokens):
        """Bytes of scratch forward needs for `tokens` rows on the current
        threads and backend (tasd_layer_forward_workspace_size)."""
        size = ctypes.c_size_t()
        _lib.call("tasd_layer_forward_workspace_size", _ctx.h, self._h,
                  _int(tokens, "tokens", _INT64), ctypes.byref(size))
        return size.value

    def forward(self, x, out=None, workspace=None):
        """Y [tokens, out] (float32) for X [tokens, in], float32 or float16
        (widened by the library, f32 accumulation). workspace: as in
        Series.matmul, of at least workspace_size(tokens) bytes."""
        x = _as_input(x, (np.float32, np.float16) if _lib.HAVE_VALUE_TYPES else (np.float32,))
        if x.ndim != 2:
            raise ShapeError(-3, "x must be [tokens, in], got shape %s" % (x.shape,))
        y = np.empty((x.shape[0], self.shape[0]), np.float32) if out is None else _out_array(out)
        xv, yv = _view(x), _view(y, writable=True)
        if workspace is None:
            _lib.call("tasd_layer_forward", _ctx.h, self._h, ctypes.byref(xv), ctypes.byref(yv))
        else:
            wp, wn = _workspace(workspace)
            _lib.call("tasd_layer_forward_ws", _ctx.h, self._h, ctypes.byref(xv),
                      ctypes.byref(yv), wp, wn)
        return y

    __call__ = forward

    def __repr__(self):
        return "<tasd.Layer %dx%d %s>" % (self.shape + (self.config,))


class Target:
    """What a structured-sparse machine runs and at what cost: a name
    ("cpu", "cpu-measured", "sparse-tensor-core", "vegeta"), "cpu-measured@16"
    (timed at the 16 tokens a model runs at; plain "cpu-measured" at 128) or
    a custom spec ("1:4=0.3,2:4=0.55,act=4"). measure=True times libtasd's
    kernels here."""

    def __init__(self, spec="cpu", measure=False, seconds=0.3):
        h = ctypes.c_void_p()
        _lib.call("tasd_target_create", _ctx.h, _lib.c_string(spec, "target"), ctypes.byref(h))
        self._h = h
        if measure:
            _lib.call("tasd_target_measure", _ctx.h, h, float(seconds))

    def __del__(self):
        if getattr(self, "_h", None) and _lib.lib is not None:
            _lib.lib.tasd_target_destroy(self._h)
            self._h = None

    @property
    def name(self):
        return _lib.lib.tasd_target_name(self._h).decode()

    @property
    def spec(self):
        """The target as a custom spec with its costs."""
        return _lib.fmt(_lib.lib.tasd_target_format, self._h)

    def cost(self, weights=None, activations=None, out_features=0):
        """Predicted cost relative to dense (1.0) of a layer with these
        configs (strings)."""
        w = _Config(weights, "weights") if weights else None
        a = _Config(activations, "activations") if activations else None
        c = ctypes.c_double()
        _lib.call("tasd_target_cost", self._h, w.h if w else None, a.h if a else None,
                  _int(out_features, "out_features", _INT64), ctypes.byref(c))
        return c.value

    def __repr__(self):
        return "<tasd.Target %s %s>" % (self.name, self.spec)


Point = namedtuple("Point", "cost error config W A method")
Point.__doc__ = """A search candidate: predicted cost (dense = 1), relative error, the
layer config line, its weight-side and activation-side configs ("none" for
none) and method."""


def _point(p):
    lc = p.config
    return Point(p.cost, p.error, _lib.fmt(_lib.lib.tasd_layer_config_format, lc),
                 _config_text(_lib.lib.tasd_layer_config_weights(lc)),
                 _config_text(_lib.lib.tasd_layer_config_activations(lc)),
                 _lib.lib.tasd_method_name(_lib.lib.tasd_layer_config_method(lc)).decode())


class LayerSearch:
    """The result of search_layer(): every candidate, the Pareto front and
    the cheapest choice within the budget."""

    def __init__(self, handle, name, target):
        self._h = handle
        self.name = name
        self._target = target  # the search's configs name it

    def __del__(self):
        if getattr(self, "_h", None) and _lib.lib is not None:
            _lib.lib.tasd_layer_search_destroy(self._h)
            self._h = None

    def _points(self, count, fn):
        out = []
        for i in range(count):
            p = _lib.SearchPoint()
            _lib.call(fn, self._h, i, ctypes.byref(p))
            out.append(_point(p))
        return out

    @property
    def choice(self):
        p = _lib.SearchPoint()
        _lib.call("tasd_layer_search_choice", self._h, ctypes.byref(p))
        return _point(p)

    @property
    def speedup(self):
        return _lib.lib.tasd_layer_search_speedup(self._h)

    @property
    def front(self):
        return self._points(_lib.lib.tasd_layer_search_front_size(self._h),
                            "tasd_layer_search_front")

    @property
    def candidates(self):
        return self._points(_lib.lib.tasd_layer_search_candidates(self._h),
                            "tasd_layer_search_candidate")

    @property
    def flops(self):
        return _lib.lib.tasd_layer_search_flops(self._h)

    @flops.setter
    def flops(self, value):
        _lib.call("tasd_layer_search_set_flops", self._h, float(value))

    def __repr__(self):
        c = self.choice
        return "<tasd.LayerSearch %s: %s cost %.3f error %.4g>" % (self.name, c.config, c.cost,
                                                                   c.error)


_SIDES = {"both": 0, "weights": _lib.SEARCH_WEIGHTS, "activations": _lib.SEARCH_ACTIVATIONS,
          "W": _lib.SEARCH_WEIGHTS, "A": _lib.SEARCH_ACTIVATIONS}


def _target(target):
    return target if isinstance(target, Target) else Target(target)


def search_layer(weights, calib=None, budget=0.05, target="cpu", name="layer", max_terms=2,
                 sides="both", method="greedy", max_tokens=0):
    """TASDER on one layer: the cheapest config whose relative error is
    within budget. weights [out, in]; calib None (weight error, TASD-W only)
    or float32 activations [tokens, in] (output error); target a Target, a
    target name or spec; sides "both", "weights" or "activations"."""
    t = _target(target)
    opt = _lib.SearchOptions()
    _lib.lib.tasd_search_options_init(ctypes.byref(opt))
    opt.max_terms = _int(max_terms, "max_terms")
    if sides not in _SIDES:
        raise ArgumentError(-2, "sides=%r: want one of %s" % (sides, ", ".join(_SIDES)))
    opt.sides = _SIDES[sides]
    opt.method = _method(method)
    opt.max_tokens = _int(max_tokens, "max_tokens", _INT64)
    w = _as_input(weights)
    wv = _view(w)
    cv = None
    if calib is not None:
        c = _as_input(calib, (np.float32,))
        cv = ctypes.byref(_view(c))
    h = ctypes.c_void_p()
    _lib.call("tasd_search_layer", _ctx.h, t._h, _lib.c_string(name, "name"), ctypes.byref(wv), cv,
              float(budget), ctypes.byref(opt), ctypes.byref(h))
    return LayerSearch(h, name, t)


class ModelSearch:
    """The result of search_model(): per layer the chosen Point, the
    model's predicted cost, speed-up and FLOP-weighted error, and the model
    config text (save() writes it as a layer config file)."""

    def __init__(self, layers, choice, result, config_text):
        self.layers = layers
        self.choice = [layer.front[c] for layer, c in zip(layers, choice)]
        self.cost = result.cost
        self.speedup = result.speedup
        self.error = result.error
        self.max_error = result.max_error
        self.steps = result.steps
        self.config = config_text

    def save(self, path):
        with builtins.open(path, "w") as f:
            f.write(self.config)

    def __repr__(self):
        return "<tasd.ModelSearch %d layers: speed-up %.3f error %.4g>" % (
            len(self.layers), self.speedup, self.error)


def search_model(layers, budget, layer_cap=None):
    """One error budget shared by many layers (tasd_search_model): layers
    is a list of LayerSearch; budget bounds the FLOP-weighted mean error;
    layer_cap (default 2 * budget, as `tasd search --share`) bounds each
    layer's."""
    layers = list(layers)
    if not layers:
        raise ArgumentError(-2, "search_model: no layers")
    budget = _number(budget, "budget")
    layer_cap = 2 * budget if layer_cap is None else _number(layer_cap, "layer_cap")
    n = len(layers)
    arr = (ctypes.c_void_p * n)(*[l._h.value for l in layers])
    choice = (ctypes.c_int * n)()
    res = _lib.ModelSearchResult()
    _lib.call("tasd_search_model", arr, n, float(layer_cap), float(budget), choice,
              ctypes.byref(res))
    mc = ctypes.c_void_p()
    _lib.call("tasd_search_model_config", _ctx.h, arr, n, choice, ctypes.byref(mc))
    try:
        text = _lib.fmt(_lib.lib.tasd_model_config_format, mc)
    finally:
        _lib.lib.tasd_model_config_destroy(mc)
    return ModelSearch(layers, list(choice), res, text)


# ---- tensor files ----

# dtype names of .npy, safetensors and ONNX files -> numpy.
_NP = {"<f4": "<f4", "<f2": "<f2", "F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8",
       "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4",
       "U64": "<u8", "BOOL": "?", "BF16": "<u2",
       "FLOAT": "<f4", "FLOAT16": "<f2", "DOUBLE": "<f8", "INT64": "<i8", "INT32": "<i4",
       "INT16": "<i2", "INT8": "i1", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4",
       "UINT64": "<u8", "BFLOAT16": "<u2"}

Tensor = namedtuple("Tensor", "name shape dtype_name dtype offset nbytes")
Tensor.__doc__ = """One tensor of a file: dtype is the numpy dtype its array has (bf16
is given as uint16 bits; None if numpy has no equivalent)."""


class _FileHandle:
    """Owns the tasd_tensorfile; arrays handed out keep it alive, so the
    mapping outlives TensorFile.close() while any view still uses it."""

    def __init__(self, h):
        self.h = h

    def __del__(self):
        if self.h and _lib.lib is not None:
            _lib.lib.tasd_tensorfile_close(self.h)
            self.h = None


class TensorFile:
    """A model file (.npy, safetensors, ONNX) opened with tasd.open()."""

    def __init__(self, path):
        h = ctypes.c_void_p()
        _lib.call("tasd_tensorfile_open", _ctx.h, _lib.c_path(path), ctypes.byref(h))
        self._f = _FileHandle(h)
        self.path = os.fspath(path)

    def _handle(self):
        if self._f is None:
            raise ArgumentError(-2, "%s: the file is closed" % self.path)
        return self._f.h

    def close(self):
        """Drop this object's hold on the file; arrays already returned stay
        valid (they keep the mapping alive)."""
        self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def format(self):
        return _lib.FORMAT_NAMES.get(_lib.lib.tasd_tensorfile_format(self._handle()), "unknown")

    def __len__(self):
        return int(_lib.lib.tasd_tensorfile_count(self._handle()))

    def _info(self, i):
        t = _lib.TensorInfo()
        _lib.call("tasd_tensorfile_info", self._handle(), i, ctypes.byref(t))
        name = t.name.decode("utf-8")
        dn = t.dtype_name.decode()
        return Tensor(name, tuple(t.shape[:t.ndim]), dn,
                      np.dtype(_NP[dn]) if dn in _NP else None, t.offset, t.nbytes)

    def _index(self, key):
        """The index of a tensor given by name or by index (negative: from
        the end, as for a list)."""
        if isinstance(key, str):
            i = ctypes.c_int64()
            _lib.call("tasd_tensorfile_find", self._handle(), _lib.c_string(key, "tensor name"),
                      ctypes.byref(i))
            return i.value
        try:
            i = operator.index(key)
        except TypeError:
            raise ArgumentError(-2, "a tensor is given by name (str) or index (int), not %r"
                                % (key,)) from None
        n = len(self)
        if not -n <= i < n:
            raise IndexError("tensor index %d out of range: %s has %d tensors"
                             % (i, self.path, n))
        return i % n

    def info(self, key):
        """The Tensor record of a tensor (by name or index)."""
        return self._info(self._index(key))

    def __iter__(self):
        """Tensor records in file order."""
        return (self._info(i) for i in range(len(self)))

    def names(self):
        return [t.name for t in self]

    def __contains__(self, name):
        return any(t.name == name for t in self)

    def __getitem__(self, key):
        """A read-only numpy array of the tensor's data, without copying when
        the bytes are in the file (little-endian, any alignment)."""
        i = self._index(key)
        t = self._info(i)
        if t.dtype is None:
            raise UnsupportedError(-10, "tensor \"%s\": dtype %s has no numpy type"
                                   % (t.name, t.dtype_name))
        p, n = ctypes.c_void_p(), ctypes.c_uint64()
        _lib.call("tasd_tensorfile_raw", self._handle(), i, ctypes.byref(p), ctypes.byref(n))
        if n.value == 0:
            return np.empty(t.shape, t.dtype)
        buf = (ctypes.c_char * n.value).from_address(p.value)
        buf._tasd_file = self._f  # the mapping lives while the array does
        a = np.frombuffer(buf, dtype=t.dtype).reshape(t.shape)
        a.flags.writeable = False
        return a

    def read_f32(self, key):
        """A float32 copy of a f32/f16/bf16 tensor."""
        i = self._index(key)
        t = self._info(i)
        out = np.empty(t.shape, np.float32)
        _lib.call("tasd_tensorfile_read_f32", self._handle(), i, out.ctypes.data, out.size)
        return out

    def consumer(self, key):
        """(op_type, input slot, output axis) of the ONNX node consuming the
        tensor ("", -1, -1 if unknown or not ONNX); see
        tasd_tensorfile_consumer."""
        if not _lib.HAVE_CONSUMER:
            return ("", -1, -1)
        op, slot, axis = ctypes.c_char_p(), ctypes.c_int32(), ctypes.c_int32()
        _lib.call("tasd_tensorfile_consumer", self._handle(), self._index(key), ctypes.byref(op),
                  ctypes.byref(slot), ctypes.byref(axis))
        return (op.value.decode(), slot.value, axis.value)

    def write_onnx(self, path, replacements):
        """ONNX: write a copy of this model to path in which the initializers
        named in `replacements` ({name: array}) get the arrays' values (same
        element count; stored as raw_data in the initializer's own type) and
        every other byte is kept (tasd_tensorfile_write_onnx)."""
        if not _lib.HAVE_WRITE_ONNX:
            raise UnsupportedError(-10, "this libtasd has no tasd_tensorfile_write_onnx")
        items = list(replacements.items())
        arrays = [_as_input(a) for _, a in items]
        idx = (ctypes.c_int64 * max(1, len(items)))(*[self._index(n) for n, _ in items])
        views = (_lib.View * max(1, len(items)))(*[_view(a) for a in arrays])
        _lib.call("tasd_tensorfile_write_onnx", self._handle(), _lib.c_path(path),
                  len(items), idx, views)

    def __repr__(self):
        return "<tasd.TensorFile %s (%s, %d tensors)>" % (self.path, self.format, len(self))


def open(path):  # noqa: A001 - the module's documented name
    """Open a .npy, safetensors or ONNX file for reading (tasd_tensorfile_*)."""
    return TensorFile(path)


# ---- search, then apply: layer config files ----

LayerEntry = namedtuple("LayerEntry", "W A method target values", defaults=("f32",))
LayerEntry.__doc__ = """One line of a layer config file: the weight-side and
activation-side series configs ("2:4+1:8", or None for none), the method,
the target spec ("" when unspecified) and the value type of the W series
("f32", "bf16" or "f16"; "f32" when left out)."""


def _layer_values(lc):
    """A layer config's values= ("f32" when left out)."""
    if _lib.HAVE_LAYER_VALUES:
        return _VALUE_NAMES[_lib.lib.tasd_layer_config_values(lc)]
    # before 1.3: the canonical text has the key exactly when it is not f32
    for tok in _lib.fmt(_lib.lib.tasd_layer_config_format, lc).split():
        if tok.startswith("values="):
            return tok[len("values="):]
    return "f32"


def read_layers(path):
    """A layer config file (`tasd search -o`, docs/format.md), parsed and
    checked by the library (tasd_model_config_load): {name: LayerEntry} in
    file order."""
    h = ctypes.c_void_p()
    _lib.call("tasd_model_config_load", _ctx.h, _lib.c_path(path), ctypes.byref(h))
    try:
        out = {}
        for i in range(_lib.lib.tasd_model_config_count(h)):
            lc = _lib.lib.tasd_model_config_layer(h, i)
            w = _lib.lib.tasd_layer_config_weights(lc)
            a = _lib.lib.tasd_layer_config_activations(lc)
            out[_lib.lib.tasd_layer_config_name(lc).decode()] = LayerEntry(
                _config_text(w) if w else None, _config_text(a) if a else None,
                _lib.lib.tasd_method_name(_lib.lib.tasd_layer_config_method(lc)).decode(),
                _lib.lib.tasd_layer_config_target(lc).decode(), _layer_values(lc))
        return out
    finally:
        _lib.lib.tasd_model_config_destroy(h)


class Applied:
    """What apply_layers() made: `series` {name: Series} of the decomposed
    tensors, `transposed` {name: bool} (True when the series is of the
    tensor's transpose: an ONNX MatMul weight [K, N] is decomposed as [N, K]),
    `skipped` {name: reason} for the others, which stay unchanged. A .npy
    array goes by its file's base name, as in the layer config."""

    def __init__(self, file, index, series, transposed, skipped):
        self.file, self._index = file, index
        self.series, self.transposed, self.skipped = series, transposed, skipped

    def weights(self, name):
        """The approximation of tensor `name` in its own shape and layout."""
        wa = self.series[name].reconstruct()
        shape = self.file.info(self._index[name]).shape
        return (wa.T if self.transposed[name] else wa).reshape(shape)

    def write_onnx(self, path):
        """ONNX: a copy of the model with the decomposed initializers
        replaced by their approximations, every other byte kept."""
        self.file.write_onnx(path, {n: self.weights(n) for n in self.series})


def _orientation(f, t):
    """(transposed, None) for a tensor the tool decomposes, else (None, reason):
    the same rules as `tasd decompose` (docs/tool.md)."""
    if t.dtype_name not in _FLOAT_NAMES:
        return None, "dtype not f32/f16/bf16"
    if not 2 <= len(t.shape) <= 4:
        return None, "rank < 2 (not a matrix)" if len(t.shape) < 2 else "rank > 4"
    if int(np.prod(t.shape)) == 0:
        return None, "empty"
    if f.format != "onnx":
        if len(t.shape) == 3:
            return None, "rank 3 outside ONNX (layout unknown)"
        return False, None
    op, _, axis = f.consumer(t.name)
    if axis == 0:
        return False, None
    if axis == 1 and len(t.shape) == 2:
        return True, None
    return None, ("consumer %s: reduction axis unknown" % op if op
                  else "no consumer in the graph (reduction axis unknown)")


_FLOAT_NAMES = {"F32", "F16", "BF16", "FLOAT", "FLOAT16", "BFLOAT16", "<f4", "<f2"}


def apply_layers(file, layers):
    """Search, then apply: decompose each tensor of `file` (a path or a
    TensorFile; .npy, safetensors or ONNX) with the W= series and method that
    the layer config file `layers` (a path, as written by `tasd search -o`,
    or a read_layers() dict) gives it. Tensors with W=none, absent from the
    layer config, or that cannot be decomposed (see `tasd decompose`) are
    listed in .skipped. A layer config entry that names no tensor of the file
    (a typo, or the wrong file) gets the tool's warning, through
    warnings.warn. Returns an Applied."""
    f = file if isinstance(file, TensorFile) else open(file)
    cfg = layers if isinstance(layers, dict) else read_layers(layers)
    index, series, transposed, skipped = {}, {}, {}, {}
    names = set()
    for i, t in enumerate(f):
        name = t.name or os.path.splitext(os.path.basename(f.path))[0]
        names.add(name)
        entry = cfg.get(name)
        tr, why = _orientation(f, t)
        if why is None and entry is None:
            why = "not listed in the layer config"
        elif why is None and entry.W is None:
            why = "W=none in the layer config"
        if why is not None:
            skipped[name] = why
            continue
        w = f.read_f32(i)
        w = w.T if tr else w.reshape(w.shape[0], -1)
        index[name] = i
        series[name] = decompose(w, entry.W, method=entry.method, values=entry.values)
        transposed[name] = tr
    source = "the layer config" if isinstance(layers, dict) else os.fsdecode(layers)
    for name in cfg:
        if name not in names:
            warnings.warn("%s names \"%s\", which %s does not have" % (source, name, f.path),
                          stacklevel=2)
    return Applied(f, index, series, transposed, skipped)
