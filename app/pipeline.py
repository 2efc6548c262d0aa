"""The folder classification pipeline shared by the CLI, the GUI worker and the benchmark.

scan → decode + prepare in a small thread pool (Pillow and numpy release the GIL) → batches →
one model call per batch in the consuming thread → FileResults streamed in file order.
At most `window` files are decoded ahead of the model, so memory stays bounded for any folder size.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ai.textures import DEFAULT_MAX_PIXELS, TextureInfo, load_texture

from ai.errors import TextureError
from ai.hashing import pixel_hash
from ai.model_manager import ModelManager, Prepared
from app.results import FileResult
from app.scan import ScannedFile, scan_textures

log = logging.getLogger(__name__)

DEFAULT_BATCH = 32


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    errors: int
    files_per_s: float
    eta_s: float | None


ProgressCallback = Callable[[Progress], None]


def default_threads() -> int:
    """Decode threads: the model call takes the consuming thread, so leave it a core on small machines."""
    cores = os.cpu_count() or 2
    return max(2, min(cores, 8))


@dataclass
class _Decoded:
    prepared: Prepared | None
    info: TextureInfo | None
    error: str | None
    pixel_hash: str | None = None
    perceptual_hash: int | None = None


def _decode_one(file: ScannedFile, manager: ModelManager, hashes: bool, max_pixels: int) -> _Decoded:
    try:
        # Hashes must be of the full first mip, so only an unhashed decode may shrink early.
        min_size = None if hashes else manager.input_size
        texture = load_texture(file.path, max_pixels=max_pixels, min_size=min_size)
        phash = None
        digest = None
        if hashes:
            from ai.phash import perceptual_hash

            digest = pixel_hash(texture.pixels)
            phash = perceptual_hash(texture.pixels)
        prepared = manager.prepare(texture.pixels, texture_hash=digest)
        return _Decoded(prepared, texture.info, None, digest, phash)
    except TextureError as exc:
        return _Decoded(None, None, exc.reason)
    except MemoryError:
        return _Decoded(None, None, "not enough memory to decode this texture")
    except Exception as exc:  # one bad file must never stop the run: report it and go on
        log.exception("unexpected error decoding %s", file.path)
        return _Decoded(None, None, f"unexpected error: {type(exc).__name__}: {exc}")


def classify_files(
    files: list[ScannedFile],
    manager: ModelManager,
    *,
    top_k: int = 5,
    batch_size: int = DEFAULT_BATCH,
    threads: int | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    hashes: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[list[FileResult]]:
    """Classify `files`, yielding results in file order, one list per model batch.

    Cancelling (setting `cancel`, or closing the generator) stops after the current batch;
    decoded-but-unclassified files are dropped, never reported as results.
    """
    batch_size = max(1, int(batch_size))
    threads = max(1, int(threads or default_threads()))
    window = batch_size * 2 + threads
    hashes = hashes or manager.learner is not None
    total = len(files)
    started = time.perf_counter()
    done = errors = 0
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode")
    pending: deque[tuple[ScannedFile, Future]] = deque()
    queue = iter(files)

    def refill() -> None:
        while len(pending) < window:
            file = next(queue, None)
            if file is None:
                return
            pending.append((file, pool.submit(_decode_one, file, manager, hashes, max_pixels)))

    try:
        refill()
        while pending:
            if cancel is not None and cancel.is_set():
                return
            chunk: list[tuple[ScannedFile, _Decoded]] = []
            while pending and len(chunk) < batch_size:
                file, future = pending.popleft()
                chunk.append((file, future.result()))
                refill()
            results = _classify_chunk(chunk, manager, top_k)
            done += len(results)
            errors += sum(1 for r in results if r.error)
            if progress is not None:
                elapsed = max(time.perf_counter() - started, 1e-9)
                rate = done / elapsed
                eta = (total - done) / rate if rate > 0 else None
                progress(Progress(done, total, errors, rate, eta))
            yield results
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _classify_chunk(chunk, manager: ModelManager, top_k: int) -> list[FileResult]:
    ok = [(i, d) for i, (_, d) in enumerate(chunk) if d.prepared is not None]
    classified = manager.classify_prepared([d.prepared for _, d in ok], top_k) if ok else []
    by_index = {i: c for (i, _), c in zip(ok, classified, strict=True)}
    results = []
    for i, (file, decoded) in enumerate(chunk):
        c = by_index.get(i)
        results.append(
            FileResult(
                path=file.path,
                size=file.size,
                mtime=file.mtime,
                predictions=c.predictions if c else [],
                source=c.source if c else None,
                error=decoded.error,
                info=decoded.info,
                probabilities=c.probabilities if c else None,
                embedding=c.embedding if c else None,
                pixel_hash=decoded.pixel_hash,
                perceptual_hash=decoded.perceptual_hash,
            )
        )
    return results


def classify_folder(
    paths: Iterable[str | os.PathLike[str]],
    manager: ModelManager,
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
    **options,
) -> Iterator[list[FileResult]]:
    """Scan `paths` and classify every texture found; unreadable inputs come first as error results."""
    files, problems = scan_textures(paths, exclude=exclude)
    if problems:
        yield [FileResult(path=p, size=0, mtime=0.0, predictions=[], error=reason) for p, reason in problems]
    yield from classify_files(files, manager, **options)
