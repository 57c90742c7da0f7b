"""The public API that the app and users import from ``hrnet``."""

from __future__ import annotations

import subprocess
import sys
import types


def test_submodules_are_not_shadowed():
    # run in a fresh interpreter: nothing imported yet, so attribute look-up happens first
    code = ("from hrnet import annotations, config, nms; import types;"
            "assert all(isinstance(m, types.ModuleType) for m in (annotations, config, nms)), (annotations,);"
            "assert callable(annotations.load_coco)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_exports_resolve():
    import hrnet

    for name in hrnet.__all__:
        assert getattr(hrnet, name) is not None, name
    assert isinstance(hrnet.load_coco, types.FunctionType)
    assert hrnet.load_checkpoint.__module__ == "hrnet.models.checkpoint"


def test_hrnet_imports_without_qt():
    code = ("import sys, hrnet, hrnet.predictor, hrnet.annotations, hrnet.train, hrnet.dataset;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'app')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_name_the_app_imports_is_exported():
    # The app imports hrnet only as ``from hrnet import name`` (import-linter keeps it so); names
    # imported inside functions would only fail when that code runs, so check them all here.
    import ast
    from pathlib import Path

    import hrnet

    root = Path(__file__).resolve().parents[2]
    missing = []
    for path in [*sorted((root / "app").rglob("*.py")), root / "main.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "hrnet" and node.level == 0:
                missing += [f"{path.name}: {a.name}" for a in node.names if a.name not in hrnet.__all__]
    assert not missing, missing
