"""Thumbnails and previews: decoded lazily on a small thread pool, newest request first, kept in an LRU.

Views ask for an image only when they paint an item, so only visible items are decoded; a fast
scroll leaves old requests behind (the pending stack is bounded and served newest first). Decoded
images are numpy RGBA arrays in a memory LRU bounded in bytes, optionally backed by PNG files
in `user_cache_dir()/thumbs` keyed by path, size, mtime and thumbnail size. `QImage`s are made
from the arrays only when a view paints, in the channel view it asks for (app.ui.channels); the
worker that decodes an image also says what its alpha is for (ai.textures.alpha).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from ai.errors import TextureError
from ai.paths import user_cache_dir
from ai.textures import decode_memory, load_texture
from ai.textures.alpha import alpha_usage
from app.ui.channels import to_view_image

log = logging.getLogger(__name__)

MAX_PENDING = 400


def make_thumbnail(path: str, size: int) -> np.ndarray:
    """RGBA uint8 image of `path` fitting in size×size (never enlarged); TextureError/OSError on failure."""
    with decode_memory() as hold:  # a DDS without mips arrives whole: reserved until shrunk
        pixels = load_texture(path, min_size=size, hold=hold).pixels
        if max(pixels.shape[:2]) <= size:
            return np.ascontiguousarray(pixels)
        image = Image.fromarray(pixels, "RGBA")
        image.thumbnail((size, size), Image.Resampling.BILINEAR)
        return np.ascontiguousarray(np.asarray(image))


def to_qimage(pixels: np.ndarray, view: str = "rgba") -> QImage:
    """A QImage owning a copy of an HxWx4 RGBA array, shown as `view` ("rgba", "rgb" or "alpha")."""
    return to_view_image(pixels, view)


class _DiskCache:
    """PNG files of decoded thumbnails; any failure just means a decode."""

    def __init__(self, folder: Path, size: int):
        self.folder = folder
        self.size = size

    def _file(self, path: str, st: os.stat_result) -> Path:
        key = f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{self.size}".encode("utf-8", "surrogateescape")
        digest = hashlib.blake2b(key, digest_size=16).hexdigest()
        return self.folder / digest[:2] / f"{digest}.png"

    def get(self, path: str, st: os.stat_result) -> np.ndarray | None:
        file = self._file(path, st)
        try:
            # The texture decoders, not Pillow's open-anything: the cache folder is only as
            # trustworthy as the user's disk, and some Pillow formats run external programs.
            pixels = load_texture(file).pixels
        except TextureError:
            return None
        return np.ascontiguousarray(pixels)

    def put(self, path: str, st: os.stat_result, pixels: np.ndarray) -> None:
        file = self._file(path, st)
        tmp = file.with_name(f"{file.name}.{threading.get_ident()}.tmp")
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels, "RGBA").save(tmp, format="PNG", compress_level=1)
            os.replace(tmp, file)
        except OSError as exc:  # a full or read-only cache folder only costs speed
            log.debug("thumbnail cache write failed for %s: %s", path, exc)
            try:
                tmp.unlink()
            except OSError:
                pass  # never written


class _Signals(QObject):
    decoded = Signal(str, object, str, str)  # path, array or None, alpha kind, failure reason


class _Drain(QRunnable):
    """Decodes pending paths, newest first, until none are left."""

    def __init__(self, loader: ImageLoader):
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        loader = self.loader
        while True:
            path = loader._next()
            if path is None:
                return
            pixels, kind, reason = None, "", ""
            try:
                pixels = loader._decode(path)
                kind = alpha_usage(pixels)
            except TextureError as exc:
                reason = exc.reason
            except OSError as exc:
                reason = f"cannot read file: {exc.strerror or exc}"
            except Exception as exc:  # one bad file must not stop the loader: report it and go on
                log.exception("thumbnail of %s failed", path)
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
            loader._signals.decoded.emit(path, pixels, kind, reason)


class ImageLoader(QObject):
    """Decoded images of one size; `image(path)` returns a QImage or None (and starts a decode)."""

    loaded = Signal(str)  # the image of this path is now available (or failed: see `failure`)

    def __init__(
        self,
        size: int,
        memory_bytes: int,
        *,
        disk_cache: bool = False,
        threads: int = 2,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.size = size
        self.memory_bytes = memory_bytes
        self._disk = _DiskCache(user_cache_dir() / "thumbs", size) if disk_cache else None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._threads = max(1, threads)
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()
        self._draining = 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._failed: dict[str, str] = {}
        self._kinds: dict[str, str] = {}  # path → ai.textures.alpha kind of its decoded image
        self._closed = False
        self._signals = _Signals()
        self._signals.decoded.connect(self._on_decoded)

    # -- main thread ----------------------------------------------------------------------------

    def array(self, path: str, request: bool = True) -> np.ndarray | None:
        pixels = self._cache.get(path)
        if pixels is not None:
            self._cache.move_to_end(path)
            return pixels
        if request:
            self.request(path)
        return None

    def image(self, path: str, view: str = "rgba") -> QImage | None:
        pixels = self.array(path)
        return None if pixels is None else to_qimage(pixels, view)

    def alpha_kind(self, path: str) -> str | None:
        """What the decoded image's alpha is for ("opaque", "mask", "transparency", "data"); None until decoded."""
        return self._kinds.get(path)

    def failure(self, path: str) -> str | None:
        return self._failed.get(path)

    def request(self, path: str) -> None:
        if self._closed or path in self._failed or path in self._cache:
            return
        start = False
        with self._lock:
            if path in self._in_flight:
                return
            self._pending[path] = None
            self._pending.move_to_end(path)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)  # scrolled past long ago
            if self._draining < self._threads:
                self._draining += 1
                start = True
        if start:
            self._pool.start(_Drain(self))

    def forget(self, path: str) -> None:
        """Drop what is known about `path` (the file changed)."""
        array = self._cache.pop(path, None)
        if array is not None:
            self._bytes -= array.nbytes
        self._failed.pop(path, None)
        self._kinds.pop(path, None)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
        self._cache.clear()
        self._bytes = 0
        self._failed.clear()
        self._kinds.clear()

    def close(self, wait_ms: int = 5000) -> None:
        self._closed = True
        with self._lock:
            self._pending.clear()
        self._pool.waitForDone(wait_ms)

    @property
    def memory_used(self) -> int:
        return self._bytes

    def _on_decoded(self, path: str, pixels: np.ndarray | None, kind: str, reason: str) -> None:
        with self._lock:
            self._in_flight.discard(path)
        if self._closed:
            return
        if pixels is None:
            self._failed[path] = reason
        else:
            self._kinds[path] = kind
            self._store(path, pixels)
        self.loaded.emit(path)

    def _store(self, path: str, pixels: np.ndarray) -> None:
        old = self._cache.pop(path, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._cache[path] = pixels
        self._bytes += pixels.nbytes
        while self._bytes > self.memory_bytes and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._bytes -= evicted.nbytes

    # -- worker threads ---------------------------------------------------------------------------

    def _next(self) -> str | None:
        with self._lock:
            if self._closed or not self._pending:
                self._draining -= 1
                return None
            path, _ = self._pending.popitem(last=True)
            self._in_flight.add(path)
            return path

    def _decode(self, path: str) -> np.ndarray:
        if self._disk is None:
            return make_thumbnail(path, self.size)
        st = os.stat(path)
        pixels = self._disk.get(path, st)
        if pixels is None:
            pixels = make_thumbnail(path, self.size)
            self._disk.put(path, st, pixels)
        return pixels
