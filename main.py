"""Launch the pose annotation app: ``python main.py [images | folder | video | project.json ...]``."""

from __future__ import annotations

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
