"""A wheel install (not the source checkout) has the sample project and the demo model.

Builds the wheel from a copy of the tree, installs it with ``pip install --no-deps --target`` (the
dependencies come from this environment) and, in a fresh interpreter whose working folder is
outside the repository, opens the bundled sample project and loads the demo model. Takes ~20 s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from (everything pyproject.toml and MANIFEST.in refer to).
SOURCES = ("app", "hrnet", "resources", "pyproject.toml", "README.md", "MANIFEST.in")

CHECK = textwrap.dedent(
    """
    import sys
    from importlib.metadata import entry_points
    from pathlib import Path

    target = Path(sys.argv[1]).resolve()
    import app, hrnet
    from app.bundled import demo_weights, sample_project
    from app.sources import open_paths

    for module in (app, hrnet):
        assert Path(module.__file__).resolve().is_relative_to(target), module.__file__
    project = sample_project()
    assert project.resolve().is_relative_to(target), project
    doc, source = open_paths([project])
    assert len(doc.frames) >= 6 and not source.missing(), (len(doc.frames), source.missing())
    assert source.image(0).ndim == 3 and source.image(len(doc.frames) - 1).ndim == 3
    weights = demo_weights()
    assert weights.resolve().is_relative_to(target), weights
    model = hrnet.build_model(hrnet.load_config("synthetic/hrnet_w16_128x96"))
    hrnet.load_checkpoint(model, weights)
    scripts = {e.name: e.value for e in entry_points(group="gui_scripts")}
    assert scripts.get("hrnet-annotator") == "app.main:main", scripts
    print("OK", len(doc.frames), "frames")
    """
)


@pytest.mark.skipif(not (ROOT / "pyproject.toml").is_file(), reason="needs the source tree")
def test_wheel_install_has_sample_project_and_demo_model(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=ignore)
        else:
            shutil.copy2(p, src / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = dict(capture_output=True, text=True, env=env, timeout=300)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], **run)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q",
                                "--target", str(target), str(wheel)], **run)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    checked = subprocess.run([sys.executable, "-c", CHECK, str(target)], cwd=outside,
                             **{**run, "env": {**env, "PYTHONPATH": str(target)}})
    assert checked.returncode == 0 and "OK" in checked.stdout, checked.stdout + checked.stderr
