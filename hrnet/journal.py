"""The app's autosave files: a full base copy plus an append-only journal of changed frames (Qt-free).

A recovery is three files next to each other:

- ``<name>.json`` — the *base*: the whole document as COCO JSON (absolute image paths), written
  atomically. Its ``hrnet_annotator`` block carries ``"journal": <token>``, a random token
  naming the journal that belongs to this base.
- ``<name>.journal`` — one line per autosave after the base, appended and fsync'ed:
  ``<crc32 hex8> <JSON>\\n`` with JSON ``{"t": token, "n": frame count, "frames": [[index,
  image, [annotations]], ...]}`` — the complete new state of each frame changed since the
  previous record, in the base's COCO form.
- ``<name>.meta.json`` (written by :mod:`app.autosave`).

Reading (:func:`read_journal_recovery`) loads the base and applies the journal's records in order.
It stops at the first line that is incomplete, fails its checksum, or names another token, so
a ``kill -9`` in the middle of an append, or between a new base and the truncation of the old
journal, recovers the last complete autosave exactly. A new base (compaction) starts a new
token, so records of an older base are never applied to a newer one.
"""

from __future__ import annotations

import logging
import os
import uuid
import zlib
from pathlib import Path
from typing import Any

from hrnet import fastjson
from hrnet.annotations import APP_KEY, Frame, PoseDocument, from_coco_dict, to_coco_dict
from hrnet.annotations import _write_chunks_atomic as write_chunks_atomic
from hrnet.errors import AnnotationError

__all__ = ["append_journal_frames", "journal_path", "new_journal_token", "read_journal_recovery", "write_journal_base"]

logger = logging.getLogger(__name__)


def journal_path(base: Path) -> Path:
    return base.with_suffix(".journal")


def new_journal_token() -> str:
    return uuid.uuid4().hex


def _fsync_dir(folder: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass


def write_journal_base(snapshot: PoseDocument, base: Path, token: str) -> int:
    """Write the whole ``snapshot`` as the base for ``token`` and empty the journal.
    Returns the base's size in bytes. Never modifies the snapshot."""
    data = to_coco_dict(snapshot, base_dir=base.parent, absolute_paths=True, assign_ids=False)
    data[APP_KEY]["journal"] = token
    write_chunks_atomic(fastjson.encode_chunks(data), base)
    # the old journal's records name the old token: harmless if this truncation never happens
    with open(journal_path(base), "wb") as f:
        os.fsync(f.fileno())
    _fsync_dir(base.parent)
    return base.stat().st_size


def append_journal_frames(snapshot: PoseDocument, indices: list[int], base: Path, token: str) -> int:
    """Append one record with the current state of frames ``indices`` of ``snapshot``.
    Returns the number of bytes appended."""
    frames = [snapshot.frames[i] for i in indices]
    mini = PoseDocument(frames=frames, category=snapshot.category, image_root=snapshot.image_root)
    data = to_coco_dict(mini, base_dir=base.parent, absolute_paths=True, assign_ids=False)
    anns = data["annotations"]
    out: list[Any] = []
    start = 0
    for i, fr, img in zip(indices, frames, data["images"]):
        count = len(fr.instances) + len(fr.crowd) + len(fr.other)
        out.append([i, img, anns[start:start + count]])
        start += count
    body = fastjson.dumps({"t": token, "n": len(snapshot.frames), "frames": out})
    line = b"%08x " % zlib.crc32(body) + body + b"\n"
    fd = os.open(journal_path(base), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(line)


def _records(path: Path, token: str) -> list[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read the autosave journal: {e.strerror or e}") from e
    out = []
    for n, line in enumerate(raw.split(b"\n")[:-1]):  # the last piece is "" or an unfinished line
        crc, _, body = line.partition(b" ")
        try:
            ok = len(crc) == 8 and int(crc, 16) == zlib.crc32(body)
            rec = fastjson.loads(body) if ok else None
        except ValueError:
            rec = None
        if not isinstance(rec, dict) or rec.get("t") != token:
            if n or rec is None:
                logger.warning("%s: record %d is damaged or belongs to an older base: %d record(s) used",
                               path, n, len(out))
            break
        out.append(rec)
    return out


def read_journal_recovery(base: str | os.PathLike[str]) -> tuple[PoseDocument, str | None, int]:
    """The document the recovery files hold: the base with its journal applied.

    Returns (document, token, number of journal records applied). Raises AnnotationError
    when the base is unreadable.
    """
    base = Path(base)
    try:
        raw = base.read_bytes()
        data = fastjson.loads(raw)
    except OSError as e:
        raise AnnotationError(f"{base}: cannot read the recovery file: {e.strerror or e}") from e
    except ValueError as e:
        raise AnnotationError(f"{base}: not valid JSON: {e}") from e
    app = data.get(APP_KEY) if isinstance(data, dict) else None
    token = app.get("journal") if isinstance(app, dict) else None
    doc = from_coco_dict(data, source=str(base), base_dir=base.parent)
    if not isinstance(token, str):
        return doc, None, 0
    records = _records(journal_path(base), token)
    cats = data["categories"]
    for rec in records:
        if rec.get("n") != len(doc.frames):
            raise AnnotationError(f"{journal_path(base)}: a record is for {rec.get('n')} frames, "
                                  f"the base has {len(doc.frames)}")
        for i, img, anns in rec["frames"]:
            part = from_coco_dict({"images": [img], "annotations": anns, "categories": cats},
                                  source=f"{journal_path(base)} (frame {i})")
            fr: Frame = part.frames[0]
            doc.frames[i] = fr
    return doc, token, len(records)
