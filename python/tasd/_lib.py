"""ctypes binding of libtasd: finding the library, the mirrored C structs
(all of them here, in one place), function prototypes and errors.

Every struct below mirrors one of include/tasd.h field for field; the test
test/python/test_structs.py recomputes their layout from the header."""
import ctypes
import ctypes.util
import os

c_int, c_int32, c_int64, c_uint64 = ctypes.c_int, ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64
c_double, c_float, c_size_t, c_char_p, c_void_p = (ctypes.c_double, ctypes.c_float, ctypes.c_size_t,
                                                   ctypes.c_char_p, ctypes.c_void_p)
P = ctypes.POINTER

MAX_DIMS = 4
MAX_TERMS = 8
TERM_CAPACITY = 32  # TASD_TERM_CAPACITY: the per-term arrays of ABI 1 structs
FILE_MAX_DIMS = 8


# ---- structs (include/tasd.h) ----

class View(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("dtype", c_int32), ("ndim", c_int32),
                ("shape", c_int64 * MAX_DIMS), ("strides", c_int64 * MAX_DIMS)]


class Sized(ctypes.Structure):
    """A struct whose leading `size` field the library checks (ABI 1.0):
    set to the struct's size at construction."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.size = ctypes.sizeof(self)


class Stats(Sized):
    _fields_ = [("size", c_size_t), ("retained_energy", c_double), ("rel_error", c_double),
                ("density", c_double), ("coverage", c_double), ("kept_nonzeros", c_int64),
                ("input_nonzeros", c_int64), ("slots", c_int64),
                ("term_nonzeros", c_int64 * TERM_CAPACITY)]


class TensorInfo(Sized):
    _fields_ = [("size", c_size_t), ("name", c_char_p), ("dtype_name", c_char_p),
                ("dtype", c_int32), ("ndim", c_int32), ("shape", c_int64 * FILE_MAX_DIMS),
                ("offset", c_uint64), ("nbytes", c_uint64)]


class ArchiveEntry(Sized):
    _fields_ = [("size", c_size_t), ("name", c_char_p), ("rows", c_int64), ("cols", c_int64),
                ("method", c_int32), ("terms", c_int32), ("n", c_int32 * TERM_CAPACITY),
                ("m", c_int32 * TERM_CAPACITY), ("bytes", c_uint64)]


class SearchOptions(Sized):
    _fields_ = [("size", c_size_t), ("max_terms", c_int), ("sides", c_int), ("method", c_int),
                ("max_tokens", c_int64)]


class SearchPoint(Sized):
    _fields_ = [("size", c_size_t), ("cost", c_double), ("error", c_double),
                ("config", c_void_p)]


class ModelSearchResult(Sized):
    _fields_ = [("size", c_size_t), ("cost", c_double), ("speedup", c_double),
                ("error", c_double), ("max_error", c_double), ("steps", c_int64),
                ("calls", c_int64), ("score", c_double), ("found", c_int64)]


class DecomposeOptions(Sized):
    _fields_ = [("size", c_size_t), ("values", c_int32)]


# C struct name -> ctypes class, for the layout test.
STRUCTS = {
    "tasd_view": View,
    "tasd_stats": Stats,
    "tasd_tensor_info": TensorInfo,
    "tasd_archive_entry": ArchiveEntry,
    "tasd_search_options": SearchOptions,
    "tasd_search_point": SearchPoint,
    "tasd_model_search_result": ModelSearchResult,
    "tasd_decompose_options": DecomposeOptions,
}

# ---- enums ----

F32, F16, BF16 = 0, 1, 2
GREEDY, OPTIMAL = 0, 1
SEARCH_WEIGHTS, SEARCH_ACTIVATIONS = 1, 2
FORMAT_NAMES = {0: "unknown", 1: "npy", 2: "safetensors", 3: "tasd", 4: "onnx"}


# ---- errors ----

class Error(Exception):
    """A libtasd call failed: .status is the tasd_status code, .message the
    library's detail (tasd_last_error_message) and str() both."""

    def __init__(self, status, message, function=""):
        self.status = status
        self.message = message
        self.function = function
        text = "%s: %s" % (status_string(status), message) if message else status_string(status)
        super().__init__("%s: %s" % (function, text) if function else text)


