"""The app's autosave files: a full base copy plus an append-only journal of changed frames (Qt-free).

A recovery is three files next to each other:

- ``<name>.json`` — the *base*, one of two kinds:

  - a *full base*: the whole document as COCO JSON (absolute image paths), written atomically.
    Its ``hrnet_annotator`` block carries ``"journal": <token>``, a random token naming the
    journal that belongs to this base;
  - a *copy base*: a byte copy of the project file the document was opened from (or last
    saved to), made by the kernel (:func:`shutil.copyfile`: no Python-level work, no
    interpreter lock held) when the document still matched that file. It carries no token:
    the journal's first line (the *header*) names it by its CRC-32 and size, and says which
    folder its relative paths are relative to.

- ``<name>.journal`` — one line per autosave after the base, appended and fsync'ed:
  ``<crc32 hex8> <JSON>\\n`` with JSON ``{"t": token, "n": frame count, "frames": [[index,
  image, [annotations]], ...]}`` — the complete new state of each frame changed since the
  previous record, in the base's COCO form. After a copy base the first line is the header
  ``{"t": token, "base": {"crc": .., "size": .., "dir": .., "image_root": ..}}``.
- ``<name>.meta.json`` (written by :mod:`app.autosave`).

Reading (:func:`read_journal_recovery`) loads the base and applies the journal's records in order.
It stops at the first line that is incomplete, fails its checksum, or names another token, so
a ``kill -9`` in the middle of an append, or between a new base and the truncation of the old
journal, recovers the last complete autosave exactly. A new base (compaction) starts a new
token, so records of an older base are never applied to a newer one. A copy base is put in
place after its journal has been written (fsync'ed) as ``<name>.journal.tmp`` and before that
file replaces the journal: a crash in between finds the new base, the old journal (whose
token or header does not match it) and the new journal under its temporary name, which the
reader then uses.

The same header + records form carries a *save delta* (:func:`write_save_delta`): the frames
changed since the document matched its project file. ``python -m hrnet.journal apply PROJECT
DELTA TARGET`` (:func:`apply_save_delta`) writes the project with the delta applied to
TARGET in a separate process, so that saving a big project holds the GUI process's interpreter
lock only to encode the changed frames.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import uuid
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hrnet import fastjson
from hrnet.annotations import APP_KEY, Frame, PoseDocument, from_coco_dict, to_coco_dict, write_coco_snapshot
from hrnet.annotations import _write_chunks_atomic as write_chunks_atomic
from hrnet.errors import AnnotationError

__all__ = [
    "append_journal_frames",
    "apply_save_delta",
    "file_crc",
    "journal_path",
    "new_journal_token",
    "read_journal_recovery",
    "write_journal_base",
    "write_journal_copy_base",
    "write_save_delta",
]

logger = logging.getLogger(__name__)

_CHUNK = 8 << 20  # bytes per read / crc32 call (zlib and file reads release the GIL on these)


def journal_path(base: Path) -> Path:
    return base.with_suffix(".journal")


def _pending_journal_path(base: Path) -> Path:
    return base.with_suffix(".journal.tmp")


def new_journal_token() -> str:
    return uuid.uuid4().hex


def file_crc(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(CRC-32, size) of a file, read in big pieces (no interpreter lock held while hashing)."""
    crc, size = 0, 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return crc, size


def _crc_of(raw: bytes) -> int:
    crc = 0
    view = memoryview(raw)
    for s in range(0, len(view), _CHUNK):
        crc = zlib.crc32(view[s:s + _CHUNK], crc)
    return crc


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


def _line(record: dict[str, Any]) -> bytes:
    body = fastjson.dumps(record)
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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


def _frames_record(snapshot: PoseDocument, indices: Sequence[int], token: str, folder: Path) -> dict[str, Any]:
    frames = [snapshot.frames[i] for i in indices]
    mini = PoseDocument(frames=frames, category=snapshot.category, image_root=snapshot.image_root)
    data = to_coco_dict(mini, base_dir=folder, absolute_paths=True, assign_ids=False)
    anns = data["annotations"]
    out: list[Any] = []
    start = 0
    for i, fr, img in zip(indices, frames, data["images"]):
        count = len(fr.instances) + len(fr.crowd) + len(fr.other)
        out.append([int(i), img, anns[start:start + count]])
        start += count
    return {"t": token, "n": len(snapshot.frames), "frames": out}


def _header(token: str, crc: int, size: int, source: Path, image_root: Path | None, records: int) -> dict[str, Any]:
    return {"t": token, "records": records, "base": {"crc": crc, "size": size, "dir": str(source.parent.absolute()),
                                 "image_root": str(Path(image_root).absolute()) if image_root is not None else None}}


