from __future__ import annotations

import importlib.util

import pytest
import torch

from hrnet.cli.export import check_export, export_onnx, export_torchscript, load_export_model, main, max_relative_error
from hrnet.config import load_config
from hrnet.models import build_model

EXPERIMENT = "synthetic/hrnet_w16_128x96"
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
HAS_ONNX = importlib.util.find_spec("onnx") is not None
HAS_ORT = importlib.util.find_spec("onnxruntime") is not None


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(load_config(EXPERIMENT), is_train=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
                m.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path_factory.mktemp("export") / "w16.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def _x(batch: int) -> torch.Tensor:
    return torch.randn(batch, 3, 128, 96, generator=torch.Generator().manual_seed(batch))


def test_torchscript_gives_the_same_heatmaps(checkpoint, tmp_path):
    path, reference = checkpoint
    model, cfg = load_export_model(EXPERIMENT, str(path))
    out = export_torchscript(model, _x(1), tmp_path / "m.pt")
    loaded = torch.jit.load(str(out))
    for batch in (1, 3):  # traced at batch 1, runs at any batch size
        with torch.no_grad():
            assert max_relative_error(loaded(_x(batch)), reference(_x(batch))) < 1e-4
    assert not list(tmp_path.glob("*.tmp"))


def test_cli_torchscript(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    code = main(["--experiment", EXPERIMENT, "--weights", str(path), "--format", "torchscript",
                 "--out", str(tmp_path / "m.pt")])
    out = capsys.readouterr().out
    assert code == 0 and "checked: heatmaps match" in out and (tmp_path / "m.pt").is_file()


@pytest.mark.skipif(not HAS_ONNX, reason="onnx is not installed")
def test_onnx_dynamic_batch(checkpoint, tmp_path):
    import onnx

    path, reference = checkpoint
    model, _ = load_export_model(EXPERIMENT, str(path))
    out = export_onnx(model, _x(1), tmp_path / "m.onnx")
    graph = onnx.load(str(out)).graph
    assert graph.input[0].name == "input" and graph.output[0].name == "heatmaps"
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    if not HAS_ORT:
        pytest.skip("onnxruntime is not installed: exported, not compared")
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for batch in (1, 4):
        (got,) = session.run(["heatmaps"], {"input": _x(batch).numpy()})
        with torch.no_grad():
            assert max_relative_error(torch.from_numpy(got), reference(_x(batch))) < 1e-4
    # check_export hands ONNX Runtime a detached CPU copy (a CUDA or grad-tracking input has no .numpy())
    assert check_export(out, "onnx", model, _x(2).requires_grad_(True)) < 1e-4


def test_onnx_without_the_package_is_a_clear_error(checkpoint, tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    code = main(["--experiment", EXPERIMENT, "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert code == 2 and "pip install onnx" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_cli_user_errors(tmp_path, capsys):
    assert main(["--experiment", "nope", "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 2
    assert "Config not found" in capsys.readouterr().err
    assert main(["--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 2
    assert "--experiment" in capsys.readouterr().err
