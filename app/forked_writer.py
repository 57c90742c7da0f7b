"""Run a big write in a forked child process, so that it never competes with the GUI for the GIL.

A writer *thread* converts and encodes the document in Python and holds the interpreter lock
while it runs; on a loaded machine the operating system often suspends it while it holds the
lock, and the GUI thread then waits for it (measured: 0.5-2.4 s stalls of a 5 ms heartbeat
while saving 10,000 people on a 2-core VM at load 20). ``os.fork()`` gives a child an
instant copy-on-write copy of the process, snapshot included; the child writes the file and
exits with ``os._exit`` (no Qt, no atexit handlers), the calling worker thread only waits on a
pipe (without the GIL). The cost on the calling side is the fork itself (page tables: tens of
ms for a 1.5 GB process, on the worker thread) and the memory the child copies as it touches
objects.

Used on POSIX for the full writes (Ctrl+S, the autosave base); elsewhere, or when ``fork``
fails, the function runs in the calling thread as before. The child must only run Qt-free,
thread-free code: conversion, encoding, file I/O.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from typing import TypeVar

__all__ = ["FORK_AVAILABLE", "run_forked"]

log = logging.getLogger(__name__)
T = TypeVar("T")

FORK_AVAILABLE = hasattr(os, "fork") and os.name == "posix"


def run_forked(fn: Callable[[], T], *, use_fork: bool = True) -> T:
    """``fn()`` in a forked child; returns its (picklable) result or re-raises its exception
    (OSError and the library's errors keep their type; others become RuntimeError)."""
    if not (use_fork and FORK_AVAILABLE):
        return fn()
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError as e:
        os.close(r)
        os.close(w)
        log.warning("fork failed (%s): writing in this process", e)
        return fn()
    if pid == 0:  # child: write, report, leave without running any cleanup of the parent's
        code = 0
        try:
            os.close(r)
            try:
                payload = pickle.dumps((True, fn()))
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                try:
                    payload = pickle.dumps((False, e))
                except Exception:  # noqa: BLE001 - an unpicklable exception
                    payload = pickle.dumps((False, RuntimeError(f"{type(e).__name__}: {e}")))
            view = memoryview(payload)
            while view:
                view = view[os.write(w, view):]
            os.close(w)
        except BaseException:  # noqa: BLE001 - the forked child must reach os._exit whatever happens
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    try:
        while True:
            data = os.read(r, 1 << 20)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        raise OSError(f"the writer process ended without a result (status {status})")
    ok, value = pickle.loads(b"".join(chunks))
    if ok:
        return value
    raise value
