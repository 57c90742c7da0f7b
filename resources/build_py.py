"""setuptools ``build_py`` that ships the bundled sample project and demo model inside the app package.

``resources/`` stays at the top of the repository (scripts that make its contents live next to
them), but an installed app cannot read the repository: a wheel carries the data as
``app/_bundled/{sample,models}``, which :mod:`app.bundled` finds with ``importlib.resources``.
pyproject.toml names this class in ``[tool.setuptools.cmdclass]``; MANIFEST.in puts the files in
an sdist. An editable install skips the copy: :mod:`app.bundled` then reads ``resources/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# (source under resources/, glob patterns): what the app needs at run time, nothing else.
SHIPPED = (("sample", ("**/*",)), ("models", ("*.pth", "README.md")))
TARGET = ("app", "_bundled")


class BuildPyWithResources(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest_root = Path(self.build_lib, *TARGET)
        for folder, patterns in SHIPPED:
            src = HERE / folder
            files = sorted({p for pattern in patterns for p in src.glob(pattern) if p.is_file()})
            if not files:
                raise FileNotFoundError(f"{src} is missing or empty: the app's bundled files cannot be packaged")
            for f in files:
                dest = dest_root / folder / f.relative_to(src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
