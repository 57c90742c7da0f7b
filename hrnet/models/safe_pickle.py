"""A restricted unpickler for checkpoints that ``torch.load(weights_only=True)`` refuses.

MMPose 1.x model-zoo files (and mmengine training checkpoints) keep, next to ``state_dict``:

- ``meta.dataset_meta`` with numpy arrays (``sigmas``, colour tables), which pickle through
  ``numpy.core.multiarray._reconstruct``;
- ``message_hub`` with ``mmengine.logging.history_buffer.HistoryBuffer`` objects whose statistics
  methods pickle as ``getattr(HistoryBuffer, 'min')``;
- ``param_schedulers`` with a ``collections.Counter``.

PyTorch's weights-only loader refuses all of these. :func:`load_restricted` reads such files without
mmengine installed and without executing anything from the file:

- the globals PyTorch's own weights-only loader allows (tensors, storages, dtypes, ``OrderedDict``,
  ``Counter``...) and numpy arrays, dtypes and scalars are rebuilt for real;
- every other global -- a class, a function, ``builtins.getattr`` itself -- is replaced by an inert
  placeholder class: "calling" it records the arguments and returns another placeholder, restoring
  its state stores the state. Nothing named by the file is ever imported, looked up or called.

So the weights and the plain metadata load, and a hostile object in the file stays a dead record of
what it would have called. A file that names something that exists only to run code (``os.system``,
``builtins.exec``, ``subprocess.Popen``...) is refused outright, so the user hears about it; that
list makes the message clear, it is not what keeps the loader safe.
"""

from __future__ import annotations

import io
import logging
import pickle
import types
from collections import Counter, OrderedDict
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Placeholder", "UnsafeCheckpointError", "load_restricted"]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file names a global whose only purpose is running code (nothing was run)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class Placeholder:
    """An inert stand-in for a global the file names (``pickled_as`` = ``"module.qualname"``)."""

    pickled_as = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Placeholder:
        obj = object.__new__(cls)
        obj.__dict__["_args"] = args
        obj.__dict__["_kwargs"] = kwargs
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # accept whatever the file passes
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Placeholder:
        return _placeholder_class(f"{self.pickled_as}(...)")(*args, **kwargs)

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state

    def __reduce__(self) -> Any:  # never re-pickled as the original
        raise pickle.PicklingError(f"placeholder for {self.pickled_as} cannot be pickled")

    def __repr__(self) -> str:
        return f"<placeholder {self.pickled_as}>"


_PLACEHOLDERS: dict[str, type[Placeholder]] = {}


def _placeholder_class(name: str) -> type[Placeholder]:
    cls = _PLACEHOLDERS.get(name)
    if cls is None:
        cls = type(f"Placeholder[{name}]", (Placeholder,), {"pickled_as": name, "__module__": __name__})
        _PLACEHOLDERS[name] = cls
    return cls


def _numpy_globals() -> dict[str, Any]:
    """numpy's pickling entry points under the names numpy 1.x and 2.x write."""
    try:
        from numpy._core import multiarray as ma  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray as ma  # type: ignore[no-redef]
    out: dict[str, Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[f"{mod}._reconstruct"] = ma._reconstruct
        out[f"{mod}.scalar"] = ma.scalar
    out["numpy.ndarray"] = np.ndarray
    out["numpy.dtype"] = np.dtype
    out["numpy.core.numeric._frombuffer"] = _frombuffer
    out["numpy._core.numeric._frombuffer"] = _frombuffer
    for dt in ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "Int16DType",
               "Int8DType", "UInt8DType", "UInt16DType", "UInt32DType", "UInt64DType", "BoolDType",
               "ObjectDType", "StrDType", "BytesDType"):
        cls = getattr(getattr(np, "dtypes", None), dt, None)
        if cls is not None:
            out[f"numpy.dtypes.{dt}"] = cls
    return out


def _frombuffer(buf: bytes, dtype: Any, shape: Any, order: str) -> np.ndarray:
    """numpy's protocol-5 array rebuild, without trusting ``dtype`` to be anything but a dtype."""
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("numpy buffer with a non-plain dtype")
    arr = np.frombuffer(buf, dtype=dtype)
    return arr.reshape(shape, order=order) if shape else arr


