"""The PySide6 pose annotation app. It talks to :mod:`hrnet` only through its public API."""
