"""Fingerprint kinds as plug-ins. Importing this package registers the built-in kinds."""

from .base import REGISTRY, Signal, View, register  # noqa: F401
from . import pdq, keypoints, grid  # noqa: F401  (registration side effects)
