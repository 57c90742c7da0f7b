"""``hrnet-train``: the console script of :func:`hrnet.train.main` (also ``python -m hrnet.train``)."""

from __future__ import annotations

import sys

from hrnet.train import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
