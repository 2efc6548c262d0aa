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