def write_journal_copy_base(source: str | os.PathLike[str], base: Path, token: str, snapshot: PoseDocument,
                            indices: Sequence[int]) -> tuple[int, int]:
    """Make a *copy base*: ``source`` (the project file ``snapshot`` matched before the frames
    ``indices`` changed) copied by the kernel to ``base``, and a new journal holding the header
    and one record with those frames. Crash-safe in every step (see the module doc). Returns the
    sizes of the base and of the journal in bytes. Never modifies the snapshot."""
    source = Path(source)
    tmp_base = base.with_name(base.name + ".tmp")
    pending = _pending_journal_path(base)
    placed = False
    try:
        shutil.copyfile(source, tmp_base)
        with open(tmp_base, "rb+") as f:
            os.fsync(f.fileno())
        crc, size = file_crc(tmp_base)
        lines = [_line(_header(token, crc, size, source, snapshot.image_root, 1 if indices else 0))]
        if indices:
            lines.append(_line(_frames_record(snapshot, indices, token, base.parent)))
        data = b"".join(lines)
        fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp_base, base)
        placed = True  # from here on a reader finds the new journal under `pending`: keep it
        os.replace(pending, journal_path(base))
    except BaseException:
        for p in () if placed else (tmp_base, pending):
            try:
                p.unlink()
            except OSError:
                pass
        raise
    _fsync_dir(base.parent)
    return size, len(data)