class ArgumentError(Error):
    """NULL pointer, invalid argument, wrong shape, unsupported dtype, bad
    config, NaN/Inf, aliasing outputs."""


class ConfigError(ArgumentError):
    """A malformed or invalid N:M config string (or layer config line)."""


class ShapeError(ArgumentError):
    """Wrong rank or mismatched shapes."""


class NonFiniteError(ArgumentError):
    """The input holds NaN or Inf."""


class ResourceError(Error):
    """Out of memory, or a size that would overflow."""


class UnsupportedError(Error):
    """Not supported by this build, CPU or file."""


class FileError(Error):
    """A file could not be read or written."""


class FormatError(FileError):
    """Malformed, truncated or corrupt data."""


class NotFoundError(Error):
    """A named item does not exist."""


class InternalError(Error):
    """A bug in libtasd."""


_ERRORS = {-1: ArgumentError, -2: ArgumentError, -3: ShapeError, -4: ArgumentError,
           -5: ConfigError, -6: ResourceError, -7: ResourceError, -8: NonFiniteError,
           -9: ArgumentError, -10: UnsupportedError, -11: FileError, -12: FormatError,
           -13: ResourceError, -14: NotFoundError, -15: InternalError}


# ---- the library ----

def _candidates():
    env = os.environ.get("TASD_LIBRARY")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, "..", "..", "build", "lib", "libtasd.so")]
    try:  # written by `make install-python`: the library installed with it
        from ._install import LIBDIR
        out.append(os.path.join(LIBDIR, "libtasd.so.1"))
    except ImportError:
        pass
    found = ctypes.util.find_library("tasd")
    out += [found] if found else []
    out += ["libtasd.so.1", "libtasd.so"]
    return out, False


def _load():
    names, forced = _candidates()
    errors = []
    for name in names:
        if os.sep in name and not os.path.exists(name) and not forced:
            continue
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            errors.append("%s: %s" % (name, e))
    raise ImportError("libtasd not found (set TASD_LIBRARY to the path of libtasd.so, build it "
                      "with `make`, or install it): " + "; ".join(errors or names))


lib, path = _load()


def _proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_S = c_int  # tasd_status

