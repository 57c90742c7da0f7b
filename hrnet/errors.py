"""Typed errors raised by the hrnet library.

Library code raises these (chained with ``from e``); only the CLIs and the app turn them into
messages and exit codes.
"""

from __future__ import annotations


class HRNetError(Exception):
    """Base class of every error the hrnet library raises on purpose."""


class ConfigError(HRNetError, ValueError):
    """A config file or override is missing, malformed, or names an unknown key."""


class CheckpointError(HRNetError):
    """A checkpoint cannot be read, or does not match the model it is loaded into."""


class DatasetError(HRNetError):
    """A dataset (annotation file, image folder, image) is missing or malformed."""


class AnnotationError(HRNetError, ValueError):
    """A COCO keypoint annotation document is malformed; the message names file and field."""


class WeightsError(HRNetError):
    """Model or detector weights are missing, corrupt or cannot be downloaded."""


class MediaError(HRNetError):
    """An image or video cannot be read."""
