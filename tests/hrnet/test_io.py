"""The one atomic writer and the one JSON reader (hrnet.utils.io)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hrnet.errors import AnnotationError, DatasetError, HRNetError
from hrnet.utils.io import (
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    new_file_mode,
    read_json,
    write_json,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_file_gets_the_umask_default(tmp_path, umask_022):
    assert new_file_mode() == 0o644
    write_json(tmp_path / "new.json", {"a": 1})
    atomic_write_text(tmp_path / "new.txt", "x")
    with open(tmp_path / "plain.txt", "w") as f:  # what any other program would create
        f.write("x")
    assert _mode(tmp_path / "new.json") == _mode(tmp_path / "new.txt") == _mode(tmp_path / "plain.txt") == 0o644


def test_new_file_follows_another_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "f.bin") == 0o640


@pytest.mark.parametrize("mode", [0o664, 0o600, 0o640, 0o755])
def test_existing_file_keeps_its_mode(tmp_path, umask_022, mode):
    p = tmp_path / "project.json"
    p.write_text("{}")
    p.chmod(mode)
    write_json(p, {"b": 2})
    assert _mode(p) == mode
    assert read_json(p) == {"b": 2}
    with atomic_path(p) as tmp:
        tmp.write_bytes(b"[1]")
    assert _mode(p) == mode and read_json(p) == [1]


def test_failure_leaves_the_old_file_and_no_temp(tmp_path):
    p = tmp_path / "keep.json"
    write_json(p, {"old": True})
    with pytest.raises(RuntimeError), atomic_open(p, "w") as f:
        f.write("{partial")
        raise RuntimeError("crash while writing")
    with pytest.raises(ValueError):
        write_json(p, {"bad": float("nan")})  # NaN is not JSON
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        tmp.write_bytes(b"junk")
        raise RuntimeError
    assert read_json(p) == {"old": True}
    assert [q.name for q in tmp_path.iterdir()] == ["keep.json"]


def test_write_json_streams_big_lists_equal_to_dumps(tmp_path):
    import json

    data = {"images": [{"id": i, "f": f"{i}.png"} for i in range(5000)], "x": "ü"}
    write_json(tmp_path / "big.json", data)
    assert (tmp_path / "big.json").read_text(encoding="utf-8") == json.dumps(data, ensure_ascii=False)
    write_json(tmp_path / "sorted.json", {"b": 1, "a": 2}, indent=2, sort_keys=True)
    assert (tmp_path / "sorted.json").read_text().startswith('{\n  "a"')


def test_missing_folders_only_on_request(tmp_path):
    with pytest.raises(FileNotFoundError):  # a save into a folder that has gone fails
        write_json(tmp_path / "gone" / "project.json", {})
    assert not (tmp_path / "gone").exists()
    atomic_write_text(tmp_path / "a" / "b" / "c.txt", "hi", mkdir=True)
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "hi"


def test_atomic_open_refuses_partial_modes(tmp_path):
    with pytest.raises(ValueError, match="mode"), atomic_open(tmp_path / "x", "a"):
        pass


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"{not json", "not valid JSON: Expecting property name"),
        (b"\xff\xfe\x00", "not valid JSON: not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_read_json_errors_are_typed_and_name_the_file(tmp_path, content, message):
    p = tmp_path / "in.json"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DatasetError, match=message) as info:
        read_json(p, what="Detections file", error=DatasetError)
    assert str(p) in str(info.value) and str(info.value).startswith("Detections file")
    with pytest.raises(HRNetError):
        read_json(p)


def test_read_json_folder_and_bom(tmp_path):
    with pytest.raises(AnnotationError, match="is a folder"):
        read_json(tmp_path, error=AnnotationError)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + b'{"a": [1, 2]}')
    assert read_json(tmp_path / "bom.json") == {"a": [1, 2]}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_json_unreadable(tmp_path):
    p = tmp_path / "secret.json"
    p.write_text("{}")
    p.chmod(0)
    with pytest.raises(HRNetError, match="Cannot read"):
        read_json(p)


def test_save_coco_keeps_the_project_mode(tmp_path, umask_022):
    from hrnet.annotations import PoseDocument, load_coco, save_coco

    p = tmp_path / "project.json"
    save_coco(PoseDocument(), p)
    assert _mode(p) == 0o644  # a new project: the umask default, not 0600
    p.chmod(0o664)  # a shared project keeps its group write bit
    save_coco(load_coco(p), p)
    assert _mode(p) == 0o664