for _name, _res, _args in [
    ("tasd_version", c_char_p, ()),
    ("tasd_version_number", c_int, ()),
    ("tasd_status_string", c_char_p, (c_int,)),
    ("tasd_last_error_message", c_char_p, ()),
    ("tasd_context_create", _S, (c_void_p, P(c_void_p))),
    ("tasd_context_destroy", None, (c_void_p,)),
    ("tasd_context_set_threads", _S, (c_void_p, c_int)),
    ("tasd_context_threads", c_int, (c_void_p,)),
    ("tasd_context_set_backend", _S, (c_void_p, c_int)),
    ("tasd_context_backend", c_int, (c_void_p,)),
    ("tasd_backend_name", c_char_p, (c_int,)),
    ("tasd_backend_available", c_int, (c_int,)),
    ("tasd_backend_parse", _S, (c_char_p, P(c_int))),
    ("tasd_config_parse", _S, (c_void_p, c_char_p, P(c_void_p))),
    ("tasd_config_destroy", None, (c_void_p,)),
    ("tasd_config_terms", c_int, (c_void_p,)),
    ("tasd_config_term", _S, (c_void_p, c_int, P(c_int), P(c_int))),
    ("tasd_config_format", _S, (c_void_p, c_char_p, c_size_t, P(c_size_t))),
    ("tasd_method_name", c_char_p, (c_int,)),
    ("tasd_method_parse", _S, (c_char_p, P(c_int))),
    ("tasd_decompose", _S, (c_void_p, P(View), c_void_p, c_int, P(c_void_p))),
    ("tasd_series_destroy", None, (c_void_p,)),
    ("tasd_series_shape", _S, (c_void_p, P(c_int64), P(c_int64))),
    ("tasd_series_config", c_void_p, (c_void_p,)),
    ("tasd_series_method", c_int, (c_void_p,)),
    ("tasd_series_stats", _S, (c_void_p, P(Stats))),
    ("tasd_series_reconstruct", _S, (c_void_p, P(View))),
    ("tasd_series_term_layout", _S, (c_void_p, c_int, P(c_int), P(c_int), P(c_int64))),
    ("tasd_series_export_term", _S, (c_void_p, c_int, c_void_p, c_void_p, c_int64)),
    ("tasd_gemm", _S, (c_void_p, c_float, c_void_p, P(View), c_float, P(View))),
    ("tasd_gemm_workspace_size", _S, (c_void_p, c_void_p, c_int64, P(c_size_t))),
    ("tasd_gemm_ws", _S, (c_void_p, c_float, c_void_p, P(View), c_float, P(View), c_void_p,
                          c_size_t)),
    ("tasd_series_save", _S, (c_void_p, c_char_p)),
    ("tasd_series_load", _S, (c_void_p, c_char_p, P(c_void_p))),
    ("tasd_series_save_buffer", _S, (c_void_p, c_void_p, c_size_t, P(c_size_t))),
    ("tasd_tensorfile_open", _S, (c_void_p, c_char_p, P(c_void_p))),
    ("tasd_tensorfile_close", None, (c_void_p,)),
    ("tasd_tensorfile_format", c_int, (c_void_p,)),
    ("tasd_tensorfile_count", c_int64, (c_void_p,)),
    ("tasd_tensorfile_info", _S, (c_void_p, c_int64, P(TensorInfo))),
    ("tasd_tensorfile_find", _S, (c_void_p, c_char_p, P(c_int64))),
    ("tasd_tensorfile_raw", _S, (c_void_p, c_int64, P(c_void_p), P(c_uint64))),
    ("tasd_tensorfile_read_f32", _S, (c_void_p, c_int64, c_void_p, c_int64)),
    ("tasd_target_create", _S, (c_void_p, c_char_p, P(c_void_p))),
    ("tasd_target_destroy", None, (c_void_p,)),
    ("tasd_target_name", c_char_p, (c_void_p,)),
    ("tasd_target_format", _S, (c_void_p, c_char_p, c_size_t, P(c_size_t))),
    ("tasd_target_measure", _S, (c_void_p, c_void_p, c_double)),
    ("tasd_target_cost", _S, (c_void_p, c_void_p, c_void_p, c_int64, P(c_double))),
    ("tasd_layer_config_create", _S, (c_void_p, c_char_p, c_void_p, c_void_p, c_int, c_char_p,
                                      P(c_void_p))),
    ("tasd_layer_config_parse", _S, (c_void_p, c_char_p, P(c_void_p))),
    ("tasd_layer_config_destroy", None, (c_void_p,)),
    ("tasd_layer_config_format", _S, (c_void_p, c_char_p, c_size_t, P(c_size_t))),
    ("tasd_layer_config_weights", c_void_p, (c_void_p,)),
    ("tasd_layer_config_activations", c_void_p, (c_void_p,)),
    ("tasd_layer_config_method", c_int, (c_void_p,)),
    ("tasd_model_config_destroy", None, (c_void_p,)),
    ("tasd_model_config_load", _S, (c_void_p, c_char_p, P(c_void_p))),
    ("tasd_model_config_count", c_int64, (c_void_p,)),
    ("tasd_model_config_layer", c_void_p, (c_void_p, c_int64)),
    ("tasd_layer_config_name", c_char_p, (c_void_p,)),
    ("tasd_layer_config_target", c_char_p, (c_void_p,)),
    ("tasd_model_config_format", _S, (c_void_p, c_char_p, c_size_t, P(c_size_t))),
    ("tasd_model_config_save", _S, (c_void_p, c_char_p)),
    ("tasd_layer_create", _S, (c_void_p, P(View), P(View), c_void_p, P(c_void_p))),
    ("tasd_layer_destroy", None, (c_void_p,)),
    ("tasd_layer_shape", _S, (c_void_p, P(c_int64), P(c_int64))),
    ("tasd_layer_get_mode", c_int, (c_void_p,)),
    ("tasd_layer_forward", _S, (c_void_p, c_void_p, P(View), P(View))),
    ("tasd_layer_forward_workspace_size", _S, (c_void_p, c_void_p, c_int64, P(c_size_t))),
    ("tasd_layer_forward_ws", _S, (c_void_p, c_void_p, P(View), P(View), c_void_p, c_size_t)),
    ("tasd_search_options_init", None, (P(SearchOptions),)),
    ("tasd_search_layer", _S, (c_void_p, c_void_p, c_char_p, P(View), P(View), c_double,
                               P(SearchOptions), P(c_void_p))),
    ("tasd_layer_search_destroy", None, (c_void_p,)),
    ("tasd_layer_search_choice", _S, (c_void_p, P(SearchPoint))),
    ("tasd_layer_search_speedup", c_double, (c_void_p,)),
    ("tasd_layer_search_front_size", c_int, (c_void_p,)),
    ("tasd_layer_search_front", _S, (c_void_p, c_int, P(SearchPoint))),
    ("tasd_layer_search_candidates", c_int, (c_void_p,)),
    ("tasd_layer_search_candidate", _S, (c_void_p, c_int, P(SearchPoint))),
    ("tasd_layer_search_flops", c_double, (c_void_p,)),
    ("tasd_layer_search_set_flops", _S, (c_void_p, c_double)),
    ("tasd_search_model", _S, (P(c_void_p), c_int64, c_double, c_double, P(c_int),
                               P(ModelSearchResult))),
    ("tasd_search_model_config", _S, (c_void_p, P(c_void_p), c_int64, P(c_int), P(c_void_p))),
]:
    _proto(_name, _res, *_args)

