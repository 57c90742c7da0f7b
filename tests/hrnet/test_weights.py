"""Weights registry and downloads, against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from hrnet import weights as W
from hrnet.config import load_config
from hrnet.errors import WeightsError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """Serves PAYLOAD at /good, /corrupt (wrong bytes), /cut (closes halfway on the first
    request, then honours Range), /cut-norange (closes halfway, never honours Range),
    /always-cut and /missing (404)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.cut_done: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = self.path
                rng = self.headers.get("Range")
                server.requests.append((path, rng))
                if path == "/missing":
                    self.send_error(404, "Not Found")
                    return
                data = PAYLOAD if path != "/corrupt" else PAYLOAD[:-1] + b"x"
                start = 0
                honour = path in ("/good", "/cut", "/corrupt")
                if rng and honour:
                    start = int(re.match(r"bytes=(\d+)-", rng).group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = path == "/always-cut" or (path in ("/cut", "/cut-norange") and path not in server.cut_done)
                if cut:
                    server.cut_done.add(path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HRNET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_registry_entries_match_their_experiments():
    names = set()
    for e in W.list_weights():
        assert e.name not in names
        names.add(e.name)
        cfg = load_config(e.experiment, e.opts)
        assert tuple(cfg.MODEL.IMAGE_SIZE) == e.input_size, e.name
        assert cfg.MODEL.NUM_JOINTS == e.num_joints, e.name
        if e.source == "mmpose":
            assert e.url and e.url.endswith("/" + e.file_name)
            assert e.sha256 and e.sha256 in e.file_name
        else:
            assert e.url is None and "drive.google.com" in e.where
    assert W.find_entry("pose_hrnet_w32_256x192").experiment == "coco/hrnet/w32_256x192_adam_lr1e-3"
    assert W.find_entry("/models/pose_coco/pose_hrnet_w32_256x192.pth").name == "pose_hrnet_w32_256x192"
    assert W.find_entry("hrnet_w32_coco_256x192-c78dce93_20200708.pth").source == "mmpose"
    assert W.find_entry("something_else.pth") is None


def test_cache_dir(cache, monkeypatch):
    assert W.cache_dir() == cache
    assert W.weights_dir() == cache / "weights"
    monkeypatch.delenv("HRNET_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/y")
    assert str(W.cache_dir()) == "/x/y/hrnet"


def test_download_good_file(server, tmp_path):
    seen = []
    dest = W.download(f"{server.base}/good", tmp_path / "w.pth", sha256=DIGEST[:8],
                      progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "w.pth.part").exists()


def test_download_with_text_progress_bar(server, tmp_path, capsys):
    W.download(f"{server.base}/good", tmp_path / "w.pth", sha256=DIGEST, progress=True)
    assert "100%" in capsys.readouterr().err


def test_corrupt_file_is_refused_and_removed(server, tmp_path):
    with pytest.raises(WeightsError, match="Checksum mismatch"):
        W.download(f"{server.base}/corrupt", tmp_path / "w.pth", sha256=DIGEST[:8], progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    dest = W.download(f"{server.base}/cut", tmp_path / "w.pth", sha256=DIGEST[:8], progress=False, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    ranges = [r for p, r in server.requests if p == "/cut"]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert int(ranges[1][6:-1]) > 0


def test_interrupted_transfer_restarts_without_range_support(server, tmp_path):
    dest = W.download(f"{server.base}/cut-norange", tmp_path / "w.pth", sha256=DIGEST, progress=False, backoff=0)
    assert dest.read_bytes() == PAYLOAD


def test_persistent_failure_is_a_clear_error(server, tmp_path):
    with pytest.raises(WeightsError, match="after 3 attempts.*resumes"):
        W.download(f"{server.base}/always-cut", tmp_path / "w.pth", progress=False, retries=2, backoff=0)
    assert not (tmp_path / "w.pth").exists()
    with pytest.raises(WeightsError, match="HTTP 404"):
        W.download(f"{server.base}/missing", tmp_path / "x.pth", progress=False, backoff=0)
    with pytest.raises(WeightsError, match="Could not download"):  # nothing listens there
        W.download("http://127.0.0.1:9/none", tmp_path / "y.pth", progress=False, retries=0, timeout=2)


def test_resolve_downloads_registry_entries_into_the_cache(server, cache, monkeypatch):
    entry = W.WeightsEntry(
        name="test_model", file_name="test_model-abc.pth", experiment="synthetic/hrnet_w16_128x96",
        input_size=(96, 128), joint_set="coco", source="test", url=f"{server.base}/good", sha256=DIGEST[:8],
    )
    monkeypatch.setitem(W.REGISTRY, entry.name, entry)
    path = W.resolve_weights("test_model", progress=False)
    assert path == cache / "weights" / "test_model-abc.pth" and path.read_bytes() == PAYLOAD
    n = len(server.requests)
    assert W.resolve_weights("test_model", progress=False) == path  # cached: no new request
    assert len(server.requests) == n
    assert W.weights_experiment("test_model") == "synthetic/hrnet_w16_128x96"


def test_resolve_local_files_and_errors(tmp_path, cache):
    f = tmp_path / "mine.pth"
    f.write_bytes(b"x")
    assert W.resolve_weights(f) == f
    with pytest.raises(WeightsError, match="not found"):
        W.resolve_weights(tmp_path / "nope.pth")
    with pytest.raises(WeightsError, match="Unknown weights"):
        W.resolve_weights("no_such_model")
    with pytest.raises(WeightsError) as info:
        W.resolve_weights("pose_hrnet_w32_256x192")
    msg = str(info.value)
    assert str(cache / "weights" / "pose_hrnet_w32_256x192.pth") in msg and "drive.google.com" in msg
    # a user who put the official file into the cache gets it
    (cache / "weights").mkdir(parents=True)
    (cache / "weights" / "pose_hrnet_w32_256x192.pth").write_bytes(b"x")
    assert W.resolve_weights("pose_hrnet_w32_256x192").name == "pose_hrnet_w32_256x192.pth"


def test_weights_experiment(tmp_path):
    assert W.weights_experiment("pose_resnet_50_256x256") == "mpii/resnet/res50_256x256_d256x3_adam_lr1e-3"
    dark = W.weights_experiment("mmpose_hrnet_w32_coco_256x192_dark")
    assert dark.TEST.DECODE == "dark" and list(dark.MODEL.IMAGE_SIZE) == [192, 256]
    cfg = load_config("synthetic/hrnet_w16_128x96", ["MODEL.SIGMA", "3"])
    ckpt = tmp_path / "train_ckpt.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "config": cfg.dump(), "epoch": 3}, ckpt)
    assert W.weights_experiment(ckpt).MODEL.SIGMA == 3
    from hrnet.models import build_model

    w16 = tmp_path / "w16_by_keys.pth"
    torch.save(build_model(cfg, is_train=False).state_dict(), w16)
    assert W.weights_experiment(w16) == "synthetic/hrnet_w16_128x96"
    plain = tmp_path / "plain.pth"
    torch.save({"w": torch.zeros(1)}, plain)
    with pytest.raises(WeightsError, match="experiment"):
        W.weights_experiment(plain)


def test_predictor_from_pretrained_reads_the_entry_as_one_unit(cache, monkeypatch):
    import torch

    from hrnet import Predictor
    from hrnet.config import load_config
    from hrnet.models import build_model

    entry = W.WeightsEntry(
        name="tiny_dark", file_name="tiny_dark-0000.pth", experiment="synthetic/hrnet_w16_128x96",
        input_size=(96, 128), joint_set="coco", source="test", opts=("TEST.DECODE", "dark", "TEST.IN_VIS_THRE", "0.3"),
    )
    monkeypatch.setitem(W.REGISTRY, entry.name, entry)
    (cache / "weights").mkdir(parents=True)
    torch.save(build_model(load_config(entry.experiment)).state_dict(), cache / "weights" / entry.file_name)
    predictor = Predictor.from_pretrained("tiny_dark", device="cpu", optimize=False)
    assert predictor.decode == "dark" and predictor.in_vis_thre == 0.3  # the entry's decode options
    assert predictor.weights == str(cache / "weights" / entry.file_name)
    assert predictor.image_size == (96, 128)
    with pytest.raises(WeightsError, match="Unknown model 'nope'"):
        Predictor.from_pretrained("nope")
