"""Files shipped with the app: the sample project and the small demo model.

An installed app (a wheel, ``pip install .``) carries them as package data, ``app/_bundled/``
(``resources/build_py.py`` puts them there), found with :mod:`importlib.resources`. A source
checkout or an editable install has no copy and reads them from ``resources/`` next to ``app/``.
Qt-free.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEMO_EXPERIMENT", "bundled_root", "demo_weights", "sample_dir", "sample_project"]

# The experiment the demo model was trained with (see resources/models/README.md).
DEMO_EXPERIMENT = "synthetic/hrnet_w16_128x96"
_DEMO_FILE = "hrnet_w16_synthetic.pth"


def bundled_root() -> Path:
    """The folder that holds ``sample/`` and ``models/``."""
    installed = resources.files("app").joinpath("_bundled")
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "resources"


def sample_dir() -> Path:
    """The bundled sample project's folder (project.json, images/)."""
    return bundled_root() / "sample"


def sample_project() -> Path:
    return sample_dir() / "project.json"


def demo_weights() -> Path:
    """The bundled demo model (W16 128x96 trained on synthetic people)."""
    return bundled_root() / "models" / _DEMO_FILE