def _torch_globals() -> dict[str, Any]:
    """What PyTorch's weights-only loader allows (its own vetted list), minus anything in builtins
    that is not a plain container."""
    try:
        from torch import _weights_only_unpickler as wou

        allowed = dict(wou._get_allowed_globals())
    except (ImportError, AttributeError):  # pragma: no cover - a torch without the private helper
        import torch
        from torch import _utils

        allowed = {
            "collections.OrderedDict": OrderedDict,
            "torch._utils._rebuild_tensor_v2": _utils._rebuild_tensor_v2,
            "torch._utils._rebuild_parameter": _utils._rebuild_parameter,
            "torch.Size": torch.Size,
            "torch.device": torch.device,
            "_codecs.encode": __import__("_codecs").encode,
        }
    for name in list(allowed):
        if name.startswith("builtins.") and name not in _BUILTINS:
            del allowed[name]
    return allowed


_BUILTINS = {"builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.complex", "builtins.slice"}

# Modules and builtins that exist to run code, open files or processes: naming one is refused with
# a clear message (the loader would not call it anyway).
_DANGEROUS_MODULES = {
    "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "code", "codeop",
    "ctypes", "pty", "webbrowser", "marshal", "pickle", "_pickle", "cPickle", "dill", "types",
    "multiprocessing", "commands", "pdb", "bdb", "timeit", "trace", "cProfile", "profile", "urllib",
    "http", "ftplib", "smtplib", "telnetlib", "imp", "zipimport", "pkgutil", "torch.hub", "torch.ops",
    "torch._C", "torch.package",
}
_DANGEROUS_BUILTINS = {
    "eval", "exec", "compile", "__import__", "open", "breakpoint", "input", "globals", "locals", "vars",
    "setattr", "delattr", "exit", "quit",
}


def _is_dangerous(module: str, name: str) -> bool:
    if module in ("builtins", "__builtin__"):
        return name in _DANGEROUS_BUILTINS
    root = module.split(".")[0]
    return module in _DANGEROUS_MODULES or root in _DANGEROUS_MODULES or any(
        module.startswith(m + ".") for m in _DANGEROUS_MODULES
    )


class RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds allow-listed globals, replaces every other one by a :class:`Placeholder`."""

    _allowed: dict[str, Any] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placeholders: list[str] = []
        self.dangerous: list[str] = []

    @classmethod
    def allowed(cls) -> dict[str, Any]:
        if cls._allowed is None:
            cls._allowed = {**_torch_globals(), **_numpy_globals(), "collections.Counter": Counter,
                            "collections.OrderedDict": OrderedDict}
        return cls._allowed

    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        obj = self.allowed().get(full)
        if obj is not None:
            return obj
        if _is_dangerous(module, name):
            self.dangerous.append(full)
            raise UnsafeCheckpointError(self.dangerous)
        if full not in self.placeholders:
            self.placeholders.append(full)
        return _placeholder_class(full)


def _pickle_module() -> types.ModuleType:
    """A stand-in for the ``pickle`` module that torch.load uses (it subclasses ``Unpickler``)."""
    mod = types.ModuleType("hrnet_restricted_pickle")
    mod.Unpickler = RestrictedUnpickler  # type: ignore[attr-defined]
    mod.load = lambda f, **kw: RestrictedUnpickler(f, **kw).load()  # type: ignore[attr-defined]
    mod.loads = lambda b, **kw: RestrictedUnpickler(io.BytesIO(b), **kw).load()  # type: ignore[attr-defined]
    mod.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]
    mod.__dict__["HIGHEST_PROTOCOL"] = pickle.HIGHEST_PROTOCOL
    return mod


def load_restricted(path: Any, map_location: Any = "cpu") -> tuple[Any, list[str]]:
    """``torch.load`` through :class:`RestrictedUnpickler`. Returns the object and the sorted list of
    globals that were replaced by placeholders. Raises :class:`UnsafeCheckpointError` when the file
    names a code-running global, :class:`pickle.UnpicklingError` / ``RuntimeError`` for broken files."""
    import torch

    seen: list[str] = []

    class _Recording(RestrictedUnpickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.placeholders = seen

    mod = _pickle_module()
    mod.Unpickler = _Recording  # type: ignore[attr-defined]
    obj = torch.load(path, map_location=map_location, weights_only=False, pickle_module=mod)
    if seen:
        log.info("%s: %d non-tensor object type(s) kept as inert placeholders: %s", path, len(seen),
                 ", ".join(sorted(seen)[:6]))
    return obj, sorted(seen)
