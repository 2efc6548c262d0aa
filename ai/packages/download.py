"""Fetching catalog indexes and packages over HTTP(S) or from files: size caps, sha256, progress, cancel.

A package is streamed to a temporary file that is refused, and deleted, as soon as it runs past
the size the catalog lists; its sha256 must equal the catalog's before anything else looks at it.
Every failure is one CatalogError naming the URL and the reason (the server's status, a
timeout, a refused connection, a short or oversized body, a wrong digest).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from ai import __version__
from ai.errors import CatalogError
from ai.packages.catalog import MAX_INDEX_BYTES, local_path

log = logging.getLogger(__name__)

CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0
USER_AGENT = f"texture-sorter/{__version__}"

Progress = Callable[[int, int], None]  # (bytes so far, bytes expected)


def _client_timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def _network_error(url: str, exc: Exception, timeout: float) -> CatalogError:
    if isinstance(exc, httpx.TimeoutException):
        return CatalogError(f"{url}: no answer within {timeout:g} s (the server is slow or unreachable)")
    if isinstance(exc, httpx.ConnectError):
        return CatalogError(f"{url}: cannot connect ({exc or 'connection refused'}); are you offline?")
    return CatalogError(f"{url}: the download failed ({type(exc).__name__}: {exc})")


def _status_error(url: str, response: httpx.Response) -> CatalogError:
    return CatalogError(f"{url}: the server answered {response.status_code} {response.reason_phrase}".rstrip())


def fetch_bytes(url: str, cap: int = MAX_INDEX_BYTES, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """The whole body at `url` (an index), refusing more than `cap` bytes."""
    path = local_path(url)
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = fh.read(cap + 1)
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read the catalog ({exc.strerror or exc})") from exc
        if len(data) > cap:
            raise CatalogError(f"{path}: larger than {cap} bytes; not a catalog index")
        return data
    parts: list[bytes] = []
    total = 0
    try:
        with httpx.stream("GET", url, timeout=_client_timeout(timeout), follow_redirects=True,
                          headers={"User-Agent": USER_AGENT}) as response:  # fmt: skip
            if response.status_code != 200:
                raise _status_error(url, response)
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > cap:
                    raise CatalogError(f"{url}: larger than {cap} bytes; not a catalog index")
                parts.append(chunk)
    except httpx.HTTPError as exc:
        raise _network_error(url, exc, timeout) from exc
    return b"".join(parts)


def download_package(
    url: str,
    folder: Path,
    size: int,
    sha256: str,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Stream `url` into a new file in `folder`; returns it once its size and sha256 are the catalog's.

    The caller deletes the file when done with it; on any failure it is already gone.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".ps2model", dir=folder)
    target = Path(name)
    digest = hashlib.sha256()
    received = 0

    def take(chunk: bytes, fh) -> None:
        nonlocal received
        if cancel is not None and cancel.is_set():
            raise CatalogError(f"{url}: download cancelled")
        received += len(chunk)
        if received > size:
            raise CatalogError(
                f"{url}: the server sent more than the {size} bytes the catalog lists; download refused"
            )
        digest.update(chunk)
        fh.write(chunk)
        if progress is not None:
            progress(received, size)

    try:
        with os.fdopen(fd, "wb") as fh:
            path = local_path(url)
            if path is not None:
                _copy_file(path, fh, take)
            else:
                _stream_http(url, fh, take, size, timeout)
            fh.flush()
            os.fsync(fh.fileno())
        if received != size:
            raise CatalogError(f"{url}: the download ended after {received} of {size} bytes")
        if digest.hexdigest() != sha256:
            raise CatalogError(
                f"{url}: sha256 {digest.hexdigest()} differs from the catalog's {sha256} "
                "(the file is damaged or was replaced); nothing was installed"
            )
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    log.info("downloaded %s (%d bytes)", url, received)
    return target


def _copy_file(path: Path, fh, take) -> None:
    try:
        with open(path, "rb") as src:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                take(chunk, fh)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the package ({exc.strerror or exc})") from exc


def _stream_http(url: str, fh, take, size: int, timeout: float) -> None:
    try:
        with httpx.stream("GET", url, timeout=_client_timeout(timeout), follow_redirects=True,
                          headers={"User-Agent": USER_AGENT}) as response:  # fmt: skip
            if response.status_code != 200:
                raise _status_error(url, response)
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > size:
                raise CatalogError(
                    f"{url}: the server offers {declared} bytes but the catalog lists {size}; download refused"
                )
            for chunk in response.iter_bytes():  # as it arrives (progress, cancel); decoded: the cap holds for gzip too
                take(chunk, fh)
    except httpx.HTTPError as exc:
        raise _network_error(url, exc, timeout) from exc


def copy_into(source: Path, folder: Path) -> Path:
    """Copy a package into a catalog folder (for `catalog publish`); keeps a file that is already there."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / source.name
    if dest.exists() and dest.resolve() == source.resolve():
        return dest
    fd, tmp = tempfile.mkstemp(prefix=f".{source.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return dest
