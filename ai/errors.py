"""The exception hierarchy every layer raises and every UI shows."""

from __future__ import annotations

import os


class TextureSorterError(Exception):
    """Base of all errors the program reports to the user."""


class TextureError(TextureSorterError):
    """A texture file could not be decoded; names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelError(TextureSorterError):
    """A model file is missing, invalid or failed to run."""


class PackageError(TextureSorterError):
    """A .ps2model package is invalid or could not be installed."""


class CatalogError(PackageError):
    """A model catalog could not be read, or a download from it was refused (network, size, sha256)."""


class OnlineError(TextureSorterError):
    """The online classifier failed (network, quota, bad answer)."""


class StoreError(TextureSorterError):
    """A local database could not be opened or written."""


class SortError(TextureSorterError):
    """A sort plan could not be built or applied."""
