"""Content identity of a texture: a hash of its decoded pixels, independent of file format and name."""

from __future__ import annotations

import hashlib

import numpy as np


def pixel_hash(rgba: np.ndarray) -> str:
    """Hex digest of the decoded RGBA pixels and their shape (same picture → same hash, any container)."""
    pixels = np.ascontiguousarray(rgba)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(pixels.shape).encode())
    digest.update(pixels.data)
    return digest.hexdigest()


class PixelHasher:
    """pixel_hash of a picture fed in row bands, top to bottom, so that it never has to be whole."""

    def __init__(self, shape: tuple[int, ...]):
        self._digest = hashlib.blake2b(digest_size=16)
        self._digest.update(repr(tuple(shape)).encode())

    def update(self, rows: np.ndarray) -> None:
        self._digest.update(np.ascontiguousarray(rows).data)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
