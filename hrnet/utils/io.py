"""The one atomic file writer and the one JSON reader of the library.

Every write of user data (annotation documents, results, checkpoints, exports, images) goes
through :func:`atomic_open` (or a helper built on it): the bytes go to a temporary file in the
same folder, are flushed and fsync'ed, the temporary file gets the mode the target had (or, for
a new file, the mode the user's umask gives a freshly created file), and ``os.replace`` swaps it
in; the folder is fsync'ed so that the rename itself survives a crash. A failure at any point
leaves the previous file untouched and removes the temporary file.

:func:`read_json` reads a JSON file and turns every way it can fail (missing, a folder, not
UTF-8, not JSON, unreadable) into one typed error that names the file, the problem and, for a
syntax error, the line and column.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from hrnet.errors import HRNetError

__all__ = [
    "atomic_open",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "json_chunks",
    "new_file_mode",
    "read_json",
    "write_json",
]

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # the portable way sets it and puts it back
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits ``open(path, "w")`` gives a new file: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


def _target_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return new_file_mode()


def _fsync_dir(folder: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):  # not every file system lets a folder be fsync'ed
        dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mkdir: bool = False) -> Iterator[Path]:
    """A temporary path next to ``path`` for code that writes by file name (``torch.onnx.export``,
    ``torch.jit.save``); when the block ends normally the file is fsync'ed, given ``path``'s mode
    and moved onto ``path``. On an exception the temporary file is removed and ``path`` is unchanged.
    """
    path = Path(path)
    folder = path.parent
    if mkdir:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _target_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    encoding: str | None = None,
    mkdir: bool = False,
    durable: bool = True,
) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` for writing (``mode`` ``"wb"`` or ``"w"``); see the module doc.

    ``mkdir=True`` creates missing parent folders (by default a missing folder is an ``OSError``, as
    for ``open``: a user's save into a folder that has gone must fail, not recreate it).
    ``durable=False`` skips the fsyncs (the swap stays atomic): for outputs that are cheap to make
    again and written by the hundred, such as rendered video frames.

    >>> with atomic_open("model.pth") as f:      # doctest: +SKIP
    ...     torch.save(state, f)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode must be 'w' or 'wb', not {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    path = Path(path)
    folder = path.parent
    if mkdir:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(name, _target_mode(path))
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    if durable:
        _fsync_dir(folder)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mkdir: bool = False, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open` for ``mkdir`` and ``durable``)."""
    with atomic_open(path, "wb", mkdir=mkdir, durable=durable) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mkdir: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", mkdir=mkdir) as f:
        f.write(text)


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def json_chunks(data: Any, batch: int = 2000) -> Iterator[str]:
    """Compact JSON text of ``data`` in pieces: a top-level dict's long lists are serialised
    ``batch`` items at a time, so that writing a large document neither builds one huge string
    nor holds the interpreter for seconds. The concatenation equals ``json.dumps(data)``."""
    if not isinstance(data, dict):
        yield _dumps(data)
        return
    yield "{"
    for n, (key, value) in enumerate(data.items()):
        yield (", " if n else "") + _dumps(str(key)) + ": "
        if isinstance(value, list) and len(value) > batch:
            yield "["
            for start in range(0, len(value), batch):
                yield (", " if start else "") + ", ".join(_dumps(v) for v in value[start:start + batch])
            yield "]"
        else:
            yield _dumps(value)
    yield "}"


def write_json(
    path: str | os.PathLike[str],
    data: Any,
    *,
    indent: int | None = None,
    sort_keys: bool = False,
    mkdir: bool = False,
) -> None:
    """Write ``data`` as UTF-8 JSON to ``path`` atomically (compact unless ``indent``).

    NaN and infinity are refused with ``ValueError`` (they are not JSON); an I/O failure raises
    ``OSError``. Either way any previous file is left untouched.
    """
    if indent is None and not sort_keys:
        chunks: Iterable[str] = json_chunks(data)
    else:
        chunks = (json.dumps(data, indent=indent, sort_keys=sort_keys, allow_nan=False, ensure_ascii=False),)
    with atomic_open(path, "w", mkdir=mkdir) as f:
        for chunk in chunks:
            f.write(chunk)


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file", error: type[HRNetError] = HRNetError) -> Any:
    """The parsed content of the JSON file ``path``.

    Every failure raises ``error`` (an :class:`~hrnet.errors.HRNetError` subclass: the caller's
    own type, e.g. ``DatasetError`` or ``AnnotationError``) chained from the cause, with a message
    that starts with ``what`` and names the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise error(f"{what} not found: {path}") from e
    except IsADirectoryError as e:
        raise error(f"{what} is a folder, not a JSON file: {path}") from e
    except OSError as e:
        raise error(f"Cannot read {what} {path}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{what} {path} is not valid JSON: not UTF-8 text ({e.reason} at byte {e.start})") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{what} {path} is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from e
    except RecursionError as e:
        raise error(f"{what} {path} is nested too deeply to read") from e