# Optional symbols, present in newer libraries only.
HAVE_VALUE_TYPES = hasattr(lib, "tasd_decompose_ex")
if HAVE_VALUE_TYPES:
    _proto("tasd_decompose_ex", _S, c_void_p, P(View), c_void_p, c_int, P(DecomposeOptions),
           P(c_void_p))
    _proto("tasd_series_value_type", c_int, c_void_p)
HAVE_SERIES_BYTES = hasattr(lib, "tasd_series_bytes")
if HAVE_SERIES_BYTES:
    _proto("tasd_series_bytes", c_size_t, c_void_p)
HAVE_CONSUMER = hasattr(lib, "tasd_tensorfile_consumer")
if HAVE_CONSUMER:
    _proto("tasd_tensorfile_consumer", _S, c_void_p, c_int64, P(c_char_p), P(c_int32), P(c_int32))
HAVE_SCRATCH = hasattr(lib, "tasd_context_release_scratch")  # 1.1
if HAVE_SCRATCH:
    _proto("tasd_context_scratch_bytes", c_size_t, c_void_p)
    _proto("tasd_context_release_scratch", _S, c_void_p)
HAVE_WRITE_ONNX = hasattr(lib, "tasd_tensorfile_write_onnx")
if HAVE_WRITE_ONNX:
    _proto("tasd_tensorfile_write_onnx", _S, c_void_p, c_char_p, c_int64, P(c_int64), P(View))
HAVE_LAYER_VALUES = hasattr(lib, "tasd_layer_config_values")  # 1.3
if HAVE_LAYER_VALUES:
    _proto("tasd_layer_config_values", c_int, c_void_p)


def status_string(status):
    return lib.tasd_status_string(status).decode()


def check(status, function=""):
    """Raise the Error subclass of a failed status with the library's message."""
    if status != 0:
        msg = (lib.tasd_last_error_message() or b"").decode("utf-8", "replace")
        raise _ERRORS.get(status, Error)(status, msg, function)


def call(name, *args):
    check(getattr(lib, name)(*args), name)


def fmt(fn, obj):
    """Text of a *_format(obj, buf, size, needed) call."""
    needed = c_size_t(0)
    fn(obj, None, 0, ctypes.byref(needed))
    buf = ctypes.create_string_buffer(needed.value + 1)
    check(fn(obj, buf, len(buf), None), fn.__name__)
    return buf.value.decode()


def _no_nul(b, what):
    # C would stop at the NUL and use a different string: refuse, as open() does
    if b"\0" in b:
        raise ValueError("%s: embedded null character" % what)
    return b


def c_string(value, what, error=ArgumentError, status=-2):
    """A str argument as a C string; `error` (status) naming `what` for
    another type, ValueError for an embedded NUL."""
    if not isinstance(value, str):
        raise error(status, "%s must be a string, not %r" % (what, value))
    return _no_nul(value.encode(), what)


def c_path(path, what="path"):
    """A str, bytes or os.PathLike path as a C string (checked as c_string)."""
    try:
        b = os.fsencode(path)
    except TypeError:
        raise ArgumentError(-2, "%s must be a str, bytes or os.PathLike, not %r"
                            % (what, path)) from None
    return _no_nul(b, what)