def append_journal_frames(snapshot: PoseDocument, indices: list[int], base: Path, token: str) -> int:
    """Append one record with the current state of frames ``indices`` of ``snapshot``.
    Returns the number of bytes appended."""
    line = _line(_frames_record(snapshot, indices, token, base.parent))
    fd = os.open(journal_path(base), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        _write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(line)


def _parse_lines(path: Path) -> list[dict[str, Any] | None]:
    """The complete lines of a journal, parsed (None: damaged); [] when there is no file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read the autosave journal: {e.strerror or e}") from e
    out: list[dict[str, Any] | None] = []
    for line in raw.split(b"\n")[:-1]:  # the last piece is "" or an unfinished line
        crc, _, body = line.partition(b" ")
        try:
            ok = len(crc) == 8 and int(crc, 16) == zlib.crc32(body)
            rec = fastjson.loads(body) if ok else None
        except ValueError:
            rec = None
        out.append(rec if isinstance(rec, dict) else None)
    return out


def _records(path: Path, lines: list[dict[str, Any] | None], token: str, skip: int = 0) -> list[dict[str, Any]]:
    out = []
    for n, rec in enumerate(lines[skip:]):
        if rec is None or rec.get("t") != token or "frames" not in rec:
            if n or rec is None:
                logger.warning("%s: record %d is damaged or belongs to an older base: %d record(s) used",
                               path, n, len(out))
            break
        out.append(rec)
    return out


def _matching_header(lines: list[dict[str, Any] | None], crc: int, size: int) -> dict[str, Any] | None:
    head = lines[0] if lines else None
    base = head.get("base") if head is not None else None
    if isinstance(base, dict) and (base.get("crc"), base.get("size")) == (crc, size) and isinstance(head.get("t"), str):
        return head
    return None


def _apply(doc: PoseDocument, records: list[dict[str, Any]], cats: Any, where: Path) -> None:
    for rec in records:
        if rec.get("n") != len(doc.frames):
            raise AnnotationError(f"{where}: a record is for {rec.get('n')} frames, the base has {len(doc.frames)}")
        for i, img, anns in rec["frames"]:
            part = from_coco_dict({"images": [img], "annotations": anns, "categories": cats},
                                  source=f"{where} (frame {i})")
            fr: Frame = part.frames[0]
            doc.frames[i] = fr


def _load_base(base: Path, progress: Callable[[float], None] | None = None) -> tuple[bytes, Any]:
    try:
        raw = base.read_bytes()
        if progress is not None:
            return raw, fastjson.loads_in_pieces(raw, progress=progress)
        return raw, fastjson.loads(raw)
    except OSError as e:
        raise AnnotationError(f"{base}: cannot read the recovery file: {e.strerror or e}") from e
    except ValueError as e:
        raise AnnotationError(f"{base}: not valid JSON: {e}") from e


def read_journal_recovery(base: str | os.PathLike[str], progress: Callable[[float], None] | None = None
                          ) -> tuple[PoseDocument, str | None, int]:
    """The document the recovery files hold: the base with its journal applied.

    Returns (document, token, number of journal records applied). Raises AnnotationError
    when the base is unreadable. ``progress(fraction)`` is called now and then (an exception
    it raises stops the reading and propagates: how a caller cancels).
    """
    base = Path(base)
    parse = None if progress is None else (lambda f: progress(0.4 * f))
    convert = None if progress is None else (lambda f: progress(0.4 + 0.55 * f))
    raw, data = _load_base(base, parse)
    app = data.get(APP_KEY) if isinstance(data, dict) else None
    token = app.get("journal") if isinstance(app, dict) else None
    if isinstance(token, str):  # a full base
        doc = from_coco_dict(data, source=str(base), base_dir=base.parent, progress=convert)
        jp = journal_path(base)
        records = _records(jp, _parse_lines(jp), token)
        _apply(doc, records, data["categories"], jp)
        return doc, token, len(records)
    # a copy base: the journal whose header names exactly these bytes. A complete pending
    # journal (a kill -9 between the base and its journal) comes first: it is the newer one,
    # and when the old base was a copy of the same file both name these bytes.
    crc, size = _crc_of(raw), len(raw)
    for jp in (_pending_journal_path(base), journal_path(base)):
        lines = _parse_lines(jp)
        head = _matching_header(lines, crc, size)
        if head is None:
            continue
        if jp != journal_path(base) and (None in lines or len(lines) != 1 + int(head.get("records", -1))):
            continue  # a pending journal torn while it was written: the old pair is the last autosave
        info = head["base"]
        doc = from_coco_dict(data, source=str(base), base_dir=info.get("dir") or base.parent,
                             image_root=info.get("image_root"), progress=convert)
        records = _records(jp, lines, head["t"], skip=1)
        _apply(doc, records, data["categories"], jp)
        if jp != journal_path(base):  # finish the interrupted replacement, so appends go on there
            try:
                os.replace(jp, journal_path(base))
            except OSError as e:
                logger.warning("%s: cannot finish the journal's replacement: %s", jp, e)
        return doc, head["t"], len(records)
    return from_coco_dict(data, source=str(base), base_dir=base.parent, progress=convert), None, 0


# ------------------------------------------------------------------------------ save deltas


def write_save_delta(snapshot: PoseDocument, indices: Sequence[int], project: str | os.PathLike[str],
                     crc: int, size: int, delta: str | os.PathLike[str]) -> int:
    """Write the frames ``indices`` of ``snapshot`` as a save delta for ``project`` (whose bytes
    have CRC-32 ``crc`` and ``size``) to ``delta``. Returns its size in bytes."""
    token = new_journal_token()
    project = Path(project)
    data = _line(_header(token, crc, size, project, snapshot.image_root, 1 if indices else 0))
    if indices:
        data += _line(_frames_record(snapshot, indices, token, project.parent))
    Path(delta).write_bytes(data)
    return len(data)


def apply_save_delta(project: str | os.PathLike[str], delta: str | os.PathLike[str],
                     target: str | os.PathLike[str]) -> list[tuple[int, int, int | None, int]]:
    """Write ``project`` with the save ``delta`` applied to ``target`` (atomically, like
    :func:`~hrnet.annotations.write_coco_snapshot`). Returns the ids given to people who had
    none, as (frame, person index, old id, new id). Raises AnnotationError when the project
    file is not the one the delta was made for (changed meanwhile) or the delta is damaged."""
    project, delta = Path(project), Path(delta)
    raw, data = _load_base(project)
    lines = _parse_lines(delta)
    head = _matching_header(lines, _crc_of(raw), len(raw))
    if head is None:
        raise AnnotationError(f"{project}: the file changed since it was opened; the save was not made from it")
    records = _records(delta, lines, head["t"], skip=1)
    if len(records) != len(lines) - 1:
        raise AnnotationError(f"{delta}: the save delta is damaged")
    info = head["base"]
    doc = from_coco_dict(data, source=str(project), base_dir=info.get("dir") or project.parent,
                         image_root=info.get("image_root"))
    _apply(doc, records, data["categories"], delta)
    plan = write_coco_snapshot(doc, target)
    where = {id(inst): (fi, ii) for fi, fr in enumerate(doc.frames) for ii, inst in enumerate(fr.instances)}
    return [(*where[id(inst)], old, new) for inst, old, new in plan]


def _main(argv: Sequence[str]) -> int:
    """``apply PROJECT DELTA TARGET``: prints the id plan as one JSON line; exit 2 on error."""
    if len(argv) != 4 or argv[0] != "apply":
        print("usage: python -m hrnet.journal apply PROJECT DELTA TARGET", file=sys.stderr)
        return 2
    try:
        plan = apply_save_delta(argv[1], argv[2], argv[3])
    except (AnnotationError, OSError) as e:
        print(json.dumps({"error": str(e)}))
        return 1
    print(json.dumps({"plan": plan}))
    return 0


if __name__ == "__main__":  # pragma: no cover - run by app.document in a child process
    sys.exit(_main(sys.argv[1:]))
